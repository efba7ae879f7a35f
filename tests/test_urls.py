"""URLs written in posts: which content file they name, and where they point after resolution."""

from __future__ import annotations

import pytest
from conftest import cpu_seconds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contentapi.engine.assets import (
    AssetMap,
    PostPaths,
    Resolved,
    absolute,
    content_path,
    find_post,
    resolve,
    unsafe_urls,
    url_problem,
)

ASSETS = AssetMap(frozenset({"posts/2024/images/horno.png", "images/blog/header.jpg", "a b.png"}))
CDN = AssetMap(ASSETS.files, "https://cdn.example.com/")


@pytest.mark.parametrize(
    ("url", "directory", "expected"),
    [
        ("images/horno.png", "posts/2024", "posts/2024/images/horno.png"),
        ("./images/horno.png", "posts/2024", "posts/2024/images/horno.png"),
        ("../2023/x.png", "posts/2024", "posts/2023/x.png"),
        ("/images/blog/header.jpg", "posts/2024", "images/blog/header.jpg"),
        ("images/horno.png?v=2#arriba", "posts/2024", "posts/2024/images/horno.png"),
        ("a%20b.png", "", "a b.png"),
        ("x.png", "", "x.png"),
    ],
)
def test_urls_content_path_inside_folder(url: str, directory: str, expected: str) -> None:
    assert content_path(url, directory) == expected


@pytest.mark.parametrize(
    ("url", "directory"),
    [
        ("../../etc/passwd", "posts"),
        ("../../../etc/passwd", "posts/2024"),
        ("../x.png", ""),
        ("/../secret.txt", "posts"),
        ("%2e%2e/%2e%2e/etc/passwd", "posts"),
        ("..", ""),
        (".", ""),
        ("posts/..", ""),
    ],
)
def test_urls_content_path_never_escapes_folder(url: str, directory: str) -> None:
    assert content_path(url, directory) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/x.png",
        "http://example.org/x.png",
        "//cdn.example.org/x.png",
        "mailto:ana@example.org",
        "data:image/png;base64,AAAA",
        "#seccion",
        "?pagina=2",
        "",
    ],
)
def test_urls_content_path_none_for_non_local_urls(url: str) -> None:
    assert content_path(url, "posts") is None


@pytest.mark.parametrize(
    "url",
    ["https://example.org/x.png?a=1#b", "//cdn.example.org/x.png", "mailto:ana@example.org"],
)
def test_urls_resolve_leaves_absolute_urls_untouched(url: str) -> None:
    assert resolve(url, "posts", ASSETS) == Resolved(url)
    assert resolve(url, "posts", CDN) == Resolved(url)


@pytest.mark.parametrize(
    ("url", "directory", "expected"),
    [
        ("images/horno.png", "posts/2024", "/media/posts/2024/images/horno.png"),
        ("/images/blog/header.jpg", "posts", "/media/images/blog/header.jpg"),
        ("images/horno.png?v=2", "posts/2024", "/media/posts/2024/images/horno.png?v=2"),
        ("images/horno.png#top", "posts/2024", "/media/posts/2024/images/horno.png#top"),
        ("../a%20b.png?x=1#y", "posts", "/media/a%20b.png?x=1#y"),
    ],
)
def test_urls_resolve_content_files_to_media(url: str, directory: str, expected: str) -> None:
    assert resolve(url, directory, ASSETS) == Resolved(expected, local=True)


def test_urls_resolve_content_files_win_over_asset_base_url() -> None:
    resolved = resolve("/images/blog/header.jpg", "posts", CDN)
    assert resolved == Resolved("/media/images/blog/header.jpg", local=True)


@pytest.mark.parametrize("url", ["/images/otra.jpg", "otra.jpg?v=1"])
def test_urls_resolve_missing_local_file_is_marked_missing(url: str) -> None:
    assert resolve(url, "posts", ASSETS) == Resolved(url, missing=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/images/otra.jpg", "https://cdn.example.com/images/otra.jpg"),
        ("otra.jpg?v=1#x", "https://cdn.example.com/posts/otra.jpg?v=1#x"),
        ("/fotos/mi foto.jpg", "https://cdn.example.com/fotos/mi%20foto.jpg"),
    ],
)
def test_urls_resolve_missing_local_file_joins_asset_base_url(url: str, expected: str) -> None:
    assert resolve(url, "posts", CDN) == Resolved(expected)


def test_urls_resolve_asset_base_url_with_path_keeps_path() -> None:
    assets = AssetMap(base_url="https://example.com/static/")
    assert resolve("/img/a.png", "", assets).url == "https://example.com/static/img/a.png"


def test_urls_resolve_escaping_url_is_left_alone() -> None:
    assert resolve("../../etc/passwd", "posts", CDN) == Resolved("../../etc/passwd")


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/media/a.png", "https://api.example.com/", "https://api.example.com/media/a.png"),
        ("/media/a.png", "/", "/media/a.png"),
        ("/images/a.png", "https://api.example.com/", "/images/a.png"),
        (
            "https://cdn.example.com/a.png",
            "https://api.example.com/",
            "https://cdn.example.com/a.png",
        ),
    ],
)
def test_urls_absolute_only_for_media_urls(url: str, base: str, expected: str) -> None:
    assert absolute(url, base) == expected


# Post files, and the one URL policy (issue 10)

POSTED = AssetMap(
    frozenset({"img/a.png"}),
    posts=PostPaths({"posts/otro.md": "otro", "posts/b/index.markdown": "b", "sobre.md": "sobre"}),
)


@pytest.mark.parametrize(
    ("url", "directory", "slug"),
    [
        ("otro.md", "posts", "otro"),
        ("otro", "posts", "otro"),
        ("../posts/otro.md", "posts", "otro"),
        ("/posts/otro.md", "", "otro"),
        ("posts/otro.md", "posts", "otro"),
        ("b/", "posts", "b"),
        ("sobre", "posts", "sobre"),
        ("otro.md#x", "posts", "otro"),
        ("nada.md", "posts", None),
        ("https://example.org/otro.md", "posts", None),
        ("../../fuera.md", "posts", None),
    ],
)
def test_urls_find_post(url: str, directory: str, slug: str | None) -> None:
    assert find_post(url, directory, POSTED) == slug


def test_urls_post_files_resolve_to_their_api_url_and_become_absolute() -> None:
    resolved = resolve("otro.md#seccion", "posts", POSTED)
    assert resolved == Resolved("/api/v1/posts/otro#seccion")
    assert absolute(resolved.url, "https://api.example.com/") == (
        "https://api.example.com/api/v1/posts/otro#seccion"
    )


def test_urls_post_paths_are_hashable_and_equal_by_content() -> None:
    a, b = PostPaths({"a.md": "a"}), PostPaths([("a.md", "a")])
    assert a == b and hash(a) == hash(b) and a != PostPaths({"a.md": "b"})


@pytest.mark.parametrize(
    ("url", "image", "problem"),
    [
        ("https://example.org/a.png", True, False),
        ("/media/a.png", True, False),
        ("../a.png", True, False),
        ("//cdn.example.org/a.png", True, False),
        ("mailto:a@example.org", False, False),
        ("mailto:a@example.org", True, True),
        ("data:image/webp;base64,UklGR", True, False),
        ("data:image/svg+xml,%3Csvg%3E", True, False),
        ("data:image/png;base64,iVBOR", False, True),
        ("data:text/html,x", True, True),
        ("javascript:alert(1)", False, True),
        (" JaVa\tScRiPt:alert(1)", False, True),
        ("vbscript:x", False, True),
        ("file:///I:/x.png", True, True),
        ("C:\\fotos\\x.png", True, True),
        ("ftp://example.org/x", False, True),
    ],
)
def test_urls_url_problem(url: str, image: bool, problem: bool) -> None:
    assert (url_problem(url, image=image) is not None) is problem


def test_urls_unsafe_urls_skip_code_and_name_lines() -> None:
    body = (
        "[a](javascript:alert(1)) y `[b](javascript:b)`\n"
        '```\n<a href="javascript:c">c</a>\n```\n'
        '<a href="java&#115;cript:d">d</a>\n'
        "[ref]: file:///etc/hosts\n"
        "<vbscript:e>\n"
    )
    found = [(line, url) for line, url, _ in unsafe_urls(body)]
    assert found == [
        (1, "javascript:alert(1)"),  # the whole destination, parentheses and all
        (5, "javascript:d"),
        (6, "file:///etc/hosts"),
        (7, "vbscript:e"),
    ]


URL_HOSTILE = [
    "](", "]:", "[", "\n", "<", ">", "=", '="', "'", "src", "href=", "javascript:", "data:",
    "file:", "`", "```", " ", "a", "<a:b>", "\t",
]  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(URL_HOSTILE), min_size=1, max_size=8))
def test_urls_unsafe_url_scan_time_grows_linearly(unit: list[str]) -> None:
    piece = "".join(unit)
    small = piece * max(1, 4_000 // len(piece))
    ratio = cpu_seconds(unsafe_urls, small * 16) / max(cpu_seconds(unsafe_urls, small), 1e-4)
    assert ratio < 48, f"16x the input took {ratio:.0f}x the time for {piece!r}"
