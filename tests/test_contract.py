"""openapi.yaml against the app: a valid spec, every route in both, every status produced.

Every response goes through openapi-core: the `ContractClient` of conftest where it checks,
and always `check_as` below, which also parses `application/problem+json` bodies (conftest's
validator leaves them as bytes, so it cannot check their fields) and finds the operation
for what the client does not check: a 405 (its method is not documented), `/media/` paths
(a path parameter cannot hold `/`, so one is checked as a client sends it, `%2F`-encoded)
and `/docs/`.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import referencing
import referencing.jsonschema
from conftest import ROOT, assert_problem, build_app, clear_response_cache, spec
from flask import Flask
from flask.testing import FlaskClient
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from contentapi.engine.schema import FIELDS
from contentapi.outputs.query import SORTS
from contentapi.web.params import FORMATS, SUMMARY_FIELDS
from contentapi.web.views import feeds as feed_views

SPEC_PATH = ROOT / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ALIAS, CANONICAL = "contribuir-open-source", "primera-contribucion-open-source"
DRAFT, SCHEDULED = "dormir-mejor-frente-a-la-pantalla", "ten-years-of-plain-text-publishing"
NESTED_MEDIA = "/media/images/blog/embeddings-espacio.png"
PREVIEW = "contract-preview-token-0123"
ADMIN = "contract-admin-token-0123"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
# A URL answering 200 for each documented path.
SAMPLE = {
    "/api/v1/posts/{slug}": "/api/v1/posts/que-son-los-embeddings",
    "/api/v1/pages/{page}": "/api/v1/pages/about",
    "/api/v1/search": "/api/v1/search?q=flask",
    "/api/v1/categories/{slug}": "/api/v1/categories/cocina",
    "/api/v1/tags/{slug}": "/api/v1/tags/python",
    "/media/{path}": NESTED_MEDIA,
    "/docs/{path}": "/docs/swagger-ui.css",
    "/sitemap-{number}.xml": "/sitemap-1.xml",  # with `split_sitemap`
}


@functools.cache
def spec_dict() -> dict[str, Any]:
    document, _ = read_from_filename(str(SPEC_PATH))
    return document


def operations() -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in spec_dict()["paths"].items()
        for method in item
        if method in METHODS
    ]


def concrete(rule: str) -> list[str]:
    """A Flask rule as OpenAPI paths: `<any(a, b):x>` becomes one path per choice."""
    any_converter = r"<any\(([^)]*)\):\w+>"
    choices = [
        [option.strip() for option in options.split(",")]
        for options in re.findall(any_converter, rule)
    ]
    between = re.split(r"<any\([^)]*\):\w+>", rule)
    paths = []
    for picked in itertools.product(*choices):
        path = "".join(part + value for part, value in zip(between, [*picked, ""], strict=True))
        paths.append(re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", path))
    return paths


def app_operations(app: Flask) -> set[tuple[str, str]]:
    return {
        (path, method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        for path in concrete(rule.rule)
    }


def validator(pointer: str) -> OAS31Validator:
    """A JSON Schema validator for the schema at `pointer` in openapi.yaml, refs resolved."""
    resource = referencing.Resource.from_contents(
        spec_dict(), default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:contentapi", resource)
    return OAS31Validator(
        {"$ref": f"urn:contentapi#{pointer}"},
        registry=registry,
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class RequestAs(WerkzeugOpenAPIRequest):
    """The request as openapi-core sees it, with the method or path replaced."""

    def __init__(self, request: Any, method: str | None = None, path: str | None = None):
        super().__init__(request)
        self._method, self._path = method, path

    @property
    def method(self) -> str:
        return self._method or super().method

    @property
    def path(self) -> str:
        # An OpenAPI path parameter cannot hold `/`: a client sends a media path `%2F`-encoded.
        path = self._path or super().path
        head, _, rest = path.partition("/media/")
        return f"/media/{quote(rest, safe='')}" if not head and rest else path


def check_as(response: Any, method: str | None = None, path: str | None = None) -> None:
    """Validate a response against openapi.yaml, as if sent with this method or path.

    Unlike the ContractClient, it fails for a path or method the contract does not name. Each
    response is checked once: by `check_as` on a `plain_client`, or by the ContractClient.
    """
    request = RequestAs(response.request, method, path)
    spec().validate_response(request, WerkzeugOpenAPIResponse(response))


@pytest.fixture
def split_sitemap(monkeypatch, bundled_app, token_app):
    """Five URLs per sitemap file, so the bundled content needs a sitemap index. The shared
    apps' response caches are emptied before and after, so no other test sees either sitemap."""
    monkeypatch.setattr(feed_views, "SITEMAP_LIMIT", 5)
    for app in (bundled_app, token_app):
        clear_response_cache(app)
    yield
    for app in (bundled_app, token_app):
        clear_response_cache(app)


def plain_client(app: Flask) -> FlaskClient:
    """A test client that does not check the contract by itself."""
    return FlaskClient(app, app.response_class, use_cookies=True)


# (url, status, documented path): through the ContractClient, then `check_as`.
CASES: list[tuple[str, int, str]] = [
    ("/api/v1", 200, "/api/v1"),
    ("/api/v1/posts", 200, "/api/v1/posts"),
    (
        "/api/v1/posts?per_page=2&page=2&sort=title&lang=ES&fields=slug,title,cover",
        200,
        "/api/v1/posts",
    ),
    (
        "/api/v1/posts?tag=python&tag=flask&category=desarrollo-web&author=Lucía Fernández"
        "&from=2024-01-01&to=2024-12-31T23:59:59Z&sort=-updated",
        200,
        "/api/v1/posts",
    ),
    ("/api/v1/posts?page=99&fields=", 200, "/api/v1/posts"),
    ("/api/v1/posts?q=flask&fields=slug,title", 200, "/api/v1/posts"),
    ("/api/v1/search?q=flask", 200, "/api/v1/search"),
    ('/api/v1/search?q="masa madre" -gazpacho&sort=title', 200, "/api/v1/search"),
    ("/api/v1/search?q=pan&fields=slug&lang=es&per_page=1&page=2", 200, "/api/v1/search"),
    ("/api/v1/search?q=no-such-word-anywhere", 200, "/api/v1/search"),
    ("/api/v1/tags/python?q=json", 200, "/api/v1/tags/{slug}"),
    ("/api/v1/posts/que-son-los-embeddings", 200, "/api/v1/posts/{slug}"),
    (
        "/api/v1/posts/flask-en-produccion?formats=html,markdown,plaintext",
        200,
        "/api/v1/posts/{slug}",
    ),
    ("/api/v1/posts/why-i-still-maintain-a-tiny-library?formats=", 200, "/api/v1/posts/{slug}"),
    (f"/api/v1/posts/{CANONICAL}?formats=markdown", 200, "/api/v1/posts/{slug}"),
    ("/api/v1/categories", 200, "/api/v1/categories"),
    ("/api/v1/tags", 200, "/api/v1/tags"),
    ("/api/v1/pages", 200, "/api/v1/pages"),
    ("/api/v1/pages/about", 200, "/api/v1/pages/{page}"),
    ("/api/v1/pages/about?formats=html,markdown,plaintext", 200, "/api/v1/pages/{page}"),
    ("/api/v1/pages/about?formats=blocks", 200, "/api/v1/pages/{page}"),
    ("/api/v1/pages/About?formats=markdown", 301, "/api/v1/pages/{page}"),
    ("/api/v1/pages/about?formats=pdf", 400, "/api/v1/pages/{page}"),
    ("/api/v1/pages/no-such-page", 404, "/api/v1/pages/{page}"),
    ("/api/v1/categories/cocina?per_page=1", 200, "/api/v1/categories/{slug}"),
    ("/api/v1/tags/python?fields=slug&sort=date", 200, "/api/v1/tags/{slug}"),
    ("/api/v1/archive", 200, "/api/v1/archive"),
    ("/api/v1/highlight.css", 200, "/api/v1/highlight.css"),
    ("/openapi.yaml", 200, "/openapi.yaml"),
    ("/healthz", 200, "/healthz"),
    ("/readyz", 200, "/readyz"),
    ("/api/v1/changes", 200, "/api/v1/changes"),
    ("/api/v1/changes?since=0123456789abcdef.12", 200, "/api/v1/changes"),
    ("/api/v1/changes/stream", 200, "/api/v1/changes/stream"),
    ("/api/v1/changes/stream?since=0123456789abcdef.12", 200, "/api/v1/changes/stream"),
    ("/api/v1/posts/que-son-los-embeddings?formats=blocks,html", 200, "/api/v1/posts/{slug}"),
    ("/feeds/rss.xml", 200, "/feeds/rss.xml"),
    ("/feeds/atom.xml?tag=python", 200, "/feeds/atom.xml"),
    ("/feeds/feed.json?category=cocina", 200, "/feeds/feed.json"),
    ("/sitemap.xml", 200, "/sitemap.xml"),
    (f"/api/v1/posts/{ALIAS}?formats=markdown", 301, "/api/v1/posts/{slug}"),
    (
        "/api/v1/posts?page=0&per_page=500&sort=newest&fields=body&from=yesterday&to=2024-13-01",
        400,
        "/api/v1/posts",
    ),
    ("/api/v1/posts/que-son-los-embeddings?formats=pdf", 400, "/api/v1/posts/{slug}"),
    (f"/api/v1/posts/{ALIAS}?formats=html,pdf", 400, "/api/v1/posts/{slug}"),
    ("/api/v1/categories/cocina?per_page=0", 400, "/api/v1/categories/{slug}"),
    ("/api/v1/tags/no-such-tag?page=first", 400, "/api/v1/tags/{slug}"),
    ("/api/v1/changes?since=yesterday", 400, "/api/v1/changes"),
    ("/api/v1/changes/stream?since=yesterday", 400, "/api/v1/changes/stream"),
    ("/api/v1/search", 400, "/api/v1/search"),
    ("/api/v1/search?q=-flask", 400, "/api/v1/search"),
    (f"/api/v1/posts?q={'a' * 1001}", 400, "/api/v1/posts"),
    ("/api/v1/posts/no-such-post", 404, "/api/v1/posts/{slug}"),
    (f"/api/v1/posts/{DRAFT}", 404, "/api/v1/posts/{slug}"),
    (f"/api/v1/posts/{SCHEDULED}", 404, "/api/v1/posts/{slug}"),
    ("/api/v1/categories/no-such-category", 404, "/api/v1/categories/{slug}"),
    ("/api/v1/tags/no-such-tag", 404, "/api/v1/tags/{slug}"),
    ("/media/no-such-file.png", 404, "/media/{path}"),
    ("/media/posts", 404, "/media/{path}"),
    ("/feeds/rss.xml?category=no-such-category", 404, "/feeds/rss.xml"),
    ("/feeds/atom.xml?tag=no-such-tag", 404, "/feeds/atom.xml"),
    ("/feeds/feed.json?tag=no-such-tag", 404, "/feeds/feed.json"),
    ("/sitemap-1.xml", 404, "/sitemap-{number}.xml"),  # one file: no index, no parts
]
# Checked with `check_as` only: /docs/ (skipped by the ContractClient) and nested media.
SPECIAL_CASES: list[tuple[str, int, str]] = [
    ("/docs/", 200, "/docs/"),
    ("/docs/swagger-ui.css", 200, "/docs/{path}"),
    ("/docs/index.html", 200, "/docs/{path}"),
    ("/docs/no-such-asset.js", 404, "/docs/{path}"),
    (NESTED_MEDIA, 200, "/media/{path}"),
    ("/media/posts/2025/2025-07-20-gazpacho-andaluz.markdown", 404, "/media/{path}"),
]
# Files answer Range requests: (path, Range, status).
RANGES = [
    (path, value, status)
    for path in ("/media/{path}", "/openapi.yaml", "/docs/{path}")
    for value, status in (("bytes=0-9", 206), ("bytes=99999999-", 416))
]
# Every operation: 400 to an unknown parameter, 405 to other methods, 500 on failure; every
# GET: 304 to a current ETag.
EVERY_OPERATION = (400, 405, 500)
EVERY_GET = (304,)
OTHER_CASES = [
    ("/readyz", 503),
    ("/sitemap-{number}.xml", 200),
    ("/api/v1/admin/reload", 200),
    ("/api/v1/admin/reload", 401),
    ("/api/v1/admin/reload", 404),
    ("/api/v1/admin/reload", 409),
    ("/api/v1/admin/diagnostics", 200),
    ("/api/v1/admin/diagnostics", 401),
    ("/api/v1/admin/diagnostics", 404),
]


def make_token_app(runtime: Path) -> Flask:
    """The bundled content with preview and admin tokens set, held to the contract."""
    return build_app(
        ROOT / "content", runtime_dir=str(runtime), preview_token=PREVIEW, admin_token=ADMIN
    )


@pytest.fixture(scope="module")
def token_app(tmp_path_factory) -> Flask:
    """`make_token_app()`, shared by the tests that only read from it."""
    return make_token_app(tmp_path_factory.mktemp("runtime"))


@pytest.fixture
def fresh_token_app(tmp_path) -> Flask:
    """`make_token_app()` for one test that changes it (a reload)."""
    return make_token_app(tmp_path / "runtime")


def get_operations() -> list[tuple[str, str]]:
    """Every GET answered with validators (so with 304 too): all but event streams."""
    return [
        (path, method)
        for path, method in operations()
        if method == "get" and not is_stream(spec_dict()["paths"][path][method])
    ]


def is_stream(operation: dict[str, Any]) -> bool:
    return "text/event-stream" in operation["responses"]["200"].get("content", {})


def case_id(case: tuple[str, int, str]) -> str:
    return f"{case[1]}-{case[0]}"


def test_contract_spec_is_valid_openapi_3_1():
    document = spec_dict()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "contentapi"
    assert document["info"]["version"] == "0.1.0"
    assert [server["url"] for server in document["servers"]] == ["/"]


def test_contract_served_spec_is_this_file(bundled_app):
    response = bundled_app.test_client().get("/openapi.yaml")
    assert response.data == SPEC_PATH.read_bytes()


def test_contract_every_route_is_documented(bundled_app):
    documented = set(operations())
    missing = app_operations(bundled_app) - documented
    assert not missing, f"routes missing from openapi.yaml: {sorted(missing)}"


def test_contract_every_documented_path_exists(bundled_app):
    extra = set(operations()) - app_operations(bundled_app)
    assert not extra, f"openapi.yaml documents what the app lacks: {sorted(extra)}"


def test_contract_flask_rules_map_to_openapi_paths():
    assert concrete("/api/v1/<any(categories, tags):kind>/<slug>") == [
        "/api/v1/categories/{slug}",
        "/api/v1/tags/{slug}",
    ]
    assert concrete("/media/<path:path>") == ["/media/{path}"]


def test_contract_every_operation_is_described():
    ids = []
    for path, method in operations():
        operation = spec_dict()["paths"][path][method]
        ids.append(operation["operationId"])
        for key in ("summary", "description", "tags"):
            assert operation.get(key), f"{method.upper()} {path} has no {key}"
        for status in EVERY_OPERATION + (EVERY_GET if (path, method) in get_operations() else ()):
            assert str(status) in operation["responses"], f"{method.upper()} {path}: {status}"
    assert len(ids) == len(set(ids))


def test_contract_every_documented_status_is_exercised():
    exercised = {(path, str(status)) for _, status, path in CASES + SPECIAL_CASES}
    exercised |= {(path, str(status)) for path, _ in operations() for status in EVERY_OPERATION}
    exercised |= {(path, str(status)) for path, _ in get_operations() for status in EVERY_GET}
    exercised |= {(path, str(status)) for path, status in OTHER_CASES}
    exercised |= {(path, str(status)) for path, _, status in RANGES}
    documented = {
        (path, status)
        for path, method in operations()
        for status in spec_dict()["paths"][path][method]["responses"]
    }
    assert documented - exercised == set()
    assert exercised - documented == set()


def test_contract_parameters_list_what_the_code_accepts():
    components = spec_dict()["components"]
    parameters = components["parameters"]
    # An empty entry (`fields=`, `formats=a,,b`) is accepted and ignored.
    assert parameters["fields"]["schema"]["items"]["enum"] == [*SUMMARY_FIELDS, ""]
    assert parameters["formats"]["schema"]["items"]["enum"] == [*FORMATS, ""]
    assert parameters["sort"]["schema"]["enum"] == list(SORTS)
    # An empty or blank `q` is a 400 (ListArgs, SearchArgs), as both `q` parameters say.
    assert (
        parameters["q"]["schema"]["minLength"] == parameters["searchQuery"]["schema"]["minLength"]
    )
    schemas = components["schemas"]
    assert schemas["PostSummary"]["required"] == list(SUMMARY_FIELDS)
    assert schemas["Post"]["required"][: len(SUMMARY_FIELDS)] == list(SUMMARY_FIELDS)
    assert list(schemas["PostSummaryFields"]["properties"]) == [*SUMMARY_FIELDS, "status"]


# The JSON types openapi.yaml must give a field of each kind of the field table.
KIND_TYPES = {
    "text": ["string"],
    "optional-text": ["string", "null"],
    "date": ["string"],
    "optional-date": ["string", "null"],
    "terms": ["array"],
    "texts": ["array"],
    "mapping": ["object"],
    "flag": ["boolean"],
}


def test_contract_post_schemas_agree_with_the_field_table():
    """Each front-matter field the JSON shows is documented where it is shown, with its type;
    the fields it does not show are not documented."""
    schemas = spec_dict()["components"]["schemas"]
    summary_props = schemas["PostSummaryFields"]["properties"]
    post_props = schemas["Post"]["properties"]
    for field in FIELDS:
        if field.shown is None:
            assert field.name not in summary_props, field.name
            assert field.name not in post_props, field.name
            continue
        where = summary_props if field.shown == "summary" else post_props
        assert field.name in where, f"openapi.yaml does not document {field.name!r}"
        assert field.name in schemas["Post"]["required"], field.name
        documented = where[field.name].get("type")
        assert documented is not None, field.name
        types = documented if isinstance(documented, list) else [documented]
        assert types == KIND_TYPES[field.kind.name], field.name
        if field.kind.name.endswith("date"):
            assert where[field.name]["format"] == "date-time", field.name
        if field.kind.name == "terms":
            assert where[field.name]["items"] == {"$ref": "#/components/schemas/TermRef"}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_contract_response_matches_spec(bundled_app, case):
    url, status, _ = case
    response = plain_client(bundled_app).get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    check_as(response)
    if status >= 400:
        assert_problem(response, status)


@pytest.mark.parametrize("case", SPECIAL_CASES, ids=case_id)
def test_contract_docs_and_nested_media_match_spec(bundled_app, case):
    url, status, _ = case
    response = plain_client(bundled_app).get(url)
    assert response.status_code == status
    check_as(response)


def test_contract_list_headers_and_full_summaries(bundled_app):
    response = bundled_app.test_client().get("/api/v1/posts?per_page=2")
    body = response.get_json()
    assert response.headers["X-Total-Count"] == str(body["meta"]["pagination"]["total"])
    assert f'<{body["links"]["next"]}>; rel="next"' in response.headers["Link"]
    assert all(list(item) == list(SUMMARY_FIELDS) for item in body["data"])


def test_contract_sparse_fields_are_only_those_asked_for(bundled_app):
    body = bundled_app.test_client().get("/api/v1/posts?fields=slug,title").get_json()
    assert all(set(item) == {"slug", "title"} for item in body["data"])


def test_contract_alias_redirects_with_location(bundled_app):
    response = bundled_app.test_client().get(f"/api/v1/posts/{ALIAS}?formats=markdown")
    assert response.status_code == 301
    assert response.headers["Location"] == (
        f"http://localhost/api/v1/posts/{CANONICAL}?formats=markdown"
    )


def test_contract_bad_request_names_every_parameter(bundled_app):
    response = bundled_app.test_client().get(
        "/api/v1/posts?page=0&per_page=500&sort=newest&fields=body&from=yesterday&to=x"
    )
    body = assert_problem(response, 400)
    assert [error["parameter"] for error in body["errors"]] == [
        "fields",
        "from",
        "page",
        "per_page",
        "sort",
        "to",
    ]


def test_contract_unknown_route_is_a_not_found_problem(bundled_app):
    response = plain_client(bundled_app).get("/api/v1/no-such-route")
    body = assert_problem(response, 404)
    schema = "/components/responses/NotFound/content/application~1problem+json/schema"
    validator(schema).validate(body)


@pytest.mark.parametrize(("path", "method"), get_operations(), ids=lambda value: value)
@pytest.mark.usefixtures("split_sitemap")
def test_contract_current_copy_is_not_modified(token_app, path, method):
    client = plain_client(token_app)
    url = SAMPLE.get(path, path)
    first = client.get(url, headers=ADMIN_AUTH)
    assert first.status_code == 200
    check_as(first)
    again = client.get(url, headers={**ADMIN_AUTH, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    check_as(again)


@pytest.mark.parametrize(("path", "value", "status"), RANGES)
def test_contract_files_answer_range_requests(bundled_app, path, value, status):
    response = plain_client(bundled_app).get(SAMPLE.get(path, path), headers={"Range": value})
    assert response.status_code == status
    assert response.headers["Content-Range"]
    check_as(response)


@pytest.mark.parametrize(("path", "method"), operations(), ids=lambda value: value)
def test_contract_other_methods_are_not_allowed(token_app, path, method):
    other = "GET" if method == "post" else "POST"
    response = plain_client(token_app).open(SAMPLE.get(path, path), method=other)
    assert_problem(response, 405)
    assert method.upper() in response.headers["Allow"]
    check_as(response, method=method)  # as documented under the operation


@pytest.mark.parametrize(("path", "method"), operations(), ids=lambda value: value)
def test_contract_unknown_parameter_is_a_bad_request(token_app, path, method):
    url = SAMPLE.get(path, path)
    query = "&" if "?" in url else "?"
    response = plain_client(token_app).open(
        f"{url}{query}cb=1", method=method.upper(), headers=ADMIN_AUTH
    )
    body = assert_problem(response, 400, "cb")
    check_as(response)
    assert [error["parameter"] for error in body["errors"]] == ["cb"]


@pytest.mark.parametrize(("path", "method"), operations(), ids=lambda value: value)
def test_contract_unexpected_failure_is_an_internal_error(token_app, monkeypatch, path, method):
    def fail() -> None:
        raise RuntimeError("boom")

    # A hook that fails every request, run first (before the response cache could answer);
    # set on the shared app for this test only (Flask's `before_request` is for setup time).
    hooks = token_app.before_request_funcs
    monkeypatch.setitem(hooks, None, [fail, *hooks.get(None, [])])
    url = SAMPLE.get(path, path)
    response = plain_client(token_app).open(url, method=method.upper(), headers=ADMIN_AUTH)
    body = assert_problem(response, 500)
    assert "boom" not in body["detail"]
    check_as(response)


def test_contract_not_ready_is_service_unavailable(bundled_app, monkeypatch):
    store = bundled_app.extensions["contentapi"]
    monkeypatch.setattr(type(store), "ready", property(lambda self: False))
    response = plain_client(bundled_app).get("/readyz")
    assert_problem(response, 503)
    check_as(response)


@pytest.mark.usefixtures("split_sitemap")
def test_contract_split_sitemap_has_an_index_and_files(bundled_app):
    client = bundled_app.test_client()
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    assert b"<sitemapindex" in index.data
    assert b"/sitemap-3.xml</loc>" in index.data
    page = client.get("/sitemap-1.xml")
    assert page.status_code == 200
    assert b"<urlset" in page.data
    assert_problem(client.get("/sitemap-99.xml"), 404)


def test_contract_changes_token_round_trip(bundled_app):
    client = plain_client(bundled_app)
    response = client.get("/api/v1/changes")
    check_as(response)
    first = response.get_json()
    assert first["reset"] is True
    assert first["added"]
    again = client.get(f"/api/v1/changes?since={first['token']}")
    check_as(again)
    assert again.get_json()["reset"] is False
    bad = client.get("/api/v1/changes?since=yesterday")
    check_as(bad)
    assert_problem(bad, 400, "since")


def test_contract_admin_is_not_found_without_a_token(bundled_app):
    client = plain_client(bundled_app)
    for response in (
        client.post("/api/v1/admin/reload"),
        client.get("/api/v1/admin/diagnostics", headers=ADMIN_AUTH),
    ):
        assert_problem(response, 404)
        check_as(response)


def test_contract_admin_needs_the_token(token_app):
    client = plain_client(token_app)
    wrong = {"Authorization": "Bearer not-the-admin-token"}
    for response in (
        client.post("/api/v1/admin/reload"),
        client.get("/api/v1/admin/diagnostics", headers=wrong),
    ):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        check_as(response)


def test_contract_admin_reload_and_diagnostics(fresh_token_app):
    client = plain_client(fresh_token_app)
    reload = client.post("/api/v1/admin/reload", headers=ADMIN_AUTH)
    assert reload.status_code == 200
    check_as(reload)
    assert reload.get_json()["reloaded"] is True
    diagnostics = client.get("/api/v1/admin/diagnostics", headers=ADMIN_AUTH)
    assert diagnostics.status_code == 200
    check_as(diagnostics)
    assert diagnostics.get_json()["errors"] == 0


def test_contract_admin_strict_reload_refused_is_a_conflict(write_post, make_app):
    write_post("good.md", title="Good", date="2024-01-01")
    client = plain_client(make_app(strict="true", admin_token=ADMIN))
    write_post("bad.md", title="Bad", date="not a date")
    response = client.post("/api/v1/admin/reload", headers=ADMIN_AUTH)
    body = assert_problem(response, 409)
    check_as(response)
    assert [issue["path"] for issue in body["issues"]] == ["bad.md"]
    diagnostics = client.get("/api/v1/admin/diagnostics", headers=ADMIN_AUTH)
    check_as(diagnostics)
    assert diagnostics.get_json()["errors"] == 0  # the previous version is still served


def test_contract_preview_adds_status_and_shows_hidden_posts(token_app):
    client = plain_client(token_app)
    auth = {"Authorization": f"Bearer {PREVIEW}"}
    listed = client.get("/api/v1/posts?per_page=100", headers=auth)
    check_as(listed)
    statuses = {item["slug"]: item["status"] for item in listed.get_json()["data"]}
    assert statuses[DRAFT] == "draft"
    assert statuses[SCHEDULED] == "scheduled"
    assert statuses[CANONICAL] == "published"
    sparse = client.get("/api/v1/tags/python?fields=slug", headers=auth)
    check_as(sparse)
    assert all(set(item) == {"slug", "status"} for item in sparse.get_json()["data"])
    draft = client.get(f"/api/v1/posts/{DRAFT}", headers=auth)
    check_as(draft)
    assert draft.get_json()["status"] == "draft"
    public = client.get(f"/api/v1/posts/{CANONICAL}")
    check_as(public)
    assert "status" not in public.get_json()


def test_contract_pretty_json_is_the_same_document(bundled_app):
    client = plain_client(bundled_app)
    pretty = client.get("/api/v1/posts?per_page=2&pretty=1")
    check_as(pretty)
    assert b'\n  "data": [' in pretty.data
    compact = client.get("/api/v1/posts?per_page=2")
    check_as(compact)
    assert pretty.get_json()["data"] == compact.get_json()["data"]
    problem = client.get("/api/v1/posts/no-such-post?pretty=1")
    check_as(problem)
    assert b'\n  "status": 404' in problem.data


def examples() -> list[tuple[str, str, Any]]:
    """(where, schema pointer, value) for every example of a media type, parameter or header."""
    found = []

    def collect(node: Any, pointer: str) -> None:
        if not isinstance(node, dict):
            return
        if "schema" in node and "$ref" not in node:
            if "example" in node:
                found.append((pointer, f"{pointer}/schema", node["example"]))
            for name, example in node.get("examples", {}).items():
                found.append((f"{pointer}/examples/{name}", f"{pointer}/schema", example["value"]))
        for key, value in node.items():
            if key not in {"schema", "examples", "example"}:
                collect(value, f"{pointer}/{escape(str(key))}")

    collect(spec_dict()["paths"], "/paths")
    collect(spec_dict()["components"], "/components")
    return found


def test_contract_has_examples_of_every_json_response():
    where = {pointer for pointer, _, _ in examples()}
    for path, method in operations():
        for status, response in spec_dict()["paths"][path][method]["responses"].items():
            if "application/json" in response.get("content", {}):
                prefix = f"/paths/{escape(path)}/{method}/responses/{status}/"
                assert any(pointer.startswith(prefix) for pointer in where), prefix


@pytest.mark.parametrize(
    ("schema", "value"),
    [pytest.param(schema, value, id=where) for where, schema, value in examples()],
)
def test_contract_examples_match_their_schemas(schema, value):
    validator(schema).validate(value)


CLOSED = [
    ("/api/v1", "Root", ()),
    ("/api/v1/posts", "PostList", ("data", 0)),
    ("/api/v1/posts/flask-en-produccion", "Post", ("related", 0)),
    ("/api/v1/posts/que-son-los-embeddings?formats=blocks", "Post", ("blocks", 1)),
    ("/api/v1/posts/flask-en-produccion?formats=blocks", "Post", ("blocks", 3, "children", 0)),
    ("/api/v1/posts/que-son-los-embeddings", "Post", ("images", 0)),
    ("/api/v1/search?q=flask", "PostList", ("data", 0, "snippets", 0)),
    ("/api/v1/categories", "TermList", ("data", 0)),
    ("/api/v1/tags/python", "TermPostList", ("term",)),
    ("/api/v1/archive", "Archive", ("data", 0, "months", 0)),
    ("/api/v1/posts?page=0", "Problem", ("errors", 0)),
    ("/api/v1/changes", "Changes", ("added", 0)),
    ("/feeds/feed.json", "JsonFeed", ("items", 0)),
]


@pytest.mark.parametrize(("url", "name", "inner"), CLOSED, ids=[c[1] for c in CLOSED])
def test_contract_undocumented_fields_fail(bundled_app, url, name, inner):
    body = bundled_app.test_client().get(url).get_json(force=True)
    check = validator(f"/components/schemas/{name}")
    check.validate(body)
    for where in ((), inner):
        changed = copy.deepcopy(body)
        target = changed
        for key in where:
            target = target[key]
        target["surprise"] = True
        assert not check.is_valid(changed), f"{name} accepts an undocumented field at {where}"


def test_contract_every_bundled_posts_blocks_match_the_block_schema(token_app):
    """Each bundled post, drafts and scheduled ones included (through preview), with every
    format: the whole response through openapi-core, and each node against `Block`."""
    client = token_app.test_client()
    block = validator("/components/schemas/Block")
    auth = {"Authorization": f"Bearer {PREVIEW}"}
    slugs = sorted(post.slug for post in token_app.extensions["contentapi"].index.posts)
    assert len(slugs) >= 16
    kinds: set[str] = set()
    for slug in slugs:
        url = f"/api/v1/posts/{slug}?formats=blocks,html,plaintext,markdown"
        response = client.get(url, headers=auth)  # the ContractClient validates it
        assert response.status_code == 200, slug
        body = response.get_json()
        assert body["blocks_version"] == 1
        for node in body["blocks"]:
            block.validate(node)
            kinds.add(node["type"])
    assert {"heading", "paragraph", "list", "code", "image", "table", "footnotes"} <= kinds


@pytest.mark.parametrize(
    "node",
    [
        {"type": "paragraph", "children": [{"type": "text", "text": "x", "marks": ["bold"]}]},
        {"type": "paragraph", "children": [{"type": "text", "text": "<b>x</b>"}]},
        {"type": "heading", "level": 7, "id": "x", "children": []},
        {"type": "video", "src": "x"},
        {
            "type": "image",
            "src": "x",
            "alt": "",
            "title": None,
            "width": 0,
            "height": 1,
            "placeholder": None,
        },
    ],
    ids=["unknown-mark", "no-marks", "level-7", "unknown-type", "zero-width"],
)
def test_contract_block_schema_rejects_what_the_api_never_sends(node):
    assert not validator("/components/schemas/Block").is_valid(node)
