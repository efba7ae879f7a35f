"""`/api/v1/changes`: what an offline-first client must fetch or drop since its last sync.

A token is `<version>.<unix time>.<signature>`: the index version and the moment it was
issued, signed with an HMAC keyed by `CONTENTAPI_SECRET_KEY` (or a random key per start). The
time says which scheduled posts the client already saw, so it is only believed when this
server signed it: a client cannot choose the moment visibility is judged at, and so cannot
learn when a scheduled post goes public.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify

from contentapi.outputs.query import changes, index_snapshot, published
from contentapi.outputs.serialize import change
from contentapi.web.auth import sign, signed
from contentapi.web.errors import InvalidParameters
from contentapi.web.params import ChangesArgs
from contentapi.web.request_state import RequestState, current
from contentapi.web.routes import declare

bp = Blueprint("changes", __name__, url_prefix="/api/v1")
# An unsigned `<version>.<time>` (as issued before tokens were signed) is still well formed:
# it asks for a full resync, like a token this process does not remember.
TOKEN = re.compile(r"^([0-9a-f]{16})\.(\d{1,12})(?:\.([0-9a-f]{32}))?$")


def _token(ctx: RequestState) -> str:
    payload = f"{ctx.index.version}.{_moment(ctx)}"
    return f"{payload}.{sign(payload)}"


def _moment(ctx: RequestState) -> int:
    """The token's time: the latest publication moment passed (visibility is the same from
    then until now), so the token, and the response, only change when content or visibility
    does, not every second."""
    passed = ctx.index.published_count(ctx.now)
    latest = ctx.index.publications[passed - 1].timestamp() if passed else 0.0
    return min(math.ceil(latest), math.floor(ctx.now.timestamp()))


def _issued(match: re.Match[str]) -> datetime | None:
    """When this server issued the token, or None if it did not sign it."""
    version, seconds, signature = match.groups()
    if signature is None or not signed(f"{version}.{seconds}", signature):
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _item(ctx: RequestState, slug: str) -> dict[str, str]:
    return change(ctx.index.by_slug[slug], ctx.links)


@bp.get("/changes", endpoint="changes")
@declare(cacheable=False, query=ChangesArgs)
def changes_view() -> Response:
    """Without `since`, or with a token this process did not sign or no longer remembers,
    every visible post is "added" and `reset` is true: the client should drop what it has
    that is not listed."""
    ctx = current()
    since = (ctx.args["since"] or "").strip()
    match = TOKEN.match(since)
    if since and not match:
        raise InvalidParameters(
            [{"parameter": "since", "message": "Not a token returned by this endpoint."}]
        )
    # Both diffs depend on the index, the publication moment and the token only: computed
    # once for each and kept with what the moment shows, so a request costs what it lists.
    now_state = index_snapshot(ctx.index)
    shown = published(ctx.index, ctx.now)
    then = _issued(match) if match else None
    before = ctx.store.snapshot(match.group(1)) if match and then else None
    if match and then is not None and before is not None:
        since_then = (match.group(1), then)
        found = shown.remember(
            ("changes", since_then), lambda: changes(before, then, now_state, ctx.now)
        )
        reset = False
    else:
        found = shown.remember(("changes", None), lambda: changes({}, ctx.now, now_state, ctx.now))
        reset = True
    return jsonify(
        {
            "since": since or None,
            "token": _token(ctx),
            "reset": reset,
            "added": [_item(ctx, slug) for slug in found.added],
            "updated": [_item(ctx, slug) for slug in found.updated],
            "removed": list(found.removed),
        }
    )
