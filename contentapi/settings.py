"""Settings: every `CONTENTAPI_*` variable, its default and help, cast and checked at startup."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

PREFIX = "CONTENTAPI_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {raw!r}") from exc


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL: the one check for every URL setting and option."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _url(raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    if not is_http_url(value):
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/") + "/"


def _choice(*options: str) -> Callable[[str], str]:
    def cast(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return cast


# Permalink patterns: `{name}` placeholders, and the names a post's and a term's pattern may use.
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
POST_PLACEHOLDERS = ("slug", "year", "month", "day", "category")
TERM_PLACEHOLDERS = ("slug",)


def _placeholders(names: tuple[str, ...]) -> str:
    return ", ".join("`{" + name + "}`" for name in names)


def _pattern(*placeholders: str) -> Callable[[str], str]:
    def cast(raw: str) -> str:
        value = raw.strip()
        unknown = set(PLACEHOLDER.findall(value)) - set(placeholders)
        if not value.startswith("/") or unknown or "{slug}" not in value:
            allowed = ", ".join("{" + name + "}" for name in placeholders)
            raise ValueError(f"must be a path with {{slug}}, using only {allowed}")
        return value

    return cast


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _text(raw: str) -> str:
    return raw.strip()


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a number of seconds above 0")
    return value


def _urls(raw: str) -> tuple[str, ...]:
    urls = _csv(raw)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return urls


SEARCH_BACKENDS = ("fts5", "tantivy")  # the names of contentapi.outputs.search.BACKENDS


@dataclass(frozen=True)
class Setting:
    """One documented setting: environment name, default (as text), help and cast."""

    name: str
    default: str
    help: str
    cast: Callable[[str], Any]

    @property
    def env(self) -> str:
        return PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("CONTENT_DIR", "content", "Folder of Markdown posts (searched recursively).", Path),
    Setting(
        "TIMEZONE", "UTC", "Time zone for dates written without an offset (IANA name).", _timezone
    ),
    Setting("STRICT", "false", "Refuse to start (or reload) when any post is invalid.", _bool),
    Setting(
        "RAW_HTML",
        "sanitize",
        "Raw HTML in Markdown: `sanitize` (allowlist), `escape` (shown as text) or `allow`.",
        _choice("sanitize", "escape", "allow"),
    ),
    Setting(
        "ASSET_BASE_URL",
        "",
        "Base URL for root-relative and relative image and link URLs that are not files "
        "in the content folder (e.g. the site's CDN). Empty leaves them as written.",
        _url,
    ),
    Setting(
        "BASE_URL",
        "",
        "Public URL of this API, used for absolute URLs. Empty uses the request's host.",
        _url,
    ),
    Setting(
        "IFRAME_HOSTS",
        "www.youtube.com,www.youtube-nocookie.com,player.vimeo.com,open.spotify.com,"
        "w.soundcloud.com,codepen.io,codesandbox.io,player.twitch.tv,clips.twitch.tv,"
        "www.loom.com,www.google.com/maps/embed,maps.google.com",
        "Comma-separated hosts (or `host/path` prefixes) whose https iframes survive HTML "
        "sanitising; an iframe from any other host becomes a link to its page.",
        _csv,
    ),
    Setting(
        "STRIP_TITLE_HEADING",
        "true",
        "Drop a leading H1 that repeats the post's title from the body (it is in `title`).",
        _bool,
    ),
    Setting("WORDS_PER_MINUTE", "200", "Reading speed used for `reading_time`.", _positive_int),
    Setting(
        "EXCERPT_LENGTH",
        "200",
        "Maximum characters of an excerpt cut from the first paragraph.",
        _positive_int,
    ),
    Setting(
        "RENDER_CACHE_SIZE",
        "4096",
        "How many rendered post bodies to keep in memory (0 disables the cache) when "
        "`CONTENTAPI_STORE_PATH` is `off`; with the store, HTML is read from it.",
        _non_negative_int,
    ),
    Setting(
        "MAX_POST_BYTES",
        "2097152",
        "Largest post file read, in bytes (2 MiB); a larger one is an error naming the file.",
        _positive_int,
    ),
    Setting(
        "PAGE_TYPES",
        "page",
        "Comma-separated values of a file's `type:` or `layout:` that make it a page "
        "(`/api/v1/pages`: no date needed, never among posts).",
        lambda raw: tuple(item.lower() for item in _csv(raw)),
    ),
    Setting(
        "PAGE_FOLDERS",
        "pages",
        "Comma-separated folder names whose files are pages (`pages/about.md`).",
        _csv,
    ),
    Setting("SITE_TITLE", "contentapi", "Site title shown by `GET /api/v1`.", _text),
    Setting("SITE_DESCRIPTION", "", "Site description shown by `GET /api/v1`.", _text),
    Setting("DEFAULT_PER_PAGE", "10", "Page size when `per_page` is not given.", _positive_int),
    Setting("MAX_PER_PAGE", "100", "Largest `per_page` a client may ask for.", _positive_int),
    Setting(
        "SITE_URL",
        "",
        "Public URL of the site the posts appear on, used by feeds and the sitemap. Empty uses "
        "the posts' API URLs.",
        _url,
    ),
    Setting(
        "PERMALINK",
        "/{slug}",
        f"A post's path on the public site: {_placeholders(POST_PLACEHOLDERS)}.",
        _pattern(*POST_PLACEHOLDERS),
    ),
    Setting(
        "CATEGORY_PERMALINK",
        "/categories/{slug}",
        "A category page's path on the site.",
        _pattern(*TERM_PLACEHOLDERS),
    ),
    Setting(
        "TAG_PERMALINK",
        "/tags/{slug}",
        "A tag page's path on the site.",
        _pattern(*TERM_PLACEHOLDERS),
    ),
    Setting("FEED_ITEMS", "20", "Posts in each feed, newest first.", _positive_int),
    Setting(
        "SITE_LANGUAGE",
        "en",
        "Language of the site: feeds, and search for posts without `lang`.",
        _text,
    ),
    Setting("SITE_AUTHOR", "", "Author named in feeds for posts without `author`.", _text),
    Setting(
        "WATCH",
        "auto",
        "Reload when files in the content folder change: `true`, `false`, or `auto` (on under "
        "`flask run`, the development server).",
        _choice("auto", "true", "false"),
    ),
    Setting(
        "ADMIN_TOKEN",
        "",
        "Bearer token for `/api/v1/admin/*` (at least 16 characters). Empty: those routes "
        "answer 404.",
        _text,
    ),
    Setting(
        "LOG_FORMAT",
        "text",
        "`text`, or `json` for one JSON object per line.",
        _choice("text", "json"),
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "Logging level: DEBUG, INFO, WARNING, ERROR.",
        _choice("debug", "info", "warning", "error"),
    ),
    Setting(
        "PARSE_CACHE",
        "auto",
        "Folder that keeps parsed posts by content hash between restarts: `auto` is the user's "
        "cache folder (`$XDG_CACHE_HOME/contentapi` or `~/.cache/contentapi`), `off` disables.",
        _text,
    ),
    Setting(
        "STORE_PATH",
        "auto",
        "SQLite file that keeps each post's analysis and HTML for every worker and restart "
        "(`flask content build` fills it ahead of time): `auto` is `artifacts.sqlite` in the "
        "parse cache's folder, `off` disables.",
        _text,
    ),
    Setting(
        "CACHE_TYPE",
        "SimpleCache",
        "Server-side response cache: `SimpleCache` (per process), `RedisCache` (shared by "
        "workers and replicas) or `NullCache` (off).",
        _choice("simplecache", "rediscache", "nullcache"),
    ),
    Setting(
        "CACHE_REDIS_URL", "", "Redis URL for `RedisCache`, e.g. `redis://host:6379/0`.", _text
    ),
    Setting(
        "CACHE_TIMEOUT",
        "300",
        "Seconds a response stays in the server-side cache (never past the next scheduled post).",
        _positive_int,
    ),
    Setting(
        "CACHE_MAX_AGE",
        "60",
        "`Cache-Control: max-age` for public responses, in seconds.",
        _non_negative_int,
    ),
    Setting(
        "CACHE_STALE_WHILE_REVALIDATE",
        "300",
        "`Cache-Control: stale-while-revalidate` for public responses, in seconds.",
        _non_negative_int,
    ),
    Setting("CORS_ORIGINS", "*", "Comma-separated origins allowed by CORS (`*` for any).", _csv),
    Setting(
        "COMPRESS_MIN_SIZE",
        "500",
        "Responses at least this many bytes are compressed (brotli or gzip).",
        _non_negative_int,
    ),
    Setting(
        "PREVIEW_TOKEN",
        "",
        "Bearer token that shows drafts and scheduled posts (at least 16 characters). Empty "
        "turns preview off.",
        _text,
    ),
    Setting(
        "TRUSTED_HOSTS",
        "",
        "Comma-separated `Host` names this API answers to (`.example.com` also allows its "
        "subdomains); any other is a 400. Empty accepts every well-formed host.",
        _csv,
    ),
    Setting(
        "CACHE_MAX_BYTES",
        "67108864",
        "Size limit of the per-process response cache (`SimpleCache`), in bytes of stored "
        "responses; the least recently used go first. Redis has its own `maxmemory`.",
        _positive_int,
    ),
    Setting(
        "SECRET_KEY",
        "",
        "Secret (at least 16 characters) that signs `/api/v1/changes` tokens; give every "
        "replica the same one. Empty: a random one per start.",
        _text,
    ),
    Setting(
        "RUNTIME_DIR",
        "auto",
        "Folder where `POST /api/v1/admin/reload` tells the other workers to reload, and where "
        "they agree on who sends each webhook: `auto` is a private folder under "
        "`$XDG_RUNTIME_DIR` or the system's temporary folder.",
        _text,
    ),
    Setting(
        "SEARCH_BACKEND",
        "tantivy",
        "Full-text search engine: `tantivy` (ranks and counts in Rust: milliseconds at 10,000 "
        "posts) or `fts5` (SQLite FTS5, in the standard library; slower on large result sets).",
        _choice(*SEARCH_BACKENDS),
    ),
    Setting(
        "SEARCH_CACHE",
        "auto",
        "Folder of search index files, named by a hash of what they hold: one process builds "
        "each, every worker reads it. `auto` is `$XDG_CACHE_HOME/contentapi/search` (or "
        "`~/.cache/...`), `off` keeps each worker's index in its memory.",
        _text,
    ),
    Setting(
        "WEBHOOK_URLS",
        "",
        "Comma-separated http(s) URLs that get a signed POST (Standard Webhooks) of the "
        "`/api/v1/changes` payload after each reload that changes something.",
        _urls,
    ),
    Setting(
        "WEBHOOK_SECRET",
        "",
        "Secret that signs webhooks: `whsec_` and base64 of 16 to 64 random bytes, as the "
        "Standard Webhooks libraries take it. Required with `WEBHOOK_URLS`.",
        _text,
    ),
    Setting("WEBHOOK_TIMEOUT", "5", "Seconds one webhook attempt may take.", _positive_float),
    Setting(
        "WEBHOOK_RETRIES",
        "5",
        "Retries of a webhook that failed (refused, timed out or not 2xx).",
        _non_negative_int,
    ),
    Setting(
        "WEBHOOK_RETRY_DELAY",
        "5",
        "Seconds before a webhook's first retry; each next one waits twice as long (an hour "
        "at most).",
        _positive_float,
    ),
    Setting(
        "CHANGES_STREAM_SECONDS",
        "300",
        "How long one `/api/v1/changes/stream` connection stays open on a threaded worker "
        "before the client reconnects (a single-threaded worker answers at once).",
        _non_negative_int,
    ),
)


WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def webhook_key(secret: str) -> bytes:
    """The webhook signing key: the base64 after `whsec_` (or the whole value without the
    prefix), decoded as the Standard Webhooks libraries do, so receivers verify with the same
    string."""
    text = secret.strip().removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "must be base64 (optionally prefixed `whsec_`), e.g. the output of "
            "`python -c \"import base64,secrets;print('whsec_'+"
            'base64.b64encode(secrets.token_bytes(32)).decode())"`'
        ) from None
    if len(key) < 16:
        raise ValueError("must decode to at least 16 bytes (24 to 64 are recommended)")
    return key


def _check_webhooks(settings: Settings) -> None:
    if not settings.webhook_secret:
        raise ConfigError(f"{PREFIX}WEBHOOK_URLS needs {PREFIX}WEBHOOK_SECRET to sign them")
    try:
        webhook_key(settings.webhook_secret)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}WEBHOOK_SECRET is not valid: {exc}") from None
    if not settings.base_url:
        raise ConfigError(
            f"{PREFIX}WEBHOOK_URLS needs {PREFIX}BASE_URL: the URLs in the payload are absolute"
        )


_CACHE_TYPES = {"simplecache": "SimpleCache", "rediscache": "RedisCache", "nullcache": "NullCache"}


@dataclass(frozen=True)
class Settings:
    """The cast, checked value of every setting; field names are the setting names lowercased."""

    content_dir: Path
    timezone: ZoneInfo
    strict: bool
    raw_html: str
    asset_base_url: str
    base_url: str
    iframe_hosts: tuple[str, ...]
    strip_title_heading: bool
    words_per_minute: int
    excerpt_length: int
    render_cache_size: int
    max_post_bytes: int
    page_types: tuple[str, ...]
    page_folders: tuple[str, ...]
    site_title: str
    site_description: str
    default_per_page: int
    max_per_page: int
    site_url: str
    permalink: str
    category_permalink: str
    tag_permalink: str
    feed_items: int
    site_language: str
    site_author: str
    watch: str
    admin_token: str
    log_format: str
    log_level: str
    parse_cache: str
    store_path: str
    cache_type: str
    cache_redis_url: str
    cache_timeout: int
    cache_max_age: int
    cache_stale_while_revalidate: int
    cors_origins: tuple[str, ...]
    compress_min_size: int
    preview_token: str
    trusted_hosts: tuple[str, ...]
    cache_max_bytes: int
    secret_key: str
    runtime_dir: str
    search_backend: str
    search_cache: str
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    webhook_timeout: float
    webhook_retries: int
    webhook_retry_delay: float
    changes_stream_seconds: int

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Cast every setting from `environ` (`CONTENTAPI_*` names); `overrides` win over it.

        An override may be text (cast like the environment) or an already typed value.
        """
        overrides = dict(overrides or {})
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.env in overrides and not isinstance(overrides[setting.env], str):
                values[setting.name.lower()] = overrides.pop(setting.env)
                continue
            raw = overrides.pop(setting.env, environ.get(setting.env, setting.default))
            try:
                values[setting.name.lower()] = setting.cast(raw)
            except ValueError as exc:
                raise ConfigError(f"{setting.env}={raw!r} is not valid: {exc}") from None
        unknown = sorted(key for key in overrides if key.startswith(PREFIX))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        values["cache_type"] = _CACHE_TYPES[values["cache_type"]]
        settings = cls(**values)
        if settings.cache_type == "RedisCache" and not settings.cache_redis_url:
            raise ConfigError(f"{PREFIX}CACHE_TYPE=RedisCache needs {PREFIX}CACHE_REDIS_URL")
        for name in ("preview_token", "admin_token", "secret_key"):
            if 0 < len(getattr(settings, name)) < 16:
                raise ConfigError(f"{PREFIX}{name.upper()} must be at least 16 characters")
        if settings.webhook_urls:
            _check_webhooks(settings)
        if settings.default_per_page > settings.max_per_page:
            raise ConfigError(
                f"{PREFIX}DEFAULT_PER_PAGE ({settings.default_per_page}) is larger than "
                f"{PREFIX}MAX_PER_PAGE ({settings.max_per_page})"
            )
        return settings

    @property
    def watching(self) -> bool:
        """Whether to watch the content folder: `auto` means under `flask run` (the
        development server), not under other commands such as `flask content check`."""
        if self.watch == "auto":
            context = click.get_current_context(silent=True)
            return context is not None and context.info_name == "run"
        return self.watch == "true"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
