"""Block tree benchmark: the cost of `formats=blocks` against `formats=html`.

    python bench/blocks.py --posts 300 --repeat 5

Over a corpus made by bench/generate.py: first each body rendered by `render_html` and by
`render_blocks` (the engine, no cache; per post the fastest of `--repeat` runs, so another
process on the machine disturbs little), then uncached detail requests through the app
(`CONTENTAPI_RENDER_CACHE_SIZE=0`, no artifact store, no response cache) for `formats=html` and
`formats=blocks`, which include building the JSON. Prints totals, medians and the ratios.
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


def _best(function, *args, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - started)
    return best


def engine(root: Path, repeat: int) -> tuple[list[float], list[float], int]:
    from contentapi.engine.blocks import render_blocks
    from contentapi.engine.loader import load_index
    from contentapi.engine.render import RenderOptions, render_html
    from contentapi.settings import Settings

    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(root), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    index = load_index(settings)
    options = RenderOptions(
        raw_html=index.options.raw_html,
        iframe_hosts=index.options.iframe_hosts,
        assets=index.assets,
        media_base_url="http://localhost/",
    )
    html_times, block_times = [], []
    for post in index.posts:
        html_times.append(_best(render_html, post.body, post.directory, options, repeat=repeat))
        block_times.append(_best(render_blocks, post.body, post.directory, options, repeat=repeat))
    return html_times, block_times, len(index.posts)


def requests(root: Path, repeat: int, limit: int) -> tuple[list[float], list[float], int, int]:
    from contentapi import create_app

    app = create_app(
        {
            "CONTENTAPI_CONTENT_DIR": str(root),
            "CONTENTAPI_PARSE_CACHE": "off",
            "CONTENTAPI_RENDER_CACHE_SIZE": "0",
            "CONTENTAPI_STORE_PATH": "off",
            "CONTENTAPI_CACHE_TYPE": "NullCache",
        }
    )
    client = app.test_client()
    slugs = [post.slug for post in app.extensions["contentapi"].index.posts if not post.draft]
    slugs = slugs[:limit]
    html_times, block_times = [], []
    html_bytes = block_bytes = 0
    for slug in slugs:
        for times, fmt in ((html_times, "html"), (block_times, "blocks")):
            url = f"/api/v1/posts/{slug}?formats={fmt}"
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(url, headers={"Accept-Encoding": "identity"})
                best = min(best, time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
            times.append(best)
            if fmt == "html":
                html_bytes += len(response.data)
            else:
                block_bytes += len(response.data)
    return html_times, block_times, html_bytes, block_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="runs per post; the fastest counts")
    parser.add_argument("--requests", type=int, default=100, help="posts requested through the app")
    args = parser.parse_args()
    from build_index import corpus

    root = corpus(args.posts)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.posts} generated posts, fastest of {args.repeat} runs per post"
    )
    html, blocks, count = engine(root, args.repeat)
    ms = 1000
    print(
        f"engine, {count} bodies   total html {sum(html):.3f}s  blocks {sum(blocks):.3f}s  "
        f"ratio {sum(blocks) / sum(html):.2f}x"
    )
    print(
        f"  per post median        html {statistics.median(html) * ms:.2f}ms  "
        f"blocks {statistics.median(blocks) * ms:.2f}ms  "
        f"ratio {statistics.median(b / h for h, b in zip(html, blocks, strict=True)):.2f}x"
    )
    html, blocks, html_bytes, block_bytes = requests(root, args.repeat, args.requests)
    print(
        f"detail requests, {len(html)} posts, uncached  "
        f"median html {statistics.median(html) * ms:.2f}ms  "
        f"blocks {statistics.median(blocks) * ms:.2f}ms  ratio {sum(blocks) / sum(html):.2f}x"
    )
    print(
        f"  body size              html {html_bytes / len(html) / 1024:.1f} KiB  "
        f"blocks {block_bytes / len(blocks) / 1024:.1f} KiB (uncompressed, per post)"
    )


if __name__ == "__main__":
    main()
