"""Prebuilt answers after one edit: the refill's CPU and wall time.

    python bench/refill.py --content /tmp/refill-c10k --store /tmp/refill-store --edits 3

Starts an app over a copy of a generated corpus with a base URL and its own store, fills the
store (artifacts and every answer: slow the first time, kept on disk after), then for each
edit appends a line to one post (an edit `patch_index` applies), reloads, stores the edited
post's artifacts, and times what a worker runs after that fill (`ContentStore.after_fill`):
wall time, this process's CPU and its child processes' CPU (the forkserver's reaped children,
read from /proc, and any direct child). NEVER point it at a corpus others use: it edits files.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _children_cpu() -> float:
    """CPU seconds of reaped children: ours, and the forkserver's (its pool processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            # after ")": state is field 3, cutime/cstime are fields 16 and 17 (1-based)
            total += (int(fields[13]) + int(fields[14])) / ticks
            total += (int(fields[11]) + int(fields[12])) / ticks  # its own utime/stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--content", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--edits", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from contentapi.service.builder import build
    from contentapi.service.store import store_of
    from contentapi.settings import Settings
    from contentapi.web.app import create_app

    args.store.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(
        {
            "CONTENTAPI_CONTENT_DIR": str(args.content),
            "CONTENTAPI_STORE_PATH": str(args.store / "artifacts.sqlite"),
            "CONTENTAPI_PARSE_CACHE": str(args.store),
            "CONTENTAPI_BASE_URL": "https://api.example.com/",
            "CONTENTAPI_WATCH": "false",
            "CONTENTAPI_RUNTIME_DIR": str(args.store / "run"),
        }
    )
    app = create_app({"SEARCH_WARM_UP": False}, settings=settings)
    store = store_of(app)
    assert store.artifacts is not None and store.after_fill is not None
    started = time.perf_counter()
    build(store.index, store.artifacts)
    store.after_fill(store, store.index)
    print(f"initial fill: {time.perf_counter() - started:.1f} s", flush=True)

    posts = sorted(args.content.rglob("*.md"))
    victim = posts[len(posts) // 2]
    rows = []
    for edit in range(args.edits):
        victim.write_text(victim.read_text() + f"\nEdit {time.time_ns()} {edit}.\n")
        previous = store.index
        store.reload()
        index = store.index
        build(index, store.artifacts, previous=previous)
        wall, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        store.after_fill(store, index)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        children = _children_cpu() - children
        rows.append((wall, cpu, children))
        print(
            f"edit {edit}: refill {wall:.3f} s wall, {cpu:.3f} CPU s here, "
            f"{children:.3f} CPU s in child processes",
            flush=True,
        )
    best = min(rows)
    print(
        f"{len(posts)} posts, {platform.python_version()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}: best refill {best[0]:.3f} s wall, "
        f"{best[1] + best[2]:.3f} CPU s in all"
    )


if __name__ == "__main__":
    main()
