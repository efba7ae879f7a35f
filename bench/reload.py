"""Reload benchmarks.

    python bench/reload.py reload --posts 10000      # one changed file in a 10k-post corpus
    python bench/reload.py load --posts 1000 --seconds 20

`reload` times ContentStore.reload() after editing one file (medians of 5). `load` starts
gunicorn (2 workers, watcher on) over a generated corpus, keeps a steady load of concurrent
requests on loopback while a post is edited every second, and counts failed requests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def _copy_corpus(count: int, into: Path) -> Path:
    from build_index import corpus

    target = into / "content"
    shutil.copytree(corpus(count), target)
    return target


def bench_reload(count: int) -> None:
    from contentapi.service.store import ContentStore
    from contentapi.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        content = _copy_corpus(count, Path(folder))
        settings = Settings.from_env(
            {"CONTENTAPI_CONTENT_DIR": str(content), "CONTENTAPI_PARSE_CACHE": "off"}
        )
        store = ContentStore(settings)
        store.reload()
        victim = sorted(content.rglob("*.md"))[count // 2]
        times = []
        for round_ in range(5):
            victim.write_text(victim.read_text() + f"\nEdit {round_}.\n")
            started = time.perf_counter()
            result = store.reload()
            times.append(time.perf_counter() - started)
            assert result.changes.updated, "the edit should show as an update"
        print(
            f"reload after editing 1 of {count} posts: median {statistics.median(times):.3f}s"
            f" (min {min(times):.3f}s, max {max(times):.3f}s, 5 runs)"
        )


def bench_load(count: int, seconds: float, clients: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        content = _copy_corpus(count, Path(folder))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "CONTENTAPI_CONTENT_DIR": str(content),
            "CONTENTAPI_WATCH": "true",
            "CONTENTAPI_PARSE_CACHE": "off",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "/dev/null",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(port)
            posts = sorted(content.rglob("*.md"))
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/posts?per_page=50&fields=slug"
            ) as listing:
                slugs = [item["slug"] for item in json.load(listing)["data"]]
            stop = time.monotonic() + seconds
            ok, failed, latencies = [0], [0], []
            kinds: dict[str, int] = {}
            lock = threading.Lock()

            def client(number: int) -> None:
                i = number
                while time.monotonic() < stop:
                    path = (
                        "/api/v1/posts?page=2"
                        if i % 3 == 0
                        else f"/api/v1/posts/{slugs[i % len(slugs)]}"
                    )
                    i += 1
                    started = time.perf_counter()
                    try:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}{path}", timeout=10
                        ) as response:
                            response.read()
                            good = response.status == 200
                    except urllib.error.HTTPError as error:
                        good = False
                        key = f"HTTP {error.code} {path}"
                        kinds[key] = kinds.get(key, 0) + 1
                    except (urllib.error.URLError, OSError) as error:
                        good = False
                        kinds[type(error).__name__] = kinds.get(type(error).__name__, 0) + 1
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        (ok if good else failed)[0] += 1

            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            edits = 0
            while time.monotonic() < stop - 1:
                victim = posts[edits % 20]
                victim.write_text(victim.read_text() + f"\nEdit {edits}.\n")
                edits += 1
                time.sleep(1)
            for thread in threads:
                thread.join()
            latencies.sort()
            print(
                f"{ok[0] + failed[0]} requests in {seconds:.0f}s from {clients} clients, "
                f"{edits} edits (each a reload in both workers): {failed[0]} failed; "
                f"p50 {latencies[len(latencies) // 2] * 1000:.1f}ms, "
                f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f}ms"
            )
            if kinds:
                print("failures:", kinds)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["reload", "load"])
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    print(f"# {platform.node()}: {os.cpu_count()} cores, CPython {platform.python_version()}")
    print("# python bench/reload.py " + " ".join(sys.argv[1:]))
    if args.what == "reload":
        bench_reload(args.posts)
    else:
        bench_load(args.posts, args.seconds, args.clients)


if __name__ == "__main__":
    main()
