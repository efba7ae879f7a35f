"""Pure queries over the index: visibility, filters, sorting, paging, neighbours, related.

What a request needs that depends on every post (the visible list, term counts, neighbours,
related posts, filtered and sorted lists, the public version) is computed once per index and
publication moment (`published`), so a request costs its page, not the number of posts.
"""

from __future__ import annotations

import hashlib
import math
import threading
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from itertools import chain, filterfalse, islice
from operator import neg
from typing import Any, TypeVar

from contentapi import __version__
from contentapi.engine.index import Index
from contentapi.engine.model import ContentIssue, Post, Term
from contentapi.engine.slugs import slugify, sort_key

T = TypeVar("T")

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

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.category, self.tags, self.author, self.lang, self.since, self.until))

    def keep(self, post: Post) -> bool:
        if self.category and self.category not in {c.slug for c in post.categories}:
            return False
        if self.tags and not set(self.tags) <= {t.slug for t in post.tags}:
            return False
        if self.author and slugify(post.author or "") != slugify(self.author):
            return False
        if self.lang and (post.lang or "") != self.lang.lower():
            return False
        if self.since and post.post_date < self.since:
            return False
        return not (self.until and post.post_date > self.until)


def select(posts: Iterable[Post], filters: Filters, sort: str = "-date") -> tuple[Post, ...]:
    """Filter, then sort; ties always fall back to newest first, then slug."""
    if not filters.active and sort == "-date" and isinstance(posts, tuple):
        return posts  # the index's own order
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


# How far from a post, in each of its tags' and categories' posts (newest first), related posts
# are looked for: this many newer and as many older. It bounds the work per post, whatever the
# number of posts a tag has; below it, every post of its terms is a candidate.
RELATED_WINDOW = 100


def related(
    posts: Sequence[Post], post: Post, limit: int = 5, window: int = RELATED_WINDOW
) -> tuple[Post, ...]:
    """Posts sharing the most tags, then a category, then the newest; never the post itself.

    Candidates are the posts near `post` in each of its terms (within `window` posts in that
    tag's or category's newest-first list), and a shared tag counts where the other post is
    near in that tag's list: the work per post does not grow with the number of posts.
    """
    order = {other.slug: at for at, other in enumerate(posts)}
    me = order.get(post.slug, -1)

    def near(kind: str, slug: str) -> set[str]:
        """The slugs within `window` places of `post` in the term's posts (newest first)."""
        members = [other for other in posts if slug in {ref.slug for ref in getattr(other, kind)}]
        at = sum(1 for other in members if order[other.slug] < me)
        return {other.slug for other in members[max(0, at - window) : at + window + 1]}

    near_tags = [near("tags", tag.slug) for tag in post.tags]
    near_categories = set().union(*(near("categories", c.slug) for c in post.categories))
    categories = {category.slug for category in post.categories}

    def score(other: Post) -> tuple[int, int]:
        shared_tags = sum(other.slug in slugs for slugs in near_tags)
        same_category = int(bool(categories & {c.slug for c in other.categories}))
        return shared_tags, same_category

    ranked = [
        (score(other), -order[other.slug], other)
        for other in posts
        if other.slug != post.slug
        and (any(other.slug in slugs for slugs in near_tags) or other.slug in near_categories)
    ]
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return tuple(other for _, _, other in ranked[:limit])


@dataclass(frozen=True)
class TermCount:
    term: Term
    posts: tuple[Post, ...]

    @cached_property
    def latest(self) -> datetime:
        return max(post.post_date for post in self.posts)


def count_terms(
    terms: Iterable[Term], now: datetime, preview: bool = False
) -> tuple[TermCount, ...]:
    """Each term with its visible posts; terms with none are left out."""
    counted = (TermCount(term, visible(term.posts, now, preview)) for term in terms)
    return tuple(item for item in counted if item.posts)


def archive(posts: Iterable[Post]) -> list[dict[str, Any]]:
    """Post counts by year and month, newest first."""
    months = Counter((post.post_date.year, post.post_date.month) for post in posts)
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
    return {post.slug: (post.digest, post.post_date, post.draft) for post in posts}


def index_snapshot(index: Index) -> Snapshot:
    """`snapshot` of every post of `index`, made once per index (`Index.memo`)."""
    return index.memo(("snapshot",), lambda: snapshot(index.posts))


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
    served = {post.path for post in index.everything}
    first: dict[str, ContentIssue] = {}
    for issue in index.issues:  # sorted by path, then severity, field and line
        if issue.severity == "error" and issue.path not in served:
            first.setdefault(issue.path, issue)
    return first


# Everything visible at one moment, computed once per index and publication moment

LIST_MEMO = 256  # filtered and sorted lists kept per moment (the least recently used go first)
Scope = tuple[str, str] | None  # a term's posts, ("categories" or "tags", slug), or every post


@dataclass(frozen=True, eq=False)
class Published:
    """What one index shows at one publication moment (or in preview): built once by
    `published`, shared by every request until a reload or the next scheduled post."""

    posts: tuple[Post, ...]  # newest first
    version: str
    categories: tuple[TermCount, ...]
    tags: tuple[TermCount, ...]
    latest: Post | None  # the most recently modified, for Last-Modified
    positions: Mapping[str, int] = field(repr=False)
    _terms: Mapping[tuple[str, str], TermCount] = field(repr=False)
    _members: Mapping[tuple[str, str], tuple[int, ...]] = field(repr=False)  # positions
    _marks: int = field(default=0, repr=False)  # `public_version`'s sum over `posts`
    _lists: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict, repr=False)
    _related: dict[tuple[str, int, int], tuple[Post, ...]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shows(self, slug: str) -> Post | None:
        """The post with this slug if it is visible."""
        at = self.positions.get(slug)
        return None if at is None else self.posts[at]

    def latest_in(self, kind: str) -> Post | None:
        """The most recently modified post with a category (`kind` "categories") or a tag."""
        terms = self.categories if kind == "categories" else self.tags
        return self._kept(
            ("latest", kind),
            lambda: max(
                (post for item in terms for post in item.posts),
                key=lambda post: post.modified,
                default=None,
            ),
        )

    def term(self, kind: str, slug: str) -> TermCount | None:
        """A category (`kind` "categories") or tag ("tags") with its visible posts, if any."""
        return self._terms.get((kind, slug))

    def select(
        self, filters: Filters, sort: str = "-date", scope: Scope = None
    ) -> tuple[Post, ...]:
        """`select` over every visible post or a term's (`scope`), kept for the next request
        with the same filters and sort (the LIST_MEMO most recent)."""
        term = self.term(*scope) if scope else None
        return self._kept(
            (scope, filters, sort),
            lambda: select(term.posts if term else self.posts, filters, sort),
        )

    def archive(self) -> list[dict[str, Any]]:
        """`archive` of the visible posts, counted once."""
        return self._kept("archive", lambda: archive(self.posts))

    def _kept(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._lists:
                self._lists.move_to_end(key)
                kept: T = self._lists[key]  # what `compute` made for this key before
                return kept
        value = compute()
        with self._lock:
            self._lists[key] = value
            while len(self._lists) > LIST_MEMO:
                self._lists.popitem(last=False)
        return value

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value that is a pure function of what this moment shows and `key` (the changes
        since a sync token, say), computed once and kept like `select`'s lists."""
        return self._kept(("remembered", key), compute)

    def neighbours(self, post: Post) -> tuple[Post | None, Post | None]:
        """(older, newer) next to `post` among the visible posts, None at the ends."""
        at = self.positions.get(post.slug)
        if at is None:
            return None, None
        older = self.posts[at + 1] if at + 1 < len(self.posts) else None
        newer = self.posts[at - 1] if at > 0 else None
        return older, newer

    def related(self, post: Post, limit: int = 5, window: int = RELATED_WINDOW) -> tuple[Post, ...]:
        """`related` among the visible posts, looked for near `post` in its tags' and
        categories' posts only (never every post), once per post and moment."""
        key = (post.slug, limit, window)
        found = self._related.get(key)
        if found is None:
            found = tuple(map(self.posts.__getitem__, self._related_at(post, limit, window)))
            self._related[key] = found
        return found

    def related_to(self, post: Post, window: int = RELATED_WINDOW) -> set[int]:
        """Positions of the visible posts whose `related` lists (with this `window`) can
        include `post`: those within `window` places of it in the visible list of a tag or
        category it has, as `related` only looks there (and being that near is symmetric).
        Empty when `post` is not visible."""
        me = self.positions.get(post.slug)
        if me is None:
            return set()
        found: set[int] = set()
        for kind, refs in (("tags", post.tags), ("categories", post.categories)):
            for ref in refs:
                members = self._members.get((kind, ref.slug), ())
                at = bisect_left(members, me)
                found.update(members[max(0, at - window) : at + window + 1])
        found.discard(me)
        return found

    def _related_at(self, post: Post, limit: int, window: int) -> list[int]:
        """Positions (newest first) of the posts sharing the most tags, then a category.

        Each term's posts are a tuple of positions in ascending order, so the posts near
        `post` are a slice found by bisection; counting, sorting and set look-ups run in C over
        those slices (at most `2 * window + 1` positions per term); the loop here runs once
        per number of shared tags, and takes at most `limit` posts.
        """
        me = self.positions.get(post.slug, -1)
        members = self._members

        def near(kind: str, slug: str) -> tuple[int, ...]:
            found = members.get((kind, slug), ())
            at = bisect_left(found, me)
            return found[max(0, at - window) : at + window + 1]

        shared = Counter(chain.from_iterable(near("tags", t.slug) for t in post.tags))
        shared.pop(me, None)
        lists = [near("categories", c.slug) for c in post.categories]
        newest = lists[0] if len(lists) == 1 else sorted(set(chain.from_iterable(lists)))
        contains = self._category_set(post).__contains__
        # Most shared tags first, then newest (the lowest position): two stable sorts in C.
        ranked = sorted(sorted(shared), key=shared.__getitem__, reverse=True)  # positions
        fewer = list(map(neg, map(shared.__getitem__, ranked)))  # ascending, for bisect
        chosen: list[int] = []
        start = 0
        while start < len(ranked) and len(chosen) < limit:
            end = bisect_right(fewer, fewer[start], start)
            level = ranked[start:end]
            chosen += islice(filter(contains, level), limit - len(chosen))
            chosen += islice(filterfalse(contains, level), limit - len(chosen))
            start = end
        if len(chosen) < limit:  # then posts near it sharing only a category, newest first
            rest = filterfalse(shared.__contains__, filterfalse(me.__eq__, newest))
            chosen += islice(rest, limit - len(chosen))
        return chosen

    def _category_set(self, post: Post) -> frozenset[int]:
        """The positions of the posts sharing a category with `post`, made once per set of
        categories and moment."""
        slugs = tuple(category.slug for category in post.categories)
        lists = [self._members.get(("categories", slug), ()) for slug in slugs]
        return self._kept(("category set", *slugs), lambda: frozenset(chain.from_iterable(lists)))


def published(index: Index, now: datetime, preview: bool = False) -> Published:
    """What `index` shows at `now` (every post, in preview): computed on the first request
    after a reload or a publication moment, then shared."""
    key = ("published", "preview" if preview else index.published_count(now))
    return index.memo(key, lambda: _publish(index, now, preview))


def carry_over(previous: Index, index: Index) -> None:
    """Give `index`, when `patch_index` made it from `previous`, what `previous` computed
    once and kept (its snapshot, what each publication moment shows), with the changed posts
    replaced: the lists, terms and neighbours of a patched index are the previous ones, so
    the first request after a reload costs its page, not the number of posts."""
    patch = index.patched_from(previous)
    if patch is None:
        return
    for key, value in previous.memos():
        if key == ("snapshot",):
            state = dict(value)
            state.update(snapshot(now for _, now in patch.pairs))
            index.memo(key, partial(_same, state))
        elif isinstance(value, Published):
            index.memo(key, partial(_patched, index, value, patch.pairs))


def _same(value: T) -> T:
    return value


def _patched(index: Index, shown: Published, pairs: Sequence[tuple[Post, Post]]) -> Published:
    """`shown` (what the index before `index` showed at one moment) with each changed post
    replaced, as `_publish` would make it for `index`: visibility, order and positions are
    the same, since a patch keeps every post's date, draft state and terms."""
    posts = list(shown.posts)
    marks = shown._marks
    replaced = []
    for served, now in pairs:
        at = shown.positions.get(served.slug)
        if at is not None:
            posts[at] = now
            marks += _mark(now) - _mark(served)
            replaced.append((served, now))
    terms = dict(shown._terms)

    def counted(kind: str, items: tuple[TermCount, ...]) -> tuple[TermCount, ...]:
        touched = {ref.slug for served, _ in pairs for ref in getattr(served, kind)}
        if not touched:
            return items
        current = {term.slug: term for term in getattr(index, kind) if term.slug in touched}
        patched = list(items)
        for at, item in enumerate(items):
            slug = item.term.slug
            if slug in touched:
                members = list(item.posts)
                where = list(map(id, members))
                for served, now in replaced:
                    if any(ref.slug == slug for ref in getattr(served, kind)):
                        members[where.index(id(served))] = now
                patched[at] = terms[(kind, slug)] = TermCount(current[slug], tuple(members))
        return tuple(patched)

    categories = counted("categories", shown.categories)
    tags = counted("tags", shown.tags)
    marks %= MARKS
    return Published(
        posts=tuple(posts),
        version=_public_version(index, marks),
        categories=categories,
        tags=tags,
        latest=max(posts, key=lambda post: post.modified, default=None),
        positions=shown.positions,
        _terms=terms,
        _members=shown._members,
        _marks=marks,
    )


def index_changes(previous: Index | None, index: Index, now: datetime) -> Changes:
    """`changes` from `previous` to `index`, both at `now`: for a patched index, the visible
    changed posts whose file changed (a patch adds, removes and hides nothing)."""
    patch = index.patched_from(previous) if previous is not None else None
    if patch is None:
        before = index_snapshot(previous) if previous is not None else {}
        return changes(before, now, index_snapshot(index), now)
    updated = {
        after.slug
        for served, after in patch.pairs
        if served.digest != after.digest and after.is_public(now)
    }
    return Changes((), tuple(sorted(updated)), ())


def _publish(index: Index, now: datetime, preview: bool) -> Published:
    posts = visible(index.posts, now, preview)
    marks = sum(map(_mark, posts)) % MARKS
    positions = {post.slug: at for at, post in enumerate(posts)}
    categories = count_terms(index.categories, now, preview)
    tags = count_terms(index.tags, now, preview)
    terms = {
        **{("categories", item.term.slug): item for item in categories},
        **{("tags", item.term.slug): item for item in tags},
    }
    return Published(
        posts=posts,
        version=_public_version(index, marks),
        categories=categories,
        tags=tags,
        latest=max(posts, key=lambda post: post.modified, default=None),
        positions=positions,
        _terms=terms,
        _members={
            key: tuple(positions[post.slug] for post in item.posts) for key, item in terms.items()
        },
        _marks=marks,
    )


MARKS = 1 << 128  # `public_version` adds one 128-bit mark per post, modulo this


def public_version(index: Index, posts: Iterable[Post]) -> str:
    """A version of what `posts` show: their files, their term names, the media files and
    the settings. Unlike `index.version`, an edit to a draft or a scheduled post leaves it.

    The posts count as a sum of one hash per post (order does not matter), so a reload that
    replaces a few posts updates it by their marks alone (`carry_over`)."""
    return _public_version(index, sum(map(_mark, posts)) % MARKS)


def _mark(post: Post) -> int:
    """One post's share of `public_version`: a 128-bit hash of what a client sees change."""
    names = "\0".join(ref.name for ref in (*post.categories, *post.tags))
    text = f"{post.path}\0{post.digest}\0{post.slug}\0{names}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")


def _public_version(index: Index, marks: int) -> str:
    hasher = hashlib.sha256(f"{__version__}\n{index.options.fingerprint()}\n".encode())
    hasher.update(f"posts\0{marks:032x}\n".encode())
    for path in sorted(index.assets.files):
        hasher.update(f"asset\0{path}\n".encode())
    return hasher.hexdigest()[:16]
