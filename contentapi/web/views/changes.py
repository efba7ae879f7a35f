"""`/api/v1/changes`: what an offline-first client must fetch or drop since its last sync,
and `/api/v1/changes/stream`, the same as Server-Sent Events on each new content version.

A token is `<version>.<unix time>.<signature>`: the index version and the moment it was
issued, signed with an HMAC keyed by `CONTENTAPI_SECRET_KEY` (or a random key per start). The
time says which scheduled posts the client already saw, so it is only believed when this
server signed it: a client cannot choose the moment visibility is judged at, and so cannot
learn when a scheduled post goes public.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request, stream_with_context

from contentapi.engine.index import Index
from contentapi.outputs.query import changes, index_snapshot, published
from contentapi.outputs.serialize import Links, changes_body, token_moment
from contentapi.service.store import ContentStore
from contentapi.web.auth import sign, signed
from contentapi.web.errors import InvalidParameters
from contentapi.web.params import ChangesArgs
from contentapi.web.request_state import RequestState, current
from contentapi.web.routes import declare

bp = Blueprint("changes", __name__, url_prefix="/api/v1")
# An unsigned `<version>.<time>` (as issued before tokens were signed) is still well formed:
# it asks for a full resync, like a token this process does not remember.
TOKEN = re.compile(r"^([0-9a-f]{16})\.(\d{1,12})(?:\.([0-9a-f]{32}))?$")
HEARTBEAT = 15.0  # seconds between comments that keep proxies from closing an idle stream
POLL = 1.0  # seconds between checks for a reload asked of another worker
RETRY_MS = 3000  # how long an EventSource waits before it reconnects


def _token(index: Index, now: datetime) -> str:
    payload = f"{index.version}.{token_moment(index, now)}"
    return f"{payload}.{sign(payload)}"


def _issued(match: re.Match[str]) -> datetime | None:
    """When this server issued the token, or None if it did not sign it."""
    version, seconds, signature = match.groups()
    if signature is None or not signed(f"{version}.{seconds}", signature):
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _since(value: str, parameter: str) -> re.Match[str] | None:
    match = TOKEN.match(value)
    if value and not match:
        raise InvalidParameters(
            [{"parameter": parameter, "message": "Not a token returned by this endpoint."}]
        )
    return match


def _body(
    store: ContentStore, index: Index, links: Links, since: str, now: datetime
) -> dict[str, object]:
    """What changed since the token `since`; everything, with `reset`, for a token this
    process did not sign or no longer remembers."""
    match = TOKEN.match(since)
    # Both diffs depend on the index, the publication moment and the token only: computed
    # once for each and kept with what the moment shows, so a request costs what it lists.
    now_state = index_snapshot(index)
    shown = published(index, now)
    then = _issued(match) if match else None
    before = store.snapshot(match.group(1)) if match and then else None
    if match and then is not None and before is not None:
        since_then = (match.group(1), then)
        found = shown.remember(
            ("changes", since_then), lambda: changes(before, then, now_state, now)
        )
        reset = False
    else:
        found = shown.remember(("changes", None), lambda: changes({}, now, now_state, now))
        reset = True
    return changes_body(
        index, found, links, since=since or None, token=_token(index, now), reset=reset
    )


@bp.get("/changes", endpoint="changes")
@declare(cacheable=False, query=ChangesArgs)
def changes_view() -> Response:
    """Without `since`, or with a token this process did not sign or no longer remembers,
    every visible post is "added" and `reset` is true: the client should drop what it has
    that is not listed."""
    ctx = current()
    since = (ctx.args["since"] or "").strip()
    _since(since, "since")
    return jsonify(_body(ctx.store, ctx.index, ctx.links, since, ctx.now))


@bp.get("/changes/stream", endpoint="stream")
@declare(cacheable=False, query=ChangesArgs, http_cache="no-store")
def stream_view() -> Response:
    """One `change` event (the `/changes` payload, its token as the event id) per new content
    version clients can see. A reconnecting EventSource sends `Last-Event-ID` and first gets
    what it missed.

    A stream holds a thread for its whole life, so it lasts `CONTENTAPI_CHANGES_STREAM_SECONDS`
    on a threaded server (gunicorn's gthread worker, the development server) and ends at once
    on a single-threaded one (the client then reconnects every few seconds, like polling), so
    it can never hold a sync worker.
    """
    ctx = current()
    header = request.headers.get("Last-Event-ID", "").strip()
    since = header or (ctx.args["since"] or "").strip()
    _since(since, "Last-Event-ID" if header else "since")
    threaded = bool(request.environ.get("wsgi.multithread"))
    lifetime = ctx.settings.changes_stream_seconds if threaded else 0
    chunks = (event.encode() for event in _events(ctx, since, lifetime))  # WSGI wants bytes
    response = Response(stream_with_context(chunks), mimetype="text/event-stream")
    response.direct_passthrough = True  # never buffered: no ETag, no compression, no cache
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _events(ctx: RequestState, since: str, lifetime: float) -> Iterator[str]:
    store, links = ctx.store, ctx.links
    deadline = time.monotonic() + lifetime
    index = ctx.index
    yield f"retry: {RETRY_MS}\n\n"
    if since and not since.startswith(f"{index.version}."):  # what the client missed
        body = _body(store, index, links, since, store.clock())
        then = str(body["token"])
        yield _event(body)
    else:  # an id without data: where a reconnect resumes from, and no event fires
        then = since or _token(index, store.clock())
        yield f"id: {then}\n\n"
    version, beat = index.version, time.monotonic()
    public = published(index, store.clock()).version
    while (left := deadline - time.monotonic()) > 0:
        # A reload asked of another worker (`POST /admin/reload`) reaches this one too, though
        # no other request comes to it: the same one `stat` a request costs, once a second.
        store.catch_up()
        index = store.wait_for_change(version, min(POLL, left))
        if index.version != version:
            version, shown = index.version, published(index, store.clock()).version
            if shown != public:  # not for a draft's edit: nothing a client sees changed
                public = shown
                body = _body(store, index, links, then, store.clock())
                then, beat = str(body["token"]), time.monotonic()
                yield _event(body)
                continue
        if time.monotonic() - beat >= HEARTBEAT:
            beat = time.monotonic()
            yield ": heartbeat\n\n"


def _event(body: dict[str, object]) -> str:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"id: {body['token']}\nevent: change\ndata: {data}\n\n"
