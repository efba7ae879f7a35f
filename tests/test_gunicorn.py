"""Production serving: gunicorn with `gunicorn.conf.py` and 2 workers, started here.

After a post is edited on disk, every worker serves the new body within 2 seconds, and the
shared cache never hands out the old one once a worker has the new version. An admin reload
reaches every worker with the watcher off. Nobody can poison a worker's response cache with an
encoded query, and a 1,000-character accented `q` fits in gunicorn's request line. Under load,
while files are edited, added, deleted and broken and the shared store files are deleted,
every answer is of one version the files were really in, and none is older than a settled
change.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import GUNICORN, ROOT, gunicorn, post_text

pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")
ADMIN = "admin-token-0123456789"


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


def _titles_from_both(port: int, log: Path, path: str, since_line: int, least: int) -> list[str]:
    """The titles `path` answers with, asked at least `least` times and until both workers
    have answered since `since_line` (which one takes a connection is the kernel's choice)."""
    deadline = time.monotonic() + 30
    titles = [_get(port, path)[1]["title"] for _ in range(least)]
    while len(_pids(log, path, since_line)) < 2:
        assert time.monotonic() < deadline, "one worker never answered"
        titles.append(_get(port, path)[1]["title"])
    return titles


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
    titles = _titles_from_both(port, log, "/api/v1/posts/a", mark, least=60)
    assert set(titles) == {"Edited"}, f"old body served {titles.count('Original')} times"
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
        titles = _titles_from_both(port, log, "/api/v1/posts/a", mark, least=30)
        assert set(titles) == {"Edited"}, f"old title served {titles.count('Original')} times"
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


# Nothing gets staler: edits, additions, deletions and broken files under load


class Site:
    """The content folder and every state the mutator left it in: `states[k]` is what the
    posts say (slug: generation) after step k; each post's title and body name both."""

    def __init__(self, folder: Path, posts: int) -> None:
        self.folder = folder
        self.states: list[dict[str, int]] = [{f"p{n}": 0 for n in range(posts)}]
        for slug, generation in self.states[0].items():
            self.write(slug, generation)

    @staticmethod
    def title(slug: str, generation: int) -> str:
        return f"{slug} g{generation}"

    @staticmethod
    def marker(slug: str, generation: int) -> str:
        return f"m{slug}g{generation}"

    def write(self, slug: str, generation: int | None, text: str | None = None) -> None:
        """Replace the file in one rename, as editors and `git` do (a hidden temporary name,
        which neither the loader nor the watcher looks at)."""
        if text is None:
            day = 1 + int(slug.lstrip("pn")) % 28
            text = post_text(
                title=self.title(slug, generation or 0),
                date=f"2024-01-{day:02d}",
                body=f"Palabra {self.marker(slug, generation or 0)}.",
            )
        temporary = self.folder / f".{slug}.partial"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.folder / f"{slug}.md")

    def step(self, action: str, slug: str) -> dict[str, int]:
        """Do one change; returns the posts the site should serve now."""
        state = dict(self.states[-1])
        if action in {"edit", "add", "fix"}:
            state[slug] = state.get(slug, -1) + 1
            self.write(slug, state[slug])
        elif action == "delete":
            del state[slug]
            (self.folder / f"{slug}.md").unlink()
        elif action == "break":  # an invalid date: the last good version keeps being served
            self.write(slug, None, text=post_text(title="Rota", date="not a date"))
        self.states.append(state)
        return state

    def titles(self, state: dict[str, int]) -> dict[str, str]:
        return {slug: self.title(slug, generation) for slug, generation in state.items()}


STEPS = [
    ("edit", "p1"),
    ("add", "n1"),
    ("edit", "p2"),
    ("delete", "p3"),
    ("break", "p4"),
    ("edit", "p5"),
    ("fix", "p4"),
    ("drop files", ""),  # the artifact store and the search files deleted mid-run
    ("edit", "p1"),
    ("add", "n2"),
    ("delete", "n1"),
    ("drop files", ""),
    ("edit", "n2"),
]


class Answers:
    """Every answer the clients got: (kind, slug, started at step k after it settled,
    version, status, body)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, int | None, str, int, Any]] = []
        self.failures: list[str] = []

    def add(self, *item: Any) -> None:
        self.items.append(item)  # list.append is atomic under the GIL


def _fetch(port: int, path: str) -> tuple[int, str, Any]:
    """(status, X-Content-Version, JSON body) on a new connection."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.headers.get("X-Content-Version", ""),
                json.load(response),
            )
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, error.headers.get("X-Content-Version", ""), body


def _clients(port: int, slugs: list[str], answers: Answers, epoch: list[int | None], stop):  # type: ignore[no-untyped-def]
    import random
    import threading

    paths = [
        ("list", "", "/api/v1/posts?per_page=100"),
        ("search", "", "/api/v1/search?q=palabra&per_page=100"),
        ("feed", "", "/feeds/feed.json"),
        ("root", "", "/api/v1"),
    ]

    def run(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(4000):  # bounded; the mutator's end stops it sooner
            if stop.is_set():
                return
            if rng.random() < 0.5:
                slug = rng.choice(slugs)
                kind, path = "detail", f"/api/v1/posts/{slug}"
            else:
                kind, slug, path = rng.choice(paths)
            settled = epoch[0]
            try:
                status, version, body = _fetch(port, path)
            except (OSError, ValueError) as error:
                answers.failures.append(f"{path}: {error!r}")
                continue
            answers.add(kind, slug, settled, version, status, body)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(3)]
    for thread in threads:
        thread.start()
    return threads


def _workers(port: int) -> set[str] | None:
    status, body = _request(port, "/api/v1/admin/diagnostics", Authorization=f"Bearer {ADMIN}")
    if status != 200 or len(body["workers"]) != 2:
        return None
    return {worker["version"] for worker in body["workers"]}


def _settle(port: int, before: str, deadline: float) -> str:
    """Wait until both workers report one index version other than `before`; returns it."""
    while time.monotonic() < deadline:
        versions = _workers(port)
        if versions is not None and len(versions) == 1 and before not in versions:
            return versions.pop()
        time.sleep(0.02)
    raise AssertionError(f"the workers never settled on a version after {before}")


def _check(site: Site, answers: Answers) -> dict[str, int]:
    """Every answer is of one version, that version is one of the site's states, and after
    each change settled every answer is of that change's state. Returns answers by kind."""
    problems: list[str] = list(answers.failures)
    lists: dict[str, dict[str, str]] = {}  # version: slug -> title, from the lists
    for kind, _, _, version, status, body in answers.items:
        if kind == "list" and status == 200:
            shown = {post["slug"]: post["title"] for post in body["data"]}
            if body["meta"]["pagination"]["total"] != len(shown):
                problems.append(f"{version}: a list total disagrees with its items")
            if lists.setdefault(version, shown) != shown:
                problems.append(f"{version}: two lists of one version differ")
    states = [site.titles(state) for state in site.states]
    state_of = {}
    for version, shown in lists.items():
        matching = [k for k, titles in enumerate(states) if titles == shown]
        if not matching:
            problems.append(f"{version}: its list is no state the files were ever in: {shown}")
        state_of[version] = matching
    counts: dict[str, int] = {}
    for kind, slug, settled, version, status, body in answers.items:
        counts[kind] = counts.get(kind, 0) + 1
        if status >= 500 or not version:
            problems.append(f"{kind} {slug}: {status} without a version ({version!r})")
            continue
        shown = lists.get(version)
        if shown is None:
            continue  # no list answered from this version: nothing to compare with
        # Older than what had settled when the request started is stale; newer is fine (the
        # next change may have landed while the request was in flight).
        if settled is not None and max(state_of[version], default=-1) < settled:
            problems.append(f"{kind} {slug}: step {settled} had settled, got {version}")
        if kind == "detail":
            if status == 404:
                if slug in shown:
                    problems.append(f"{version}: {slug} listed, yet its detail is a 404")
                continue
            generation = int(body["title"].rsplit("g", 1)[1])
            if (
                body["title"] != shown.get(slug)
                or site.marker(slug, generation) not in body["html"]
            ):
                problems.append(
                    f"{version}: {slug} detail {body['title']!r} (listed {shown.get(slug)!r}): "
                    "another title, or HTML of an older body"
                )
        elif kind == "search":
            found = {hit["slug"]: hit["title"] for hit in body["data"]}
            if found != shown:
                problems.append(f"{version}: search {sorted(found)} != list {sorted(shown)}")
        elif kind == "feed":
            titles = {item["title"] for item in body["items"]}
            if titles != set(shown.values()):
                problems.append(f"{version}: feed {sorted(titles)} != list")
            for item in body["items"]:
                slug, generation = item["title"].rsplit(" g", 1)
                if site.marker(slug, int(generation)) not in item["content_html"]:
                    problems.append(f"{version}: feed item {item['title']} has an old body")
        elif kind == "root" and (
            body["version"] != version or body["counts"]["posts"] != len(shown)
        ):
            problems.append(f"{version}: root {body['version']} {body['counts']}")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("watching", [True, False], ids=["watcher", "admin-reload"])
def test_gunicorn_nothing_gets_staler_while_files_change_under_load(tmp_path, watching):
    """Two workers, three clients asking for lists, details, search, a feed and the root while
    posts are edited, added, deleted, broken and fixed, and the artifact store and search
    files are deleted: every answer is of one version that the files were in (a list's total,
    each post's title and HTML, search, the feed and the root agree), and once a change has
    reached both workers no answer is older than it. No 5xx, no failed request."""
    import threading

    content = tmp_path / "content"
    content.mkdir()
    site = Site(content, posts=12)
    store, search = tmp_path / "store" / "artifacts.sqlite", tmp_path / "search"
    settings = {
        "content_dir": str(content),
        "watch": "true" if watching else "false",
        "admin_token": ADMIN,
        "store_path": str(store),
        "search_cache": str(search),
        # With a base URL the builder stores every detail's answer (web/prebuilt.py), so
        # details are answered from the store between changes.
        "base_url": "http://127.0.0.1/",
    }
    slugs = ["p0", "p1", "p2", "p3", "p4", "p5", "n1", "n2", "gone"]
    with gunicorn(tmp_path, **settings) as (port, log):
        _both_workers(port, log, "/api/v1/posts", "/api/v1/posts")
        answers, epoch, stop = Answers(), [None], threading.Event()
        version = _settle(port, "", time.monotonic() + 30)
        epoch[0] = 0
        clients = _clients(port, slugs, answers, epoch, stop)
        try:
            for number, (action, slug) in enumerate(STEPS, start=1):
                if action == "drop files":
                    for path in (*store.parent.glob("artifacts.sqlite*"), *search.glob("*")):
                        if path.is_dir():  # a tantivy index is a folder of files
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            path.unlink(missing_ok=True)
                    site.states.append(dict(site.states[-1]))
                    epoch[0] = number
                    time.sleep(0.3)
                    continue
                epoch[0] = None  # answers started now may be of either state
                site.step(action, slug)
                if not watching:
                    status, reloaded = _request(
                        port, "/api/v1/admin/reload", "POST", Authorization=f"Bearer {ADMIN}"
                    )
                    assert status == 200, reloaded
                version = _settle(port, version, time.monotonic() + 20)
                epoch[0] = number
                time.sleep(0.3)  # answers from the settled state
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=30)
    counts = _check(site, answers)
    assert min(counts.get(kind, 0) for kind in ("list", "detail", "search", "feed", "root")) > 5
