"""No single post can break a response (issue 10, item 1).

Two halves. Fuzzing: arbitrary bodies and front-matter values go through every stage (read,
validate, analyse, render, search, and every endpoint's serialisation) without any exception,
so nothing is left for the isolation to catch. Isolation: when a stage does fail on one post
(a failure is injected here, as the next unforeseen bug would be), that post becomes a content
issue with its file, every list, feed, search and term page answers 200 with the other posts,
and `content check` prints its whole report and exits 1, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import ROOT, ContractClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contentapi import create_app
from contentapi.engine import artifacts as artifacts_module
from contentapi.engine import index as index_module
from contentapi.engine.index import BuildOptions, build_index, derive, parse_source
from contentapi.engine.model import SourceFile, Sources
from contentapi.engine.render import RenderOptions, render_html
from contentapi.outputs.search import Searchable, backend, highlighted, refresh
from contentapi.service import store as store_module
from contentapi.service.cli import check

OPTIONS = BuildOptions(timezone=ZoneInfo("Europe/Madrid"))
BUILT_AT = datetime(2024, 6, 1, tzinfo=UTC)

# Pieces of Markdown, HTML and template syntax as real blogs mix them, and what breaks parsers.
PIECES = [
    "# ",
    "## ",
    "###### ",
    "\n",
    "\n\n",
    "*",
    "**",
    "_",
    "__",
    "~~",
    "`",
    "```",
    "```py\n",
    "~~~",
    "[",
    "]",
    "(",
    ")",
    "![",
    "](",
    "<",
    ">",
    "> ",
    "- ",
    "* ",
    "1. ",
    "|",
    "| --- |",
    "---",
    "===",
    "[^1]",
    "[^1]: ",
    "\\",
    "&amp;",
    "&#8211;",
    "&bogus;",
    "&#0;",
    "\t",
    "    ",
    '<img src="x.png" alt="">',
    "<img alt=''>",
    "<img src=>",
    '<a href="javascript:x">',
    "<audio controls>",
    "</audio>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<!--more-->",
    "<div>",
    "</div>",
    "<iframe src=//evil>",
    "<svg onload=x>",
    "http://x.org/a",
    "<https://y.org>",
    "{{< youtube abc >}}",
    "{{% x %}}",
    "{% raw %}",
    "{{ page.title }}",
    "á",
    "ñ",
    "Ü",
    "\u0301",
    "🎄",
    "\u202e",
    "\x00",
    "\x0b",
    "\ufeff",
    "\ud7ff",
    "a",
    "b c",
    ".",
]
BODY = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    st.text(max_size=300),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
    st.sampled_from(["&#8211; título", "%c2%bfes-bueno", "page", "post", "🎄", "", " ", "[]"]),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
KEYS = [
    "updated", "tags", "categories", "category", "description", "summary", "excerpt", "slug",
    "draft", "author", "image", "cover", "lang", "aliases", "type", "layout", "extra",
]  # fmt: skip
FRONT = st.fixed_dictionaries(
    {
        "title": st.one_of(st.text(min_size=1, max_size=40), VALUE),
        "date": st.one_of(st.dates(), st.datetimes(), VALUE),
    },
    optional=dict.fromkeys(KEYS, VALUE),
)
PATHS = st.sampled_from(
    ["a.md", "posts/2013-11-11-satisfacción.md", "pages/about.md", "_posts/x.markdown", "%c2%bf.md"]
)


def _file(front: dict, body: str, raw: bool) -> bytes:
    """A post file: front matter dumped by YAML (or absent), then the body."""
    if raw:
        return body.encode("utf-8", "surrogatepass")
    dumped = yaml.safe_dump(front, allow_unicode=True, default_flow_style=False)
    return f"---\n{dumped}---\n{body}".encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front=FRONT, body=BODY, path=PATHS, raw=st.booleans())
def test_isolation_fuzzed_posts_pass_every_stage_without_exceptions(
    front: dict, body: str, path: str, raw: bool
) -> None:
    source = SourceFile(path, _file(front, body, raw and not front.get("extra")))
    parse_source(source, OPTIONS)
    index = build_index(Sources((source,)), OPTIONS, BUILT_AT)
    for post in index.posts:
        derived = derive(
            post, index.body(post), OPTIONS, index.assets
        )  # not the isolated one: nothing to catch
        assert isinstance(derived.analysis.excerpt, str)
        render_html(index.body(post), post.directory, RenderOptions(assets=index.assets))
        assert len(backend("fts5")([(post, derived.analysis)])) == 1
    assert all(issue.path == path for issue in index.all_issues())


ENDPOINTS = [
    "/api/v1",
    "/api/v1/posts",
    "/api/v1/posts?q=a",
    "/api/v1/search?q=texto",
    "/api/v1/categories",
    "/api/v1/tags",
    "/api/v1/archive",
    "/feeds/rss.xml",
    "/feeds/atom.xml",
    "/feeds/feed.json",
    "/sitemap.xml",
]


@pytest.fixture(scope="module")
def fuzz_app():
    folder = Path(tempfile.mkdtemp(prefix="contentapi-fuzz-"))
    (folder / "ok.md").write_text("---\ntitle: Fijo\ndate: 2020-01-01\ntags: [a]\n---\nTexto.\n")
    app = create_app(
        {"TESTING": True, "CONTENTAPI_CONTENT_DIR": str(folder), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    app.test_client_class = ContractClient
    return app, folder


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(front=FRONT, body=BODY, path=PATHS)
def test_isolation_fuzzed_post_never_fails_a_response(fuzz_app, front, body, path) -> None:
    app, folder = fuzz_app
    for old in folder.rglob("*.md*"):
        if old.name != "ok.md":
            old.unlink()
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_file(front, body, raw=False))
    store = app.extensions["contentapi"]
    store.reload()
    client = app.test_client()  # checks every response against openapi.yaml
    for url in ENDPOINTS:
        assert client.get(url).status_code == 200, url
    now = store.clock()
    for post in store.index.posts:
        if post.is_public(now):
            detail = client.get(f"/api/v1/posts/{post.slug}?formats=html,markdown,plaintext")
            assert detail.status_code == 200
    for kind, terms in (("categories", store.index.categories), ("tags", store.index.tags)):
        for term in terms:
            if any(post.is_public(now) for post in term.posts):
                assert client.get(f"/api/v1/{kind}/{term.slug}").status_code == 200


# isolation: a stage that fails on one post


@pytest.fixture
def breaking(monkeypatch):
    """`breaking(*stages)`: those stages fail on any post whose body says BOOM, the way a bug
    meeting content nobody foresaw would (the TypeError is the one `alt=""` used to raise)."""
    search_module = importlib.import_module("contentapi.outputs.search.fts5")
    real = {
        "analysis": index_module.analyse,
        "rendering": store_module.render_html,
        "search": search_module._columns,
    }

    def analyse(body: str, **kwargs):
        if "BOOM" in body:
            raise TypeError("expected string or bytes-like object, got 'NoneType'")
        return real["analysis"](body, **kwargs)

    def render(body: str, directory: str, options):
        if "BOOM" in body:
            raise RecursionError("maximum recursion depth exceeded")
        return real["rendering"](body, directory, options)

    def columns(post, analysis, language, *body):
        if post.path == "bad.md":  # the post whose body says BOOM
            raise UnicodeError("bad text")
        return real["search"](post, analysis, language, *body)

    def choose(*stages: str) -> None:
        if "analysis" in stages:
            monkeypatch.setattr(index_module, "analyse", analyse)
        if "rendering" in stages:
            monkeypatch.setattr(store_module, "render_html", render)
            monkeypatch.setattr(index_module, "render_html", render)
            monkeypatch.setattr(artifacts_module, "render_html", render)
        if "search" in stages:
            monkeypatch.setattr(search_module, "_columns", columns)

    return choose


EVERY_STAGE = ("analysis", "rendering", "search")


def test_isolation_one_failing_post_leaves_every_response_whole(
    breaking, write_post, make_client
) -> None:
    breaking(*EVERY_STAGE)
    write_post("good.md", title="Bueno", date="2024-01-01", tags="[pan]", body="Texto sano.")
    write_post("bad.md", title="Malo", date="2024-01-02", tags="[pan]", body="Texto BOOM.")
    client = make_client(admin_token="a" * 16)
    for url in [*ENDPOINTS, "/api/v1/tags/pan", "/api/v1/search?q=malo"]:
        response = client.get(url)
        assert response.status_code == 200, url
    listed = client.get("/api/v1/posts").get_json()["data"]
    assert [item["slug"] for item in listed] == ["bad", "good"]  # the failing post is listed
    assert listed[0]["excerpt"] == "" and listed[0]["word_count"] == 0
    assert client.get("/api/v1/search?q=malo").get_json()["data"] == []  # left out of search
    assert [hit["slug"] for hit in client.get("/api/v1/search?q=bueno").get_json()["data"]] == [
        "good"
    ]
    assert client.get("/api/v1/posts/bad").get_json()["html"] == ""  # its analysis failed too
    diagnostics = client.get(
        "/api/v1/admin/diagnostics", headers={"Authorization": "Bearer " + "a" * 16}
    ).get_json()
    failed = {(i["path"], i["message"].split(" failed")[0]) for i in diagnostics["issues"]}
    assert failed == {
        ("bad.md", "analysis"),
        ("bad.md", "rendering"),
        ("bad.md", "search indexing"),
    }


def test_isolation_a_post_that_cannot_be_rendered_is_served_as_its_text(
    breaking, write_post, make_client
) -> None:
    breaking("rendering")
    write_post("bad.md", title="Malo", body="Uno <b>BOOM</b>.\n\nDos & tres.")
    client = make_client()
    html = client.get("/api/v1/posts/bad").get_json()["html"]
    assert html == "<p>Uno BOOM.</p>\n<p>Dos &amp; tres.</p>\n"
    assert client.get("/feeds/rss.xml").status_code == 200


def test_isolation_content_check_lists_each_failure_and_exits_1(breaking, write_post, make_app):
    breaking(*EVERY_STAGE)
    write_post("good.md", title="Bueno", body="Texto sano.")
    write_post("bad.md", title="Malo", body="Texto BOOM.")
    result = make_app().test_cli_runner().invoke(check, [])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if ": error: " in line]
    assert [line.split(" failed")[0] for line in lines] == [
        "bad.md: error: body: analysis",
        "bad.md: error: body: rendering",
        "bad.md: error: body: search indexing",
    ]
    assert result.output.splitlines()[-1].startswith("2 valid post(s), 3 error(s)")


def _flask(content: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "CONTENTAPI_CONTENT_DIR": str(content),
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_WATCH": "false",
        **env,
    }
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "contentapi", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("strict", ["false", "true"])
def test_isolation_content_check_never_prints_a_traceback(write_post, content_dir, strict):
    write_post("good.md", title="Bueno")
    write_post("dup.md", title="Dup", slug="good", date="2024-03-04")
    write_post("bad.md", text="---\ntitle: x\n---\nno date\n")
    result = _flask(content_dir, "content", "check", CONTENTAPI_STRICT=strict)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "bad.md: error: date:" in result.stderr
    assert "dup.md: error: slug: 'good' is also the slug of good.md" in result.stderr
    assert "2 valid post(s), 2 error(s), 0 warning(s)" in result.stdout


def test_isolation_content_check_of_a_missing_folder_says_so(tmp_path):
    result = _flask(tmp_path / "missing", "content", "check", CONTENTAPI_STRICT="true")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "cannot check" in result.stderr and "missing" in result.stderr


# search, by itself


def _entries(*bodies: str) -> list:
    index = build_index(
        Sources(
            tuple(
                SourceFile(
                    f"p{n}.md", f"---\ntitle: P{n}\ndate: 2024-01-0{n}\n---\n{body}".encode()
                )
                for n, body in enumerate(bodies, start=1)
            )
        ),
        OPTIONS,
        BUILT_AT,
    )
    return [(post, index.derived(post).analysis) for post in index.posts]


def test_isolation_a_post_whose_snippets_fail_is_found_without_them(monkeypatch) -> None:
    search = backend("fts5")(_entries("pan con BOOM", "pan sin nada"))
    hits = search.search("pan").hits
    real = type(search).highlight

    def highlight(self, query, some):
        if any(hit.slug == "p1" for hit in some):
            raise ValueError("bad snippet")
        return real(self, query, some)

    monkeypatch.setattr(type(search), "highlight", highlight)
    shown = {hit.slug: hit.snippets for hit in highlighted(search, "pan", hits)}
    assert shown["p1"] == () and shown["p2"]  # the other hit keeps its snippets


def test_isolation_a_failed_search_update_builds_anew_without_the_post() -> None:
    entries = _entries(*[f"texto {n}" for n in range(1, 7)])
    posts = [post for post, _ in entries]
    analyses = {post.slug: analysis for post, analysis in entries}

    class Broken:
        def updated(self, put, drop):
            raise RuntimeError("cannot update")

    previous = Searchable(Broken(), {post.slug: post for post in posts[1:]})  # type: ignore[arg-type]
    made = refresh(previous, posts, lambda post: analyses[post.slug], backend("fts5"))
    assert len(made.index) == len(posts) and made.issues == ()
