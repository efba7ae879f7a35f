"""Property-based contract check: schemathesis generates requests from openapi.yaml and runs
every check it has on the responses. Bounded (30 examples per operation) and seeded, so CI
runs the same cases every time."""

from __future__ import annotations

import tempfile

import schemathesis
from conftest import ROOT
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import CHECKS, load_all_checks

from contentapi import create_app

# Its own runtime folder: the generated admin reloads must not signal a `make run` serving the
# same content folder (nor other test apps) to reload.
RUNTIME = tempfile.TemporaryDirectory(prefix="contentapi-schemathesis-")
APP = create_app(
    {
        "TESTING": True,
        "SEARCH_WARM_UP": False,  # the first generated search builds the index
        "CONTENTAPI_CONTENT_DIR": str(ROOT / "content"),
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_RUNTIME_DIR": RUNTIME.name,
        "CONTENTAPI_CACHE_TYPE": "NullCache",
        "CONTENTAPI_ADMIN_TOKEN": "admin-token-0123456789",
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.yaml", APP)
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())


@schema.parametrize()
@seed(20261128)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_every_operation_meets_the_contract(case):
    # Bodies are checked as sent uncompressed; compression has its own tests (test_http.py).
    case.call_and_validate(checks=ALL_CHECKS, headers={"Accept-Encoding": "identity"})
