"""contentapi.web.auth: the one bearer-token check, preview, and signed tokens."""

from __future__ import annotations

import pytest
from flask import Flask

from contentapi.settings import Settings
from contentapi.web import auth

TOKEN = "preview-token-0123456789"


def _app() -> Flask:
    app = Flask(__name__)
    app.extensions[auth.SIGNING_KEY] = b"k" * 32
    return app


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),  # the scheme is case-insensitive (RFC 9110)
        (f"Bearer  {TOKEN} ", True),
        ("Bearer wrong-token-0123456789", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (TOKEN, False),
        (f"Basic {TOKEN}", False),
        ("Bearer ", False),
        (None, False),
    ],
)
def test_bearer_matches_only_the_exact_token(header, expected):
    headers = {"Authorization": header} if header is not None else {}
    with _app().test_request_context("/", headers=headers):
        assert auth.bearer_matches(TOKEN) is expected


def test_bearer_matches_nothing_when_no_token_is_configured():
    for header in ["Bearer ", "Bearer", "Bearer x"]:
        with _app().test_request_context("/", headers={"Authorization": header}):
            assert auth.bearer_matches("") is False


def test_bearer_matches_non_ascii_input_without_error():
    with _app().test_request_context("/", headers={"Authorization": "Bearer ñandú"}):
        assert auth.bearer_matches(TOKEN) is False


def test_preview_requested_needs_the_configured_token():
    on = Settings.from_env({}, {"CONTENTAPI_PREVIEW_TOKEN": TOKEN})
    off = Settings.from_env({})
    auth_header = {"Authorization": f"Bearer {TOKEN}"}
    with _app().test_request_context("/", headers=auth_header):
        assert auth.preview_requested(on) is True
    with _app().test_request_context("/", headers=auth_header):
        assert auth.preview_requested(off) is False
    with _app().test_request_context("/"):
        assert auth.preview_requested(on) is False


def test_carries_credentials_whatever_they_are():
    with _app().test_request_context("/", headers={"Authorization": "Bearer nope"}):
        assert auth.carries_credentials()
    with _app().test_request_context("/"):
        assert not auth.carries_credentials()


def test_sign_is_checked_by_signed_and_depends_on_key_and_payload():
    app = _app()
    with app.app_context():
        signature = auth.sign("abc.123")
        assert len(signature) == 32
        assert auth.signed("abc.123", signature)
        assert not auth.signed("abc.124", signature)
        assert not auth.signed("abc.123", signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    other = Flask(__name__)
    other.extensions[auth.SIGNING_KEY] = b"o" * 32
    with other.app_context():
        assert not auth.signed("abc.123", signature)
