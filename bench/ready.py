"""Ready time alone, cold and warm, and idle memory: the start rows of `make bench`, quickly.

    python bench/ready.py [--posts 10000] [--runs 3] [--tree ../other-checkout]

Each run starts gunicorn as the README says (`gunicorn -c gunicorn.conf.py wsgi:app`, 2
workers) on bench/generate.py's corpus with fresh, empty parse cache, store and search folders
under the temp folder (`cold`: first 200 on `/readyz`), then once more on what that start wrote
(`warm`), waits until both workers are done warming up and reads the PSS of the master and its
workers. Prints each run and the median of each figure.
`--tree` also runs another checkout's code (gunicorn started in it, with this Python),
alternating with this checkout run by run: before and after on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from service import (
    ROOT,
    WORKERS,
    corpus,
    free_port,
    machine,
    start,
    wait_ready,
    wait_worked,
)


def one_run(posts: int, work: Path, tree: Path = ROOT) -> tuple[float, float, float]:
    """Ready cold, ready warm (seconds) and PSS idle (MiB) of one fresh set of caches."""
    root = corpus(posts)
    cache, search_cache = work / "parse-cache", work / "search-cache"
    for folder in (cache, search_cache):
        shutil.rmtree(folder, ignore_errors=True)
    port = free_port()
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "CONTENTAPI_CONTENT_DIR": str(root),
        "CONTENTAPI_PARSE_CACHE": str(cache),  # the store lives beside it (`STORE_PATH=auto`)
        "CONTENTAPI_SEARCH_CACHE": str(search_cache),
        "CONTENTAPI_WATCH": "true",
        "CONTENTAPI_BASE_URL": f"http://127.0.0.1:{port}/",  # as bench/service.py runs it
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    budget = 120 + posts / 100
    figures = []
    for name in ("cold", "warm"):
        server = start(gunicorn, env, port, work / f"gunicorn-{name}.log", tree)
        try:
            figures.append(wait_ready(server, budget))
            wait_worked(server, budget * 3)
            pool = re.search(r"parsed \d+ of \d+ files in .*", server.log.read_text())
            if pool:
                print(f"  {name} start: {pool.group()}", flush=True)
            if name == "warm":
                time.sleep(1)
                figures.append(server.pss_mib())
        finally:
            server.stop()
    cold, warm, pss = figures
    return cold, warm, pss


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="another checkout, run alternately")
    args = parser.parse_args()
    print(f"# command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"# machine: {machine()}")
    trees = {"this": ROOT, **({"other": args.tree.resolve()} if args.tree else {})}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    for number in range(args.runs):
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory(prefix="contentapi-ready-") as folder:
                runs[name].append(one_run(args.posts, Path(folder), tree))
            cold, warm, pss = runs[name][-1]
            print(
                f"{name} run {number + 1}: ready cold {cold:.2f} s, warm {warm:.2f} s, "
                f"PSS idle {pss:.0f} MiB",
                flush=True,
            )
    for name, tree in trees.items():
        cold, warm, pss = (statistics.median(column) for column in zip(*runs[name], strict=True))
        print(
            f"{name} ({tree}) median of {args.runs}: ready cold {cold:.2f} s, "
            f"warm {warm:.2f} s, PSS idle {pss:.0f} MiB"
        )


if __name__ == "__main__":
    main()
