"""Edit to served: how long after one file of a corpus is edited every gunicorn worker serves it.

    python bench/settle.py --posts 1000 --edits 10

Starts gunicorn (gunicorn.conf.py, 2 workers, loopback) over a generated corpus twice: with
the watcher on, and with it off and `POST /api/v1/admin/reload` after each edit. Two client
threads keep a light load (lists and details) so every worker takes requests. After each edit
it polls the detail of the edited post on new connections, reading `X-Content-Version`, and
the admin diagnostics (each worker's version): the time is from the file's rename until both
workers report the new version and the detail shows the new title. Medians and maxima.
Bounded: at most 50 edits, two client threads, loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
GUNICORN = Path(sys.executable).parent / "gunicorn"
ADMIN = "bench-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, method: str = "GET", token: str = "") -> tuple[int, dict]:
    headers = {"Connection": "close"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, {}


def workers(port: int) -> set[str]:
    status, body = get(port, "/api/v1/admin/diagnostics", token=ADMIN)
    return (
        {w["version"] for w in body.get("workers", [])}
        if status == 200 and len(body.get("workers", [])) == 2
        else set()
    )


def run(content: Path, watching: bool, edits: int, work: Path) -> list[float]:
    port = free_port()
    env = {
        **os.environ,
        "CONTENTAPI_CONTENT_DIR": str(content),
        "CONTENTAPI_WATCH": "true" if watching else "false",
        "CONTENTAPI_ADMIN_TOKEN": ADMIN,
        "CONTENTAPI_RUNTIME_DIR": str(work / "runtime"),
        "CONTENTAPI_STORE_PATH": str(work / "artifacts.sqlite"),
        "CONTENTAPI_SEARCH_CACHE": str(work / "search"),
        "CONTENTAPI_PARSE_CACHE": str(work / "parse"),
    }
    command = [str(GUNICORN), "-c", "gunicorn.conf.py", "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "wsgi:app"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 120
        while len(workers(port) if _up(port) else ()) != 1:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        target = sorted(content.rglob("*.md"))[len(list(content.rglob("*.md"))) // 2]
        slug = _slug(target, content)

        def load() -> None:
            while not stop.is_set():
                get(port, "/api/v1/posts?per_page=10")
                get(port, f"/api/v1/posts/{slug}")
                time.sleep(0.01)

        clients = [threading.Thread(target=load, daemon=True) for _ in range(2)]
        for thread in clients:
            thread.start()
        time.sleep(3)  # let the background fill and search warm-up finish
        original = target.read_text(encoding="utf-8")
        times = []
        for n in range(edits):
            before = workers(port)
            title = f"Edited {n} {time.time_ns()}"
            text = re.sub(r"^title: .*$", f'title: "{title}"', original, count=1, flags=re.M)
            temporary = target.with_name(f".{target.name}.partial")
            temporary.write_text(text, encoding="utf-8")
            started = time.perf_counter()
            temporary.replace(target)
            if not watching:
                get(port, "/api/v1/admin/reload", "POST", ADMIN)
            while True:
                now = workers(port)
                if len(now) == 1 and now != before:
                    _, body = get(port, f"/api/v1/posts/{slug}")
                    if body.get("title") == title:
                        break
                if time.perf_counter() - started > 30:
                    raise SystemExit("an edit never reached both workers")
                time.sleep(0.005)
            times.append(time.perf_counter() - started)
            time.sleep(0.5)
        return times
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)


def _up(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _slug(target: Path, content: Path) -> str:
    from contentapi.engine.slugs import slug_from_path

    return slug_from_path(target.relative_to(content).as_posix()) or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=10)
    args = parser.parse_args()
    edits = min(args.edits, 50)
    from build_index import corpus

    print(f"{platform.node()}: {os.cpu_count()} cores (shared), Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        content = work / "content"
        shutil.copytree(corpus(args.posts), content)
        for watching in (True, False):
            times = run(content, watching, edits, work / ("watch" if watching else "admin"))
            how = "watcher (debounce 0.2 s)" if watching else "admin reload"
            print(
                f"{args.posts} posts, {how}: edit to every worker serving it "
                f"median {statistics.median(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms ({len(times)} edits)"
            )


if __name__ == "__main__":
    main()
