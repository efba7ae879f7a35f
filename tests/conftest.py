"""Fixtures: an app over a small corpus written per test, and a client held to openapi.yaml."""

from __future__ import annotations

import copy
import functools
import gzip
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import brotli
import jsonschema
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from contentapi import create_app

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
SHARED_POST = ROOT.parent / "shared" / "examples" / "real-post-es.md"


@functools.cache
def spec() -> OpenAPI:
    """The contract, parsing problem+json and feed+json bodies as the JSON they are."""
    json_types = ("application/problem+json", "application/feed+json")
    config = Config(extra_media_type_deserializers=dict.fromkeys(json_types, json_loads))
    return OpenAPI.from_file_path(str(ROOT / "openapi.yaml"), config=config)


def check_contract(response: Any) -> None:
    """Fail unless the response's status, headers and body are what openapi.yaml promises.

    A compressed body is checked as the client sees it once decoded. A path the spec does not
    name (an unknown route) must still answer with the spec's Problem body.
    """
    response = _decoded(response)
    request = WerkzeugOpenAPIRequest(response.request)
    try:
        spec().validate_response(request, WerkzeugOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):  # an unknown route, or a method it lacks
        assert response.status_code in {404, 405}, response.request.path
        jsonschema.validate(response.get_json(force=True), _problem_schema())


@functools.cache
def _problem_schema() -> dict:
    """The spec's Problem schema, with the whole document around it so its `$ref`s resolve."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 10 times faster
    document = yaml.load((ROOT / "openapi.yaml").read_text(encoding="utf-8"), Loader=loader)
    return {**document, "$ref": "#/components/schemas/Problem"}


def _decoded(response: Any) -> Any:
    encoding = response.headers.get("Content-Encoding")
    if not encoding:
        return response
    decode = {"gzip": gzip.decompress, "br": brotli.decompress}[encoding]
    plain = copy.copy(response)
    plain.headers = response.headers.copy()
    plain.set_data(decode(response.get_data()))
    del plain.headers["Content-Encoding"]
    return plain


def assert_problem(response: Any, status: int, parameter: str | None = None) -> dict:
    """The one error shape: RFC 9457 problem+json, naming the bad parameter when there is one."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert "Traceback" not in response.get_data(as_text=True)
    if parameter is not None:
        assert parameter in {error["parameter"] for error in body["errors"]}
    return body


class ContractClient(FlaskClient):
    """A test client that checks every response against the OpenAPI contract."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        path, method = response.request.path, response.request.method
        # Swagger UI's and the content folder's static files have paths with slashes that no
        # OpenAPI path template matches; HEAD answers are GET's headers without a body. Tests
        # check those directly (test_contract.py, test_http.py).
        if method not in {"OPTIONS", "HEAD"} and not path.startswith(("/docs/", "/media/")):
            check_contract(response)
        return response


def post_text(
    title: str = "A post",
    date: str = "2024-01-01",
    body: str = "Some text.",
    **fields: Any,
) -> str:
    """A post file's text; extra fields are written as YAML `key: value` lines as given."""
    lines = [f"title: {title}", f"date: {date}"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + textwrap.dedent(body).strip() + "\n"


WritePost = Callable[..., Path]


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`auto` parse caches land in a temporary folder, never in the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
        yield


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


@pytest.fixture
def write_post(content_dir: Path) -> WritePost:
    """Write `content/<path>` from `post_text(**fields)`, or raw text with `text=`."""

    def write(path: str, text: str | None = None, **fields: Any) -> Path:
        target = content_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if text is not None else post_text(**fields), encoding="utf-8")
        return target

    return write


def build_app(content: Path, warm_up: bool = False, **settings: Any) -> Flask:
    """An app over `content` whose test client checks the contract; `settings` by lowercase name
    (`runtime_dir` is required: a folder of the test's own, never the user's).

    The search index is not built in a background thread at start unless `warm_up=True`: the
    first search builds it, and a thread per app would compete with the tests for the CPU.
    """
    assert "runtime_dir" in settings, "give the app a runtime_dir of the test's own"
    settings.setdefault("parse_cache", "off")  # tests never write to ~/.cache
    settings.setdefault("secret_key", "test-secret-key-0123456789")  # signs sync tokens
    config = {f"CONTENTAPI_{key.upper()}": value for key, value in settings.items()}
    app = create_app(
        {
            "TESTING": True,
            "SEARCH_WARM_UP": warm_up,
            "CONTENTAPI_CONTENT_DIR": str(content),
            **config,
        }
    )
    app.test_client_class = ContractClient
    return app


def clear_response_cache(app: Flask) -> None:
    """Empty the app's server-side response cache (after a test changed what a URL serves)."""
    for backend in app.extensions.get("cache", {}).values():
        backend.clear()


@pytest.fixture
def make_app(content_dir: Path) -> Callable[..., Flask]:
    """Build an app over `content_dir` once the test has written its posts."""

    def make(**settings: Any) -> Flask:
        # Apps of one test are one deployment: they share the folder where workers signal
        # reloads to each other (and, in build_app, the key that signs sync tokens).
        settings.setdefault("runtime_dir", str(content_dir.parent / "runtime"))
        return build_app(content_dir, **settings)

    return make


@pytest.fixture
def make_client(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    """`make_client(**settings)`: a contract-checking client over the posts written so far."""
    return lambda **settings: make_app(**settings).test_client()


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The app over the repository's own `content/`, as `make run` serves it; one per test, so
    a test may change it (its clock, its hooks, its store)."""
    return build_app(ROOT / "content", runtime_dir=str(tmp_path / "runtime-bundled"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def bundled_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The same app, built once per module and shared by tests that only read from it (its
    render and response caches stay warm). A test that changes the app or what a URL serves
    uses `app` instead, or calls `clear_response_cache` before and after."""
    return build_app(ROOT / "content", runtime_dir=str(tmp_path_factory.mktemp("runtime")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free loopback port, stopped after the tests."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it with apt-get)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[tuple[int, Path]]:
    """gunicorn with the repository's config, 2 single-threaded workers and an access log of
    `<pid> <status> <path>` lines; yields (port, log)."""
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_RUNTIME_DIR": str(tmp_path / "runtime"),
        **{f"CONTENTAPI_{key.upper()}": value for key, value in settings.items()},
    }
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--threads",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(log),
            "--access-logformat",
            "%(p)s %(s)s %(U)s",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(work: Callable[[str], object], text: str) -> float:
    """The best of three CPU times of `work(text)`: for growth tests on a shared machine, where
    other processes must not count."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work(text)
        best = min(best, time.process_time() - started)
    return best
