"""`flask --app contentapi content ...`: commands for authors and operators.

- `check`: validate every post and list each problem.
- `list`: every post with its status (published, draft, scheduled) and every invalid file.
- `new`: scaffold a post with valid front matter.
- `export`: write the public API as static files, byte for byte what the app serves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import click
import yaml
from flask import current_app
from flask.cli import AppGroup
from werkzeug.routing import BuildError, Rule

from contentapi.engine.index import Index, parse_source
from contentapi.engine.loader import build_options, load_index
from contentapi.engine.model import ContentIssue, SourceFile
from contentapi.engine.slugs import fallback_slug, slug_from_path, slugify
from contentapi.outputs.query import visible
from contentapi.settings import Settings

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from contentapi.service.store import ContentStore

content = AppGroup("content", help="Check, list, create and export the content folder's posts.")

STATUSES = ("published", "draft", "scheduled", "invalid")


def _store() -> ContentStore:
    store: ContentStore = current_app.extensions["contentapi"]
    return store


def _settings() -> Settings:
    return _store().settings


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


# --- content list ---------------------------------------------------------------------------


def _invalid_files(index: Index) -> dict[str, ContentIssue]:
    """Files that are not served, each with its first error (in `content check` order)."""
    served = {post.path for post in index.posts}
    first: dict[str, ContentIssue] = {}
    for issue in index.issues:  # sorted by path, then severity, field and line
        if issue.severity == "error" and issue.path not in served:
            first.setdefault(issue.path, issue)
    return first


def _issue_text(issue: ContentIssue) -> str:
    where = f"line {issue.line}: " if issue.line is not None else ""
    what = f"{issue.field}: " if issue.field else ""
    return f"{where}{what}{issue.message}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
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
            "date": post.date.isoformat(),
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
        for path, issue in _invalid_files(index).items()
    ]
    shown = [entry for entry in entries if wanted is None or entry["status"] == wanted]
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    if not shown:
        click.echo(f"No {wanted or ''} posts in {store.settings.content_dir}".replace("  ", " "))
        return
    dates = {post.path: post.date.isoformat(sep=" ", timespec="minutes") for post in index.posts}
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
        flow = yaml.safe_dump(value, default_flow_style=True, **options)
        return f"{key}: {flow.strip()}"
    return yaml.safe_dump({key: value}, default_flow_style=False, **options).rstrip("\n")


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
    hidden = [part for part in relative.parts if part.startswith((".", "_"))]
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


# --- content export -------------------------------------------------------------------------

MANIFEST = ".contentapi-export.json"
SKIPPED_BLUEPRINTS = ("admin", "health", "docs", "search")  # private, probes, UI, needs `q`
KINDS = ("categories", "tags")


@dataclass(frozen=True)
class Fetch:
    """One URL to request: a path relative to the base URL (already quoted) and a query."""

    path: str
    query: tuple[tuple[str, str], ...] = ()


def _exported_rules(app: Flask) -> list[Rule]:
    """Every public GET route, in a stable order."""
    rules = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if rule.endpoint.partition(".")[0] in SKIPPED_BLUEPRINTS:
            continue
        rules.append(rule)
    return sorted(rules, key=lambda rule: (rule.rule, rule.endpoint))


def _term_slugs(index: Index, kind: str, now: datetime) -> list[str]:
    terms = index.categories if kind == "categories" else index.tags
    return [term.slug for term in terms if visible(term.posts, now)]


def _values(rule: Rule, index: Index, now: datetime) -> Iterator[dict[str, Any]] | None:
    """The argument values to build a route with, or None when they cannot be enumerated.

    `number` (numbered files such as `sitemap-<n>.xml`) is left to the caller, which counts
    up until the app answers 404.
    """
    arguments = set(rule.arguments)
    if not arguments:
        return iter([{}])
    if arguments == {"path"}:
        return ({"path": path} for path in sorted(index.assets.files))
    if arguments == {"kind"}:
        return ({"kind": kind} for kind in KINDS)
    if arguments == {"kind", "slug"}:
        return (
            {"kind": kind, "slug": slug} for kind in KINDS for slug in _term_slugs(index, kind, now)
        )
    if arguments == {"slug"}:
        text = rule.rule
        if "categor" in text:
            return ({"slug": slug} for slug in _term_slugs(index, "categories", now))
        if "tag" in text:
            return ({"slug": slug} for slug in _term_slugs(index, "tags", now))
        return ({"slug": post.slug} for post in visible(index.posts, now))
    return None


class ExportError(click.ClickException):
    """The export cannot go on; click prints `Error: <message>` and exits 1."""


def _target(fetch: Fetch, mimetype: str) -> PurePosixPath:
    """Where a response goes under OUTDIR (see `export`'s help for the layout)."""
    parts = [unquote(part) for part in fetch.path.strip("/").split("/")]
    if any(part in {"", ".", ".."} or "\\" in part for part in parts):
        raise ExportError(f"cannot map {fetch.path!r} to a file")
    path = PurePosixPath(*parts)
    query = dict(fetch.query)
    json_path = "." not in path.name and mimetype.endswith("json")
    if set(query) in ({"category"}, {"tag"}):  # a feed of one term
        kind, slug = (
            ("categories", query["category"]) if "category" in query else ("tags", query["tag"])
        )
        return path.parent / kind / slug / path.name
    if set(query) == {"page"} and json_path:
        return path / "page" / query["page"] / "index.json"
    if query:
        raise ExportError(f"cannot map {fetch.path!r} with {query} to a file")
    return path / "index.json" if json_path else path


def _pages(body: bytes) -> int | None:
    """The page count of a paginated listing's JSON, or None for anything else."""
    try:
        data = json.loads(body)
        pages = data["meta"]["pagination"]["pages"]
    except (ValueError, KeyError, TypeError):
        return None
    return pages if isinstance(pages, int) and pages >= 1 else None


class Exporter:
    """Requests every public URL through the app's own test client and writes the bytes."""

    def __init__(self, client: FlaskClient, base_url: str, outdir: Path) -> None:
        self.client = client
        self.base_url = base_url
        self.outdir = outdir
        self.written: dict[PurePosixPath, Fetch] = {}
        self.bytes = 0
        self.missing: list[str] = []  # answered 404
        self.failed: list[str] = []  # answered something else

    def fetch(self, fetch: Fetch) -> tuple[int, str, bytes]:
        with self.client.get(
            fetch.path, base_url=self.base_url, query_string=list(fetch.query)
        ) as response:
            return response.status_code, response.mimetype or "", response.get_data()

    def url(self, fetch: Fetch) -> str:
        query = "&".join(f"{k}={v}" for k, v in fetch.query)
        return fetch.path + (f"?{query}" if query else "")

    def export(self, fetch: Fetch) -> tuple[int, str, bytes]:
        """Request one URL and write it when it answers 200."""
        status, mimetype, body = self.fetch(fetch)
        if status == 200:
            self.write(_target(fetch, mimetype), body, fetch)
        elif status == 404:
            self.missing.append(self.url(fetch))
        else:
            self.failed.append(f"{self.url(fetch)} answered {status}")
        return status, mimetype, body

    def export_listing(self, fetch: Fetch) -> None:
        """A URL, and when it is a paginated listing, every page of it as `?page=N` too."""
        status, mimetype, body = self.export(fetch)
        pages = _pages(body) if status == 200 and mimetype.endswith("json") else None
        for number in range(1, (pages or 0) + 1):
            self.export(Fetch(fetch.path, (("page", str(number)),)))

    def write(self, target: PurePosixPath, body: bytes, fetch: Fetch) -> None:
        earlier = self.written.get(target)
        if earlier is not None:
            raise ExportError(
                f"{self.url(fetch)} and {self.url(earlier)} would both be written to {target}"
            )
        destination = self.outdir.joinpath(*target.parts)
        if not destination.resolve().is_relative_to(self.outdir.resolve()):
            raise ExportError(f"{self.url(fetch)} would be written outside {self.outdir}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(body)
        self.written[target] = fetch
        self.bytes += len(body)


def _previous_files(outdir: Path) -> set[PurePosixPath]:
    """The files an earlier export wrote here, from its manifest (empty if there is none)."""
    try:
        data = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
        return {PurePosixPath(name) for name in data["files"] if isinstance(name, str)}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _remove_stale(outdir: Path, stale: set[PurePosixPath]) -> int:
    """Delete files an earlier export wrote that this one did not (and folders left empty)."""
    removed = 0
    root = outdir.resolve()
    for name in sorted(stale, key=lambda p: len(p.parts), reverse=True):
        if ".." in name.parts or name.is_absolute():
            continue
        path = outdir.joinpath(*name.parts)
        if path.is_file() and path.resolve().is_relative_to(root):
            path.unlink()
            removed += 1
            for parent in path.parents:
                if parent.resolve() == root or any(parent.iterdir()):
                    break
                parent.rmdir()
    return removed


def _base_url(settings: Settings, option: str) -> str:
    if settings.base_url:
        return settings.base_url
    parts = urlsplit(option.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise click.BadParameter("must be an absolute http(s) URL", param_hint="--base-url")
    return option.strip().rstrip("/") + "/"


@content.command("export")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--base-url",
    default="http://localhost/",
    show_default=True,
    help="Public URL the export will be served from, for absolute URLs in it; "
    "CONTENTAPI_BASE_URL wins when it is set.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an OUTDIR that is not empty; files an earlier export wrote there "
    "and this one does not (unpublished or removed posts) are deleted.",
)
def export(outdir: Path, base_url: str, force: bool) -> None:
    """Write the public API to OUTDIR as static files, for any static host or CDN.

    Every public GET route is requested through the app itself, as an anonymous client
    (never drafts or scheduled posts), and the response bytes are written unchanged. Layout:
    an extensionless JSON path gets `index.json` in a folder of that path
    (`/api/v1/posts/foo` -> `api/v1/posts/foo/index.json`); page N of a listing is
    `<path>/page/N/index.json` (page 1 is also `<path>/index.json`); paths with an
    extension keep it (`/feeds/rss.xml` -> `feeds/rss.xml`); a feed of one category or tag
    (`/feeds/rss.xml?category=x`) is `feeds/categories/x/rss.xml` (`tags/` for tags).
    """
    started = time.perf_counter()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = _store()
    settings = store.settings
    base = _base_url(settings, base_url)
    if settings.base_url and base_url.rstrip("/") + "/" != settings.base_url:
        source = click.get_current_context().get_parameter_source("base_url")
        if source is not None and source.name == "COMMANDLINE":
            click.echo(
                f"note: CONTENTAPI_BASE_URL={settings.base_url} wins over --base-url", err=True
            )
    content_dir = settings.content_dir.resolve()
    if outdir.resolve().is_relative_to(content_dir):
        raise ExportError(f"{outdir} is inside the content folder {settings.content_dir}")
    if outdir.exists() and any(outdir.iterdir()) and not force:
        raise ExportError(f"{outdir} is not empty; use --force to write into it")
    previous = _previous_files(outdir) if outdir.exists() else set()
    outdir.mkdir(parents=True, exist_ok=True)

    if store.watcher is not None:  # one index for every file: no reload half-way through
        store.watcher.stop()
        store.watcher = None
    index = store.index
    clock = store.clock
    now = clock()
    store.clock = lambda: now  # one moment for every file, so they agree with each other
    access = logging.getLogger("contentapi.access")
    level = access.level
    access.setLevel(max(level, logging.WARNING))  # not a log line per file
    try:
        exporter = Exporter(app.test_client(use_cookies=False), base, outdir)
        _export_all(app, exporter, index, now)
    finally:
        store.clock = clock
        access.setLevel(level)

    written = set(exporter.written)
    removed = _remove_stale(outdir, previous - written) if force else 0
    manifest = {"version": index.version, "base_url": base, "files": sorted(map(str, written))}
    (outdir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    others = sum(
        1
        for path in outdir.rglob("*")
        if path.is_file()
        and path.name != MANIFEST
        and PurePosixPath(path.relative_to(outdir).as_posix()) not in written
    )

    invalid = len(_invalid_files(index))
    if invalid:
        click.echo(
            f"warning: {invalid} invalid file(s) not exported (see `flask content check`)",
            err=True,
        )
    if others:
        click.echo(f"warning: {others} other file(s) in {outdir} were left as they were", err=True)
    for failure in exporter.failed:
        click.echo(f"error: {failure}", err=True)
    seconds = time.perf_counter() - started
    click.echo(
        f"Exported {len(written)} files, {exporter.bytes:,} bytes, in {seconds:.2f} s "
        f"to {outdir} (base URL {base}; {len(exporter.missing)} URL(s) answered 404"
        + (f"; {removed} stale file(s) removed" if removed else "")
        + ")"
    )
    if exporter.failed:
        raise SystemExit(1)


def _export_all(app: Flask, exporter: Exporter, index: Index, now: datetime) -> None:
    adapter = app.url_map.bind("localhost", script_name="/")
    for rule in _exported_rules(app):
        if set(rule.arguments) == {"number"}:
            for number in range(1, 1_000_000):
                path = adapter.build(rule.endpoint, {"number": number}, method="GET")
                if exporter.export(Fetch(path))[0] != 200:
                    if exporter.missing and exporter.missing[-1] == path:
                        exporter.missing.pop()  # the end of the numbered files, not a gap
                    break
            continue
        values = _values(rule, index, now)
        if values is None:
            click.echo(f"warning: not exported, cannot list values for {rule.rule}", err=True)
            continue
        for value in values:
            try:
                path = adapter.build(rule.endpoint, value, method="GET")
            except BuildError:
                continue
            if rule.endpoint.partition(".")[0] == "feeds" and not rule.arguments:
                _export_feed(exporter, path, index, now)
            else:
                exporter.export_listing(Fetch(path))


def _export_feed(exporter: Exporter, path: str, index: Index, now: datetime) -> None:
    """A feed (or sitemap), and for feeds that answer `?category=` / `?tag=`, one per term."""
    status, _, _ = exporter.export(Fetch(path))
    if status != 200 or "sitemap" in path:
        return
    for kind, parameter in (("categories", "category"), ("tags", "tag")):
        for slug in _term_slugs(index, kind, now):
            exporter.export(Fetch(path, ((parameter, slug),)))


def register(app: Flask) -> None:
    app.cli.add_command(content)
