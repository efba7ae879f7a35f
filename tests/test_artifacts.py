"""Compiled artifacts: keys, plain-data values, and reads that are byte for byte what computing
gives, over a store that may lose or damage anything."""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contentapi.engine import artifacts
from contentapi.engine.artifacts import (
    ASSET_FIELDS,
    BLOCKS,
    BRIEF,
    DERIVED,
    HTML,
    INDEX_FIELDS,
    KINDS,
    Artifacts,
    Memo,
    Row,
    artifact_key,
    brief,
    brief_of,
    compute,
    decode,
    from_portable,
    media_origin,
    outline,
    outline_of,
    portable,
    reader,
    render_options,
    to_plain,
)
from contentapi.engine.assets import AssetMap
from contentapi.engine.index import BuildOptions, Index, build_index, derive
from contentapi.engine.loader import read_sources
from contentapi.engine.model import Derived, ImageFacts, ImageFile, SourceFile, Sources
from contentapi.engine.render import render_html
from contentapi.engine.shortcodes import Templates

ROOT = Path(__file__).resolve().parents[1]
SHARED_POST = ROOT.parent / "shared" / "examples" / "real-post-es.md"
OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))
BUILT_AT = datetime(2024, 6, 1, tzinfo=UTC)
BASES = (
    "http://localhost:5000/",
    "https://API.example.com/",
    "http://127.0.0.1:8000/sub/path/",
    "https://cdn-1.example.org:8443/",
)


class DictBackend:
    """The store protocol over a dict, counting what it is asked."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.puts = 0

    def get(self, key: str, kind: str) -> Row | None:
        return self.rows.get((key, kind))

    def deps(self, keys: Sequence[str]) -> Mapping[tuple[str, str], str]:
        wanted = set(keys)
        return {where: row.deps for where, row in self.rows.items() if where[0] in wanted}

    def put(self, rows: Sequence[Row], wait: float = 1.0) -> bool:
        self.puts += 1
        self.rows.update({(row.key, row.kind): row for row in rows})
        return True


def source(path: str, body: str, front: str = "title: T\ndate: 2024-01-01") -> SourceFile:
    return SourceFile(path, f"---\n{front}\n---\n\n{body}".encode())


def index_of(
    *files: SourceFile,
    assets: frozenset[str] = frozenset(),
    store: Artifacts | None = None,
    **options: object,
) -> Index:
    chosen = replace(OPTIONS, **options)  # type: ignore[arg-type]
    return build_index(Sources(files, assets), chosen, BUILT_AT, artifacts=store)


def folder_index(folder: Path, store: Artifacts | None = None, **options: object) -> Index:
    sources = read_sources(folder)
    if SHARED_POST.exists():
        extra = SourceFile("shared/real-post-es.md", SHARED_POST.read_bytes())
        sources = replace(sources, files=(*sources.files, extra))
    chosen = replace(OPTIONS, **options)  # type: ignore[arg-type]
    return build_index(sources, chosen, BUILT_AT, artifacts=store)


# --- the tables that keep keys complete ---------------------------------------------------------


def test_artifacts_every_index_field_is_classified():
    """A field added to Index must be decided on: part of the key, a checked dependency, or
    never read by derive and render."""
    assert {f.name for f in fields(Index)} == set(INDEX_FIELDS)


def test_artifacts_every_asset_map_field_is_classified():
    assert {f.name for f in fields(AssetMap)} == set(ASSET_FIELDS)


def test_artifacts_portable_index_keeps_what_artifacts_read():
    index = index_of(source("a.md", "![x](img.png)"), assets=frozenset({"img.png"}))
    sent = pickle.loads(pickle.dumps(portable(index)))  # as a worker process receives it
    small = from_portable(sent, [index.parsed["a.md"]])  # a chunk brings its posts' bodies
    for name, use in INDEX_FIELDS.items():
        if use != "none":
            assert getattr(small, name) == getattr(index, name)
    assert small.posts == ()
    post = index.by_slug["a"]
    assert compute(small, post) and small.derived(post) == index.derived(post)


# --- keys ----------------------------------------------------------------------------------------


def test_artifacts_key_changes_with_options_templates_path_and_bytes():
    index = index_of(source("a.md", "Uno."), source("b.md", "Uno."))
    a, b = index.by_slug["a"], index.by_slug["b"]
    key = artifact_key(index, a)
    assert key == artifact_key(index_of(source("a.md", "Uno.")), a)
    assert key != artifact_key(index, b)  # same bytes, another path
    assert key != artifact_key(index_of(source("a.md", "Uno."), excerpt_length=50), a)
    assert key != artifact_key(replace(index, shortcodes=Templates({"note": "<b>x</b>"})), a)
    assert key != artifact_key(index, replace(a, digest="0" * 64))


def test_artifacts_code_fingerprint_covers_the_engine_sources():
    fingerprint = artifacts.code_fingerprint()
    assert len(fingerprint) == 64
    assert (Path(artifacts.__file__).parent / "render.py").exists()


# --- plain data ----------------------------------------------------------------------------------


def test_artifacts_derived_round_trips_through_json():
    index = folder_index(ROOT / "content")
    read = reader(Derived)
    for post in index.posts:
        value = derive(post, index.body(post), index.options, index.assets)
        assert read(json.loads(json.dumps(to_plain(value)))) == value


@pytest.mark.parametrize(
    "plain",
    [
        None,
        "text",
        [],
        ["digest"],
        ["d", ["p", "e", "not a number", 1, [], [], [], []], [], None, []],
        ["d", ["p", "e", 1, 1, [], [], [], []], [], None, [["a", None, "m", None, "fatal"]]],
    ],
)
def test_artifacts_reader_refuses_data_of_another_shape(plain):
    with pytest.raises((ValueError, TypeError)):
        reader(Derived)(plain)


def test_artifacts_decode_refuses_a_row_that_holds_another_artifact():
    value = artifacts.encode("k1", HTML, ["o", "<p>x</p>"])
    assert decode(Row("k1", HTML, "[]", value)) == ["o", "<p>x</p>"]
    with pytest.raises(ValueError):
        decode(Row("k2", HTML, "[]", value))
    with pytest.raises(ValueError):
        decode(Row("k1", DERIVED, "[]", value))
    with pytest.raises(zlib.error):
        decode(Row("k1", HTML, "[]", b"garbage"))


# --- reads equal computing ------------------------------------------------------------------------


@pytest.mark.parametrize("raw_html", ["sanitize", "escape", "allow"])
@pytest.mark.parametrize("folder", ["content", "tests/fixtures/corpus"])
def test_artifacts_stored_html_is_byte_for_byte_the_rendered_html(folder, raw_html):
    backend = DictBackend()
    store = Artifacts(backend)
    index = folder_index(ROOT / folder, store, raw_html=raw_html)
    assert index.posts
    media = 0
    for post in index.posts:
        for base in BASES:
            expected = render_html(index.body(post), post.directory, render_options(index, base))
            assert store.html(index, post, base) == expected, (post.path, base)
            media += f"{base.split('/')[2]}/media/" in expected
    assert media  # the substitution is exercised, not only bodies without media URLs
    assert len(backend.rows) == len(index.posts)  # one render per post, whatever the base


def test_artifacts_stored_derived_is_the_derived_value():
    store = Artifacts(DictBackend())
    index = folder_index(ROOT / "content", store)
    plain = folder_index(ROOT / "content")
    for post in index.posts:
        assert index.derived(post) == plain.derived(post)


def test_artifacts_read_back_from_the_store_without_computing(monkeypatch):
    backend = DictBackend()
    index = folder_index(ROOT / "content", Artifacts(backend))
    for post in index.posts:
        backend.put(compute(index, post))
    monkeypatch.setattr(artifacts, "_COMPUTE", {})  # any computation now raises KeyError
    fresh = Artifacts(backend)
    again = folder_index(ROOT / "content", fresh)
    for post in again.posts:
        assert again.derived(post).digest == post.digest
        assert fresh.html(again, post, BASES[0])


def test_artifacts_a_miss_is_computed_once_and_stored():
    backend = DictBackend()
    store = Artifacts(backend)
    index = index_of(source("a.md", "# Hola\n\nTexto."), store=store)
    post = index.by_slug["a"]
    first = store.html(index, post, BASES[0])
    assert backend.puts == 1
    assert store.html(index, post, BASES[1]) == first
    assert backend.puts == 1
    index.derived(post)
    assert backend.puts == 2
    assert set(backend.rows) == {(artifact_key(index, post), kind) for kind in KINDS}


def test_artifacts_a_host_that_escaping_would_change_is_rendered_directly():
    store = Artifacts(DictBackend())
    index = index_of(source("a.md", "![x](img.png)"), assets=frozenset({"img.png"}), store=store)
    post = index.by_slug["a"]
    for base in ("http://[::1]:8000/", "http://a&b/", "http://user@host/", "ftp://host/"):
        assert media_origin(base) is None
        assert store.html(index, post, base) is None


def test_artifacts_a_written_placeholder_is_not_substituted():
    """No text an author writes can be taken for the placeholder: it is random per render."""
    body = (
        "[a](http://0123456789abcdef.contentapi.invalid/media/x) and "
        "http://contentapi.invalid/ and ![i](img.png)"
    )
    store = Artifacts(DictBackend())
    index = index_of(source("a.md", body), assets=frozenset({"img.png"}), store=store)
    post = index.by_slug["a"]
    expected = render_html(index.body(post), "", render_options(index, BASES[0]))
    assert "0123456789abcdef.contentapi.invalid" in expected
    assert store.html(index, post, BASES[0]) == expected


# --- what an artifact depends on ---------------------------------------------------------------


def test_artifacts_an_added_image_is_not_served_from_before_it_existed():
    backend = DictBackend()
    files = (source("p.md", "![foto](foto.jpg)\n\n[pdf](doc.pdf)"),)
    before = index_of(*files, store=Artifacts(backend))
    post = before.by_slug["p"]
    assert 'src="foto.jpg"' in Artifacts(backend).html(before, post, BASES[0])
    assert before.derived(post).issues
    after = index_of(*files, assets=frozenset({"foto.jpg"}), store=Artifacts(backend))
    html = Artifacts(backend).html(after, after.by_slug["p"], BASES[0])
    assert 'src="http://localhost:5000/media/foto.jpg"' in html
    assert after.derived(after.by_slug["p"]).issues == ()
    assert after.derived(after.by_slug["p"]).images[0].url == "/media/foto.jpg"


def test_artifacts_an_unrelated_file_keeps_what_is_stored():
    backend = DictBackend()
    files = (source("p.md", "![foto](foto.jpg)"),)
    index = index_of(*files, assets=frozenset({"foto.jpg"}), store=Artifacts(backend))
    Artifacts(backend).html(index, index.by_slug["p"], BASES[0])
    index.derived(index.by_slug["p"])
    puts = backend.puts
    more = index_of(*files, assets=frozenset({"foto.jpg", "other.png"}), store=Artifacts(backend))
    Artifacts(backend).html(more, more.by_slug["p"], BASES[0])
    more.derived(more.by_slug["p"])
    assert backend.puts == puts
    assert Artifacts(backend).missing(more) == []


def _photo(width: int) -> ImageFile:
    facts = ImageFacts(width, 100, f"data:image/png;base64,{width}")
    return ImageFile("foto.png", 10, 1, f"digest-{width}", facts)


def test_artifacts_a_replaced_image_gives_its_new_size_to_derived_and_blocks():
    """An image's facts are a lookup like a file's: new bytes recompute what shows it."""
    backend = DictBackend()
    files = (source("p.md", "![foto](foto.png)\n\nTexto."), source("q.md", "Sin imagen."))
    assets = frozenset({"foto.png"})

    def index_with(width: int) -> Index:
        sources = Sources(files, assets, images=(_photo(width),))
        return build_index(sources, OPTIONS, BUILT_AT, artifacts=Artifacts(backend))

    before = index_with(100)
    post = before.by_slug["p"]
    assert before.derived(post).images[0].facts == _photo(100).facts
    assert Artifacts(backend).blocks(before, post, BASES[0])[0]["width"] == 100
    Artifacts(backend).blocks(before, before.by_slug["q"], BASES[0])
    puts = backend.puts
    after = index_with(120)
    post = after.by_slug["p"]
    assert after.derived(post).images[0].facts == _photo(120).facts
    assert after.derived(post).cover_image.facts == _photo(120).facts  # type: ignore[union-attr]
    assert brief(after, post).cover_image.facts == _photo(120).facts  # type: ignore[union-attr]
    (image,) = Artifacts(backend).blocks(after, post, BASES[0])[:1]
    assert (image["width"], image["src"]) == (120, "http://localhost:5000/media/foto.png")
    recomputed = backend.puts - puts
    Artifacts(backend).blocks(after, after.by_slug["q"], BASES[0])
    assert backend.puts - puts == recomputed  # the post without the image was kept


def test_artifacts_brief_is_what_a_summary_shows_of_the_derived_values():
    store = Artifacts(DictBackend())
    index = folder_index(ROOT / "content", store)
    plain = folder_index(ROOT / "content")
    assert index.posts
    for post in index.posts:
        expected = plain.derived(post)
        found = brief(index, post)
        assert found == brief_of(expected) == brief(plain, post)
        assert (found.excerpt, found.more) == (expected.analysis.excerpt, expected.analysis.more)
        assert (found.word_count, found.reading_time) == (
            expected.analysis.word_count,
            expected.analysis.reading_time,
        )
        assert (found.cover, found.cover_image) == (expected.cover, expected.cover_image)
        assert outline(index, post) == outline_of(expected) == outline(plain, post)
        assert outline(index, post).toc == expected.analysis.toc
        assert outline(index, post).images == expected.images


def test_artifacts_brief_and_outline_are_read_from_their_rows_without_the_analysis(monkeypatch):
    """A listing reads each post's small brief row, a detail its outline, never the whole
    stored analysis."""
    backend = DictBackend()
    body = "Primer párrafo con ![img](a.png).\n\n<!--more-->\n\n## Más\n\nTexto."
    index = index_of(source("a.md", body), assets=frozenset({"a.png"}), store=Artifacts(backend))
    post = index.by_slug["a"]
    derived = derive(post, index.body(post), index.options, index.assets)
    expected = brief_of(derived)
    backend.put(compute(index, post))
    brief_row = backend.rows[artifact_key(index, post), BRIEF]
    assert brief_row.deps == backend.rows[artifact_key(index, post), DERIVED].deps != "[]"
    del backend.rows[artifact_key(index, post), DERIVED]
    monkeypatch.setattr(artifacts, "_COMPUTE", {})  # any computation now raises KeyError
    fresh = index_of(source("a.md", body), assets=frozenset({"a.png"}), store=Artifacts(backend))
    assert brief(fresh, fresh.by_slug["a"]) == expected
    assert expected.more and expected.cover == "/media/a.png"
    assert outline(fresh, fresh.by_slug["a"]) == outline_of(derived)
    assert [entry.text for entry in outline_of(derived).toc] == ["Más"]


def test_artifacts_blocks_are_built_on_request_not_ahead():
    index = index_of(source("p.md", "Texto."), store=Artifacts(DictBackend()))
    assert BLOCKS not in KINDS
    assert [row.kind for row in compute(index, index.by_slug["p"])] == list(KINDS)


def test_artifacts_a_link_follows_the_slug_of_the_post_it_names():
    backend = DictBackend()
    target = "---\ntitle: Otra\ndate: 2024-01-01\nslug: {slug}\n---\n\nTexto.\n"
    link = source("a.md", "Ver [la otra](otra.md).")
    before = index_of(link, SourceFile("otra.md", target.format(slug="vieja").encode()))
    before = replace(before, artifacts=Artifacts(backend))
    html = Artifacts(backend).html(before, before.by_slug["a"], BASES[0])
    assert 'href="http://localhost:5000/api/v1/posts/vieja"' in html
    after = index_of(link, SourceFile("otra.md", target.format(slug="nueva").encode()))
    html = Artifacts(backend).html(after, after.by_slug["a"], BASES[0])
    assert 'href="http://localhost:5000/api/v1/posts/nueva"' in html
    assert html == render_html(after.body(after.by_slug["a"]), "", render_options(after, BASES[0]))


def test_artifacts_missing_lists_posts_without_every_kind():
    backend = DictBackend()
    store = Artifacts(backend)
    index = index_of(source("a.md", "A."), source("b.md", "B."), source("c.md", "C."), store=store)
    a, b = index.by_slug["a"], index.by_slug["b"]
    backend.put(compute(index, a))
    backend.put(compute(index, b, (DERIVED,)))
    assert {post.slug for post in store.missing(index)} == {"b", "c"}


# --- a damaged store ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda row: row._replace(value=b"not zlib"),
        lambda row: row._replace(value=zlib.compress(b"[not json")),
        lambda row: row._replace(value=zlib.compress(json.dumps(["x", row.kind, 1]).encode())),
        lambda row: row._replace(value=artifacts.encode(row.key, row.kind, ["only one"])),
        lambda row: row._replace(value=artifacts.encode(row.key, row.kind, [1, 2])),
        lambda row: row._replace(value=artifacts.encode(row.key, row.kind, ["", "<p>x</p>"])),
        lambda row: row._replace(deps="not json"),
    ],
)
def test_artifacts_a_damaged_row_is_computed_again(damage):
    backend = DictBackend()
    store = Artifacts(backend)
    body = "# Título\n\nPrimer párrafo con ![img](a.png)."
    index = index_of(source("a.md", body), assets=frozenset({"a.png"}), store=store)
    post = index.by_slug["a"]
    expected_html = render_html(index.body(post), "", render_options(index, BASES[0]))
    expected_derived = derive(post, index.body(post), index.options, index.assets)
    backend.put(compute(index, post))
    for where, row in list(backend.rows.items()):
        backend.rows[where] = damage(row)
    assert store.html(index, post, BASES[0]) == expected_html
    assert store.derived(index, post) == expected_derived
    assert store.brief(index, post) == brief_of(expected_derived)
    assert store.outline(index, post) == outline_of(expected_derived)


def test_artifacts_memo_is_bounded_and_keeps_the_recent():
    memo = Memo(size=2)
    index = index_of(source("a.md", "A."))
    value = derive(index.posts[0], index.body(index.posts[0]), OPTIONS, AssetMap())
    memo["a"], memo["b"] = value, value
    assert memo.get("a") is value  # "a" is now the most recent
    memo["c"] = value
    assert "b" not in memo and "a" in memo and "c" in memo
    assert len(memo) == 2


def test_artifacts_index_with_a_store_keeps_a_bounded_memo():
    store = Artifacts(DictBackend())
    index = index_of(source("a.md", "A."), store=store)
    assert isinstance(index._derived, Memo)
    assert index_of(source("a.md", "A."))._derived == {}
