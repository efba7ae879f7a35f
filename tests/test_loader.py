"""The loader: the content folder read into post files and asset paths."""

from __future__ import annotations

import gc
import logging
import marshal
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
from conftest import build_app

from contentapi.engine import images, loader, parsecache
from contentapi.engine.index import Index, parse_source
from contentapi.engine.loader import build_options, load_index, read_sources
from contentapi.engine.model import ImageFile, SourceFile
from contentapi.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"
CORPUS_POSTS = [
    "broken/sin-fecha.md",
    "guides/empezar.md",
    "posts/2023/2023-07-15-hola-mundo.md",
    "posts/2024/2024-02-01-apis-sin-servidor.md",
    "posts/2024/2024-03-10-notas-de-versiones.md",
    "posts/2024/recetas/gazpacho.markdown",
]


def post_bytes(title: str) -> bytes:
    return f"---\ntitle: {title}\ndate: 2024-01-01\n---\nText.\n".encode()


def test_loader_finds_posts_recursively() -> None:
    sources = read_sources(CORPUS)
    assert sorted(f.path for f in sources.files) == CORPUS_POSTS


def test_loader_reads_file_bytes_unchanged() -> None:
    sources = read_sources(CORPUS)
    for source in sources.files:
        assert source.data == (CORPUS / source.path).read_bytes()


def test_loader_skips_hidden_and_underscore_files_and_folders() -> None:
    paths = {f.path for f in read_sources(CORPUS).files}
    assert (CORPUS / ".obsidian" / "workspace.md").is_file()
    assert (CORPUS / "posts" / ".borrador-oculto.md").is_file()
    assert (CORPUS / "_drafts" / "idea.md").is_file()
    assert not any(part.startswith((".", "_")) for path in paths for part in path.split("/"))


def test_loader_reads_a_jekyll_sites_posts_folder_from_its_root(tmp_path: Path) -> None:
    post = "---\ntitle: Hola\ndate: 2013-11-11\n---\nTexto.\n"
    for folder in ("_posts", "_drafts", "_layouts", "_site"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "2013-11-11-hola.md").write_text(post)
    assert [f.path for f in read_sources(tmp_path).files] == ["_posts/2013-11-11-hola.md"]


def test_loader_lists_other_files_as_assets_with_posix_paths() -> None:
    assert read_sources(CORPUS).assets == frozenset({"images/pixel.png"})


def test_loader_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_sources(tmp_path / "no-existe")


def test_loader_file_instead_of_folder_raises(tmp_path: Path) -> None:
    file = tmp_path / "post.md"
    file.write_bytes(post_bytes("A"))
    with pytest.raises(FileNotFoundError):
        read_sources(file)


def test_loader_accepts_markdown_suffixes_case_insensitively(tmp_path: Path) -> None:
    (tmp_path / "a.MD").write_bytes(post_bytes("A"))
    (tmp_path / "b.Markdown").write_bytes(post_bytes("B"))
    (tmp_path / "notes.txt").write_text("not a post")
    sources = read_sources(tmp_path)
    assert sorted(f.path for f in sources.files) == ["a.MD", "b.Markdown"]
    assert sources.assets == frozenset({"notes.txt"})


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_loader_skips_links_that_lead_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_bytes(post_bytes("Secreto"))
    (outside / "secret.png").write_bytes(b"\x89PNG")
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "ok.md").write_bytes(post_bytes("Ok"))
    try:
        (content / "posts" / "link.md").symlink_to(outside / "secret.md")
        (content / "posts" / "link.png").symlink_to(outside / "secret.png")
        (content / "linked-folder").symlink_to(outside, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks not permitted here")
    sources = read_sources(content)
    assert [f.path for f in sources.files] == ["posts/ok.md"]
    assert sources.assets == frozenset()


def test_loader_load_index_from_settings() -> None:
    settings = Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(CORPUS)})
    index = load_index(settings)
    assert len(index.posts) == 5
    assert [(i.path, i.field) for i in index.issues] == [("broken/sin-fecha.md", "date")]
    assert index.assets.files == frozenset({"images/pixel.png"})


def test_loader_load_index_reuses_previous_parse() -> None:
    settings = Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(CORPUS)})
    first = load_index(settings)
    second = load_index(settings, previous=first)
    assert second.version == first.version
    assert all(second.parsed[path] is first.parsed[path] for path in first.parsed)


def test_loader_build_options_follow_settings() -> None:
    settings = Settings.from_env(
        {
            "CONTENTAPI_TIMEZONE": "Europe/Madrid",
            "CONTENTAPI_STRIP_TITLE_HEADING": "false",
            "CONTENTAPI_WORDS_PER_MINUTE": "150",
            "CONTENTAPI_EXCERPT_LENGTH": "80",
            "CONTENTAPI_ASSET_BASE_URL": "https://cdn.example.com",
            "CONTENTAPI_RAW_HTML": "escape",
            "CONTENTAPI_IFRAME_HOSTS": "www.youtube.com, player.vimeo.com",
        }
    )
    options = build_options(settings)
    assert str(options.timezone) == "Europe/Madrid"
    assert options.strip_title_heading is False
    assert (options.words_per_minute, options.excerpt_length) == (150, 80)
    assert options.asset_base_url == "https://cdn.example.com/"
    assert options.raw_html == "escape"
    assert options.iframe_hosts == ("www.youtube.com", "player.vimeo.com")


def _link(link: Path, target: Path | str) -> None:
    try:
        link.symlink_to(target)
    except OSError:
        pytest.skip("symlinks not permitted here")


def _skipped(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {r.path: r.getMessage() for r in caplog.records if getattr(r, "event", None) == "skip"}


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Warnings of the `contentapi` logger (which the app stops from reaching the root)."""
    logger = logging.getLogger("contentapi")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="contentapi")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_loader_skips_a_link_loop_with_a_warning(tmp_path: Path, warnings_seen) -> None:
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "a.md").write_bytes(post_bytes("A"))
    _link(content / "posts" / "up", "..")  # `ln -s .. content/posts/up`
    _link(content / "self", "self")  # a link to itself: ELOOP
    _link(content / "gone.png", content / "missing.png")
    sources = read_sources(content)
    assert [f.path for f in sources.files] == ["posts/a.md"]
    assert sources.assets == frozenset()
    skipped = _skipped(warnings_seen)
    assert set(skipped) == {"posts/up", "self", "gone.png"}
    assert "loop" in skipped["posts/up"]
    assert "Too many levels of symbolic links" in skipped["self"]  # ELOOP


def test_loader_warns_about_links_out_of_the_folder(tmp_path: Path, warnings_seen) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_bytes(post_bytes("Secreto"))
    content = tmp_path / "content"
    content.mkdir()
    _link(content / "secret.md", outside / "secret.md")
    _link(content / "etc", "/etc")
    assert read_sources(content).files == ()
    skipped = _skipped(warnings_seen)
    assert set(skipped) == {"secret.md", "etc"}
    assert all("outside the content folder" in why for why in skipped.values())


def test_loader_reads_a_folder_linked_twice_once(tmp_path: Path, warnings_seen) -> None:
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "a.md").write_bytes(post_bytes("A"))
    _link(content / "z-alias", content / "posts")
    assert [f.path for f in read_sources(content).files] == ["posts/a.md"]
    assert set(_skipped(warnings_seen)) == {"z-alias"}


def test_loader_app_boots_with_a_link_loop(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "posts").mkdir(parents=True)
    (content / "posts" / "a.md").write_bytes(post_bytes("A"))
    _link(content / "posts" / "up", "..")
    settings = Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(content)})
    index = load_index(settings.replace(parse_cache="off"))
    assert [post.path for post in index.posts] == ["posts/a.md"]


def test_loader_reads_no_more_of_a_post_than_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_bytes(post_bytes("Big") + b"x" * 1_000_000)
    (tmp_path / "ok.md").write_bytes(post_bytes("Ok"))
    sources = read_sources(tmp_path, max_post_bytes=1000)
    assert {f.path: len(f.data) for f in sources.files} == {
        "big.md": 1001,
        "ok.md": len(post_bytes("Ok")),
    }


def test_loader_oversize_post_is_a_content_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_bytes(post_bytes("Big") + b"palabra " * 100_000)
    (tmp_path / "ok.md").write_bytes(post_bytes("Ok"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_MAX_POST_BYTES": "65536"}
    ).replace(parse_cache="off")
    index = load_index(settings)
    assert [post.title for post in index.posts] == ["Ok"]
    assert [(i.path, i.severity) for i in index.issues] == [("big.md", "error")]
    assert "larger than 64 KiB" in index.issues[0].message


def test_loader_skips_a_file_that_vanishes_while_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_seen
) -> None:
    (tmp_path / "a.md").write_bytes(post_bytes("A"))
    (tmp_path / "b.md").write_bytes(post_bytes("B"))
    real = loader._read_at_most

    def flaky(path: str, limit: int) -> bytes:
        if path.endswith("a.md"):
            raise FileNotFoundError(2, "No such file or directory")
        return real(path, limit)

    monkeypatch.setattr(loader, "_read_at_most", flaky)
    assert [f.path for f in read_sources(tmp_path).files] == ["b.md"]
    assert "No such file" in _skipped(warnings_seen)["a.md"]


def test_loader_reads_shortcode_templates_from_the_top_folder(tmp_path: Path) -> None:
    (tmp_path / "_shortcodes").mkdir()
    (tmp_path / "_shortcodes" / "nota.html").write_text("<aside>{{ inner }}</aside>")
    (tmp_path / "_shortcodes" / "leeme.md").write_text("not a template, not a post")
    (tmp_path / "_shortcodes" / ".oculta.html").write_text("x")
    (tmp_path / "posts" / "_shortcodes").mkdir(parents=True)
    (tmp_path / "posts" / "_shortcodes" / "otra.html").write_text("x")
    (tmp_path / "a.md").write_bytes(post_bytes("A"))
    sources = read_sources(tmp_path)
    assert [(t.path, t.data) for t in sources.shortcodes] == [
        ("_shortcodes/nota.html", b"<aside>{{ inner }}</aside>")
    ]
    assert [f.path for f in sources.files] == ["a.md"]
    assert sources.assets == frozenset()


def test_loader_shortcode_templates_reach_the_index(tmp_path: Path) -> None:
    (tmp_path / "_shortcodes").mkdir()
    (tmp_path / "_shortcodes" / "nota.html").write_text("<aside>{{ inner }}</aside>")
    (tmp_path / "a.md").write_bytes(post_bytes("A"))
    index = load_index(
        Settings.from_env(
            {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
        )
    )
    assert list(index.shortcodes) == ["nota"]


def test_loader_skips_shortcode_templates_linked_from_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside.html"
    outside.write_text("secret")
    root = tmp_path / "content"
    (root / "_shortcodes").mkdir(parents=True)
    os.symlink(outside, root / "_shortcodes" / "fuera.html")
    assert read_sources(root).shortcodes == ()


# --- image facts ----------------------------------------------------------------------------


def _png(path: Path, size: tuple[int, int], colour: str = "red") -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.new("RGB", size, colour).save(path)
    return path.read_bytes()


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every image the loader decodes."""
    decoded: list[str] = []
    real = images.describe

    def describe(path: str, data: bytes, size: int, mtime_ns: int) -> ImageFile:
        decoded.append(path)
        return real(path, data, size, mtime_ns)

    monkeypatch.setattr(images, "describe", describe)
    return decoded


def test_loader_learns_image_facts(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png", (30, 20))
    (tmp_path / "logo.svg").write_text("<svg/>")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    sources = read_sources(tmp_path)
    assert sources.assets == frozenset({"img/a.png", "logo.svg", "notes.pdf"})
    (image,) = sources.images
    assert image.path == "img/a.png"
    assert image.facts is not None
    assert (image.facts.width, image.facts.height) == (30, 20)
    assert image.problem is None


def test_loader_unchanged_image_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    _png(tmp_path / "a.png", (30, 20))
    decoded = _counting(monkeypatch)
    first = read_sources(tmp_path)
    known = {image.path: image for image in first.images}
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read {self}"))
    again = read_sources(tmp_path, known_images=known)
    assert again.images == first.images
    assert decoded == ["a.png"]


def test_loader_same_bytes_elsewhere_are_not_decoded_again(tmp_path: Path, monkeypatch) -> None:
    data = _png(tmp_path / "a.png", (30, 20))
    decoded = _counting(monkeypatch)
    first = read_sources(tmp_path)
    (tmp_path / "a.png").rename(tmp_path / "moved.png")
    (tmp_path / "copy.png").write_bytes(data)
    again = read_sources(tmp_path, known_images={image.path: image for image in first.images})
    assert [image.path for image in again.images] == ["copy.png", "moved.png"]
    assert {image.facts for image in again.images} == {first.images[0].facts}
    assert decoded == ["a.png"]


def test_loader_changed_image_is_decoded_again(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (30, 20))
    first = read_sources(tmp_path)
    _png(tmp_path / "a.png", (40, 10), "blue")
    again = read_sources(tmp_path, known_images={image.path: image for image in first.images})
    facts = again.images[0].facts
    assert facts is not None
    assert (facts.width, facts.height) == (40, 10)
    assert again.images[0].digest != first.images[0].digest


def test_loader_broken_and_huge_images_are_warnings(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    _png(tmp_path / "big.png", (30, 20))
    (tmp_path / "post.md").write_bytes(post_bytes("Post"))
    monkeypatch.setattr(images, "MAX_BYTES", 50)
    index = load_index(
        Settings.from_env(
            {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
        )
    )
    assert len(index.posts) == 1
    warnings = {(i.path, i.severity): i.message for i in index.issues}
    assert set(warnings) == {("big.png", "warning"), ("broken.jpg", "warning")}
    assert "larger than" in warnings[("big.png", "warning")]
    assert "not" in warnings[("broken.jpg", "warning")]
    assert index.assets.images.facts("big.png") is None


def test_loader_reload_reuses_image_facts_and_version_follows_image_bytes(
    tmp_path: Path, monkeypatch
) -> None:
    _png(tmp_path / "a.png", (30, 20))
    (tmp_path / "post.md").write_bytes(post_bytes("Post"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    decoded = _counting(monkeypatch)
    first = load_index(settings)
    second = load_index(settings, previous=first)
    assert decoded == ["a.png"]
    assert second.version == first.version
    _png(tmp_path / "a.png", (31, 20))
    third = load_index(settings, previous=second)
    assert decoded == ["a.png", "a.png"]
    assert third.version != second.version
    facts = third.assets.images.facts("a.png")
    assert facts is not None and facts.width == 31


def _reads(monkeypatch) -> list[str]:
    """The post files the loader reads from now on, by name."""
    read: list[str] = []
    real = loader._read_at_most

    def counting(path: str, limit: int) -> bytes:
        read.append(Path(path).name)
        return real(path, limit)

    monkeypatch.setattr(loader, "_read_at_most", counting)
    return read


def test_loader_reload_reads_only_the_files_whose_stamp_changed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)  # files written just now count as settled
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.md").write_bytes(post_bytes(name.upper()))
    settings = Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(tmp_path)})
    first = load_index(settings.replace(parse_cache="off"))
    read = _reads(monkeypatch)
    (tmp_path / "b.md").write_bytes(post_bytes("Bee, edited"))
    second = load_index(settings.replace(parse_cache="off"), previous=first)
    assert read == ["b.md"]
    assert sorted(post.title for post in second.posts) == ["A", "Bee, edited", "C"]
    assert second.parsed["a.md"] is first.parsed["a.md"]
    assert second.version != first.version


def test_loader_recently_changed_files_are_read_again_until_settled(tmp_path: Path, monkeypatch):
    """File times are coarser than the clock: an edit of the same size right after a scan
    can keep every time the scan saw, so a file changed just before a scan is read again."""
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    first = load_index(settings)
    info = (tmp_path / "a.md").stat()
    (tmp_path / "a.md").write_bytes(post_bytes("Two"))  # same size
    os.utime(tmp_path / "a.md", ns=(info.st_atime_ns, info.st_mtime_ns))
    read = _reads(monkeypatch)
    second = load_index(settings, previous=first)
    assert read == ["a.md"]
    assert [post.title for post in second.posts] == ["Two"]


def test_loader_replaced_file_of_the_same_size_and_time_is_read_again(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)
    target = tmp_path / "a.md"
    target.write_bytes(post_bytes("One"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    first = load_index(settings)
    info = target.stat()
    replacement = tmp_path / ".a.md.tmp"  # an editor's save: write beside, then rename over
    replacement.write_bytes(post_bytes("Two"))
    os.utime(replacement, ns=(info.st_atime_ns, info.st_mtime_ns))
    replacement.replace(target)
    second = load_index(settings, previous=first)
    assert [post.title for post in second.posts] == ["Two"]


def test_loader_reads_every_file_again_when_settings_change(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    first = load_index(settings)
    read = _reads(monkeypatch)
    load_index(settings.replace(words_per_minute=100), previous=first)
    assert read == ["a.md"]


def test_loader_reload_hands_the_parse_cache_write_to_later(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": str(tmp_path / "cache")}
    )
    jobs: list = []
    load_index(settings, later=jobs.append)
    assert not (tmp_path / "cache").exists()
    assert len(jobs) == 1
    jobs[0]()
    assert list((tmp_path / "cache").glob("parsed-*"))


def test_loader_reload_of_an_unchanged_folder_is_the_same_index(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    _png(tmp_path / "a.png", (3, 2))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    first = load_index(settings)
    assert load_index(settings, previous=first) is first
    (tmp_path / "notes.txt").write_text("an asset more")
    second = load_index(settings, previous=first)
    assert second is not first and "notes.txt" in second.assets.files
    (tmp_path / "b.md").write_bytes(post_bytes("Two"))
    assert len(load_index(settings, previous=second).posts) == 2


@pytest.fixture
def settled_folder(tmp_path: Path, monkeypatch):
    """A folder of two posts and an image, its index, and the settings that read it."""
    monkeypatch.setattr(loader, "SETTLE_NS", 0)  # files written just now count as settled
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    (tmp_path / "b.md").write_bytes(post_bytes("Two"))
    _png(tmp_path / "a.png", (3, 2))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    index = load_index(settings)
    time.sleep(0.05)  # file times are coarse: a change made now must not share the tick
    return tmp_path, index


def test_loader_unchanged_since_true_for_the_folder_an_index_was_read_from(settled_folder):
    folder, index = settled_folder
    assert loader.unchanged_since(folder, index)


@pytest.mark.parametrize(
    "change",
    [
        lambda folder: (folder / "a.md").write_bytes(post_bytes("Uno")),  # edited, same size
        lambda folder: (folder / "c.md").write_bytes(post_bytes("Three")),  # added
        lambda folder: (folder / "b.md").unlink(),  # removed
        lambda folder: (folder / "notes.txt").write_text("x"),  # an asset added
        lambda folder: _png(folder / "a.png", (4, 4)),  # an image replaced
        lambda folder: (folder / "a.png").unlink(),  # an asset removed
        lambda folder: (folder / "_shortcodes").mkdir(),  # templates: a reload decides
    ],
)
def test_loader_unchanged_since_false_after_any_change(settled_folder, change):
    folder, index = settled_folder
    change(folder)
    assert not loader.unchanged_since(folder, index)


def test_loader_unchanged_since_false_while_a_file_has_no_settled_stamp(tmp_path: Path):
    (tmp_path / "a.md").write_bytes(post_bytes("One"))  # written just now: no stamp yet
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    assert not loader.unchanged_since(tmp_path, load_index(settings))


def test_loader_unchanged_since_false_for_a_missing_folder(settled_folder, tmp_path: Path):
    _, index = settled_folder
    assert not loader.unchanged_since(tmp_path / "gone", index)


def test_loader_edited_files_are_read_alone_and_patch_the_index(tmp_path: Path, monkeypatch):
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    (tmp_path / "b.md").write_bytes(post_bytes("Two"))
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": str(tmp_path / "c")}
    )
    first = load_index(settings)
    (tmp_path / "a.md").write_bytes(post_bytes("One, edited"))
    scans: list[int] = []
    monkeypatch.setattr(loader, "read_sources", lambda *a, **k: scans.append(1) or first)
    jobs: list = []
    second = load_index(settings, previous=first, edited={"a.md"}, later=jobs.append)
    assert scans == [] and second.patched_from(first) is not None
    assert sorted(post.title for post in second.posts) == ["One, edited", "Two"]
    assert len(jobs) == 1  # the parse cache is still written


def test_loader_read_edited_refuses_what_is_no_longer_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    (tmp_path / "link.md").symlink_to(tmp_path / "a.md")
    (read,) = loader.read_edited(tmp_path, ["a.md"], 1000) or []
    assert read.path == "a.md" and read.content == post_bytes("One")
    assert loader.read_edited(tmp_path, ["link.md"], 1000) is None
    assert loader.read_edited(tmp_path, ["gone.md"], 1000) is None


def test_loader_a_linked_post_file_makes_edits_scan_the_folder(tmp_path: Path, monkeypatch):
    """A write through one name of a file with two is seen under that name alone."""
    (tmp_path / "a.md").write_bytes(post_bytes("One"))
    (tmp_path / "b.md").symlink_to(tmp_path / "a.md")
    settings = Settings.from_env(
        {"CONTENTAPI_CONTENT_DIR": str(tmp_path), "CONTENTAPI_PARSE_CACHE": "off"}
    )
    first = load_index(settings)
    assert first.linked == {"b.md"}
    (tmp_path / "a.md").write_bytes(post_bytes("One, edited"))
    second = load_index(settings, previous=first, edited={"a.md"})
    assert sorted(post.title for post in second.posts) == ["One, edited", "One, edited"]


# Parsing a start's files in a process pool


def _many_shapes(root: Path, generated: int = 40) -> Path:
    """Every real-world post shape the fixtures hold (broken ones included), then enough
    generated posts naming shared terms that the pool gets several chunks of them."""
    shutil.copytree(FIXTURES / "posts", root / "shapes")
    shutil.copytree(FIXTURES / "blogs", root / "blogs")
    for number in range(generated):
        tags = ", ".join(["python", "apis", f"tag-{number % 7}"])
        text = (
            f"---\ntitle: Post número {number}\ndate: 2024-01-{number % 28 + 1:02d}\n"
            f"categories: [Guías]\ntags: [{tags}]\n---\n# Post número {number}\n\n"
            f"Cuerpo con acentos: canción, pingüino. ![](/img/{number}.png)\n"
        )
        (root / "posts" / f"{number:03d}.md").parent.mkdir(parents=True, exist_ok=True)
        (root / "posts" / f"{number:03d}.md").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any folder of 8 files or more is parsed in a pool of 2 processes."""
    monkeypatch.setattr(loader, "POOL_FROM", 8)
    monkeypatch.setattr(loader, "SPAWNED_POOL_FROM", 8)
    monkeypatch.setattr(loader, "cpu_count", lambda: 2)


def _pool_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "parse-pool"]


def _serially(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Index:
    with monkeypatch.context() as serial:
        serial.setattr(loader, "POOL_FROM", 10**9)
        serial.setattr(loader, "SPAWNED_POOL_FROM", 10**9)
        return load_index(settings)


def _settings(root: Path) -> Settings:
    return Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(root), "CONTENTAPI_PARSE_CACHE": "off"})


def _same_index(pool: Index, serial: Index) -> None:
    """Everything an index serves is the same, bodies included."""
    assert replace(pool, built_at=serial.built_at) == serial
    assert pool.version == serial.version
    assert [pool.body(post) for post in pool.everything] == [
        serial.body(post) for post in serial.everything
    ]
    stamps = dict(pool.files)
    assert marshal.loads(parsecache.dump(pool.parsed, stamps, pool.options)) == marshal.loads(
        parsecache.dump(serial.parsed, stamps, serial.options)
    )


def test_loader_pool_index_is_the_same_as_one_process_makes(
    tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="contentapi")
    settings = _settings(_many_shapes(tmp_path))
    pool = load_index(settings)
    files = len(pool.parsed)
    assert _pool_lines(caplog) and _pool_lines(caplog)[0].startswith(
        f"parsed {files} of {files} files in 2 processes"
    )
    _same_index(pool, _serially(monkeypatch, settings))


@pytest.mark.parametrize("spawn", [False, True])
def test_loader_pool_serves_the_same_json_as_one_process(
    tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch, spawn: bool
) -> None:
    """What clients get, byte for byte: listings, every post and page, terms. Spawned
    processes hash strings with another seed: nothing served may depend on it."""
    if spawn:
        monkeypatch.setattr(loader, "start_method", lambda: "spawn")
    root = _many_shapes(tmp_path / "content")

    def responses() -> list[bytes]:
        app = build_app(
            root, parse_cache="off", store_path="off", runtime_dir=str(tmp_path / "run")
        )
        client = app.test_client()
        listing = client.get("/api/v1/posts?per_page=100")
        assert listing.status_code == 200
        paths = ["/api/v1/posts?per_page=100", "/api/v1/pages", "/api/v1/categories"]
        paths += ["/api/v1/tags?per_page=100"]
        paths += [f"/api/v1/posts/{post['slug']}" for post in listing.get_json()["data"]]
        paths += [
            f"/api/v1/pages/{page['slug']}" for page in client.get(paths[1]).get_json()["data"]
        ]
        return [client.get(path).data for path in paths]

    pool = responses()
    with monkeypatch.context() as serial:
        serial.setattr(loader, "POOL_FROM", 10**9)
        serial.setattr(loader, "SPAWNED_POOL_FROM", 10**9)
        assert responses() == pool
    assert len(pool) > 50


def test_loader_pool_reports_a_broken_file_and_keeps_the_others(
    tmp_path: Path, pooled: None, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="contentapi")
    root = _many_shapes(tmp_path, generated=30)
    (root / "posts" / "015.md").write_text("---\ntitle: Roto\ndate: 31 de febrero\n---\nTexto\n")
    index = load_index(_settings(root))
    assert _pool_lines(caplog)
    broken = [issue for issue in index.issues if issue.path == "posts/015.md"]
    assert [(issue.field, issue.line, issue.severity) for issue in broken] == [("date", 3, "error")]
    assert "31 de febrero" in broken[0].message
    generated = {post.path for post in index.posts if post.path.startswith("posts/")}
    assert generated == {f"posts/{n:03d}.md" for n in range(30)} - {"posts/015.md"}


def test_loader_pool_is_not_used_for_small_folders(tmp_path: Path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO, logger="contentapi")
    monkeypatch.setattr(loader, "cpu_count", lambda: 2)
    root = _many_shapes(tmp_path)
    index = load_index(_settings(root))
    assert len(index.parsed) < loader.POOL_FROM <= loader.SPAWNED_POOL_FROM
    assert _pool_lines(caplog) == []


def test_loader_pool_is_not_used_on_one_core(tmp_path: Path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO, logger="contentapi")
    monkeypatch.setattr(loader, "POOL_FROM", 8)
    monkeypatch.setattr(loader, "SPAWNED_POOL_FROM", 8)
    monkeypatch.setattr(loader, "cpu_count", lambda: 1)
    assert len(load_index(_settings(_many_shapes(tmp_path))).posts) > 40
    assert _pool_lines(caplog) == []


def test_loader_pool_is_not_used_for_a_reload(tmp_path: Path, pooled: None, caplog) -> None:
    """A reload parses in the serving process, whose cores are the requests'."""
    settings = _settings(_many_shapes(tmp_path))
    first = load_index(settings)
    for number in range(20):
        (tmp_path / "posts" / f"{number:03d}.md").write_text(post_bytes(f"New {number}").decode())
    caplog.set_level(logging.INFO, logger="contentapi")
    caplog.clear()
    second = load_index(settings, previous=first)
    assert second.by_slug["019"].title == "New 19"
    assert _pool_lines(caplog) == []


def test_loader_pool_spawned_processes_give_the_same_index(
    tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Where forking is not provably safe, processes are spawned: slower to start, same
    results."""
    caplog.set_level(logging.INFO, logger="contentapi")
    monkeypatch.setattr(loader, "start_method", lambda: "spawn")
    settings = _settings(_many_shapes(tmp_path))
    pool = load_index(settings)
    assert "processes (spawn)" in _pool_lines(caplog)[0]
    _same_index(pool, _serially(monkeypatch, settings))


def test_loader_pool_forks_in_a_single_threaded_process(tmp_path: Path) -> None:
    """As in a gunicorn master preloading the app: fork, and the same index."""
    root = _many_shapes(tmp_path)
    script = (
        "import logging, marshal, sys\n"
        "from contentapi.engine import loader, parsecache\n"
        "from contentapi.settings import Settings\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(message)s')\n"
        "loader.POOL_FROM = 8\n"
        "settings = Settings.from_env({'CONTENTAPI_CONTENT_DIR': sys.argv[1],"
        " 'CONTENTAPI_PARSE_CACHE': 'off'})\n"
        "print('method', loader.start_method())\n"
        "pool = loader.load_index(settings)\n"
        "loader.POOL_FROM = 10**9\n"
        "serial = loader.load_index(settings)\n"
        "dump = lambda i: marshal.loads(parsecache.dump(i.parsed, i.files, i.options))\n"
        "print('same', dump(pool) == dump(serial), pool.version == serial.version)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    if loader.cpu_count() < 2:
        pytest.skip("one core: no pool")
    assert "method fork" in done.stdout
    assert "processes (fork)" in done.stdout
    assert "same True True" in done.stdout


def test_loader_start_method_is_spawn_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert loader.start_method() == "spawn"
    finally:
        stop.set()
        thread.join()


def test_loader_pool_process_that_dies_leaves_its_files_to_this_one(
    tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="contentapi")
    monkeypatch.setattr(loader, "start_method", lambda: "fork")  # the patch reaches the child
    parent = os.getpid()

    def dying(result: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        raise AssertionError("called in the parent")

    monkeypatch.setattr(loader, "_portable", dying)
    settings = _settings(_many_shapes(tmp_path))
    index = load_index(settings)
    assert _pool_lines(caplog)[0].startswith("parsed 0 of")
    assert any("ended" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    _same_index(index, _serially(monkeypatch, settings))


def test_loader_pool_chunk_whose_parse_raises_is_parsed_here(
    tmp_path: Path, pooled: None, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """A file that made parsing raise in a pool process is parsed again in this one (where
    it raises as it would without a pool, or, as here, works)."""
    caplog.set_level(logging.INFO, logger="contentapi")
    monkeypatch.setattr(loader, "start_method", lambda: "fork")
    real = loader.parse_source

    def flaky(source: Any, options: Any) -> Any:
        if source.path == "posts/007.md":
            raise RuntimeError("bug met posts/007.md")
        return real(source, options)

    monkeypatch.setattr(loader, "parse_source", flaky)  # only the pool calls it from here
    settings = _settings(_many_shapes(tmp_path))
    index = load_index(settings)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("RuntimeError: bug met posts/007.md" in warning for warning in warnings)
    assert "posts/007.md" in {post.path for post in index.posts}
    _same_index(index, _serially(monkeypatch, settings))


def test_loader_pool_process_protocol_in_this_process(tmp_path: Path) -> None:
    """`_parse_chunks` as a pool process runs it: numbers in, results (or why not) out."""
    settings = _settings(_many_shapes(tmp_path, generated=2))
    options = build_options(settings)
    good = [SourceFile("a.md", post_bytes("A")), SourceFile("b.md", b"---\ntitle: [\n---\n")]
    bad = [SourceFile.unchanged("c.md", (1, 1, 1, 1), "0" * 64)]  # parsing it raises
    ours, theirs = multiprocessing.Pipe()
    for message in (0, 1, None):
        ours.send(message)
    try:
        loader._parse_chunks([good, bad], options, theirs)
    finally:
        gc.unfreeze()
    first, second = ours.recv(), ours.recv()
    assert first[0] == 0
    restored = [loader._restored(row, {}) for row in first[1]]
    assert restored == [parse_source(source, options) for source in good]
    assert restored[1].issues[0].path == "b.md"
    assert second == (1, "ValueError: c.md was not read: it is unchanged since the last index")
    ours.close()


def _mappings() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux's /proc")
def test_read_sources_keeps_no_memory_mapping_per_file(tmp_path):
    """Each file is read into memory of its own size. Reading into a buffer of the size limit
    left one `mmap` per file: Linux allows 65,530 (`vm.max_map_count`), reached at about
    65,000 posts, after which every allocation in a forked parsing process failed."""
    for n in range(400):
        (tmp_path / f"p{n}.md").write_text(f"---\ntitle: P{n}\ndate: 2024-01-01\n---\nText {n}\n")
    before = _mappings()
    sources = read_sources(tmp_path, 2 * 1024 * 1024)
    assert len(sources.files) == 400
    assert _mappings() - before < 100
    assert all(f.data and f.data.endswith(b"\n") for f in sources.files)


def test_read_sources_reads_at_most_one_byte_past_the_limit(tmp_path):
    (tmp_path / "big.md").write_bytes(b"---\ntitle: Big\n---\n" + b"x" * 5000)
    (tmp_path / "small.md").write_bytes(b"---\ntitle: Small\n---\nok\n")
    read = {f.path: f.data for f in read_sources(tmp_path, 1000).files}
    assert len(read["big.md"] or b"") == 1001
    assert read["small.md"] == b"---\ntitle: Small\n---\nok\n"
