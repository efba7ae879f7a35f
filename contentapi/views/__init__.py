"""Blueprints, one per resource; thin: they query the index and serialise, nothing else."""

from __future__ import annotations

from flask import Flask

from . import meta, posts, terms


def register(app: Flask) -> None:
    for blueprint in (meta.bp, posts.bp, terms.bp, meta.health, meta.docs):
        app.register_blueprint(blueprint)
