"""contentapi.outputs.query: visibility, filters, sorting, paging, neighbours, related, terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import post_text

from contentapi.engine.index import BuildOptions, Index, build_index
from contentapi.engine.model import Post, SourceFile, Sources
from contentapi.outputs.query import (
    Filters,
    archive,
    count_terms,
    neighbours,
    paginate,
    related,
    select,
    visible,
)

OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _index(**posts: dict) -> Index:
    """An index over `slug.md` files, each from `post_text(**fields)`."""
    files = tuple(
        SourceFile(f"{slug}.md", post_text(**fields).encode()) for slug, fields in posts.items()
    )
    index = build_index(Sources(files), OPTIONS, NOW)
    assert not index.issues, index.issues
    return index


def _slugs(posts) -> list[str]:
    return [post.slug for post in posts]


def _dated(*slugs: str) -> dict[str, dict]:
    """Posts one day apart, the first given the newest."""
    return {
        slug: {"title": slug.title(), "date": f"2024-01-{len(slugs) - n:02d}"}
        for n, slug in enumerate(slugs)
    }


def _post(index: Index, slug: str) -> Post:
    return index.by_slug[slug]


# visible()


def test_visible_hides_drafts_and_future_posts():
    index = _index(
        live={"date": "2024-05-01"},
        draft={"date": "2024-05-02", "draft": "true"},
        future={"date": "2024-07-01"},
    )
    assert _slugs(visible(index.posts, NOW)) == ["live"]


def test_visible_preview_shows_drafts_and_scheduled_posts():
    index = _index(
        live={"date": "2024-05-01"},
        draft={"date": "2024-05-02", "draft": "true"},
        future={"date": "2024-07-01"},
    )
    assert sorted(_slugs(visible(index.posts, NOW, preview=True))) == ["draft", "future", "live"]


def test_visible_future_is_decided_against_the_now_passed_in():
    scheduled = NOW + timedelta(hours=1)
    index = _index(soon={"date": scheduled.isoformat()})
    assert visible(index.posts, NOW) == ()
    assert _slugs(visible(index.posts, scheduled)) == ["soon"]
    assert _slugs(visible(index.posts, scheduled + timedelta(minutes=1))) == ["soon"]
    assert visible(index.posts, scheduled - timedelta(seconds=1)) == ()


def test_visible_keeps_the_order_it_was_given():
    index = _index(**_dated("c", "b", "a"))
    assert _slugs(visible(index.posts, NOW)) == ["c", "b", "a"]


# Filters


def test_filters_category_by_slug():
    index = _index(
        trip={"category": "Viajes por España"},
        code={"category": "Programación"},
        none={},
    )
    kept = select(index.posts, Filters(category="viajes-por-espana"))
    assert _slugs(kept) == ["trip"]


def test_filters_tags_all_must_match():
    index = _index(
        both={"tags": "[python, flask]", "date": "2024-01-03"},
        python={"tags": "[python]", "date": "2024-01-02"},
        three={"tags": "[flask, python, web]", "date": "2024-01-01"},
    )
    assert _slugs(select(index.posts, Filters(tags=("python", "flask")))) == ["both", "three"]
    assert _slugs(select(index.posts, Filters(tags=("python",)))) == ["both", "python", "three"]
    assert select(index.posts, Filters(tags=("python", "rust"))) == ()


@pytest.mark.parametrize("author", ["lucia-fernandez", "Lucía Fernández"])
def test_filters_author_by_slug_or_name(author):
    index = _index(
        hers={"author": "Lucía Fernández", "date": "2024-01-02"},
        other={"author": "Luis Fernández", "date": "2024-01-01"},
        anonymous={},
    )
    assert _slugs(select(index.posts, Filters(author=author))) == ["hers"]


@pytest.mark.parametrize(("written", "asked"), [("es", "ES"), ("ES", "es"), ("En", "en")])
def test_filters_lang_is_case_insensitive(written, asked):
    index = _index(match={"lang": written}, other={"lang": "fr"}, unset={})
    assert _slugs(select(index.posts, Filters(lang=asked))) == ["match"]


def test_filters_since_and_until_are_inclusive():
    index = _index(
        before={"date": "2024-03-09T23:59:59Z"},
        first={"date": "2024-03-10T00:00:00Z"},
        middle={"date": "2024-03-15T12:00:00Z"},
        last={"date": "2024-03-20T00:00:00Z"},
        after={"date": "2024-03-20T00:00:01Z"},
    )
    filters = Filters(
        since=datetime(2024, 3, 10, tzinfo=UTC), until=datetime(2024, 3, 20, tzinfo=UTC)
    )
    assert _slugs(select(index.posts, filters)) == ["last", "middle", "first"]


def test_filters_empty_values_do_not_filter():
    index = _index(**_dated("b", "a"))
    assert _slugs(select(index.posts, Filters(category="", tags=(), author="", lang=""))) == [
        "b",
        "a",
    ]


# select()


def _sortable() -> Index:
    return _index(
        zebra={"title": "Zebra", "date": "2024-01-03"},
        angel={"title": "Ángel", "date": "2024-01-01", "updated": "2024-02-01"},
        mango={"title": "mango", "date": "2024-01-02"},
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-date", ["zebra", "mango", "angel"]),
        ("date", ["angel", "mango", "zebra"]),
        ("title", ["angel", "mango", "zebra"]),
        ("-title", ["zebra", "mango", "angel"]),
        ("-updated", ["angel", "zebra", "mango"]),
    ],
)
def test_select_sorts(sort, expected):
    assert _slugs(select(_sortable().posts, Filters(), sort)) == expected


def test_select_default_sort_is_newest_first():
    assert _slugs(select(_sortable().posts, Filters())) == ["zebra", "mango", "angel"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-date", ["new", "a-old", "b-old"]),
        ("date", ["a-old", "b-old", "new"]),
        ("title", ["new", "a-old", "b-old"]),
        ("-title", ["new", "a-old", "b-old"]),
        ("-updated", ["new", "a-old", "b-old"]),
    ],
)
def test_select_ties_fall_back_to_newest_first_then_slug(sort, expected):
    index = _index(
        **{
            "b-old": {"title": "Same", "date": "2024-01-01"},
            "new": {"title": "Same", "date": "2024-01-02"},
            "a-old": {"title": "Same", "date": "2024-01-01"},
        }
    )
    assert _slugs(select(index.posts, Filters(), sort)) == expected


# paginate()


def test_paginate_totals_pages_and_links():
    posts = _index(**_dated("e", "d", "c", "b", "a")).posts
    first = paginate(posts, 1, 2)
    assert (_slugs(first.items), first.total, first.pages, first.prev, first.next) == (
        ["e", "d"],
        5,
        3,
        None,
        2,
    )
    middle = paginate(posts, 2, 2)
    assert (_slugs(middle.items), middle.prev, middle.next) == (["c", "b"], 1, 3)
    last = paginate(posts, 3, 2)
    assert (_slugs(last.items), last.prev, last.next) == (["a"], 2, None)


def test_paginate_exact_multiple_has_no_extra_page():
    page = paginate(_index(**_dated("d", "c", "b", "a")).posts, 2, 2)
    assert page.pages == 2
    assert page.next is None


def test_paginate_empty_list_has_one_page():
    page = paginate((), 1, 10)
    assert (page.items, page.total, page.pages, page.next, page.prev) == ((), 0, 1, None, None)


def test_paginate_page_past_the_end_is_empty_with_totals():
    posts = _index(**_dated("c", "b", "a")).posts
    page = paginate(posts, 9, 2)
    assert page.items == ()
    assert (page.page, page.per_page, page.total, page.pages) == (9, 2, 3, 2)
    assert page.next is None
    assert page.prev == 2


# neighbours()


def test_neighbours_are_older_then_newer():
    index = _index(**_dated("c", "b", "a"))
    assert neighbours(index.posts, _post(index, "b")) == (_post(index, "a"), _post(index, "c"))


def test_neighbours_none_at_the_ends():
    index = _index(**_dated("c", "b", "a"))
    assert neighbours(index.posts, _post(index, "c")) == (_post(index, "b"), None)
    assert neighbours(index.posts, _post(index, "a")) == (None, _post(index, "b"))


def test_neighbours_of_a_post_not_in_the_list_are_none():
    index = _index(**_dated("c", "b", "a"))
    shown = visible(index.posts[1:], NOW)
    assert neighbours(shown, _post(index, "c")) == (None, None)


# related()


def test_related_ranks_by_shared_tags_then_category_then_recency():
    index = _index(
        me={"tags": "[a, b, c]", "category": "Code", "date": "2024-01-10"},
        two={"tags": "[a, b]", "date": "2024-01-01"},
        tagcat={"tags": "[c]", "category": "Code", "date": "2024-01-02"},
        tagnew={"tags": "[a]", "date": "2024-01-05"},
        tagold={"tags": "[b]", "date": "2024-01-03"},
        cat={"category": "Code", "date": "2024-01-09"},
    )
    ranked = related(index.posts, _post(index, "me"))
    assert _slugs(ranked) == ["two", "tagcat", "tagnew", "tagold", "cat"]


def test_related_excludes_itself_and_posts_with_nothing_in_common():
    index = _index(
        me={"tags": "[python]", "category": "Code", "date": "2024-01-03"},
        other={"tags": "[python]", "date": "2024-01-02"},
        unrelated={"tags": "[cooking]", "category": "Food", "date": "2024-01-04"},
        bare={"date": "2024-01-05"},
    )
    assert _slugs(related(index.posts, _post(index, "me"))) == ["other"]


def test_related_limits_to_five_newest_of_equal_rank():
    posts = {f"p{n}": {"tags": "[x]", "date": f"2024-01-{n:02d}"} for n in range(1, 9)}
    index = _index(me={"tags": "[x]", "date": "2024-02-01"}, **posts)
    assert _slugs(related(index.posts, _post(index, "me"))) == ["p8", "p7", "p6", "p5", "p4"]
    assert len(related(index.posts, _post(index, "me"), limit=2)) == 2


def test_related_post_without_tags_or_category_has_none():
    index = _index(me={}, other={"tags": "[x]"})
    assert related(index.posts, _post(index, "me")) == ()


# count_terms()


def test_count_terms_drops_terms_without_visible_posts():
    index = _index(
        live={"tags": "[shown, both]", "date": "2024-05-01"},
        draft={"tags": "[hidden, both]", "date": "2024-05-02", "draft": "true"},
        future={"tags": "[later]", "date": "2024-12-01"},
    )
    counted = {item.term.slug: _slugs(item.posts) for item in count_terms(index.tags, NOW)}
    assert counted == {"both": ["live"], "shown": ["live"]}


def test_count_terms_preview_counts_every_post():
    index = _index(
        live={"tags": "[both]", "date": "2024-05-01"},
        draft={"tags": "[both, hidden]", "date": "2024-05-02", "draft": "true"},
    )
    counted = {item.term.slug: len(item.posts) for item in count_terms(index.tags, NOW, True)}
    assert counted == {"both": 2, "hidden": 1}


def test_count_terms_latest_is_the_newest_visible_post():
    index = _index(
        old={"category": "Notes", "date": "2024-01-01"},
        new={"category": "Notes", "date": "2024-03-01T08:00:00Z"},
        future={"category": "Notes", "date": "2024-09-01"},
    )
    (item,) = count_terms(index.categories, NOW)
    assert item.latest == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


# archive()


def test_archive_counts_by_year_and_month_newest_first():
    index = _index(
        a={"date": "2023-11-05"},
        b={"date": "2024-02-01"},
        c={"date": "2024-02-28"},
        d={"date": "2024-01-15"},
        e={"date": "2023-11-30"},
        f={"date": "2023-03-01"},
    )
    assert archive(index.posts) == [
        {"year": 2024, "count": 3, "months": [{"month": 2, "count": 2}, {"month": 1, "count": 1}]},
        {"year": 2023, "count": 3, "months": [{"month": 11, "count": 2}, {"month": 3, "count": 1}]},
    ]


def test_archive_of_nothing_is_empty():
    assert archive(()) == []
