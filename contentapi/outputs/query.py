"""Pure queries over the index: visibility, filters, sorting, paging, neighbours, related."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contentapi.engine.index import Index
from contentapi.engine.model import ContentIssue, Post, Term
from contentapi.engine.slugs import slugify, sort_key

SORTS: dict[str, tuple[Callable[[Post], Any], bool]] = {
    "-date": (lambda post: post.date, True),
    "date": (lambda post: post.date, False),
    "title": (lambda post: sort_key(post.title), False),
    "-title": (lambda post: sort_key(post.title), True),
    "-updated": (lambda post: post.modified, True),
    "updated": (lambda post: post.modified, False),
}


def visible(posts: Iterable[Post], now: datetime, preview: bool = False) -> tuple[Post, ...]:
    """Published posts; with preview, drafts and scheduled posts too."""
    return tuple(posts) if preview else tuple(post for post in posts if post.is_public(now))


@dataclass(frozen=True)
class Filters:
    """What `/posts` and the term pages filter by; empty values do not filter."""

    category: str | None = None
    tags: tuple[str, ...] = ()
    author: str | None = None
    lang: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keep(self, post: Post) -> bool:
        if self.category and self.category not in {c.slug for c in post.categories}:
            return False
        if self.tags and not set(self.tags) <= {t.slug for t in post.tags}:
            return False
        if self.author and slugify(post.author or "") != slugify(self.author):
            return False
        if self.lang and (post.lang or "") != self.lang.lower():
            return False
        if self.since and post.date < self.since:
            return False
        return not (self.until and post.date > self.until)


def select(posts: Iterable[Post], filters: Filters, sort: str = "-date") -> tuple[Post, ...]:
    """Filter, then sort; ties always fall back to newest first, then slug."""
    kept = [post for post in posts if filters.keep(post)]
    key, reverse = SORTS[sort]
    return tuple(sorted(kept, key=key, reverse=reverse))


@dataclass(frozen=True)
class Page:
    items: tuple[Post, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None

    @property
    def prev(self) -> int | None:
        return min(self.page - 1, self.pages) if self.page > 1 else None


def paginate(posts: Sequence[Post], page: int, per_page: int) -> Page:
    """One page of posts; a page past the end is empty with the right totals."""
    start = (page - 1) * per_page
    return Page(tuple(posts[start : start + per_page]), page, per_page, len(posts))


def neighbours(posts: Sequence[Post], post: Post) -> tuple[Post | None, Post | None]:
    """(older, newer) next to `post` in `posts` (newest first), None at the ends."""
    try:
        at = posts.index(post)
    except ValueError:
        return None, None
    older = posts[at + 1] if at + 1 < len(posts) else None
    newer = posts[at - 1] if at > 0 else None
    return older, newer


def related(posts: Sequence[Post], post: Post, limit: int = 5) -> tuple[Post, ...]:
    """Posts sharing the most tags, then the category, then the newest; never the post itself."""
    tags = {tag.slug for tag in post.tags}
    categories = {category.slug for category in post.categories}

    def score(other: Post) -> tuple[int, int]:
        shared_tags = len(tags & {tag.slug for tag in other.tags})
        same_category = int(bool(categories & {c.slug for c in other.categories}))
        return shared_tags, same_category

    candidates = [(score(other), other) for other in posts if other.slug != post.slug]
    ranked = sorted(
        (item for item in candidates if item[0] != (0, 0)),
        key=lambda item: (item[0], item[1].date),
        reverse=True,
    )
    return tuple(other for _, other in ranked[:limit])


@dataclass(frozen=True)
class TermCount:
    term: Term
    posts: tuple[Post, ...]

    @property
    def latest(self) -> datetime:
        return max(post.date for post in self.posts)


def count_terms(
    terms: Iterable[Term], now: datetime, preview: bool = False
) -> tuple[TermCount, ...]:
    """Each term with its visible posts; terms with none are left out."""
    counted = (TermCount(term, visible(term.posts, now, preview)) for term in terms)
    return tuple(item for item in counted if item.posts)


def archive(posts: Iterable[Post]) -> list[dict[str, Any]]:
    """Post counts by year and month, newest first."""
    months = Counter((post.date.year, post.date.month) for post in posts)
    years: dict[int, list[dict[str, int]]] = {}
    for (year, month), count in sorted(months.items(), reverse=True):
        years.setdefault(year, []).append({"month": month, "count": count})
    return [
        {"year": year, "count": sum(m["count"] for m in items), "months": items}
        for year, items in years.items()
    ]


Snapshot = Mapping[str, tuple[str, datetime, bool]]  # slug: (content digest, date, draft)


def snapshot(posts: Iterable[Post]) -> Snapshot:
    """What `changes` needs to remember of an index: each post's digest, date and draft flag."""
    return {post.slug: (post.digest, post.date, post.draft) for post in posts}


@dataclass(frozen=True)
class Changes:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]


def changes(before: Snapshot, then: datetime, after: Snapshot, now: datetime) -> Changes:
    """Slugs that became visible, changed while visible, or stopped being visible between
    (`before` at `then`) and (`after` at `now`); a scheduled post going public is "added"."""

    def shown(state: Snapshot, moment: datetime) -> dict[str, str]:
        return {
            slug: digest
            for slug, (digest, date, draft) in state.items()
            if not draft and date <= moment
        }

    old, new = shown(before, then), shown(after, now)
    return Changes(
        added=tuple(sorted(new.keys() - old.keys())),
        updated=tuple(sorted(slug for slug in new.keys() & old.keys() if new[slug] != old[slug])),
        removed=tuple(sorted(old.keys() - new.keys())),
    )


def invalid_files(index: Index) -> dict[str, ContentIssue]:
    """Files that are not served, each with its first error (in `content check` order)."""
    served = {post.path for post in index.posts}
    first: dict[str, ContentIssue] = {}
    for issue in index.issues:  # sorted by path, then severity, field and line
        if issue.severity == "error" and issue.path not in served:
            first.setdefault(issue.path, issue)
    return first
