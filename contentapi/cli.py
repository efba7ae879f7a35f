"""`flask --app contentapi content ...`: commands for authors and operators."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from .loader import load_index
from .settings import Settings

if TYPE_CHECKING:
    from flask import Flask

content = AppGroup("content", help="Check and inspect the content folder.")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["contentapi"].settings
    return settings


@content.command("check")
@click.option("--warnings-as-errors", is_flag=True, help="Exit non-zero on warnings too.")
def check(warnings_as_errors: bool) -> None:
    """Validate every post; list each problem with file, line and field; exit 1 on errors."""
    index = load_index(_settings())
    issues = index.all_issues()
    for issue in issues:
        click.echo(str(issue), err=issue.severity == "error")
    errors = sum(issue.severity == "error" for issue in issues)
    warnings = len(issues) - errors
    click.echo(
        f"{len(index.posts)} valid post(s), {errors} error(s), {warnings} warning(s) "
        f"in {_settings().content_dir}"
    )
    if errors or (warnings_as_errors and warnings):
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(content)
