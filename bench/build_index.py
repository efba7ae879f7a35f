"""Index build benchmark: time to a ready index, peak memory and files/s.

    python bench/build_index.py --posts 1000 10000

Each size runs in a fresh process (so peak memory is that build's alone) over a corpus made
by bench/generate.py and kept in the temp folder between runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def corpus(count: int) -> Path:
    from generate import generate_corpus

    root = Path(tempfile.gettempdir()) / f"contentapi-bench-{count}"
    marker = root / ".complete"
    if not marker.exists():
        generate_corpus(root, count)
        marker.write_text("ok")
    return root


def measure(root: Path) -> dict[str, float]:
    """Run in a child process: build the index the way the app does and time each step."""
    from contentapi.loader import load_index, read_sources
    from contentapi.settings import Settings

    settings = Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(root)})
    started = time.perf_counter()
    sources = read_sources(root)
    read = time.perf_counter() - started
    started = time.perf_counter()
    index = load_index(settings)
    build = time.perf_counter() - started
    store_started = time.perf_counter()
    from contentapi.store import ContentStore

    store = ContentStore(settings)
    post = index.posts[len(index.posts) // 2]
    store.html(index, post, "http://localhost/")
    index.derived(post)
    detail = time.perf_counter() - store_started
    started = time.perf_counter()
    for each in index.posts:
        index.derived(each)
    analyse_all = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "files": len(sources.files),
        "read_s": read,
        "build_s": build,
        "files_per_s": len(sources.files) / build,
        "peak_mib": peak_mib,
        "first_detail_s": detail,
        "analyse_all_s": analyse_all,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print("posts   read files  build index  files/s  peak MiB  first detail  analyse all")
    for count in args.posts:
        root = corpus(count)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(root)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out)
        print(
            f"{r['files']:>6}  {r['read_s']:>9.2f}s  {r['build_s']:>10.2f}s  "
            f"{r['files_per_s']:>7.0f}  {r['peak_mib']:>8.0f}  "
            f"{r['first_detail_s'] * 1000:>10.1f}ms"
            f"  {r['analyse_all_s']:>10.2f}s"
        )


if __name__ == "__main__":
    main()
