"""Search benchmark: time to build the search index, its memory, and query latency.

    python bench/search.py --posts 10000 --queries 500

Loads a corpus made by bench/generate.py (kept in the temp folder between runs) the way the app
does, analyses every post, then times `SearchIndex.build` and `search` over a mix of realistic
queries: single words, two words, a prefix being typed, a phrase, Spanish and English.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import resource
import shlex
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import EN_WORDS, ES_WORDS, TITLE_WORDS, generate_corpus  # noqa: E402

from contentapi.loader import load_index  # noqa: E402
from contentapi.search import SearchIndex  # noqa: E402
from contentapi.settings import Settings  # noqa: E402

# Short function words make poor queries; people search for content words.
_MIN_LENGTH = 5


def corpus(count: int) -> Path:
    """The generated corpus of `count` posts, written once and reused."""
    root = Path(tempfile.gettempdir()) / f"contentapi-bench-{count}"
    marker = root / ".complete"
    if not marker.exists():
        generate_corpus(root, count)
        marker.write_text("ok")
    return root


def queries(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """`count` (kind, query) pairs, in a fixed mix of kinds and languages."""
    rng = random.Random(seed)
    pools = {
        "es": [w for w in ES_WORDS if len(w) >= _MIN_LENGTH] + list(TITLE_WORDS["es"]),
        "en": [w for w in EN_WORDS if len(w) >= _MIN_LENGTH] + list(TITLE_WORDS["en"]),
    }
    made: list[tuple[str, str]] = []
    kinds = ("word", "two words", "prefix", "phrase", "unaccented", "exclude")
    while len(made) < count:
        kind = kinds[len(made) % len(kinds)]
        pool = pools[rng.choice(("es", "en"))]
        first, second = rng.choice(pool), rng.choice(pool)
        if kind == "word":
            text = first
        elif kind == "two words":
            text = f"{first} {second}"
        elif kind == "prefix":
            text = f"{second} {first[: rng.randint(2, max(2, len(first) - 1))]}"
        elif kind == "phrase":
            text = f'"{first} {second}"'
        elif kind == "unaccented":
            text = first.translate(str.maketrans("áéíóúñ", "aeioun")).upper()
        else:
            text = f"{first} -{second}"
        made.append((kind, text))
    return made


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=20, help="hits with snippets per query")
    args = parser.parse_args()

    print(f"# command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"# machine: {platform.platform()}, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    root = corpus(args.posts)
    started = time.perf_counter()
    index = load_index(Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(root)}))
    entries = [(post, index.derived(post).analysis) for post in index.posts]
    print(f"load and analyse {len(entries)} posts: {time.perf_counter() - started:.2f}s")

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    search = SearchIndex.build(entries)
    build = time.perf_counter() - started
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    database = search.database_size()
    print(f"build search index: {build:.2f}s ({len(search) / build:.0f} posts/s)")
    print(
        f"memory: peak RSS +{(rss_after - rss_before) / 1024:.0f} MiB, "
        f"SQLite database {database / 2**20:.0f} MiB, "
        f"Python peak during build {python_peak / 2**20:.0f} MiB"
    )

    measured: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    for kind, text in queries(args.queries):
        started = time.perf_counter()
        found = search.search(text, snippets=False)
        page = search.highlight(text, found[: args.limit])
        elapsed = time.perf_counter() - started
        assert len(page) <= args.limit
        measured.setdefault(kind, []).append(elapsed)
        hits.setdefault(kind, []).append(len(found))
    every = [t for times in measured.values() for t in times]
    print(
        f"search latency over {len(every)} queries (all hits ranked, top {args.limit} "
        "with snippets):"
    )
    print("kind          queries  median hits  p50 ms  p99 ms  max ms")
    for kind, times in [*measured.items(), ("all", every)]:
        found = hits.get(kind) or [n for counts in hits.values() for n in counts]
        print(
            f"{kind:<12} {len(times):>8} {statistics.median(found):>12.0f} "
            f"{percentile(times, 0.5) * 1000:>7.2f} {percentile(times, 0.99) * 1000:>7.2f} "
            f"{max(times) * 1000:>7.2f}"
        )


if __name__ == "__main__":
    main()
