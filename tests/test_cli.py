"""`flask content check`: every problem listed as `path:line: severity: field: message`."""

from __future__ import annotations

import re

import pytest

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
    (content_dir / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write_post("img.md", title="Img", image="chart.png", body="![a chart](chart.png)")
    result = check("--warnings-as-errors")
    assert result.exit_code == 0, result.output
    assert _summary(result.output)[:3] == (1, 0, 0)
