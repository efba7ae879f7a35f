"""Response cache benchmark: what a cache hit costs against a miss, in process.

    python bench/respcache.py --posts 1000 [--redis redis://127.0.0.1:6379/0]

Builds the app over a corpus made by bench/generate.py (kept in the temp folder between runs)
and times requests through Flask's test client with `Accept-Encoding: br, gzip`, for a listing
and a post detail, in CPU time of the requesting thread (background index work excluded): a
miss (the response cache emptied before each request; the post's HTML is already rendered, so
a miss is the view, the JSON, the ETag and the compression) and a hit (the same URL again).
Times include the test client's own work (building the WSGI environ, reading the body), which
is the same for both.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_index import corpus  # noqa: E402

from contentapi import create_app  # noqa: E402
from contentapi.web.response_cache import cache  # noqa: E402

HEADERS = {"Accept-Encoding": "br, gzip"}


def timed(client, url: str, runs: int, before=None) -> list[float]:
    """CPU seconds of this thread each of `runs` requests took (`before()` runs untimed
    before each). CPU time rather than wall time: other work on the machine inflates the
    latter at random."""
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.thread_time()
        response = client.get(url, headers=HEADERS)
        response.get_data()
        times.append(time.thread_time() - started)
        assert response.status_code == 200, (url, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=300, help="requests per measure")
    parser.add_argument("--redis", default="", help="use RedisCache at this URL")
    args = parser.parse_args()
    settings = {
        "CONTENTAPI_CONTENT_DIR": str(corpus(args.posts)),
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_WATCH": "false",
        "CONTENTAPI_LOG_LEVEL": "warning",  # no access log lines in the timings
    }
    if args.redis:
        settings["CONTENTAPI_CACHE_TYPE"] = "RedisCache"
        settings["CONTENTAPI_CACHE_REDIS_URL"] = args.redis
    app = create_app({"TESTING": True, **settings})
    client = app.test_client()
    store = app.extensions["contentapi"]
    slug = store.index.posts[len(store.index.posts) // 2].slug
    urls = {
        "listing": "/api/v1/posts?per_page=20&page=2",
        "detail": f"/api/v1/posts/{slug}",
    }

    def empty() -> None:
        with app.app_context():
            cache.clear()

    print(
        f"{platform.machine()}, {os.cpu_count()} cores (shared with other work), "
        f"Python {platform.python_version()}, {args.posts} posts, "
        f"{'RedisCache' if args.redis else 'in-process cache'}, Accept-Encoding: br, gzip"
    )
    print(
        f"{'endpoint':10} {'bytes':>6} {'miss p50':>9} {'miss p90':>9} "
        f"{'hit p50':>8} {'hit p90':>8} {'miss/hit':>8}"
    )
    for name, url in urls.items():
        timed(client, url, 20, empty)  # warm up: HTML rendered, search built, code paths hot
        size = len(client.get(url, headers=HEADERS).get_data())
        misses = timed(client, url, max(args.runs // 3, 20), empty)
        client.get(url, headers=HEADERS)
        hits = timed(client, url, args.runs)
        miss50, hit50 = statistics.median(misses), statistics.median(hits)
        miss90 = statistics.quantiles(misses, n=10)[-1]
        hit90 = statistics.quantiles(hits, n=10)[-1]
        print(
            f"{name:10} {size:>6} {miss50 * 1e3:>7.2f}ms {miss90 * 1e3:>7.2f}ms "
            f"{hit50 * 1e3:>6.3f}ms {hit90 * 1e3:>6.3f}ms {miss50 / hit50:>7.1f}x"
        )


if __name__ == "__main__":
    main()
