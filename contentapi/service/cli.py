"""`flask --app contentapi content ...`: commands for authors and operators.

- `check`: validate every post and list each problem.
- `list`: every post with its status (published, draft, scheduled) and every invalid file.
- `new`: scaffold a post with valid front matter.
- `export`: write the public API as static files, byte for byte what the app serves (its own
  module, `contentapi.service.export`).
- `build`: fill the artifact store ahead of time (`contentapi.service.builder`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import click
import yaml
from flask import current_app
from flask.cli import AppGroup

from contentapi.engine.index import Index, issue_order, parse_source, render_failures
from contentapi.engine.loader import build_options, is_hidden, load_index
from contentapi.engine.model import ContentIssue, SourceFile
from contentapi.engine.slugs import fallback_slug, slug_from_path, slugify
from contentapi.outputs.query import invalid_files
from contentapi.outputs.search import backend, isolated
from contentapi.service.builder import build as build_artifacts
from contentapi.service.builder import prune as prune_artifacts
from contentapi.service.export import export
from contentapi.service.store import ContentStore, store_of
from contentapi.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

content = AppGroup("content", help="Check, list, create and export the content folder's posts.")

STATUSES = ("published", "draft", "scheduled", "invalid")


def _store() -> ContentStore:
    return store_of(current_app)


def _settings() -> Settings:
    return _store().settings


def checks_content_itself() -> bool:
    """Whether the app is being built for a `flask` command other than `run`.

    Such a command deals with invalid content itself (`content check` reports it, `content
    export` refuses it in strict mode), so strict mode, or a missing content folder, must not
    stop the app from being built with a traceback before the command can say so.
    """
    context = click.get_current_context(silent=True)
    return context is not None and context.info_name != "run"


@content.command("check")
@click.option("--warnings-as-errors", is_flag=True, help="Exit non-zero on warnings too.")
@click.option(
    "--no-render",
    "skip_render",
    is_flag=True,
    help="Do not render every post to HTML (faster for thousands of posts; a post whose "
    "rendering fails then goes unnoticed until it is requested).",
)
def check(warnings_as_errors: bool, skip_render: bool) -> None:
    """Validate every post; list each problem with file, line and field; exit 1 on errors.

    Each post is read, validated, analysed, indexed for search and rendered, as the API
    would; a step that fails on one post is an error on that post. The report is printed
    whole in every case (strict mode too), never a traceback.
    """
    settings = _settings()
    try:
        index = load_index(settings)
        issues = [*index.all_issues(), *([] if skip_render else render_failures(index))]
        entries = [(post, index.derived(post).analysis) for post in index.posts]
        build = backend(settings.search_backend)
        issues += isolated(lambda found: build(found, settings.site_language), entries)[1]
    except Exception as error:  # the report says what went wrong, never a traceback
        click.echo(f"error: cannot check {settings.content_dir}: {error}", err=True)
        raise SystemExit(1) from None
    issues.sort(key=issue_order)
    for issue in issues:
        click.echo(str(issue), err=issue.severity == "error")
    errors = sum(issue.severity == "error" for issue in issues)
    warnings = len(issues) - errors
    pages = f", {len(index.pages)} page(s)" if index.pages else ""
    click.echo(
        f"{len(index.posts)} valid post(s){pages}, {errors} error(s), {warnings} warning(s) "
        f"in {settings.content_dir}"
    )
    if errors or (warnings_as_errors and warnings):
        raise SystemExit(1)


# --- content list ---------------------------------------------------------------------------


def _issue_text(issue: ContentIssue) -> str:
    where = f"line {issue.line}: " if issue.line is not None else ""
    what = f"{issue.field}: " if issue.field else ""
    return f"{where}{what}{issue.message}"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


@content.command("list")
@click.option(
    "--status",
    "wanted",
    type=click.Choice(STATUSES),
    help="Only posts with this status (`invalid`: only files that are not valid posts).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
def list_posts(wanted: str | None, as_json: bool) -> None:
    """Every post, newest first, with its status, date, slug and file; invalid files last.

    Status is as the API sees it now: `draft` (draft: true), `scheduled` (dated in the
    future) or `published`. Invalid files are listed as `invalid` with their first error.
    """
    store = _store()
    index = load_index(store.settings)
    now = store.clock()
    entries: list[dict[str, Any]] = [
        {
            "slug": post.slug,
            "title": post.title,
            "date": post.post_date.isoformat(),
            "status": post.status(now),
            "path": post.path,
        }
        for post in index.posts
    ]
    entries += [
        {
            "slug": None,
            "title": None,
            "date": None,
            "status": "invalid",
            "path": path,
            "error": _issue_text(issue),
        }
        for path, issue in invalid_files(index).items()
    ]
    shown = [entry for entry in entries if wanted is None or entry["status"] == wanted]
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    if not shown:
        click.echo(f"No {wanted or ''} posts in {store.settings.content_dir}".replace("  ", " "))
        return
    dates = {
        post.path: post.post_date.isoformat(sep=" ", timespec="minutes") for post in index.posts
    }
    rows = [("STATUS", "DATE", "SLUG", "PATH", "TITLE")]
    for entry in shown:
        if entry["status"] == "invalid":
            rows.append(("invalid", "-", "-", entry["path"], entry["error"]))
        else:
            path = entry["path"]
            rows.append((entry["status"], dates[path], entry["slug"], path, entry["title"]))
    for line in _table(rows):
        click.echo(line.rstrip())
    counts = {status: sum(e["status"] == status for e in shown) for status in STATUSES}
    click.echo(", ".join(f"{count} {status}" for status, count in counts.items() if count))


# --- content new ----------------------------------------------------------------------------


def _yaml_field(key: str, value: Any) -> str:
    """One `key: value` front-matter entry, quoted by PyYAML wherever YAML needs it."""
    options: dict[str, Any] = {"allow_unicode": True, "width": 1 << 30}
    if isinstance(value, list):  # `tags: [a, b]`, as blogs write it
        flow: str = yaml.safe_dump(value, default_flow_style=True, **options)
        return f"{key}: {flow.strip()}"
    entry: str = yaml.safe_dump({key: value}, default_flow_style=False, **options)
    return entry.rstrip("\n")


def _taken_slugs(index: Index) -> dict[str, str]:
    """Every slug or alias a file already claims, with what claims it."""
    taken: dict[str, str] = {}
    for result in index.parsed.values():
        if result.post is not None:
            taken.setdefault(result.post.slug, f"the slug of {result.path}")
    for alias, slug in index.aliases.items():
        taken.setdefault(alias, f"an alias of {index.by_slug[slug].path}")
    return taken


def _folder(root: Path, folder: str) -> Path:
    """`--dir` as a folder inside the content folder; refuses a way out of it."""
    relative = PurePosixPath(folder.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts:
        raise click.BadParameter("must be a folder inside the content folder", param_hint="--dir")
    target = root.joinpath(*relative.parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise click.BadParameter("must be a folder inside the content folder", param_hint="--dir")
    hidden = [part for part in relative.parts if is_hidden(part)]
    if hidden:
        click.echo(
            f"warning: {hidden[0]!r} starts with '.' or '_': the loader skips that folder, "
            "so the post will not be served",
            err=True,
        )
    return target


@content.command("new")
@click.argument("title")
@click.option("--category", help="The post's category.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@click.option("--lang", help="The post's language, e.g. `es`.")
@click.option("--slug", "slug_option", help="The slug (default: from the title).")
@click.option(
    "--dir", "folder", default="", help="Folder inside the content folder, e.g. `posts/2026`."
)
@click.option("--publish", is_flag=True, help="Write `draft: false` instead of `draft: true`.")
def new(
    title: str,
    category: str | None,
    tags: tuple[str, ...],
    lang: str | None,
    slug_option: str | None,
    folder: str,
    publish: bool,
) -> None:
    """Create `YYYY-MM-DD-<slug>.md` with valid front matter dated now; prints its path.

    The date is now in CONTENTAPI_TIMEZONE. Refuses to overwrite a file or to take a slug
    another post already has.
    """
    store = _store()
    settings = store.settings
    title = " ".join(title.split())
    if not title:
        raise click.BadParameter("must not be empty", param_hint="TITLE")
    if slug_option is not None:
        slug = slugify(slug_option)
        if not slug:
            raise click.BadParameter("has no letters or digits", param_hint="--slug")
    else:
        slug = fallback_slug(title)

    index = load_index(settings)
    taken = _taken_slugs(index)
    if slug in taken:
        hint = "" if slug_option else "; choose another with --slug"
        raise click.ClickException(f"slug {slug!r} is already {taken[slug]}{hint}")

    now = store.clock().astimezone(settings.timezone).replace(microsecond=0)
    name = f"{now:%Y-%m-%d}-{slug}.md"
    target = _folder(settings.content_dir, folder) / name
    relative = target.relative_to(settings.content_dir).as_posix()

    lines = [_yaml_field("title", title), f"date: {now.isoformat()}"]
    if slug_option is not None or slug_from_path(name) != slug:
        lines.append(_yaml_field("slug", slug))
    if category:
        lines.append(_yaml_field("category", category.strip()))
    if tags:
        lines.append(_yaml_field("tags", [tag.strip() for tag in tags]))
    if lang:
        lines.append(_yaml_field("lang", lang.strip()))
    lines.append(f"draft: {'false' if publish else 'true'}")
    text = "---\n" + "\n".join(lines) + "\n---\n\n"

    parsed = parse_source(SourceFile(relative, text.encode()), build_options(settings))
    if parsed.post is None or parsed.issues:
        problems = "\n".join(f"  {issue}" for issue in parsed.issues)
        raise click.ClickException(f"the post would not be valid:\n{problems}")
    if parsed.post.slug != slug:  # pragma: no cover - the slug line above prevents it
        raise click.ClickException(f"the post's slug would be {parsed.post.slug!r}, not {slug!r}")

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8", newline="\n") as file:
            file.write(text)
    except FileExistsError:
        raise click.ClickException(f"{target} already exists; not overwriting it") from None
    click.echo(str(target))


# --- content build ---------------------------------------------------------------------------


@content.command("build")
@click.option(
    "--jobs", type=click.IntRange(min=1), help="Worker processes (default: one per core)."
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete stored artifacts that the current posts, settings and code do not use.",
)
def build(jobs: int | None, prune: bool) -> None:
    """Fill the artifact store: every post's analysis and HTML, computed in a process pool,
    and with CONTENTAPI_BASE_URL set, every post's detail answer (see README, How it works).

    For CI and container images: a server started on a built store renders nothing. Posts
    already stored are skipped, so running it again is cheap.
    """
    store = _store()
    artifacts = store.artifacts
    if artifacts is None:
        raise click.ClickException("CONTENTAPI_STORE_PATH is off: there is no store to build")
    report = build_artifacts(store.index, artifacts, jobs)
    database = artifacts.backend
    click.echo(f"{report}, into {getattr(database, 'path', 'the store')}")
    if not report.failed and store.after_fill is not None and store.after_fill(store, store.index):
        click.echo("every post's default detail answer is stored (CONTENTAPI_BASE_URL)")
    if prune:
        removed = prune_artifacts(store.index, artifacts)
        click.echo(f"{removed} stale artifact(s) deleted")
    if report.failed:
        for path, reason in report.failed:
            click.echo(f"{path}: {reason}", err=True)
        raise SystemExit(1)


content.add_command(export)


def register(app: Flask) -> None:
    app.cli.add_command(content)
