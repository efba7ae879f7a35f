"""Tokens: the one bearer check behind preview and the admin routes, and the signature of
the tokens this server hands out (`/api/v1/changes`); all compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request

from contentapi.settings import Settings

SIGNING_KEY = "contentapi.signing-key"  # in app.extensions: CONTENTAPI_SECRET_KEY or random


def bearer_matches(expected: str) -> bool:
    """True only for `Authorization: Bearer <expected>`; never when `expected` is empty.

    Both sides are hashed before `hmac.compare_digest`, so the time taken says nothing about
    the token's length or how much of it a guess got right.
    """
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_digest(given.strip()), _digest(expected))


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def preview_requested(settings: Settings) -> bool:
    """`Authorization: Bearer <CONTENTAPI_PREVIEW_TOKEN>`, checked once per request; with no
    token configured, preview does not exist."""
    if "preview" not in g:
        g.preview = bearer_matches(settings.preview_token)
    return bool(g.preview)


def carries_credentials() -> bool:
    """Whether the request sent `Authorization` at all (right, wrong or of another scheme):
    such answers are never for a shared cache."""
    return "Authorization" in request.headers


def sign(payload: str) -> str:
    """An HMAC-SHA256 of `payload` (128 bits, hex) under this deployment's signing key."""
    key: bytes = current_app.extensions[SIGNING_KEY]
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def signed(payload: str, signature: str) -> bool:
    """Whether `signature` is what `sign(payload)` gives here."""
    return hmac.compare_digest(signature.encode(), sign(payload).encode())
