"""`flask content export OUTDIR`: the public API as static files, byte for byte what it serves."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import build_app, post_text
from flask.testing import FlaskClient

from contentapi.engine import loader
from contentapi.service.export import MANIFEST
from contentapi.web.views import feeds as feed_views

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
FEED = re.compile(r"^feeds/(categories|tags)/([^/]+)/([^/]+)$")
PAGE = re.compile(r"^(.*)/page/(\d+)/index\.json$")


class FrozenDatetime(datetime):
    """`datetime.now()` at NOW, so an index built by another app has the same `built_at`."""

    @classmethod
    def now(cls, tz=None):
        return NOW if tz is None else NOW.astimezone(tz)


@pytest.fixture(autouse=True)
def _frozen(monkeypatch):
    monkeypatch.setattr(loader, "datetime", FrozenDatetime)


def write_corpus(content: Path) -> None:
    """Five published posts over two categories and tags, a draft, a scheduled post, media."""

    def write(path: str, text: str | None = None, **fields: str) -> None:
        target = content / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if text is not None else post_text(**fields), encoding="utf-8")

    for day in range(1, 6):
        write(
            f"posts/2024-01-0{day}-post-{day}.md",
            title=f"'Publicado {day}: ñandú'",
            date=f"2024-01-0{day}",
            category="Cocina" if day % 2 else "Libros",
            tags="[pan, lectura]" if day < 3 else "[pan]",
            body=f"Texto {day}.\n\n![foto](../images/foto%20é.png)",
        )
    write("draft.md", title="Borrador secreto", date="2024-02-01", draft="true", category="Secreta")
    write("later.md", title="Futuro secreto", date="2999-01-01", tags="[futuro]")
    write("bad.md", text="---\ntitle: Roto\ndate: nunca\n---\n")
    (content / "images").mkdir()
    (content / "images" / "foto é.png").write_bytes(PNG)
    (content / "notes.txt").write_text("hola\n", encoding="utf-8")


@pytest.fixture
def corpus(content_dir):
    write_corpus(content_dir)


def at_now(content: Path, contract: bool = False, **settings):
    """An app over `content` whose clock says NOW, 2 posts a page. Its test client does not
    check the contract (views' own tests do) unless `contract=True`: exports stay fast."""
    settings.setdefault("default_per_page", 2)
    settings.setdefault("runtime_dir", str(content.parent / "runtime"))
    app = build_app(content, **settings)
    for thread in threading.enumerate():  # its warm-up reads the clock: let it finish first
        if thread.name == "contentapi-warm-up":
            thread.join(10)
    app.extensions["contentapi"].clock = lambda: NOW
    if not contract:
        app.test_client_class = FlaskClient
    return app


@pytest.fixture
def app_at_now(content_dir):
    return lambda contract=False, **settings: at_now(content_dir, contract, **settings)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(CLI result, OUTDIR) of one export of the corpus with default settings, shared by the
    tests that only read what it wrote."""
    root = tmp_path_factory.mktemp("export")
    write_corpus(root / "content")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "datetime", FrozenDatetime)
        result = export(at_now(root / "content"), root / "site")
    assert result.exit_code == 0, result.output
    return result, root / "site"


def export(app, outdir: Path, *args: str):
    return app.test_cli_runner().invoke(args=["content", "export", str(outdir), *args])


def files(outdir: Path) -> dict[str, bytes]:
    return {
        path.relative_to(outdir).as_posix(): path.read_bytes()
        for path in sorted(outdir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def url_of(name: str) -> tuple[str, dict[str, str]]:
    """The URL (path, query) a written file holds, by the documented layout."""
    if match := FEED.match(name):
        kind, slug, feed = match.groups()
        return f"/feeds/{feed}", {"category" if kind == "categories" else "tag": slug}
    if match := PAGE.match(name):
        return "/" + match.group(1), {"page": match.group(2)}
    if name.endswith("/index.json"):
        return "/" + name.removesuffix("/index.json"), {}
    return "/" + quote(name), {}


def assert_same_as_live(outdir: Path, fresh, base_url: str = "http://localhost/") -> dict:
    written = files(outdir)
    client = fresh.test_client()
    for name, body in written.items():
        path, query = url_of(name)
        response = client.get(path, query_string=query, base_url=base_url)
        assert response.status_code == 200, name
        assert response.get_data() == body, name
    return written


def test_export_every_file_equals_a_live_get_byte_for_byte(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    result = export(app_at_now(contract=True), outdir)  # every response as openapi.yaml says
    assert result.exit_code == 0, result.output
    written = assert_same_as_live(outdir, app_at_now())
    expected = {
        "api/v1/index.json",
        "api/v1/posts/index.json",
        "api/v1/posts/post-1/index.json",
        "api/v1/posts/post-5/index.json",
        "api/v1/categories/index.json",
        "api/v1/tags/index.json",
        "api/v1/categories/cocina/index.json",
        "api/v1/tags/pan/index.json",
        "api/v1/archive/index.json",
        "api/v1/changes/index.json",
        "api/v1/highlight.css",
        "openapi.yaml",
        "feeds/rss.xml",
        "feeds/atom.xml",
        "feeds/feed.json",
        "sitemap.xml",
        "media/images/foto é.png",
        "media/notes.txt",
    }
    assert expected <= set(written), sorted(expected - set(written))
    assert not any(
        name.startswith(("api/v1/admin", "healthz", "readyz", "docs")) for name in written
    )
    assert not any("search" in name for name in written)


def test_export_prints_a_summary(exported):
    result, outdir = exported
    written = files(outdir)
    match = re.search(r"Exported (\d+) files, ([\d,]+) bytes, in [\d.]+ s to ", result.stdout)
    assert match, result.output
    assert int(match.group(1)) == len(written)
    assert int(match.group(2).replace(",", "")) == sum(map(len, written.values()))
    assert "1 invalid file(s) not exported" in result.stderr
    manifest = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["files"] == sorted(written)


def test_export_never_includes_drafts_or_scheduled_posts(exported):
    _, outdir = exported
    written = files(outdir)
    assert not any(re.search(r"/(draft|later|secreta|futuro)(/|$)", name) for name in written)
    for name, body in written.items():
        if name != "openapi.yaml":
            assert b"secreto" not in body, name
            assert b"Secreta" not in body, name
    posts = {name.split("/")[3] for name in written if re.match(r"api/v1/posts/[^/]+/index", name)}
    assert posts == {f"post-{day}" for day in range(1, 6)}


def test_export_writes_every_page_of_every_listing(exported):
    _, outdir = exported
    written = files(outdir)
    listings = {
        "api/v1/posts": 3,  # 5 posts, 2 a page
        "api/v1/categories/cocina": 2,  # 1, 3, 5
        "api/v1/categories/libros": 1,  # 2, 4
        "api/v1/tags/pan": 3,
        "api/v1/tags/lectura": 1,
    }
    for path, pages in listings.items():
        numbers = sorted(
            int(m.group(2)) for name in written if (m := PAGE.match(name)) and m.group(1) == path
        )
        assert numbers == list(range(1, pages + 1)), path
        first = json.loads(written[f"{path}/index.json"])
        assert first["meta"]["pagination"]["pages"] == pages
        last = json.loads(written[f"{path}/page/{pages}/index.json"])
        assert last["meta"]["pagination"]["page"] == pages
    slugs = [
        item["slug"]
        for number in (1, 2, 3)
        for item in json.loads(written[f"api/v1/posts/page/{number}/index.json"])["data"]
    ]
    assert slugs == ["post-5", "post-4", "post-3", "post-2", "post-1"]


def test_export_copies_media_bytes(exported):
    _, outdir = exported
    assert (outdir / "media" / "images" / "foto é.png").read_bytes() == PNG
    assert (outdir / "media" / "notes.txt").read_bytes() == b"hola\n"
    detail = json.loads((outdir / "api/v1/posts/post-1/index.json").read_bytes())
    assert detail["images"][0]["url"] == "http://localhost/media/images/foto%20%C3%A9.png"


def test_export_feeds_and_sitemap_when_the_app_serves_them(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    app = app_at_now(site_url="https://blog.example.com")
    assert export(app, outdir).exit_code == 0
    written = assert_same_as_live(outdir, app_at_now(site_url="https://blog.example.com"))
    feeds = {"rss.xml", "atom.xml", "feed.json"}
    assert {f"feeds/{name}" for name in feeds} <= set(written)
    for term in ("categories/cocina", "categories/libros", "tags/pan", "tags/lectura"):
        assert {f"feeds/{term}/{name}" for name in feeds} <= set(written), term
    assert not any("secreta" in name or "futuro" in name for name in written)
    assert b"https://blog.example.com/post-1" in written["sitemap.xml"]
    assert not any(name.startswith("sitemap-") for name in written)


def test_export_sitemap_index_and_its_files(corpus, app_at_now, tmp_path, monkeypatch):
    monkeypatch.setattr(feed_views, "SITEMAP_LIMIT", 4)
    outdir = tmp_path / "site"
    result = export(app_at_now(), outdir)
    assert result.exit_code == 0, result.output
    written = assert_same_as_live(outdir, app_at_now())
    numbered = sorted(name for name in written if name.startswith("sitemap-"))
    assert len(numbered) >= 2
    assert numbered == [f"sitemap-{n}.xml" for n in range(1, len(numbered) + 1)]
    assert b"<sitemapindex" in written["sitemap.xml"]
    assert "0 URL(s) answered 404" in result.output


def test_export_skips_routes_that_answer_404(corpus, app_at_now, tmp_path):
    app = app_at_now()
    app.view_functions["feeds.atom"] = lambda: ("gone", 404)
    outdir = tmp_path / "site"
    result = export(app, outdir)
    assert result.exit_code == 0, result.output
    written = files(outdir)
    assert "feeds/rss.xml" in written
    assert not any(name.endswith("atom.xml") for name in written)
    assert "1 URL(s) answered 404" in result.output


def test_export_fails_when_a_route_answers_an_error(corpus, app_at_now, tmp_path):
    app = app_at_now()
    app.view_functions["feeds.rss"] = lambda: ("broken", 500)
    result = export(app, tmp_path / "site")
    assert result.exit_code == 1
    assert "error: /feeds/rss.xml answered 500" in result.stderr
    assert (tmp_path / "site" / "api/v1/index.json").is_file()  # the rest is still written


def test_export_honours_the_base_url_setting(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    settings = {"base_url": "https://api.example.com/"}
    result = export(app_at_now(**settings), outdir, "--base-url", "https://ignored.example/")
    assert result.exit_code == 0, result.output
    assert "wins over --base-url" in result.stderr
    written = assert_same_as_live(outdir, app_at_now(**settings))
    root = json.loads(written["api/v1/index.json"])
    assert root["links"]["posts"] == "https://api.example.com/api/v1/posts"
    assert b"ignored.example" not in b"".join(written.values())


def test_export_base_url_option_when_the_setting_is_unset(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    result = export(app_at_now(), outdir, "--base-url", "https://cdn.example.org")
    assert result.exit_code == 0, result.output
    written = assert_same_as_live(outdir, app_at_now(), "https://cdn.example.org/")
    page = json.loads(written["api/v1/posts/page/2/index.json"])
    assert page["links"]["next"] == "https://cdn.example.org/api/v1/posts?page=3"
    del written["openapi.yaml"]  # its examples say localhost:5000
    assert b"http://localhost" not in b"".join(written.values())


def test_export_rejects_a_relative_base_url(corpus, app_at_now, tmp_path):
    result = export(app_at_now(), tmp_path / "site", "--base-url", "cdn.example.org")
    assert result.exit_code == 2
    assert "absolute http(s) URL" in result.output


def test_export_refuses_a_non_empty_outdir(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    outdir.mkdir()
    (outdir / "keep.txt").write_text("mine\n", encoding="utf-8")
    result = export(app_at_now(), outdir)
    assert result.exit_code == 1
    assert "is not empty; use --force" in result.output
    assert [path.name for path in outdir.iterdir()] == ["keep.txt"]


def test_export_into_an_empty_existing_outdir(corpus, app_at_now, tmp_path):
    outdir = tmp_path / "site"
    outdir.mkdir()
    assert export(app_at_now(), outdir).exit_code == 0
    assert (outdir / "api/v1/index.json").is_file()


def test_export_force_keeps_other_files_and_drops_stale_ones(
    corpus, write_post, app_at_now, tmp_path
):
    outdir = tmp_path / "site"
    assert export(app_at_now(), outdir).exit_code == 0
    (outdir / "keep.txt").write_text("mine\n", encoding="utf-8")
    write_post(
        "posts/2024-01-05-post-5.md", title="Ahora borrador", date="2024-01-05", draft="true"
    )
    result = export(app_at_now(), outdir, "--force")
    assert result.exit_code == 0, result.output
    assert not (outdir / "api/v1/posts/post-5").exists()
    assert not (outdir / "api/v1/posts/page/3").exists()  # 4 posts now: 2 pages
    assert (outdir / "keep.txt").read_text(encoding="utf-8") == "mine\n"
    assert "1 other file(s)" in result.stderr
    assert "stale file(s) removed" in result.stdout
    (outdir / "keep.txt").unlink()
    assert_same_as_live(outdir, app_at_now())


def test_export_refuses_an_outdir_inside_the_content_folder(corpus, app_at_now, content_dir):
    result = export(app_at_now(), content_dir / "public")
    assert result.exit_code == 1
    assert "inside the content folder" in result.output
    assert not (content_dir / "public").exists()


def test_export_stops_the_watcher_so_one_index_serves_every_file(corpus, app_at_now, tmp_path):
    app = app_at_now(watch="true")
    store = app.extensions["contentapi"]
    assert store.watcher is not None
    assert export(app, tmp_path / "site").exit_code == 0
    assert store.watcher is None


def test_export_discovers_new_routes_from_the_url_map(corpus, app_at_now, tmp_path):
    app = app_at_now()
    app.add_url_rule("/api/v1/extra", "extra.thing", lambda: {"extra": True})
    app.add_url_rule("/api/v1/things/<int:thing>", "extra.things", lambda thing: {})
    outdir = tmp_path / "site"
    result = export(app, outdir)
    assert result.exit_code == 0, result.output
    assert (outdir / "api/v1/extra/index.json").read_bytes() == b'{"extra":true}\n'
    assert "not exported, cannot list values for /api/v1/things/<int:thing>" in result.stderr


def test_export_answers_every_file_at_one_moment_without_touching_the_store_clock(
    corpus, app_at_now, tmp_path
):
    """A clock that passes `later.md`'s date mid-export: no file may show it, and the store's
    clock is the one it had (the export fixes each request's moment, not the store's clock)."""
    app = app_at_now()
    store = app.extensions["contentapi"]
    moments = iter([NOW])
    exporting = threading.current_thread()

    def clock() -> datetime:
        if threading.current_thread() is not exporting:  # the app's background warm-up
            return NOW
        return next(moments, datetime(3000, 1, 1, tzinfo=UTC))

    store.clock = clock
    outdir = tmp_path / "site"
    assert export(app, outdir).exit_code == 0
    assert store.clock is clock
    written = files(outdir)
    assert not any("futuro" in name or "later" in name for name in written)
    for name, body in written.items():
        if name != "openapi.yaml":
            assert b"Futuro secreto" not in body, name
    assert_same_as_live(outdir, app_at_now())


def test_export_values_come_from_argument_names_not_route_text(corpus, app_at_now, tmp_path):
    """`<slug>` alone names a post whatever the route says around it."""
    app = app_at_now()
    app.add_url_rule("/api/v1/tags-of/<slug>", "extra.tags_of", lambda slug: {"post": slug})
    outdir = tmp_path / "site"
    assert export(app, outdir).exit_code == 0
    exported = {p.parent.name for p in (outdir / "api/v1/tags-of").glob("*/index.json")}
    assert exported == {f"post-{day}" for day in range(1, 6)}
