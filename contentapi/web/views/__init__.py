"""Blueprints, one per resource; thin: they query the index and serialise, nothing else."""

from __future__ import annotations

from flask import Flask

from contentapi.web.params import QueryArgs
from contentapi.web.routes import RouteFacts, declare_blueprint
from contentapi.web.views import admin, changes, feeds, meta, pages, posts, terms


def register(app: Flask) -> None:
    for blueprint in (
        meta.bp,
        posts.bp,
        posts.search_bp,
        pages.bp,
        terms.bp,
        feeds.bp,
        changes.bp,
        admin.bp,
        meta.health,
        meta.docs,
    ):
        app.register_blueprint(blueprint)
    admin.hide_when_off(app)
    # Swagger UI's page and files: not kept by the response cache; they take no parameters.
    declare_blueprint(app, meta.docs.name, RouteFacts(cacheable=False, query=QueryArgs))
