"""`flask content export OUTDIR`: the public API written as static files, byte for byte what
the app serves.

Every public GET route of the app is requested through the app itself (its test client), as an
anonymous client at one moment, and the response bytes are written unchanged. Which values a
route's URL arguments take comes from the argument names the routes declare (`ARGUMENTS`); no
route is recognised by its text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.routing import BuildError, Rule

from contentapi.engine.index import Index
from contentapi.outputs.query import invalid_files, visible
from contentapi.service.store import MOMENT, store_of
from contentapi.settings import Settings, is_http_url

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

MANIFEST = ".contentapi-export.json"
SKIPPED_BLUEPRINTS = ("admin", "health", "docs", "search")  # private, probes, UI, needs `q`
SKIPPED_ENDPOINTS = ("changes.stream",)  # live events: nothing a static file can hold
TERM_KINDS = {"categories": "category", "tags": "tag"}  # index attribute: its query parameter
Values = Iterable[dict[str, Any]]


def _term_slugs(index: Index, kind: str, now: datetime) -> list[str]:
    terms: tuple[Any, ...] = getattr(index, kind)
    return [term.slug for term in terms if visible(term.posts, now)]


def _term_pages(index: Index, now: datetime) -> Values:
    return ({"kind": k, "slug": slug} for k in TERM_KINDS for slug in _term_slugs(index, k, now))


# What the export requests for a route, by the names of its URL arguments: a route with none of
# its own, or with these, is exported with no change here; one with other arguments is reported
# and left out. `<slug>` alone names a published post; with `<kind>`, a category or tag;
# `<page>` a published page.
ARGUMENTS: dict[frozenset[str], Callable[[Index, datetime], Values]] = {
    frozenset(): lambda index, now: [{}],
    frozenset({"path"}): lambda index, now: ({"path": p} for p in sorted(index.assets.files)),
    frozenset({"kind"}): lambda index, now: ({"kind": kind} for kind in TERM_KINDS),
    frozenset({"kind", "slug"}): _term_pages,
    frozenset({"slug"}): lambda index, now: ({"slug": p.slug} for p in visible(index.posts, now)),
    frozenset({"page"}): lambda index, now: ({"page": p.slug} for p in visible(index.pages, now)),
}
# Numbered files (`sitemap-<n>.xml`): requested from 1 up until the app answers 404.
NUMBERED = frozenset({"number"})
# Routes that also answer `?category=<slug>` and `?tag=<slug>`: written once per term as well.
TERM_FILTERED = frozenset({"feeds.rss", "feeds.atom", "feeds.json"})


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
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        rules.append(rule)
    return sorted(rules, key=lambda rule: (rule.rule, rule.endpoint))


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

    def __init__(self, client: FlaskClient, base_url: str, outdir: Path, now: datetime) -> None:
        self.client = client
        self.base_url = base_url
        self.outdir = outdir
        self.now = now  # every request is answered at this moment, so the files agree
        self.written: dict[PurePosixPath, Fetch] = {}
        self.bytes = 0
        self.missing: list[str] = []  # answered 404
        self.failed: list[str] = []  # answered something else

    def fetch(self, fetch: Fetch) -> tuple[int, str, bytes]:
        with self.client.get(
            fetch.path,
            base_url=self.base_url,
            query_string=list(fetch.query),
            environ_overrides={MOMENT: self.now},
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
    if not is_http_url(option.strip()):
        raise click.BadParameter("must be an absolute http(s) URL", param_hint="--base-url")
    return option.strip().rstrip("/") + "/"


@click.command("export")
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
@with_appcontext
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
    # Flask types `current_app` as the Flask it stands for; it is a werkzeug LocalProxy.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = store_of(app)
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
    if not store.ready:
        raise ExportError(f"cannot read {settings.content_dir}; see `flask content check`")
    index = store.index
    errors = [issue for issue in index.issues if issue.severity == "error"]
    if settings.strict and errors:
        raise ExportError(
            f"strict mode: {len(errors)} error(s) in the content; see `flask content check`"
        )
    now = store.clock()
    access = logging.getLogger("contentapi.access")
    level = access.level
    access.setLevel(max(level, logging.WARNING))  # not a log line per file
    try:
        exporter = Exporter(app.test_client(use_cookies=False), base, outdir, now)
        _export_all(app, exporter, index, now)
    finally:
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

    invalid = len(invalid_files(index))
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
        arguments = frozenset(rule.arguments)
        if arguments == NUMBERED:
            _export_numbered(exporter, adapter.build, rule.endpoint)
            continue
        values = ARGUMENTS.get(arguments)
        if values is None:
            click.echo(f"warning: not exported, cannot list values for {rule.rule}", err=True)
            continue
        for value in values(index, now):
            try:
                path = adapter.build(rule.endpoint, value, method="GET")
            except BuildError:
                continue
            if rule.endpoint in TERM_FILTERED:
                _export_feed(exporter, path, index, now)
            else:
                exporter.export_listing(Fetch(path))


def _export_numbered(exporter: Exporter, build: Callable[..., str], endpoint: str) -> None:
    for number in range(1, 1_000_000):
        path = build(endpoint, {"number": number}, method="GET")
        if exporter.export(Fetch(path))[0] != 200:
            if exporter.missing and exporter.missing[-1] == path:
                exporter.missing.pop()  # the end of the numbered files, not a gap
            break


def _export_feed(exporter: Exporter, path: str, index: Index, now: datetime) -> None:
    """A feed, and when it answers 200, the same feed for each category and tag."""
    status, _, _ = exporter.export(Fetch(path))
    if status != 200:
        return
    for kind, parameter in TERM_KINDS.items():
        for slug in _term_slugs(index, kind, now):
            exporter.export(Fetch(path, ((parameter, slug),)))
