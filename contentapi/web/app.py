"""The application factory."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from functools import partial
from typing import Any

from flask import Flask, current_app, has_request_context
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as SansIOResponse

from contentapi.service import cli, logs, watch, webhooks
from contentapi.service.store import EXTENSION, ContentStore, Reload, store_of
from contentapi.service.watch import Watcher
from contentapi.settings import PREFIX, Settings
from contentapi.web import auth, errors, fastpath, headers, prebuilt, response_cache, routes, views
from contentapi.web.errors import pretty_requested
from contentapi.web.request_state import RouteLinks
from contentapi.web.views import admin


def create_app(
    test_config: Mapping[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """Build the app: settings from `CONTENTAPI_*` (or `test_config`), then the content index.

    `test_config` keys starting with `CONTENTAPI_` override the environment; others go to
    `app.config` as in Flask's tutorial. `SEARCH_WARM_UP: False` there skips building the search
    index in the background at start (tests that never search; the first search builds it).
    `settings`, when given, are used as they are (the process that prebuilds answers).
    """
    config = dict(test_config or {})
    overrides = {key: config.pop(key) for key in list(config) if key.startswith(PREFIX)}
    settings = settings or Settings.from_env(os.environ, overrides)
    app = Flask(__name__, static_folder=None)  # no `/static/`: every route is declared
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = settings.cache_max_age  # media, spec, docs files
    app.config.update(config)
    app.json = JSONProvider(app)
    logs.configure(app, settings)
    store = ContentStore(settings)
    app.extensions[EXTENSION] = store
    store.after_fill = partial(prebuilt.fill_elsewhere, app=app)
    if settings.base_url and store.artifacts is not None:
        prebuilt.code_fingerprint()  # once, before gunicorn forks: workers share it
    lenient = cli.checks_content_itself()  # `flask content ...` reports problems itself
    try:
        store.reload(strict=settings.strict and not lenient)
    except OSError:
        if not lenient:
            raise
    if store.ready and not watch.DEFERRED:  # under gunicorn's preload, workers do it later
        if app.config.get("SEARCH_WARM_UP", True):
            store.warm_up()
        if settings.watching:
            store.watcher = Watcher(store).start()
    app.extensions[auth.SIGNING_KEY] = settings.secret_key.encode() or secrets.token_bytes(32)
    errors.register(app)
    response_cache.register(app, settings)
    # Before each request, in this order: a bad Host is refused, a reload another worker was
    # asked for is caught up with, the admin routes check their token (so that without one
    # they look absent even to a bad query), the query is checked against the route's
    # declaration, and a stored answer is served if there is one.
    app.before_request(headers.check_host)
    app.before_request(_catch_up)
    app.before_request(admin.gate)
    app.before_request(routes.parse_declared_query)
    app.before_request(response_cache.lookup)
    # After: Flask runs these last-registered first, so `headers.finish` (validators,
    # Cache-Control) runs first, then the response cache encodes and stores the finished
    # answer, then what `headers.register` set up (compression of what the cache did not
    # encode, the 304 against the final ETag, CORS, one Vary).
    headers.register(app, settings)
    app.after_request(response_cache.store_response)
    app.after_request(headers.finish)
    views.register(app)
    cli.register(app)
    fastpath.install(app, store)  # last: it checks the routes registered
    if settings.webhook_urls:
        _send_webhooks(app, store)
    return app


def _catch_up() -> None:
    store_of(current_app).catch_up()


def _send_webhooks(app: Flask, store: ContentStore) -> None:
    """After each reload that changes the content, queue its change message (sent from a
    background thread; see service/webhooks.py)."""
    notifier = webhooks.notifier_for(store.settings)
    links = RouteLinks(app, store.settings.base_url)
    store.notifier = notifier

    def announce(result: Reload) -> None:
        with app.app_context():  # tokens are signed with the app's key, as /changes signs them
            message = webhooks.change_message(result, links, auth.sign)
        if message is not None:
            notifier.notify(message)

    store.listeners.append(announce)


class JSONProvider(DefaultJSONProvider):
    """UTF-8 as written (no `\\u00f3` escapes), keys in the documented order, a final newline,
    and `?pretty=1` indents (without responses varying by User-Agent)."""

    ensure_ascii = False
    sort_keys = False
    mimetype = "application/json"

    def response(self, *args: Any, **kwargs: Any) -> SansIOResponse:
        """As Flask declares it: the app's `response_class` (a `flask.Response` here)."""
        data = self._prepare_response_obj(args, kwargs)
        indent = 2 if has_request_context() and pretty_requested() else None
        separators = None if indent else (",", ":")
        body = self.dumps(data, indent=indent, separators=separators) + "\n"
        response = self._app.response_class(body, mimetype=self.mimetype)
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        return response
