"""contentapi.web.errors: every failure is an RFC 9457 problem+json body, never HTML."""

from __future__ import annotations

import pytest
from conftest import assert_problem
from flask import Flask, abort
from flask.testing import FlaskClient

from contentapi.web import errors
from contentapi.web.errors import InvalidParameters

PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8"
SECRET = "password=hunter2 in /srv/contentapi/secret_module.py"


@pytest.fixture
def tiny() -> FlaskClient:
    """A tiny app with only the error handlers and a few routes that fail on purpose."""
    app = Flask(__name__)
    app.testing = True
    errors.register(app)

    @app.get("/items")
    def items():
        return {"items": []}

    @app.get("/boom")
    def boom():
        raise RuntimeError(SECRET)

    @app.get("/key")
    def key():
        return {}["missing"]

    @app.get("/params")
    def params():
        raise InvalidParameters(
            [
                {"parameter": "page", "message": "Not a valid integer."},
                {"parameter": "sort", "message": "Must be one of: -date, date."},
            ]
        )

    @app.get("/gone")
    def gone():
        abort(404, description="No post with slug 'gone'.")

    return app.test_client()


def test_errors_unknown_route_is_a_json_problem_404(tiny):
    response = tiny.get("/nowhere/at/all")
    body = assert_problem(response, 404)
    assert body["title"] == "Not Found"
    assert body["type"] == "about:blank"
    assert body["instance"] == "/nowhere/at/all"
    assert "<html" not in response.get_data(as_text=True).lower()


def test_errors_problem_content_type_has_charset(tiny):
    response = tiny.get("/nowhere")
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE


def test_errors_abort_keeps_its_description(tiny):
    body = assert_problem(tiny.get("/gone"), 404)
    assert body["detail"] == "No post with slug 'gone'."


def test_errors_method_not_allowed_keeps_allow_header(tiny):
    response = tiny.post("/items")
    body = assert_problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed
    assert "POST" not in allowed
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE


@pytest.mark.parametrize("path", ["/boom", "/key"])
def test_errors_exception_in_a_view_is_a_bare_500_problem(tiny, path):
    response = tiny.get(path)
    body = assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "hunter2", "secret_module", ".py", "RuntimeError", "KeyError"):
        assert leak not in text
    assert "missing" not in text


def test_errors_exception_in_a_view_is_logged_for_operators(tiny, caplog):
    tiny.get("/boom")
    record = next(r for r in caplog.records if "unhandled error on GET /boom" in r.getMessage())
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


def test_errors_invalid_parameters_is_a_400_naming_each_parameter(tiny):
    response = tiny.get("/params")
    body = assert_problem(response, 400, parameter="page")
    assert body["title"] == "Bad Request"
    assert body["errors"] == [
        {"parameter": "page", "message": "Not a valid integer."},
        {"parameter": "sort", "message": "Must be one of: -date, date."},
    ]
    assert response.headers["Content-Type"] == PROBLEM_CONTENT_TYPE


def test_errors_other_problems_have_no_errors_list(tiny):
    assert "errors" not in tiny.get("/nowhere").get_json()
    assert "errors" not in tiny.get("/boom").get_json()


def test_errors_problem_body_is_utf8_and_instance_a_uri_reference(tiny):
    response = tiny.get("/nowhere/año")
    # RFC 9457: `instance` is a URI reference, so the path is percent-encoded there.
    assert response.get_json()["instance"] == "/nowhere/a%C3%B1o"


def test_errors_app_answers_unknown_api_paths_with_problems(write_post, make_app):
    write_post("a.md", title="A")
    client = FlaskClient(make_app())  # the handler wiring, not the contract
    body = assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"
    response = client.delete("/api/v1/posts")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_errors_app_bad_query_parameter_is_a_400_problem(write_post, make_app):
    write_post("a.md", title="A")
    client = FlaskClient(make_app(max_per_page="20"))
    response = client.get("/api/v1/posts?per_page=21&page=abc")
    body = assert_problem(response, 400, parameter="per_page")
    assert [error["parameter"] for error in body["errors"]] == ["page", "per_page"]


@pytest.mark.parametrize(
    ("value", "indented"),
    [("1", True), ("true", True), ("yes", True), ("0", False), ("no", False), ("TRUE", False)],
)
def test_errors_pretty_values_indent_problems(tiny, value, indented):
    text = tiny.get(f"/gone?pretty={value}").get_data(as_text=True)
    assert ('\n  "status": 404' in text) is indented
