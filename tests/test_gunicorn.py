"""Production serving: gunicorn with `gunicorn.conf.py` and 2 workers, started here.

After a post is edited on disk, every worker serves the new body within 2 seconds, and the
shared cache never hands out the old one once a worker has the new version. An admin reload
reaches every worker with the watcher off. Nobody can poison a worker's response cache with an
encoded query, and a 1,000-character accented `q` fits in gunicorn's request line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import ROOT, free_port, post_text, wait_for_port

GUNICORN = Path(sys.executable).parent / "gunicorn"
pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")
ADMIN = "admin-token-0123456789"


@contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[tuple[int, Path]]:
    """gunicorn with the repository's config, 2 single-threaded workers and an access log of
    `<pid> <status> <path>` lines; yields (port, log)."""
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_RUNTIME_DIR": str(tmp_path / "runtime"),
        **{f"CONTENTAPI_{key.upper()}": value for key, value in settings.items()},
    }
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--threads",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(log),
            "--access-logformat",
            "%(p)s %(s)s %(U)s",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(port: int, path: str, method: str = "GET", **headers: str) -> tuple[int, Any]:
    """One request on a new connection (so the kernel may hand it to either worker)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        headers={"Connection": "close", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body


def _get(port: int, path: str) -> tuple[int, Any]:
    return _request(port, path)


def _pids(log: Path, path: str, since_line: int = 0) -> set[str]:
    """The workers (pids) that answered `path` with a 200, from the access log."""
    lines = log.read_text().splitlines()[since_line:]
    return {line.split()[0] for line in lines if line.endswith(f" 200 {path}")}


def _both_workers(port: int, log: Path, url: str, path: str) -> int:
    """Ask `url` until both workers have answered it (a worker may still be booting);
    returns how many requests that took."""
    deadline = time.monotonic() + 30
    asked = 0
    while len(_pids(log, path)) < 2:
        assert time.monotonic() < deadline, "the second worker never answered"
        _get(port, url)
        asked += 1
    return asked


def _lines(log: Path) -> int:
    return len(log.read_text().splitlines())


@pytest.fixture
def watched(tmp_path, redis_url):
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(post_text(title="Original", date="2024-01-01"))
    with gunicorn(
        tmp_path,
        content_dir=str(content),
        watch="true",
        cache_type="RedisCache",
        cache_redis_url=redis_url,
    ) as (port, log):
        yield port, content, log


def test_gunicorn_every_worker_serves_an_edit_within_two_seconds(watched):
    port, content, log = watched
    _both_workers(port, log, "/api/v1/posts/a", "/api/v1/posts/a")
    for _ in range(20):  # warm both workers and the shared cache with the old body
        assert _get(port, "/api/v1/posts/a")[1]["title"] == "Original"
    (content / "a.md").write_text(post_text(title="Edited", date="2024-01-01"))
    edited_at = time.monotonic()
    time.sleep(2.0)
    mark = _lines(log)
    titles = [_get(port, "/api/v1/posts/a")[1]["title"] for _ in range(60)]
    assert set(titles) == {"Edited"}, f"old body served {titles.count('Original')} times"
    assert len(_pids(log, "/api/v1/posts/a", mark)) == 2, "both workers should serve the edit"
    assert time.monotonic() - edited_at < 10


def test_gunicorn_admin_reload_reaches_every_worker(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(post_text(title="Original", date="2024-01-01"))
    with gunicorn(tmp_path, content_dir=str(content), watch="false", admin_token=ADMIN) as (
        port,
        log,
    ):
        _both_workers(port, log, "/api/v1/posts/a", "/api/v1/posts/a")
        (content / "a.md").write_text(post_text(title="Edited", date="2024-01-01"))
        status, reloaded = _request(
            port, "/api/v1/admin/reload", "POST", Authorization=f"Bearer {ADMIN}"
        )
        assert status == 200
        assert reloaded["updated"] == ["a"]
        mark = _lines(log)
        titles = [_get(port, "/api/v1/posts/a")[1]["title"] for _ in range(30)]
        assert set(titles) == {"Edited"}, f"old title served {titles.count('Original')} times"
        assert len(_pids(log, "/api/v1/posts/a", mark)) == 2, "both workers should answer"
        versions = {_get(port, "/api/v1")[1]["version"] for _ in range(10)}
        assert len(versions) == 1  # the public version: every worker shows the same
        _, diagnostics = _request(
            port, "/api/v1/admin/diagnostics", Authorization=f"Bearer {ADMIN}"
        )
        workers = diagnostics["workers"]
        assert len(workers) == 2
        assert {worker["version"] for worker in workers} == {reloaded["version"]}
        assert sum(worker["current"] for worker in workers) == 1


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The repository's own content/, the default per-process response cache."""
    folder = tmp_path_factory.mktemp("bundled")
    with gunicorn(folder, content_dir=str(ROOT / "content"), watch="false") as (port, log):
        yield port, log


def _total(port: int, url: str) -> int:
    status, body = _get(port, url)
    assert status == 200, body
    return int(body["meta"]["pagination"]["total"])


def test_gunicorn_encoded_parameters_cannot_poison_the_response_cache(bundled):
    port, log = bundled
    poison = "/api/v1/posts?tag=fermentacion%26tag%3Dmasa-madre"
    assert _total(port, poison) == 0  # one tag whose name holds `&` and `=`: no such tag
    _both_workers(port, log, poison, "/api/v1/posts")  # both workers have cached its answer
    both = "/api/v1/posts?tag=masa-madre&tag=fermentacion"  # one post has both tags
    assert [_total(port, both) for _ in range(10)] == [1] * 10
    assert [_total(port, poison) for _ in range(4)] == [0] * 4
    assert [_total(port, "/api/v1/posts?tag=fermentacion,masa-madre") for _ in range(4)] == [1] * 4

    status, body = _get(port, "/api/v1/posts?page%3D2%26per_page=3")
    assert status == 400
    assert [error["parameter"] for error in body["errors"]] == ["page=2&per_page"]
    for _ in range(10):
        status, page = _get(port, "/api/v1/posts?page=2&per_page=3")
        assert status == 200
        assert page["meta"]["pagination"]["page"] == 2
        assert len(page["data"]) == 3


def test_gunicorn_a_thousand_accented_characters_of_q_fit_the_request_line(bundled):
    port, _ = bundled
    q = "ñ" * 1000  # the contract's maximum; 6,000 bytes once percent-encoded
    status, body = _get(port, f"/api/v1/search?q={quote(q)}")
    assert status == 200, body
    assert body["data"] == []
    status, body = _get(port, f"/api/v1/search?q={quote(q + 'ñ')}")
    assert status == 400
    assert [error["parameter"] for error in body["errors"]] == ["q"]


def test_gunicorn_boots_and_serves_despite_hostile_content(tmp_path):
    """A link loop, a billion laughs and a 3 MB post: the master boots (it died with ELOOP),
    both workers serve the good post, and each bad file is a content error naming it."""
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "bueno.md").write_text(post_text(title="Bueno"))
    billion = Path(__file__).parent / "fixtures" / "posts" / "billion-laughs.md"
    (content / "posts" / "risas.md").write_bytes(billion.read_bytes())
    (content / "posts" / "enorme.md").write_text(
        post_text(title="Enorme", body="palabra " * 400_000)
    )
    try:
        (content / "posts" / "up").symlink_to("..")  # `ln -s .. content/posts/up`
    except OSError:
        pytest.skip("symlinks not permitted here")
    with gunicorn(tmp_path, content_dir=str(content), admin_token=ADMIN) as (port, log):
        _both_workers(port, log, "/api/v1/posts", "/api/v1/posts")
        for _ in range(6):
            status, body = _get(port, "/api/v1/posts")
            assert status == 200
            assert [post["title"] for post in body["data"]] == ["Bueno"]
        _, diagnostics = _request(
            port, "/api/v1/admin/diagnostics", Authorization=f"Bearer {ADMIN}"
        )
    errors = {
        (issue["path"], issue["field"]): issue["message"]
        for issue in diagnostics["issues"]
        if issue["severity"] == "error"
    }
    assert set(errors) == {("posts/risas.md", "lol5"), ("posts/enorme.md", None)}
    assert "larger than 64 KiB" in errors["posts/risas.md", "lol5"]
    assert "larger than 2 MiB" in errors["posts/enorme.md", None]
