"""Index build benchmark: time to a ready index, peak memory and files/s.

    python bench/build_index.py --posts 1000 10000

Each size runs in a fresh process (so peak memory is that build's alone) over a corpus made
by bench/generate.py and kept in the temp folder between runs: first "cold" (empty parse
cache, as on a first deploy), then "warm" (the parse cache the cold run wrote, as on every
restart after). "build index" includes reading the files.

`--store` says what the artifact store (analysis and HTML per post) holds: `auto` as the app
does by default (beside the parse cache, so the warm run finds what the cold run stored: the one
post whose detail it served), `built` (filled by `content build` between the cold and the warm
run: "first detail" is then a read), or `off`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
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


def _settings(root: Path, cache: Path, store: str):
    from contentapi.settings import Settings

    return Settings.from_env(
        {
            "CONTENTAPI_CONTENT_DIR": str(root),
            "CONTENTAPI_PARSE_CACHE": str(cache),
            "CONTENTAPI_STORE_PATH": "off" if store == "off" else "auto",
        }
    )


def measure(root: Path, cache: Path, store: str) -> dict[str, float]:
    """Run in a child process: build the index the way the app does and time each step."""
    from contentapi.engine.loader import load_index, read_sources
    from contentapi.service.store import ContentStore

    settings = _settings(root, cache, store)
    started = time.perf_counter()
    sources = read_sources(root)
    read = time.perf_counter() - started
    started = time.perf_counter()
    content = ContentStore(settings)
    index = load_index(settings, artifacts=content.artifacts)
    build = time.perf_counter() - started
    started = time.perf_counter()
    post = index.posts[len(index.posts) // 2]
    content.html(index, post, "http://localhost/")
    index.derived(post)
    detail = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "files": len(sources.files),
        "read_s": read,
        "build_s": build,
        "files_per_s": len(sources.files) / build,
        "peak_mib": peak_mib,
        "first_detail_s": detail,
    }


def fill(root: Path, cache: Path) -> None:
    """Run in a child process: fill the artifact store as `flask content build` does."""
    from contentapi.engine.loader import load_index
    from contentapi.service.artifact_db import open_artifacts
    from contentapi.service.builder import build

    settings = _settings(root, cache, "built")
    artifacts = open_artifacts(settings)
    assert artifacts is not None
    build(load_index(settings, artifacts=artifacts), artifacts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; medians shown")
    parser.add_argument("--store", choices=("auto", "built", "off"), default="auto")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--fill", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        root, cache, store = args.measure
        print(json.dumps(measure(Path(root), Path(cache), store)))
        return
    if args.fill:
        fill(*args.fill)
        return
    print(
        f"# {platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"# python bench/build_index.py --posts {' '.join(map(str, args.posts))}"
        f" --repeat {args.repeat} --store {args.store}  (medians)"
    )
    print("posts   start  read files  build index  files/s  peak MiB  first detail")
    for count in args.posts:
        root = corpus(count)
        runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                for start in ("cold", "warm"):
                    if start == "warm" and args.store == "built":
                        filling = [sys.executable, __file__, "--fill", str(root), cache]
                        subprocess.run(filling, check=True)
                    out = subprocess.run(
                        [sys.executable, __file__, "--measure", str(root), cache, args.store],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                    runs[start].append(json.loads(out))
        for start, results in runs.items():
            r = {key: statistics.median(run[key] for run in results) for key in results[0]}
            print(
                f"{r['files']:>6}  {start:>5}  {r['read_s']:>9.2f}s  {r['build_s']:>10.2f}s  "
                f"{r['files_per_s']:>7.0f}  {r['peak_mib']:>8.0f}  "
                f"{r['first_detail_s'] * 1000:>10.1f}ms"
            )


if __name__ == "__main__":
    main()
