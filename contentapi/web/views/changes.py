"""`/api/v1/changes`: what an offline-first client must fetch or drop since its last sync."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from contentapi.outputs.query import changes, snapshot
from contentapi.outputs.serialize import change
from contentapi.web.errors import InvalidParameters
from contentapi.web.request_state import RequestState, current

bp = Blueprint("changes", __name__, url_prefix="/api/v1")
TOKEN = re.compile(r"^([0-9a-f]{16})\.(\d{1,12})$")


def _token(ctx: RequestState) -> str:
    return f"{ctx.index.version}.{int(ctx.now.timestamp())}"


def _item(ctx: RequestState, slug: str) -> dict[str, str]:
    return change(ctx.index.by_slug[slug], ctx.links)


@bp.get("/changes", endpoint="changes")
def changes_view() -> Response:
    """Without `since`, or with a token this process no longer knows, every visible post is
    "added" and `reset` is true: the client should drop what it has that is not listed."""
    ctx = current()
    since = request.args.get("since", "").strip()
    match = TOKEN.match(since)
    if since and not match:
        raise InvalidParameters(
            [{"parameter": "since", "message": "Not a token returned by this endpoint."}]
        )
    now_state = snapshot(ctx.index.posts)
    before = ctx.store.snapshot(match.group(1)) if match else None
    if match and before is not None:
        then = datetime.fromtimestamp(int(match.group(2)), UTC)
        found, reset = changes(before, then, now_state, ctx.now), False
    else:
        found, reset = changes({}, ctx.now, now_state, ctx.now), True
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
