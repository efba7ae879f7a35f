"""The application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import cli, errors, views
from .settings import PREFIX, Settings
from .store import ContentStore

EXTENSION = "contentapi"


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
    app.config.update(config)
    app.json = JSONProvider(app)
    store = ContentStore(settings)
    app.extensions[EXTENSION] = store
    store.reload()
    errors.register(app)
    views.register(app)
    cli.register(app)
    return app


class JSONProvider(DefaultJSONProvider):
    """UTF-8 as written (no `\\u00f3` escapes) and keys in the order the API documents."""

    ensure_ascii = False
    sort_keys = False
    mimetype = "application/json"


def get_store(app: Flask) -> ContentStore:
    store: ContentStore = app.extensions[EXTENSION]
    return store
