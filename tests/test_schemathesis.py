"""Property-based contract check: schemathesis generates requests from openapi.yaml and runs
every check on the responses. Bounded (a fixed number of examples per operation) and
deterministic (derandomised), so CI runs the same cases every time."""

from __future__ import annotations

import schemathesis
from conftest import ROOT
from hypothesis import HealthCheck, settings

from contentapi import create_app

APP = create_app(
    {
        "TESTING": True,
        "CONTENTAPI_CONTENT_DIR": str(ROOT / "content"),
        "CONTENTAPI_PARSE_CACHE": "off",
        "CONTENTAPI_CACHE_TYPE": "NullCache",
    }
)
schema = schemathesis.openapi.from_wsgi("/openapi.yaml", APP)


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_schemathesis_every_operation_meets_the_contract(case):
    case.call_and_validate()
