"""The application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask.json.provider import DefaultJSONProvider

from contentapi.service import cli, logs, watch
from contentapi.service.store import EXTENSION, ContentStore
from contentapi.service.watch import Watcher
from contentapi.settings import PREFIX, Settings
from contentapi.web import errors, views
from contentapi.web import http_rules as http


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from `CONTENTAPI_*` (or `test_config`), then the content index.

    `test_config` keys starting with `CONTENTAPI_` override the environment; others go to
    `app.config` as in Flask's tutorial.
    """
    config = dict(test_config or {})
    settings = Settings.from_env(
        os.environ, {key: config.pop(key) for key in list(config) if key.startswith(PREFIX)}
    )
    app = Flask(__name__)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = settings.cache_max_age  # media, spec, docs files
    app.config.update(config)
    app.json = JSONProvider(app)
    logs.configure(app, settings)
    store = ContentStore(settings)
    app.extensions[EXTENSION] = store
    store.reload()
    if not watch.DEFERRED:  # under gunicorn's preload, workers do this after the fork
        store.warm_up()
        if settings.watching:
            store.watcher = Watcher(store).start()
    errors.register(app)
    http.register(app, settings)
    views.register(app)
    cli.register(app)
    return app


class JSONProvider(DefaultJSONProvider):
    """UTF-8 as written (no `\\u00f3` escapes), keys in the documented order, a final newline,
    and `?pretty=1` indents (without responses varying by User-Agent)."""

    ensure_ascii = False
    sort_keys = False
    mimetype = "application/json"

    def response(self, *args: Any, **kwargs: Any) -> Response:
        data = self._prepare_response_obj(args, kwargs)
        indent = 2 if has_request_context() and request.args.get("pretty") in PRETTY else None
        separators = None if indent else (",", ":")
        body = self.dumps(data, indent=indent, separators=separators) + "\n"
        response = self._app.response_class(body, mimetype=self.mimetype)
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        return response


PRETTY = {"1", "true", "yes"}
