"""Production serving: gunicorn with 2 workers and a shared Redis cache, both started here.

After a post is edited on disk, every worker serves the new body within 2 seconds, and the
shared cache never hands out the old one once a worker has the new version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port, post_text, wait_for_port

GUNICORN = Path(sys.executable).parent / "gunicorn"
pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")


def _get(port: int, path: str) -> tuple[int, dict]:
    """One request on a new connection (so the kernel may hand it to either worker)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


@pytest.fixture
def server(tmp_path, redis_url):
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(post_text(title="Original", date="2024-01-01"))
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "CONTENTAPI_CONTENT_DIR": str(content),
        "CONTENTAPI_WATCH": "true",
        "CONTENTAPI_CACHE_TYPE": "RedisCache",
        "CONTENTAPI_CACHE_REDIS_URL": redis_url,
        "CONTENTAPI_PARSE_CACHE": "off",
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
        yield port, content, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _pids(log: Path, since_line: int) -> set[str]:
    lines = log.read_text().splitlines()[since_line:]
    return {line.split()[0] for line in lines if " 200 /api/v1/posts/a" in line}


def test_gunicorn_every_worker_serves_an_edit_within_two_seconds(server):
    port, content, log = server
    for _ in range(40):  # warm both workers and the shared cache with the old body
        assert _get(port, "/api/v1/posts/a")[1]["title"] == "Original"
    assert len(_pids(log, 0)) == 2, "both workers should have answered"
    (content / "a.md").write_text(post_text(title="Edited", date="2024-01-01"))
    edited_at = time.monotonic()
    time.sleep(2.0)
    mark = len(log.read_text().splitlines())
    titles = [_get(port, "/api/v1/posts/a")[1]["title"] for _ in range(60)]
    assert set(titles) == {"Edited"}, f"old body served {titles.count('Original')} times"
    assert len(_pids(log, mark)) == 2, "both workers should serve the edited post"
    assert time.monotonic() - edited_at < 10
