"""`flask content check`, `list` and `new`: problems listed as `path:line: severity: field:
message`, posts with their status, new posts with valid front matter."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import PIL.Image
import pytest

from contentapi.engine.index import BuildOptions, parse_source
from contentapi.engine.model import SourceFile

BAD_DATE = "---\ntitle: Bad date\ndate: not a date\n---\nBody.\n"
NO_TITLE = "---\ndate: 2024-01-01\n---\nBody.\n"
BAD_YAML = "---\ntitle: Broken\ndate: 2024-01-01\ndescription: a: b\n---\nBody.\n"
SUMMARY = re.compile(r"^(\d+) valid post\(s\), (\d+) error\(s\), (\d+) warning\(s\) in (.+)$")


@pytest.fixture
def check(make_app):
    """Run `flask content check [args]` over the content folder as it is now."""

    def run(*args: str):
        app = make_app()
        return app.test_cli_runner().invoke(args=["content", "check", *args])

    return run


def _summary(output: str) -> tuple[int, int, int, str]:
    match = SUMMARY.match(output.strip().splitlines()[-1])
    assert match, output
    valid, errors, warnings, folder = match.groups()
    return int(valid), int(errors), int(warnings), folder


def test_cli_check_valid_folder_exits_0_with_a_summary(write_post, content_dir, check):
    write_post("a.md", title="A")
    write_post("notes/b.md", title="B")
    result = check()
    assert result.exit_code == 0, result.output
    assert _summary(result.output) == (2, 0, 0, str(content_dir))
    assert "error:" not in result.output


def test_cli_check_bad_date_names_file_line_and_field(write_post, check):
    write_post("good.md", title="Good")
    write_post("bad.md", text=BAD_DATE)
    result = check()
    assert result.exit_code == 1
    assert "bad.md:3: error: date: 'not a date' is not a date" in result.output
    assert _summary(result.output)[:3] == (1, 1, 0)


def test_cli_check_missing_title_names_file_and_field(write_post, check):
    write_post("notitle.md", text=NO_TITLE)
    result = check()
    assert result.exit_code == 1
    assert re.search(r"^notitle\.md: error: title: \S", result.output, re.MULTILINE), result.output


def test_cli_check_yaml_syntax_error_has_its_line(write_post, check):
    write_post("broken.md", text=BAD_YAML)
    result = check()
    assert result.exit_code == 1
    assert "broken.md:4: error: front matter is not valid YAML: " in result.output


def test_cli_check_lists_every_bad_file_not_just_the_first(write_post, check):
    write_post("a-bad.md", text=BAD_DATE)
    write_post("b-good.md", title="Good")
    write_post("c-bad.md", text=BAD_YAML)
    write_post("d-bad.md", text=NO_TITLE)
    result = check()
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if ": error: " in line]
    assert [line.split(":")[0] for line in problems] == ["a-bad.md", "c-bad.md", "d-bad.md"]
    assert _summary(result.output)[:3] == (1, 3, 0)


def test_cli_check_errors_go_to_stderr_and_summary_to_stdout(write_post, check):
    write_post("bad.md", text=BAD_DATE)
    result = check()
    assert "bad.md:3: error: date:" in result.stderr
    assert "error: date" not in result.stdout
    assert SUMMARY.match(result.stdout.strip().splitlines()[-1])


def test_cli_check_reads_the_folder_as_it_is_now(write_post, make_app):
    write_post("a.md", title="A")
    app = make_app()
    write_post("bad.md", text=BAD_DATE)
    result = app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 1
    assert "bad.md:3: error: date:" in result.output


def test_cli_check_impossible_calendar_date_is_listed_not_a_crash(write_post, make_app):
    write_post("good.md", title="Good")
    app = make_app()
    write_post("feb.md", text="---\ntitle: Leap\ndate: 2023-02-29\n---\nBody.\n")
    result = app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1
    assert "feb.md:3: error: date:" in result.output


def test_cli_check_warnings_do_not_fail(write_post, check):
    write_post("img.md", title="Img", image="missing.png")
    result = check()
    assert result.exit_code == 0, result.output
    assert "img.md: warning: image: image 'missing.png' is not in the content folder" in (
        result.output
    )
    assert _summary(result.output)[:3] == (1, 0, 1)


def test_cli_check_warnings_as_errors_fails_on_warnings(write_post, check):
    write_post("img.md", title="Img", body="![a chart](chart.png)")
    result = check("--warnings-as-errors")
    assert result.exit_code == 1
    assert "img.md: warning: body: image 'chart.png'" in result.output


def test_cli_check_warnings_as_errors_passes_a_clean_folder(write_post, content_dir, check):
    PIL.Image.new("RGB", (4, 3)).save(content_dir / "chart.png")
    write_post("img.md", title="Img", image="chart.png", body="![a chart](chart.png)")
    result = check("--warnings-as-errors")
    assert result.exit_code == 0, result.output
    assert _summary(result.output)[:3] == (1, 0, 0)


# --- content list ---------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["content", *args])


@pytest.fixture
def listed(write_post, make_app):
    """A folder with one post of each status and one invalid file; the app's clock is NOW."""
    write_post("2024-01-01-old.md", title="'Old: ñandú'", date="2024-01-01")
    write_post("posts/draft.md", title="Draft", date="2024-02-01", draft="true")
    write_post("later.md", title="Later", date="2026-03-01T10:00:01+00:00")
    write_post("bad.md", text=BAD_DATE)
    app = make_app()
    app.extensions["contentapi"].clock = lambda: NOW
    return app


def test_cli_list_shows_every_status_in_an_aligned_table(listed):
    result = _cli(listed, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["STATUS", "DATE", "SLUG", "PATH", "TITLE"]
    rows = [line.split(None, 4) for line in lines[1:-1]]
    assert [row[0] for row in rows] == ["scheduled", "draft", "published", "invalid"]
    assert rows[0][1:4] == ["2026-03-01", "10:00+00:00", "later"]
    assert rows[0][4].split() == ["later.md", "Later"]
    assert rows[2][3] == "old"
    assert rows[2][4].startswith("2024-01-01-old.md  Old: ñandú")
    assert rows[3][:3] == ["invalid", "-", "-"]
    assert "bad.md" in lines[-2]
    assert "line 3: date: 'not a date' is not a date" in lines[-2]
    slug_column = lines[0].index("SLUG")
    assert all(line.index(row[0]) == 0 for line, row in zip(lines[1:-1], rows, strict=True))
    assert lines[1][slug_column:].startswith("later") and lines[3][slug_column:].startswith("old")
    assert lines[-1] == "1 published, 1 draft, 1 scheduled, 1 invalid"


def test_cli_list_status_comes_from_the_store_clock(listed):
    listed.extensions["contentapi"].clock = lambda: NOW + timedelta(seconds=1)
    result = _cli(listed, "list", "--json")
    assert {entry["slug"]: entry["status"] for entry in json.loads(result.output)} == {
        "later": "published",
        "draft": "draft",
        "old": "published",
        None: "invalid",
    }


@pytest.mark.parametrize(
    ("status", "slugs"),
    [("published", ["old"]), ("draft", ["draft"]), ("scheduled", ["later"]), ("invalid", [None])],
)
def test_cli_list_status_filters(listed, status, slugs):
    result = _cli(listed, "list", "--status", status, "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [entry["slug"] for entry in entries] == slugs
    assert {entry["status"] for entry in entries} == {status}
    table = _cli(listed, "list", "--status", status).output.splitlines()
    assert [line.split()[0] for line in table[1:-1]] == [status]


def test_cli_list_json_is_an_array_of_posts_then_invalid_files(listed):
    result = _cli(listed, "list", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries[0] == {
        "slug": "later",
        "title": "Later",
        "date": "2026-03-01T10:00:01+00:00",
        "status": "scheduled",
        "path": "later.md",
    }
    assert entries[2] == {
        "slug": "old",
        "title": "Old: ñandú",
        "date": "2024-01-01T00:00:00+00:00",
        "status": "published",
        "path": "2024-01-01-old.md",
    }
    assert entries[3]["status"] == "invalid"
    assert entries[3]["path"] == "bad.md"
    assert entries[3]["error"].startswith("line 3: date: 'not a date' is not a date")


def test_cli_list_rejects_an_unknown_status(listed):
    result = _cli(listed, "list", "--status", "secret")
    assert result.exit_code == 2
    assert "secret" in result.output


def test_cli_list_empty_folder_says_so(make_app):
    result = _cli(make_app(), "list")
    assert result.exit_code == 0
    assert "No posts" in result.output


def test_cli_list_a_slug_clash_lists_both_posts(write_post, make_app):
    write_post("a.md", title="A", slug="same")
    write_post("b.md", title="B", slug="same", date="2024-02-03")
    entries = json.loads(_cli(make_app(), "list", "--json").output)
    assert sorted((e["path"], e["slug"], e["status"]) for e in entries) == [
        ("a.md", "same", "published"),
        ("b.md", "same-2024-02-03", "published"),
    ]


def test_cli_check_reports_a_slug_clash_as_an_error_naming_both_files(write_post, make_app):
    write_post("a.md", title="A", slug="same")
    write_post("b.md", title="B", slug="same", date="2024-02-03")
    result = _cli(make_app(), "check")
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if ": error: " in line]
    assert line.startswith("b.md: error: slug:")
    assert "a.md" in line and "'same-2024-02-03'" in line


# --- content new ----------------------------------------------------------------------------


@pytest.fixture
def madrid(make_app):
    """An app in Europe/Madrid whose clock says NOW (11:00 in Madrid)."""

    def make(**settings):
        app = make_app(timezone="Europe/Madrid", **settings)
        app.extensions["contentapi"].clock = lambda: NOW
        return app

    return make


def _parse(path: Path, content_dir: Path, zone: str = "Europe/Madrid"):
    relative = path.relative_to(content_dir).as_posix()
    return parse_source(SourceFile(relative, path.read_bytes()), BuildOptions(ZoneInfo(zone)))


def test_cli_new_creates_a_valid_draft(content_dir, madrid):
    app = madrid()
    result = _cli(
        app, "new", "Cómo empezar: guía rápida", "--category", "Guías", "--tag", "Python",
        "--tag", "año nuevo", "--lang", "es",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = content_dir / "2026-03-01-como-empezar-guia-rapida.md"
    assert result.output.strip() == str(path)
    text = path.read_text(encoding="utf-8")
    assert "date: 2026-03-01T11:00:00+01:00\n" in text
    assert "draft: true\n" in text
    parsed = _parse(path, content_dir)
    assert parsed.issues == ()
    post = parsed.post
    assert post.title == "Cómo empezar: guía rápida"
    assert post.slug == "como-empezar-guia-rapida"
    assert post.date == NOW
    assert post.date.utcoffset() == timedelta(hours=1)
    assert post.draft is True
    assert [c.name for c in post.categories] == ["Guías"]
    assert [t.name for t in post.tags] == ["Python", "año nuevo"]
    assert post.lang == "es"
    check = _cli(app, "check", "--warnings-as-errors")
    assert check.exit_code == 0, check.output
    listed = json.loads(_cli(app, "list", "--json").output)
    assert [(e["slug"], e["status"]) for e in listed] == [("como-empezar-guia-rapida", "draft")]


def test_cli_new_publish_is_not_a_draft(content_dir, madrid):
    app = madrid()
    result = _cli(app, "new", "Hola", "--publish")
    assert result.exit_code == 0, result.output
    path = content_dir / "2026-03-01-hola.md"
    assert "draft: false\n" in path.read_text(encoding="utf-8")
    assert _parse(path, content_dir).post.draft is False
    listed = json.loads(_cli(app, "list", "--json").output)
    assert [(e["slug"], e["status"]) for e in listed] == [("hola", "published")]


@pytest.mark.parametrize(
    "title",
    [
        "Año nuevo: ¿qué leer?",
        "Citas: «así», \"dobles\" y 'simples'",
        "#1: el principio",
        "- una lista",
        "yes",
        "null",
        "2024",
        "3.14",
        "@usuario & *estrella* | tubería > mayor: {llave} [corchete], % por ciento",
        "Ends with colon:",
        "Tab\there",
    ],
)
def test_cli_new_quotes_titles_yaml_would_misread(content_dir, madrid, title):
    result = _cli(madrid(), "new", "--", title)
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    parsed = _parse(path, content_dir)
    assert parsed.issues == ()
    assert parsed.post.title == " ".join(title.split())
    assert parsed.post.slug == path.stem.removeprefix("2026-03-01-")


def test_cli_new_title_with_colon_and_accents_is_quoted_not_mangled(content_dir, madrid):
    result = _cli(madrid(), "new", "Pan de masa madre: guía paso a paso")
    assert result.exit_code == 0, result.output
    text = (content_dir / "2026-03-01-pan-de-masa-madre-guia-paso-a-paso.md").read_text("utf-8")
    assert text.splitlines()[1] == "title: 'Pan de masa madre: guía paso a paso'"


def test_cli_new_refuses_a_slug_the_index_already_has(content_dir, write_post, madrid):
    write_post("posts/hola.md", title="Otro", date="2024-01-01")
    app = madrid()
    result = _cli(app, "new", "Hola")
    assert result.exit_code == 1
    assert "slug 'hola' is already the slug of posts/hola.md" in result.output
    assert not (content_dir / "2026-03-01-hola.md").exists()
    result = _cli(app, "new", "Cualquier cosa", "--slug", "Hola")
    assert result.exit_code == 1
    assert "already the slug of posts/hola.md" in result.output


def test_cli_new_refuses_an_alias_the_index_already_has(write_post, madrid):
    write_post("a.md", title="A", aliases="[old-name]")
    result = _cli(madrid(), "new", "Old name")
    assert result.exit_code == 1
    assert "slug 'old-name' is already an alias of a.md" in result.output


def test_cli_new_twice_refuses_the_second(content_dir, madrid):
    app = madrid()
    assert _cli(app, "new", "Twice").exit_code == 0
    original = (content_dir / "2026-03-01-twice.md").read_bytes()
    again = _cli(app, "new", "Twice", "--publish")
    assert again.exit_code == 1
    assert "already" in again.output
    assert (content_dir / "2026-03-01-twice.md").read_bytes() == original


def test_cli_new_never_overwrites_a_file(content_dir, write_post, madrid):
    write_post("2026-03-01-broken.md", text=BAD_DATE)  # invalid, so its slug is not taken
    result = _cli(madrid(), "new", "Broken")
    assert result.exit_code == 1
    assert "already exists; not overwriting it" in result.output
    assert (content_dir / "2026-03-01-broken.md").read_text(encoding="utf-8") == BAD_DATE


def test_cli_new_dir_and_slug(content_dir, madrid):
    result = _cli(madrid(), "new", "Un título largo", "--dir", "posts/2026", "--slug", "Corto")
    assert result.exit_code == 0, result.output
    path = content_dir / "posts" / "2026" / "2026-03-01-corto.md"
    assert result.output.strip() == str(path)
    assert "slug: corto\n" in path.read_text(encoding="utf-8")
    parsed = _parse(path, content_dir)
    assert parsed.issues == ()
    assert (parsed.post.slug, parsed.post.path) == ("corto", "posts/2026/2026-03-01-corto.md")


@pytest.mark.parametrize("folder", ["../outside", "/tmp/elsewhere", "posts/../../x"])
def test_cli_new_dir_must_stay_inside_the_content_folder(content_dir, madrid, folder):
    result = _cli(madrid(), "new", "Fuera", "--dir", folder)
    assert result.exit_code == 2
    assert "inside the content folder" in result.output
    assert not list(content_dir.parent.rglob("*fuera.md"))


def test_cli_new_date_follows_the_timezone_setting(content_dir, make_app):
    app = make_app(timezone="America/Mexico_City")
    app.extensions["contentapi"].clock = lambda: datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    result = _cli(app, "new", "Late night")
    assert result.exit_code == 0, result.output
    path = content_dir / "2026-02-28-late-night.md"  # still the 28th in Mexico City
    assert "date: 2026-02-28T21:00:00-06:00\n" in path.read_text(encoding="utf-8")
    assert _parse(path, content_dir, "America/Mexico_City").issues == ()


def test_cli_new_refuses_what_would_be_invalid(content_dir, madrid):
    result = _cli(madrid(), "new", "Etiquetas", "--tag", "!!!")
    assert result.exit_code == 1
    assert "would not be valid" in result.output
    assert "has no letters or digits" in result.output
    assert list(content_dir.iterdir()) == []
    assert _cli(madrid(), "new", "   ").exit_code == 2
    assert _cli(madrid(), "new", "Ok", "--slug", "¿?").exit_code == 2


def test_cli_new_title_without_letters_gets_a_fallback_slug(content_dir, madrid):
    result = _cli(madrid(), "new", "¿¡!?")
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.name.startswith("2026-03-01-post-")
    parsed = _parse(path, content_dir)
    assert parsed.issues == ()
    assert parsed.post.title == "¿¡!?"


def test_cli_new_warns_about_a_folder_the_loader_skips(content_dir, madrid):
    result = _cli(madrid(), "new", "Oculto", "--dir", "_drafts")
    assert result.exit_code == 0, result.output
    assert "'_drafts' starts with '.' or '_'" in result.stderr
    assert (content_dir / "_drafts" / "2026-03-01-oculto.md").is_file()
