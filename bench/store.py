"""Artifact store benchmark: filling it, starting on it, and what it saves each worker.

    python bench/store.py --posts 1000                 # all three parts
    python bench/store.py --posts 10000 --parts fill start

- fill: `flask content build` into an empty store, serially (`--jobs 1`) and with a process
  per core, each in a fresh process (wall time; the load average says how busy the machine was).
- start: in a fresh process, what a worker does after a start: build the index, check the store
  for missing posts, then read every post's analysis and HTML (the search warm-up and a crawl).
  With the store built nothing is computed; "computed" counts analyses and renders.
- memory: gunicorn with 2 workers (as the README runs it) over the corpus, every post's detail
  requested once, then each worker's RSS and PSS: with the store built, empty (the workers
  fill it in the background: "warm-up done" is when they are idle again), and off.

The corpus comes from bench/generate.py and is kept in the temp folder (see build_index.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
FLASK = Path(sys.executable).parent / "flask"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _env(content: Path, store: str, cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONTENTAPI_CONTENT_DIR": str(content),
        "CONTENTAPI_PARSE_CACHE": str(cache),
        "CONTENTAPI_STORE_PATH": store,
        "CONTENTAPI_LOG_LEVEL": "warning",
    }


def _content_build(content: Path, store: Path, cache: Path, jobs: int) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(
        [str(FLASK), "--app", "contentapi", "content", "build", "--jobs", str(jobs)],
        env=_env(content, str(store), cache),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return time.perf_counter() - started, out.strip().splitlines()[-1]


def part_fill(content: Path, work: Path, jobs: int) -> None:
    print("## cold fill: flask content build, empty store and parse cache (wall, fresh process)")
    for used in sorted({1, jobs}):
        store = work / f"fill-{used}.sqlite"
        cache = work / f"fill-cache-{used}"
        before = os.getloadavg()[0]
        seconds, line = _content_build(content, store, cache, used)
        size = store.stat().st_size / 2**20
        print(
            f"--jobs {used}: {seconds:6.2f} s  store {size:5.1f} MiB  "
            f"(load average {before:.1f} before)  | {line}"
        )


def measure_start(content: str, store: str, cache: str) -> dict[str, float]:
    """In a fresh process: what a worker does after a start, timing each step."""
    from contentapi.engine import artifacts, index
    from contentapi.service.store import ContentStore
    from contentapi.settings import Settings

    computed = {"analyses": 0, "renders": 0}
    derive, render = index.derive, artifacts.render_html

    def counted_derive(*args):
        computed["analyses"] += 1
        return derive(*args)

    def counted_render(*args):
        computed["renders"] += 1
        return render(*args)

    index.derive, artifacts.render_html = counted_derive, counted_render
    settings = Settings.from_env(_env(Path(content), store, Path(cache)))
    content_store = ContentStore(settings.replace(render_cache_size=0))
    if settings.store_path == "off":
        content_store._render = counted_render
    timings: dict[str, float] = {}
    started = time.perf_counter()
    content_store.reload()
    timings["index_s"] = time.perf_counter() - started
    built = content_store.index
    if content_store.artifacts is not None:
        from contentapi.service.builder import build

        started = time.perf_counter()
        report = build(built, content_store.artifacts, jobs=1)
        timings["check_s"] = time.perf_counter() - started
        timings["missing"] = report.missing
    started = time.perf_counter()
    for post in built.posts:
        built.derived(post)
    timings["analysis_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for post in built.posts:
        content_store.html(built, post, "http://localhost:8000/")
    timings["html_s"] = time.perf_counter() - started
    return {**timings, **computed, "posts": len(built.posts)}


def part_start(content: Path, work: Path, jobs: int) -> None:
    print("## start: index, store check, every post's analysis, every post's HTML (fresh process)")
    store = work / "start.sqlite"
    cache = work / "start-cache"
    _content_build(content, store, cache, jobs)
    for label, choice in (("store built", str(store)), ("store off", "off")):
        out = subprocess.run(
            [sys.executable, __file__, "--measure-start", str(content), choice, str(cache)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        check = f"check {r['check_s']:5.2f} s  " if "check_s" in r else " " * 16
        print(
            f"{label:>11}: index {r['index_s']:5.2f} s  {check}analysis {r['analysis_s']:5.2f} s"
            f"  html {r['html_s']:6.2f} s  computed {r['analyses']} analyses, "
            f"{r['renders']} renders of {r['posts']} posts"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, timeout: float = 30) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def _memory(pid: int) -> tuple[float, float]:
    """RSS and PSS of a process, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, amount, *_ = line.split()
        values[name.rstrip(":")] = int(amount) / 1024
    return values["Rss"], values["Pss"]


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(int(child) for child in found)


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def _quiet(master: int, seconds: float = 1.0, timeout: float = 600) -> None:
    """Wait until the master's descendants (workers, and any pool filling the store) have used
    no CPU for `seconds`: the background warm-up is done."""

    def cpu() -> int:
        total = 0
        for pid in _descendants(master):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().split()
            except OSError:  # a pool worker that just ended
                continue
            total += int(fields[13]) + int(fields[14])
        return total

    deadline = time.monotonic() + timeout
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(seconds)
        now = cpu()
        if now == last:
            return
        last = now


def _filled(content: Path, store: Path, cache: Path, timeout: float = 1800) -> None:
    """Wait until the store holds every post's artifacts (the background fill is done)."""
    from contentapi.engine.loader import load_index
    from contentapi.service.artifact_db import open_artifacts
    from contentapi.settings import Settings

    settings = Settings.from_env(_env(content, str(store), cache))
    artifacts = open_artifacts(settings)
    assert artifacts is not None
    index = load_index(settings, artifacts=artifacts)
    deadline = time.monotonic() + timeout
    while artifacts.missing(index) and time.monotonic() < deadline:
        time.sleep(0.5)


def part_memory(content: Path, work: Path, jobs: int) -> None:
    print("## memory: gunicorn -w 2, every post's detail once, then each process (MiB)")
    store = work / "memory.sqlite"
    cache = work / "memory-cache"
    _content_build(content, store, cache, jobs)
    slugs = None
    empty = work / "memory-empty.sqlite"
    runs = (("store built", str(store)), ("store empty", str(empty)), ("store off", "off"))
    for label, choice in runs:
        port = _free_port()
        server = subprocess.Popen(
            [
                *(str(GUNICORN), "-c", "gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}"),
                *("--access-logfile", "/dev/null", "wsgi:app"),
            ],
            cwd=ROOT,
            env=_env(content, choice, cache),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            started = time.perf_counter()
            while True:
                try:
                    _get(port, "/readyz", timeout=2)
                    break
                except OSError:
                    if time.perf_counter() - started > 120:
                        raise
                    time.sleep(0.05)
            ready = time.perf_counter() - started
            while len(workers := _children(server.pid)) < 2:
                time.sleep(0.05)
            if choice != "off":
                _filled(content, Path(choice), cache)
            _quiet(server.pid)
            warm = time.perf_counter() - started
            if slugs is None:
                slugs, page = [], 1
                while True:
                    body = json.loads(_get(port, f"/api/v1/posts?per_page=100&page={page}"))
                    slugs += [item["slug"] for item in body["data"]]
                    if len(body["data"]) < 100:
                        break
                    page += 1
            crawl = time.perf_counter()
            for slug in slugs:
                _get(port, f"/api/v1/posts/{slug}")
            crawl = time.perf_counter() - crawl
            _quiet(server.pid)
            master = _memory(server.pid)
            each = [_memory(pid) for pid in workers]
            total_pss = master[1] + sum(pss for _, pss in each)
            print(
                f"{label:>11}: ready {ready:5.2f} s, warm-up done {warm:6.2f} s, "
                f"{len(slugs)} details in {crawl:6.2f} s | master RSS {master[0]:4.0f} | "
                + ", ".join(f"worker RSS {rss:4.0f} PSS {pss:4.0f}" for rss, pss in each)
                + f" | PSS total {total_pss:4.0f}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


PARTS = {"fill": part_fill, "start": part_start, "memory": part_memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--measure-start", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_start:
        print(json.dumps(measure_start(*args.measure_start)))
        return
    from build_index import corpus

    print(
        f"# {platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"# python bench/store.py --posts {args.posts} --parts {' '.join(args.parts)}")
    content = corpus(args.posts)
    work = Path(tempfile.mkdtemp(prefix="contentapi-store-bench-"))
    try:
        for part in args.parts:
            PARTS[part](content, work, args.jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
