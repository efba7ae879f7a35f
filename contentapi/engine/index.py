"""The index: a pure function from the files read to an immutable, fully derived snapshot."""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import zlib
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from marshmallow import ValidationError

from contentapi import __version__
from contentapi.engine.analysis import analyse, atx_heading, inline_text, strip_title_heading
from contentapi.engine.assets import (
    AssetMap,
    PostPaths,
    content_path,
    find_post,
    resolve,
    unsafe_urls,
    url_problem,
)
from contentapi.engine.model import (
    EPOCH,
    Analysis,
    ContentIssue,
    Derived,
    FileStamp,
    Image,
    ImageFile,
    ImageTable,
    Post,
    SourceFile,
    Sources,
    Term,
    TermRef,
)
from contentapi.engine.reader import (
    ReadError,
    check_size,
    decode,
    has_front_matter,
    load_yaml,
    split,
)
from contentapi.engine.render import RenderOptions, render_html
from contentapi.engine.schema import FIELDS, FrontMatterSchema
from contentapi.engine.shortcodes import (
    NO_TEMPLATES,
    Expanded,
    Templates,
    expand,
    load_templates,
)
from contentapi.engine.slugs import (
    alias_key,
    fallback_slug,
    old_names,
    percent_decoded,
    post_slug,
    slug_from_path,
    slugify,
    sort_key,
)

log = logging.getLogger("contentapi")

T = TypeVar("T")
MEMO_SIZE = 8  # values kept per index by `Index.memo`: a few publication moments, preview


@dataclass(frozen=True)
class BuildOptions:
    """Every setting the index depends on; part of the version, so a change re-keys caches."""

    timezone: tzinfo
    strip_title_heading: bool = True
    words_per_minute: int = 200
    excerpt_length: int = 200
    asset_base_url: str = ""
    raw_html: str = "sanitize"
    iframe_hosts: tuple[str, ...] = ()
    max_post_bytes: int = 2 * 1024 * 1024
    page_types: tuple[str, ...] = ("page",)  # `type:` or `layout:` values that make a page
    page_folders: tuple[str, ...] = ("pages",)  # folders whose files are pages

    def fingerprint(self) -> str:
        """Every field, so a field added later can never be left out of the version."""
        return repr(self)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One file's outcome: its post (unless invalid), what is wrong with it, and the post's
    Markdown body, zlib-compressed (`Index.body` opens it): a body is needed only to analyse
    or render a post the artifact store lacks, or for `formats=markdown`, so the index keeps
    it at about a third of its size."""

    path: str
    digest: str
    post: Post | None
    issues: tuple[ContentIssue, ...] = ()
    packed: bytes = field(default=b"", repr=False, compare=False)


# zlib's level 3 packs Markdown to 48% of its size where the default 6 reaches 46-47%, in
# three quarters of the time: compressing was a third of the cost of parsing a post.
PACK_LEVEL = 3


def pack(body: str) -> bytes:
    return zlib.compress(body.encode(), PACK_LEVEL)


def unpack(packed: bytes) -> str:
    return zlib.decompress(packed).decode() if packed else ""


@dataclass(frozen=True)
class Patch:
    """How an index was made from the one before it (version `previous`) by `patch_index`:
    each (served before, served now) post whose file changed, newest first. Every other post,
    the order, the slugs, aliases and terms are the previous index's."""

    previous: str
    pairs: tuple[tuple[Post, Post], ...]


class ArtifactSource(Protocol):
    """Where an index gets each post's derived values when a store keeps them (see
    `contentapi.engine.artifacts`): read first, computed and written back on a miss."""

    def derived(self, index: Index, post: Post) -> Derived: ...

    def memo(self) -> Any: ...


@dataclass(frozen=True)
class Index:
    """Everything the views serve, built once; a reload builds a new one and swaps it in."""

    version: str
    built_at: datetime
    posts: tuple[Post, ...]
    by_slug: Mapping[str, Post]
    aliases: Mapping[str, str]
    categories: tuple[Term, ...]
    tags: tuple[Term, ...]
    issues: tuple[ContentIssue, ...]
    assets: AssetMap
    options: BuildOptions
    parsed: Mapping[str, Parsed] = field(repr=False)
    publications: tuple[datetime, ...] = ()
    shortcodes: Templates = field(default=NO_TEMPLATES, repr=False)
    pages: tuple[Post, ...] = ()  # by title; never among posts, feeds, archive or counts
    pages_by_slug: Mapping[str, Post] = field(default_factory=dict)
    page_aliases: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, FileStamp] = field(default_factory=dict, repr=False)  # stamp by path
    _derived: dict[str, Derived] = field(default_factory=dict, repr=False, compare=False)
    artifacts: ArtifactSource | None = field(default=None, repr=False, compare=False)
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    patch: Patch | None = field(default=None, repr=False, compare=False)  # see `patch_index`
    linked: frozenset[str] = field(default=frozenset(), repr=False)  # see `Sources.linked`

    def patched_from(self, previous: Index) -> Patch | None:
        """The patch that made this index from `previous`, if `patch_index` made it so."""
        patch = self.patch
        return patch if patch is not None and patch.previous == previous.version else None

    def memos(self) -> list[tuple[Hashable, Any]]:
        """The values `memo` keeps now (for a patched index to carry them over)."""
        with self._memo_lock:
            return list(self._memo.items())

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value that is a pure function of this index and `key` (what is visible at one
        publication moment, say), computed once and kept: the last MEMO_SIZE keys."""
        try:
            kept: T = self._memo[key]  # what `compute` made for this key before
        except KeyError:
            pass
        else:
            return kept
        with self._memo_lock:
            if key not in self._memo:
                value = compute()
                while len(self._memo) >= MEMO_SIZE:
                    del self._memo[next(iter(self._memo))]
                self._memo[key] = value
            made: T = self._memo[key]
            return made

    def derived(self, post: Post) -> Derived:
        """The post's analysis and resolved images, computed once per content and kept.

        A memo, not state: the value is a pure function of the post and the index's options.
        With a store (`artifacts`) it is read from there, and computed only on a miss.
        """
        found = self._derived.get(post.path)
        if found is None or found.digest != post.digest:
            source = self.artifacts
            if source is None:
                body = self.body(post)
                found = derive_isolated(post, body, self.options, self.assets, self.shortcodes)
            else:
                found = source.derived(self, post)
            self._derived[post.path] = found
        return found

    def body(self, post: Post) -> str:
        """The post's Markdown body, as parsing cut it (see `Parsed`)."""
        found = self.parsed.get(post.path)
        if found is None or found.post is None or found.post.digest != post.digest:
            raise KeyError(f"{post.path}: not a post of this index")
        return unpack(found.packed)

    def stamps(self) -> Mapping[str, tuple[FileStamp, str]]:
        """Each post file's stamp and digest as this index read it (see `read_sources`),
        made once per index: a preloading master makes it before its workers fork."""

        def make() -> Mapping[str, tuple[FileStamp, str]]:
            parsed = self.parsed
            return {path: (stamp, parsed[path].digest) for path, stamp in self.files.items()}

        return self.memo(("stamps",), make)

    def derived_items(self) -> list[tuple[Post, Derived]]:
        """Posts and pages whose derived values are computed already."""
        done = self._derived
        return [(post, done[post.path]) for post in self.everything if post.path in done]

    @property
    def everything(self) -> tuple[Post, ...]:
        """Every post, then every page."""
        return self.posts + self.pages

    def all_issues(self) -> tuple[ContentIssue, ...]:
        """Errors and every warning, deriving each post first (as `content check` does)."""
        derived = [issue for post in self.everything for issue in self.derived(post).issues]
        return tuple(sorted((*self.issues, *derived), key=issue_order))

    def canonical_slug(self, requested: str, *, page: bool = False) -> str | None:
        """The slug an old or alias URL segment stands for, if any (never `requested` itself):
        an alias, or the slug written with other capitals, accents composed or encoded.
        Pages (`page=True`) have slugs and aliases of their own."""
        by_slug, aliases = (
            (self.pages_by_slug, self.page_aliases) if page else (self.by_slug, self.aliases)
        )
        key = alias_key(requested)
        if key != requested and key in by_slug:
            return key
        return aliases.get(key)

    def published_count(self, now: datetime) -> int:
        """How many publication moments have passed: changes exactly when visibility does."""
        return bisect_right(self.publications, now)

    def next_publication(self, now: datetime) -> datetime | None:
        """When the soonest scheduled post goes public, if any is waiting."""
        at = bisect_right(self.publications, now)
        return self.publications[at] if at < len(self.publications) else None

    def category(self, slug: str) -> Term | None:
        return _find(self.categories, slug)

    def tag(self, slug: str) -> Term | None:
        return _find(self.tags, slug)


def issue_order(issue: ContentIssue) -> tuple[str, str, str, int]:
    """Reports list issues by file, errors before warnings, then by field and line."""
    return (issue.path, issue.severity, issue.field or "", issue.line or 0)


def _find(terms: tuple[Term, ...], slug: str) -> Term | None:
    return next((term for term in terms if term.slug == slug), None)


def _key_line(front: str, key: str) -> int | None:
    """The file line on which a front-matter key is written (the front matter starts on 2)."""
    match = re.search(rf"^{re.escape(key)}\s*:", front, re.MULTILINE)
    return front.count("\n", 0, match.start()) + 2 if match else None


def _schema_issues(path: str, front: str, error: ValidationError) -> tuple[ContentIssue, ...]:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    issues = []
    for key, problems in sorted(messages.items()):
        name = None if key == "_schema" else key
        flat = problems if isinstance(problems, list) else [str(problems)]
        for problem in flat:
            line = _key_line(front, name) if name else None
            issues.append(ContentIssue(path, name, str(problem), line))
    return tuple(issues)


def _terms(
    names: Iterable[str], path: str, field_name: str
) -> tuple[tuple[TermRef, ...], list[ContentIssue]]:
    refs: dict[str, TermRef] = {}
    issues = []
    for name in names:
        slug = slugify(name)
        if not slug:
            message = f"{name!r} has no letters or digits, so it is left out"
            issues.append(ContentIssue(path, field_name, message, severity="warning"))
        elif slug not in refs:
            refs[slug] = TermRef(name, slug)
    return tuple(refs.values()), issues


def post_body(body: str, title: str, options: BuildOptions) -> str:
    """The Markdown a post serves: without a first H1 repeating the title, trimmed."""
    if options.strip_title_heading:
        body = strip_title_heading(body, title)
    return body.strip("\n") + "\n" if body.strip() else ""


def body_line(text: str, served: str, first_line: int) -> int:
    """The file line `served` (the post's body, from `post_body(text)`) starts on, given the
    line `text` starts on: `post_body` only cuts a leading title and blank lines."""
    kept = served.rstrip("\n")
    whole = text.rstrip("\n")
    start = len(whole) - len(kept)
    if not kept or start < 0 or not whole.endswith(kept):
        return first_line
    return first_line + text.count("\n", 0, start)


@lru_cache(maxsize=16)
def _schema(timezone: tzinfo, page: bool = False) -> FrontMatterSchema:
    """Schemas are costly to make and safe to share, so one per time zone (and kind)."""
    return FrontMatterSchema(timezone, page=page)


def is_page(path: str, metadata: Mapping[str, Any], options: BuildOptions) -> bool:
    """A page: in a page folder (`pages/about.md`), or `type:`/`layout:` says so (`page`)."""
    folder = path.rpartition("/")[0]
    if folder and not set(options.page_folders).isdisjoint(folder.split("/")):
        return True
    kinds = (metadata.get("type"), metadata.get("layout"))
    return any(
        isinstance(kind, str) and kind.strip().lower() in options.page_types for kind in kinds
    )


_FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})[-_]")


def implicit_front_matter(path: str, text: str, options: BuildOptions) -> dict[str, Any] | None:
    """What a file without front matter says of itself: its title from a leading `# H1`, its
    date from a `YYYY-MM-DD-` name; None unless it has both (a page needs only the title)."""
    heading = atx_heading(text.lstrip("\n").partition("\n")[0])
    title = inline_text(heading[1]) if heading and heading[0] == 1 else ""
    dated = _FILE_DATE.match(path.rpartition("/")[2])
    if not title or not (dated or is_page(path, {}, options)):
        return None
    return {"title": title, "date": dated.group(1)} if dated else {"title": title}


def _read(source: SourceFile, options: BuildOptions) -> tuple[str, str, int, dict[str, Any]]:
    """Front matter text (empty when implicit), body, the file line the body starts on and
    front matter of one file."""
    check_size(source.content, options.max_post_bytes)
    text = decode(source.content)
    if not has_front_matter(text):
        implicit = implicit_front_matter(source.path, text, options)
        if implicit is not None:
            return "", text, 1, implicit
    front, body, first_line = split(text)
    return front, body, first_line, load_yaml(front)


def parse_source(source: SourceFile, options: BuildOptions) -> Parsed:
    """One file to a post, or to the issues that keep it out; never raises for bad content."""
    path, sha = source.path, source.digest
    try:
        front, body, first_line, metadata = _read(source, options)
    except ReadError as exc:
        return Parsed(path, sha, None, (ContentIssue(path, exc.field, exc.message, exc.line),))
    page = is_page(path, metadata, options)
    try:
        data: dict[str, Any] = _schema(options.timezone, page).load(metadata)
    except ValidationError as exc:
        return Parsed(path, sha, None, _schema_issues(path, front, exc))

    slug, issues = _slug(path, front, data["slug"], data["title"])
    categories, problems = _terms(data["categories"], path, "category")
    tags, more = _terms(data["tags"], path, "tags")
    issues += problems + more
    values = {field.name: field.to_post(data[field.name]) for field in FIELDS if field.name in data}
    values.update(  # the fields whose values follow rules of their own
        slug=slug,
        categories=categories,
        tags=tags,
        aliases=tuple(
            dict.fromkeys(a for a in map(_alias_slug, data["aliases"]) if a and a != slug)
        ),
        old_names=tuple(name for name in old_names(path, data["slug"]) if name != slug),
        page=page,
    )
    problem = url_problem(values["image"], image=True) if values["image"] else None
    if problem:  # one URL policy: `cover: javascript:...` never reaches JSON
        key = "image" if metadata.get("image") else "cover"
        message = f"{values['image']!r} is not used: {problem}"
        issues.append(ContentIssue(path, key, message, _key_line(front, key), "warning"))
        values["image"] = None
    served = post_body(body, data["title"], options)
    line = body_line(body, served, first_line)
    post = Post(path=path, digest=sha, body_line=line, **values)
    return Parsed(path, sha, post, tuple(issues), pack(served))


def _alias_slug(written: str) -> str:
    """A written alias as a slug, percent-decoded first (`/%c2%bfes-bueno/` is `es-bueno`)."""
    return slugify(percent_decoded(written))


def _slug(path: str, front: str, written: str | None, title: str) -> tuple[str, list[ContentIssue]]:
    """The post's slug: its `slug` field (kept as written when URL-safe), else its file
    name's, else its title's; a `slug` with no letters or digits is an error, not a loss."""
    slug = post_slug(written) if written else ""
    issues = []
    if written and not slug:
        slug = slug_from_path(path) or fallback_slug(title)
        message = f"{written!r} has no letters or digits; served as {slug!r}"
        issues.append(ContentIssue(path, "slug", message, _key_line(front, "slug")))
    return slug or slug_from_path(path) or fallback_slug(title), issues


def _keep_last_good(result: Parsed, earlier: Parsed | None) -> Parsed:
    """A file that was valid and is now broken keeps serving its last valid post; the errors
    are still reported. A new file that is broken is not served."""
    if result.post is not None or earlier is None or earlier.post is None:
        return result
    note = ContentIssue(
        result.path,
        None,
        "serving the last valid version until the errors are fixed",
        severity="warning",
    )
    return Parsed(result.path, result.digest, earlier.post, (*result.issues, note), earlier.packed)


def _canonical_names(posts: Iterable[Post], attr: str) -> dict[str, str]:
    """One display name per term slug: the most used spelling, then the first by path."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for post in posts:
        for ref in getattr(post, attr):
            spellings[ref.slug][ref.name] += 1
    return {slug: counts.most_common(1)[0][0] for slug, counts in spellings.items()}


def derive(
    post: Post,
    body: str,
    options: BuildOptions,
    assets: AssetMap,
    shortcodes: Templates = NO_TEMPLATES,
) -> Derived:
    """Analyse a post's body (shortcodes expanded) and resolve its image URLs; warns about
    shortcodes and template code removed, URLs removed by policy and images that are missing."""
    expanded = expand(body, shortcodes, embeds=options.raw_html != "escape")
    analysis = analyse(
        expanded.markdown,
        words_per_minute=options.words_per_minute,
        excerpt_length=options.excerpt_length,
    )
    flagged = unsafe_urls(body)
    warnings = _body_warnings(post, expanded, flagged, assets)

    def locate(url: str, alt: str, field_name: str) -> Image:
        resolved = resolve(url, post.directory, assets)
        if resolved.missing:
            message = f"image {url!r} is not in the content folder"
            warnings.append(ContentIssue(post.path, field_name, message, severity="warning"))
        facts = assets.images.facts(content_path(url, post.directory)) if resolved.local else None
        return Image(resolved.url, alt, facts)

    removed = {url for _, url, _ in flagged}
    kept = []
    for image in analysis.images:
        problem = url_problem(image.url, image=True)
        if problem is None:
            kept.append(image)
        elif image.url not in removed:
            message = f"{image.url!r}: {problem}"
            warnings.append(ContentIssue(post.path, "body", message, severity="warning"))
    images = tuple(locate(image.url, image.alt, "body") for image in kept)
    cover = images[0] if images else None
    if post.image:  # the front matter's image, with its alt text when the body shows it too
        cover = locate(post.image, "", "image")
        cover = next((image for image in images if image.url == cover.url), cover)
    return Derived(
        post.digest, analysis, images, cover.url if cover else None, tuple(warnings), cover
    )


def _body_warnings(
    post: Post, expanded: Expanded, flagged: list[tuple[int, str, str]], assets: AssetMap
) -> list[ContentIssue]:
    """Shortcode and template code removed, URLs the policy removes, links to missing posts;
    each on its file line."""

    def at(line: int) -> int:
        return post.body_line + line - 1

    warnings = [
        ContentIssue(post.path, "body", issue.message, at(issue.line), "warning")
        for issue in expanded.issues
    ]
    for line, url, why in flagged:
        warnings.append(ContentIssue(post.path, "body", f"{url!r}: {why}", at(line), "warning"))
    for line, target in expanded.refs:
        if find_post(target, post.directory, assets) is None:
            message = f"{target!r} names no post in the content folder"
            warnings.append(ContentIssue(post.path, "body", message, at(line), "warning"))
    return warnings


def derive_isolated(
    post: Post,
    body: str,
    options: BuildOptions,
    assets: AssetMap,
    shortcodes: Templates = NO_TEMPLATES,
) -> Derived:
    """`derive`, where a failure (a bug meeting content nobody foresaw) is an error on this
    post, logged, while the post is still listed with an empty analysis."""
    try:
        return derive(post, body, options, assets, shortcodes)
    except Exception as error:  # one post must never take a listing, feed or search down
        issue = failure(post.path, "analysis", error)
        log_failure(issue, error)
        return Derived(post.digest, EMPTY_ANALYSIS, (), None, (issue,))


def log_failure(issue: ContentIssue, error: BaseException) -> None:
    """The issue as an error line; the traceback, for a bug report, only at DEBUG level."""
    log.error("%s", issue, extra={"event": "content-failure"})
    log.debug("traceback of %s", issue.path, exc_info=error)


def failure(path: str, step: str, error: BaseException) -> ContentIssue:
    """The content issue for a step that failed on one file: what failed and how."""
    detail = f"{type(error).__name__}: {error}"[:300]
    message = f"{step} failed ({detail}); the post is served without it. Please report it."
    return ContentIssue(path, "body", message)


EMPTY_ANALYSIS = Analysis("", "", 0, 0, (), (), (), ())

Render = Callable[[str, str, RenderOptions], str]


def render_options(index: Index, media_base_url: str = "/") -> RenderOptions:
    """Everything besides the body that a post's HTML depends on, for this index."""
    return RenderOptions(
        raw_html=index.options.raw_html,
        iframe_hosts=index.options.iframe_hosts,
        assets=index.assets,
        media_base_url=media_base_url,
        shortcodes=index.shortcodes,
    )


def render_isolated(
    post: Post, body: str, options: RenderOptions, render: Render | None = None
) -> tuple[str, ContentIssue | None]:
    """The post's HTML and None; if rendering fails, `""` and the issue that says so."""
    try:
        return (render or render_html)(body, post.directory, options), None
    except Exception as error:  # one post must never take a response down
        issue = failure(post.path, "rendering", error)
        log_failure(issue, error)
        return "", issue


def plain_html(plaintext: str) -> str:
    """Plain text as HTML paragraphs: what a post whose rendering failed is served as."""
    paragraphs = (html.escape(text) for text in plaintext.split("\n\n") if text)
    return "".join(f"<p>{text}</p>\n" for text in paragraphs)


def render_failures(index: Index, render: Render | None = None) -> tuple[ContentIssue, ...]:
    """Render every post once, as `content check` does: the posts whose rendering fails."""
    options = render_options(index)
    found = (
        render_isolated(post, index.body(post), options, render)[1] for post in index.everything
    )
    return tuple(issue for issue in found if issue is not None)


def _canonical_terms(post: Post, names: Mapping[str, Mapping[str, str]]) -> Post:
    """The post with each category and tag spelled the one way the index shows it."""
    categories, tags = names["categories"], names["tags"]
    if all(categories[t.slug] == t.name for t in post.categories) and all(
        tags[t.slug] == t.name for t in post.tags
    ):
        return post
    return replace(
        post,
        categories=tuple(TermRef(categories[t.slug], t.slug) for t in post.categories),
        tags=tuple(TermRef(tags[t.slug], t.slug) for t in post.tags),
    )


def _claim_slugs(posts: list[Post]) -> tuple[list[Post], dict[str, str], list[ContentIssue]]:
    """Every post served under a slug of its own (by path), the aliases that lead to them, and
    the clashes: see `_own_slugs` and `_aliases`."""
    owners, issues = _own_slugs(posts)
    aliases, refused = _aliases(owners)
    return sorted(owners.values(), key=lambda post: post.path), aliases, issues + refused


def _own_slugs(posts: list[Post]) -> tuple[dict[str, Post], list[ContentIssue]]:
    """Posts by slug. The oldest post (then the first path) keeps a slug several claim; each
    newer one is served as `<slug>-<its date>` (`-2`, `-3` if that is taken too), an error
    naming both files. The mapping lists the oldest first, then the renamed ones."""
    owners: dict[str, Post] = {}
    losers: list[Post] = []
    for post in sorted(posts, key=_claim_order):
        if post.slug in owners:
            losers.append(post)
        else:
            owners[post.slug] = post
    issues: list[ContentIssue] = []
    for post in losers:
        slug = base = f"{post.slug}-{post.date:%Y-%m-%d}" if post.date else post.slug
        number = 1
        while slug in owners:
            number += 1
            slug = f"{base}-{number}"
        owners[slug] = replace(post, slug=slug)
        message = (
            f"{post.slug!r} is also the slug of {owners[post.slug].path}, which is older; "
            f"this post is served as {slug!r}: give one of them another slug"
        )
        issues.append(ContentIssue(post.path, "slug", message))
    return owners, issues


def _aliases(owners: dict[str, Post]) -> tuple[dict[str, str], list[ContentIssue]]:
    """Alias (looked up by `alias_key`) to slug. Written aliases first, each refused (an
    error) when it is another post's slug or alias; then every post's old names (raw file
    stem, raw `slug`), silently skipped where taken, since they only keep old links alive."""
    aliases: dict[str, str] = {}
    issues: list[ContentIssue] = []
    for post in owners.values():
        for alias in post.aliases:
            key = alias_key(alias)
            other = owners.get(key) or owners.get(aliases.get(key, ""))
            if other is not None and other is not post:
                what = "slug" if other.slug == key else "alias"
                message = f"{alias!r} is already the {what} of {other.path}"
                issues.append(ContentIssue(post.path, "aliases", message))
            else:
                aliases[key] = post.slug
    for post in owners.values():
        for name in post.old_names:
            key = alias_key(name)
            if key not in owners:
                aliases.setdefault(key, post.slug)
    return aliases, issues


def _claim_order(post: Post) -> tuple[datetime, str]:
    return post.date or EPOCH, post.path


def _group(posts: tuple[Post, ...], attr: str) -> tuple[Term, ...]:
    members: dict[str, list[Post]] = defaultdict(list)
    names: dict[str, str] = {}
    for post in posts:
        for ref in getattr(post, attr):
            members[ref.slug].append(post)
            names[ref.slug] = ref.name
    terms = (Term(names[slug], slug, tuple(items)) for slug, items in members.items())
    return tuple(sorted(terms, key=lambda term: (sort_key(term.name), term.slug)))


def newest_first(posts: Iterable[Post]) -> tuple[Post, ...]:
    """Date order, newest first; equal dates by slug so the order never depends on disk order."""
    by_slug = sorted(posts, key=attrgetter("slug"))
    return tuple(sorted(by_slug, key=lambda post: post.date or EPOCH, reverse=True))  # stable


def build_index(
    sources: Sources,
    options: BuildOptions,
    built_at: datetime,
    previous: Index | None = None,
    known: Mapping[str, Parsed] | None = None,
    artifacts: ArtifactSource | None = None,
    fresh: Mapping[str, Parsed] | None = None,
) -> Index:
    """Parse, validate and index every file; files unchanged since `previous` are not re-read.

    `known` are earlier results (the parse cache) to reuse for files with the same bytes;
    `artifacts`, a store of derived values shared by processes (then the memo is bounded);
    `fresh`, what `parse_source` made elsewhere (the loader's process pool) for files with
    these bytes, taken instead of parsing them here.
    """
    if previous is not None and _nothing_changed(previous, sources, options):
        return previous
    if previous is not None and _same_files(previous, sources, options):
        parsed_before = previous.parsed
        read = [
            source
            for source in sources.files
            if source.data is not None
            or (earlier := parsed_before.get(source.path)) is None
            or earlier.digest != source.digest
        ]
        patched = patch_index(previous, read, options, built_at, artifacts)
        if patched is not None:
            return patched
    reusable = dict(known or {})
    if previous is not None and previous.options == options:
        reusable.update(previous.parsed)
    made = fresh or {}
    parsed: dict[str, Parsed] = {}
    for source in sorted(sources.files, key=lambda s: s.path):
        earlier = reusable.get(source.path)
        if earlier is not None and earlier.digest == source.digest:
            parsed[source.path] = earlier
        else:
            result = made.get(source.path)
            if result is None or result.digest != source.digest:
                result = parse_source(source, options)
            parsed[source.path] = _keep_last_good(result, earlier)

    issues = [issue for result in parsed.values() for issue in result.issues]
    valid = [result.post for result in parsed.values() if result.post is not None]
    served, aliases, clashes = _claim_slugs([post for post in valid if not post.page])
    pages, page_aliases, page_clashes = _claim_slugs([post for post in valid if post.page])
    issues += clashes + page_clashes
    shortcodes, template_issues = load_templates(sources.shortcodes)
    issues += template_issues
    paths = PostPaths((post.path, post.slug) for post in served)
    images = ImageTable({image.path: image for image in sources.images})
    assets = AssetMap(sources.assets, options.asset_base_url, paths, images)
    issues += [
        ContentIssue(image.path, None, image.problem, severity="warning")
        for image in sources.images
        if image.problem
    ]
    names = {
        "categories": _canonical_names(served, "categories"),
        "tags": _canonical_names(served, "tags"),
    }
    posts = newest_first(_canonical_terms(post, names) for post in served)
    derived: Any = artifacts.memo() if artifacts is not None else {}
    same_inputs = previous is not None and (
        previous.options,
        previous.assets,
        previous.shortcodes,
    ) == (
        options,
        assets,
        shortcodes,
    )
    if artifacts is None and previous is not None and same_inputs:
        derived = {p.path: d for p, d in previous.derived_items() if p.path in parsed}
    return Index(
        version=_version(parsed.values(), sources.assets, options, shortcodes, images),
        built_at=built_at,
        posts=posts,
        by_slug=MappingProxyType({post.slug: post for post in posts}),
        aliases=MappingProxyType(dict(sorted(aliases.items()))),
        categories=_group(posts, "categories"),
        tags=_group(posts, "tags"),
        issues=tuple(sorted(issues, key=issue_order)),
        assets=assets,
        options=options,
        parsed=MappingProxyType(parsed),
        publications=tuple(sorted(post.date for post in posts if post.date and not post.draft)),
        pages=tuple(sorted(pages, key=lambda page: (sort_key(page.title), page.slug))),
        pages_by_slug=MappingProxyType({page.slug: page for page in pages}),
        page_aliases=MappingProxyType(dict(sorted(page_aliases.items()))),
        shortcodes=shortcodes,
        files=MappingProxyType(
            {source.path: source.stamp for source in sources.files if source.stamp}
        ),
        _derived=derived,
        artifacts=artifacts,
        linked=sources.linked,
    )


PATCH_LIMIT = 64  # files changed at most for `patch_index`; more are a full build anyway


def patch_index(
    previous: Index,
    read: Sequence[SourceFile],
    options: BuildOptions,
    built_at: datetime,
    artifacts: ArtifactSource | None = None,
) -> Index | None:
    """`previous` with the post files in `read` parsed again, when every other input is
    unchanged (the caller knows: the same post files, assets, images, settings, no shortcode
    templates) and each changed file is still a served post with the same slug, date, draft
    state, terms, aliases and old names: the common edit of a title or a text. Then the
    order, neighbours, terms, aliases and publications are those of `previous`, and only
    the changed posts are replaced in copies of its lists and maps (C-level copies, no loop
    in Python over every post). None when it does not apply: then `build_index` builds.

    The result equals what `build_index` makes from the same files (tests compare them)."""
    if previous.options != options or previous.shortcodes or len(read) > PATCH_LIMIT:
        return None
    before = previous.parsed
    results: dict[str, Parsed] = {}
    for source in read:
        earlier = before.get(source.path)
        if earlier is None:
            return None
        if earlier.digest != source.digest:
            results[source.path] = _keep_last_good(parse_source(source, options), earlier)
    pairs: list[tuple[Post, Post]] = []
    for path, result in results.items():
        old, new = before[path].post, result.post
        served = previous.by_slug.get(old.slug) if old is not None else None
        if old is None or new is None or served is None or served.path != path:
            return None  # invalid before, a page, or served under another slug (a clash)
        if _place(new) != _place(old):
            return None
        if new is old:  # broken now: the last valid version is still served
            pairs.append((served, served))
        elif served is old:
            pairs.append((served, new))
        else:  # the index spells its terms otherwise: the same refs, so the same spelling
            pairs.append((served, replace(new, categories=served.categories, tags=served.tags)))
    # issues that are not the file's own (a refused alias) come from the other posts: full
    own = sum(len(before[path].issues) for path in results)
    if sum(1 for issue in previous.issues if issue.path in results) != own:
        return None

    posts = list(previous.posts)
    where = list(map(id, posts))
    placed = sorted((where.index(id(served)), served, now) for served, now in pairs)
    for at, _, now in placed:
        posts[at] = now
    by_slug = dict(previous.by_slug)
    by_slug.update((now.slug, now) for _, _, now in placed)
    parsed = dict(before)
    parsed.update(results)
    issues = [issue for issue in previous.issues if issue.path not in results]
    issues += [issue for result in results.values() for issue in result.issues]
    files = dict(previous.files)
    stamps = dict(previous.stamps())
    for source in read:
        if source.stamp:
            files[source.path] = source.stamp
            stamps[source.path] = (source.stamp, parsed[source.path].digest)
        else:
            files.pop(source.path, None)
            stamps.pop(source.path, None)
    derived: Any = artifacts.memo() if artifacts is not None else {}
    if artifacts is None:
        derived = {path: d for path, d in previous._derived.items() if path not in results}
    index = Index(
        version=_version(
            parsed.values(),
            previous.assets.files,
            options,
            previous.shortcodes,
            previous.assets.images,
        ),
        built_at=built_at,
        posts=tuple(posts),
        by_slug=MappingProxyType(by_slug),
        aliases=previous.aliases,
        categories=_patched_terms(previous.categories, pairs, "categories"),
        tags=_patched_terms(previous.tags, pairs, "tags"),
        issues=tuple(sorted(issues, key=issue_order)),
        assets=previous.assets,
        options=options,
        parsed=MappingProxyType(parsed),
        publications=previous.publications,
        pages=previous.pages,
        pages_by_slug=previous.pages_by_slug,
        page_aliases=previous.page_aliases,
        shortcodes=previous.shortcodes,
        files=MappingProxyType(files),
        _derived=derived,
        artifacts=artifacts,
        patch=Patch(previous.version, tuple((served, now) for _, served, now in placed)),
        linked=previous.linked,
    )
    index.memo(("stamps",), lambda: stamps)
    return index


def _place(post: Post) -> tuple[Any, ...]:
    """What decides where a post is served and listed: slug, date, draft state, kind, terms,
    aliases and old names (what `patch_index` requires unchanged)."""
    return (
        post.slug,
        post.date,
        post.draft,
        post.page,
        post.categories,
        post.tags,
        post.aliases,
        post.old_names,
    )


def _patched_terms(
    terms: tuple[Term, ...], pairs: Sequence[tuple[Post, Post]], attr: str
) -> tuple[Term, ...]:
    """`terms` with each changed post replaced in the terms it is filed under."""
    touched = {ref.slug for served, _ in pairs for ref in getattr(served, attr)}
    if not touched:
        return terms
    patched = list(terms)
    for at, term in enumerate(terms):
        if term.slug in touched:
            members = list(term.posts)
            where = list(map(id, members))
            for served, now in pairs:
                if any(ref.slug == term.slug for ref in getattr(served, attr)):
                    members[where.index(id(served))] = now
            patched[at] = Term(term.name, term.slug, tuple(members))
    return tuple(patched)


def _same_files(previous: Index, sources: Sources, options: BuildOptions) -> bool:
    """Whether `sources` has the post files, assets, images and settings `previous` was built
    from (their bytes may differ), and no shortcode templates: what `patch_index` needs."""
    parsed = previous.parsed
    return (
        previous.options == options
        and len(sources.files) == len(parsed)
        and not sources.shortcodes
        and not previous.shortcodes
        and sources.assets == previous.assets.files
        and sources.linked == previous.linked
        and all(source.path in parsed for source in sources.files)
        and ImageTable({image.path: image for image in sources.images}) == previous.assets.images
    )


def changed_posts(previous: Index, index: Index) -> tuple[Post, ...] | None:
    """The posts of `index` whose derived values may differ from `previous`'s: those parsed
    anew. None when every post's may (a setting, an asset, a slug another post links to, or a
    shortcode template changed): what a post's analysis and HTML depend on besides its file."""
    if (previous.options, previous.assets, previous.shortcodes) != (
        index.options,
        index.assets,
        index.shortcodes,
    ):
        return None
    patch = index.patched_from(previous)
    if patch is not None:
        return tuple(now for _, now in patch.pairs)
    before = previous.parsed
    return tuple(
        post for post in index.posts if before.get(post.path) is not index.parsed[post.path]
    )


def _nothing_changed(previous: Index, sources: Sources, options: BuildOptions) -> bool:
    """Whether `sources` are what `previous` was built from: every post file unchanged (not
    read again), no file added or removed, the same assets and settings, no templates. Then a
    reload returns `previous` itself and costs a `stat` per file."""
    # an unread file's digest is the one `stamps()` gave for it: the parse results need not
    # be touched (in a forked worker, touching them copies their memory pages)
    return all(source.data is None for source in sources.files) and _same_files(
        previous, sources, options
    )


def _version(
    parsed: Iterable[Parsed],
    assets: frozenset[str],
    options: BuildOptions,
    shortcodes: Templates = NO_TEMPLATES,
    images: Mapping[str, ImageFile] | None = None,
) -> str:
    """Changes whenever a source file, the set of assets, an image's bytes (its width, height
    and placeholder are served), a shortcode template, a setting or this package changes."""
    hasher = hashlib.sha256(f"{__version__}\n{options.fingerprint()}\n".encode())
    hasher.update(f"shortcodes\0{shortcodes.digest}\n".encode())
    for result in parsed:
        hasher.update(f"{result.path}\0{result.digest}\n".encode())
    images = images or {}
    for path in sorted(assets):
        image = images.get(path)
        digest = f"\0{image.digest}" if image else ""
        hasher.update(f"asset\0{path}{digest}\n".encode())
    return hasher.hexdigest()[:16]
