"""Logs: one line per event in text and JSON, whatever a URL or a file name holds."""

from __future__ import annotations

import io
import json
import logging

import pytest

from contentapi.service.logs import escape_controls

FORGED = (
    "/api/v1/posts/x%0D%0A1999-01-01 00:00:00,000 INFO contentapi.access: GET /admin 200%00%1B[2J"
)


@pytest.fixture
def log_output():
    """What the app's own log handler writes, with the format the app configured."""

    def capture(app):
        logger = logging.getLogger("contentapi")
        own = next(h for h in logger.handlers if getattr(h, "_contentapi", False))
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(own.formatter)
        logger.addHandler(handler)
        captured.append(handler)
        return stream

    captured: list[logging.Handler] = []
    yield capture
    for handler in captured:
        logging.getLogger("contentapi").removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\r\nb", "a\\r\\nb"),
        ("nul\x00esc\x1b[31m", "nul\\x00esc\\x1b[31m"),
        ("tab\tdel\x7fnel\x85ls\u2028", "tab\\tdel\\x7fnel\\x85ls\\u2028"),
        ("año/ñ.md", "año/ñ.md"),
    ],
)
def test_logs_escape_controls(text, expected):
    assert escape_controls(text) == expected


def test_logs_text_access_log_cannot_be_forged_by_a_url(write_post, make_app, log_output):
    write_post("a.md", title="A")
    app = make_app(log_format="text")
    output = log_output(app)
    app.test_client().get(FORGED)
    lines = output.getvalue().splitlines()
    assert not any(line.startswith("1999") for line in lines), lines  # no forged line
    access = [line for line in lines if "contentapi.access" in line]
    assert len(access) == 1
    assert "x\\r\\n1999-01-01" in access[0]
    assert "\\x00\\x1b[2J 404" in access[0]
    assert "\x1b" not in output.getvalue() and "\x00" not in output.getvalue()


def test_logs_text_content_log_cannot_be_forged_by_a_file_name(
    write_post, make_app, log_output, content_dir
):
    write_post("a.md", title="A")
    app = make_app(log_format="text")
    output = log_output(app)
    name = "b\n1999-01-01 00:00:00,000 INFO contentapi: 0 invalid\x1b[8m.md"
    write_post(name, text="---\ntitle: B\n---\nsin fecha\n")
    app.extensions["contentapi"].reload()
    problem = [line for line in output.getvalue().splitlines() if "error" in line]
    assert len(problem) == 1
    assert "b\\n1999-01-01" in problem[0] and "\\x1b[8m.md" in problem[0]
    assert not any(line.startswith("1999") for line in output.getvalue().splitlines())


def test_logs_json_lines_stay_one_object_per_line(write_post, make_app, log_output):
    write_post("a.md", title="A")
    app = make_app(log_format="json")
    output = log_output(app)
    app.test_client().get(FORGED)
    entries = [json.loads(line) for line in output.getvalue().splitlines()]
    access = [entry for entry in entries if entry["logger"] == "contentapi.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["path"].startswith("/api/v1/posts/x\r\n1999")
    assert entry["status"] == 404
