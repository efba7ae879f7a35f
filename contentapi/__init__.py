"""contentapi: a folder of Markdown posts served as a JSON API.

The package is layered, and data flows one way (each layer imports only those before it):

- `contentapi.settings`: configuration from `CONTENTAPI_*`, cast and checked once.
- `contentapi.engine`: bytes become posts: read, validate, analyse, render, index. No Flask.
- `contentapi.outputs`: pure functions over an index: queries, JSON shapes, feeds, search.
- `contentapi.service`: the running service: the store that holds and reloads the current
  index, the file watcher, logging and the `flask content` commands.
- `contentapi.web`: posts become HTTP: the app factory, blueprints, HTTP rules, errors.

Importing this package is cheap: `create_app` is loaded on first use, so the engine can be
imported (by a worker pool, a script or a test) without the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]

if TYPE_CHECKING:
    from contentapi.web.app import create_app


def __getattr__(name: str) -> Any:
    """`contentapi.create_app` (what `flask --app contentapi` and wsgi.py look up), lazily."""
    if name == "create_app":
        from contentapi.web.app import create_app

        return create_app
    raise AttributeError(f"module 'contentapi' has no attribute {name!r}")
