"""Search benchmark: time to build the search index, its memory, and query latency.

    python bench/search.py --posts 10000 --queries 500

Loads a corpus made by bench/generate.py (kept in the temp folder between runs) the way the app
does, analyses every post, then times building the search backend (`--backend`, default tantivy)
and searching over a mix of realistic queries: single words, two words, a prefix being typed,
a phrase, unaccented upper case, an exclusion, Spanish and English, the way `/api/v1/search`
does: the first page ranked with the total count, then snippets for that page only.
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
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_index import corpus  # noqa: E402
from generate import EN_WORDS, ES_WORDS, TITLE_WORDS  # noqa: E402

from contentapi.engine.loader import load_index  # noqa: E402
from contentapi.outputs.search import BACKENDS, SearchIndex, backend  # noqa: E402
from contentapi.settings import Settings  # noqa: E402

# Short function words make poor queries; people search for content words.
_MIN_LENGTH = 5


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


def peak_rss() -> int:
    """Bytes of the process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """Bytes of resident memory now, from /proc (Linux); the peak elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return peak_rss()
    return pages * resource.getpagesize()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=20, help="hits with snippets per query")
    default = Settings.from_env({}).search_backend
    parser.add_argument("--backend", choices=sorted(BACKENDS), default=default)
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
    peak_before, rss_before = peak_rss(), current_rss()
    started = time.perf_counter()
    search = backend(args.backend)(entries)
    build = time.perf_counter() - started
    gc.collect()
    peak_after, rss_after = peak_rss(), current_rss()
    print(f"build search index: {build:.2f}s ({len(search) / build:.0f} posts/s)")
    print(
        f"memory: RSS kept +{(rss_after - rss_before) / 2**20:.0f} MiB, "
        f"peak RSS +{(peak_after - peak_before) / 2**20:.0f} MiB"
        + (
            f", of which SQLite database {search.database_size() / 2**20:.0f} MiB"
            if hasattr(search, "database_size")
            else ""
        )
    )

    report(search, queries(args.queries), args.limit)


def report(search: SearchIndex, made: list[tuple[str, str]], limit: int) -> None:
    """Time one page per query: ranked with its total, then with snippets for that page.

    Wall-clock times are what a client waits; CPU times (this thread's) are what the query
    costs, and stay meaningful on a machine that other work shares.
    """
    ranking: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    for kind, text in made:
        started, started_cpu = time.perf_counter(), time.thread_time()
        found = search.search(text, limit=limit)
        ranked = time.perf_counter()
        page = search.highlight(text, found.hits)
        done, done_cpu = time.perf_counter(), time.thread_time()
        assert len(page) <= limit
        ranking.setdefault(kind, []).append(ranked - started)
        totals.setdefault(kind, []).append(done - started)
        cpu.setdefault(kind, []).append(done_cpu - started_cpu)
        hits.setdefault(kind, []).append(found.total)
    for table in (ranking, totals, cpu, hits):
        table["all"] = [value for values in list(table.values()) for value in values]
    print(
        f"latency over {len(made)} queries in ms (page: the top {limit} ranked and every "
        f"match counted; total: page, then snippets for those {limit}; cpu: total's CPU time)"
    )
    print(
        "kind         queries  median hits  page p50  page p99  total p50  total p99"
        "  cpu p50  cpu p99"
    )
    for kind, times in totals.items():
        print(
            f"{kind:<12} {len(times):>7} {statistics.median(hits[kind]):>12.0f} "
            f"{ms(percentile(ranking[kind], 0.5)):>9} {ms(percentile(ranking[kind], 0.99)):>9} "
            f"{ms(percentile(times, 0.5)):>10} {ms(percentile(times, 0.99)):>10} "
            f"{ms(percentile(cpu[kind], 0.5)):>8} {ms(percentile(cpu[kind], 0.99)):>8}"
        )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


if __name__ == "__main__":
    main()
