"""contentapi: a folder of Markdown posts served as a JSON API."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app

__all__ = ["__version__", "create_app"]
