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
    Published,
    archive,
    carry_over,
    changes,
    count_terms,
    index_changes,
    index_snapshot,
    neighbours,
    paginate,
    public_version,
    published,
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


def test_related_looks_only_near_the_post_in_each_of_its_terms():
    """A post sharing every tag, but far from it in each tag's posts, is not considered: the
    work per post is bounded whatever a tag's number of posts."""
    near = {f"n{n}": {"tags": "[x]", "date": f"2024-03-{n:02d}"} for n in range(1, 5)}
    index = _index(
        far={"tags": "[x, y]", "date": "2020-01-01"},
        me={"tags": "[x, y]", "date": "2024-03-10"},
        mid={"tags": "[y]", "date": "2024-03-05"},
        y2={"tags": "[y]", "date": "2024-02-01"},
        y3={"tags": "[y]", "date": "2024-01-01"},
        **near,
    )
    me = _post(index, "me")
    assert _slugs(related(index.posts, me, window=100)) == ["far", "mid", "n4", "n3", "n2"]
    # two posts either side in `x` (n4, n3) and in `y` (mid, y2): `far` is in neither
    assert _slugs(related(index.posts, me, window=2)) == ["mid", "n4", "n3", "y2"]
    assert published(index, NOW).related(me, window=2) == related(index.posts, me, window=2)


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


# published(): what one moment shows, computed once


def test_published_is_computed_once_per_publication_moment():
    index = _index(old={"date": "2024-01-01"}, later={"date": "2024-07-01"}, d={"draft": "true"})
    first = published(index, NOW)
    assert published(index, NOW + timedelta(days=1)) is first  # nothing went public meanwhile
    assert _slugs(first.posts) == ["old"]
    after = published(index, datetime(2024, 7, 2, tzinfo=UTC))
    assert after is not first and _slugs(after.posts) == ["later", "old"]
    assert _slugs(published(index, NOW, preview=True).posts) == ["later", "d", "old"]
    assert published(index, NOW, preview=True) is published(index, NOW, preview=True)


def test_published_terms_latest_and_lookup():
    index = _index(
        a={"date": "2024-01-01", "category": "Code", "tags": "[x]"},
        b={"date": "2024-02-01", "category": "Code", "updated": "2024-05-01"},
        c={"date": "2024-03-01", "category": "Food", "draft": "true"},
    )
    shown = published(index, NOW)
    assert [item.term.slug for item in shown.categories] == ["code"]
    assert _slugs(shown.term("categories", "code").posts) == ["b", "a"]
    assert shown.term("categories", "food") is None  # only a draft has it
    assert shown.latest.slug == "b" and shown.latest_in("tags").slug == "a"
    assert shown.shows("a") is _post(index, "a") and shown.shows("c") is None


def test_published_select_matches_select_and_keeps_the_list():
    index = _index(
        **{
            f"p{n}": {"date": f"2024-01-{n:02d}", "tags": "[x]" if n % 2 else "[y]"}
            for n in range(1, 9)
        }
    )
    shown = published(index, NOW)
    filters = Filters(tags=("x",))
    first = shown.select(filters, "title")
    assert first == select(shown.posts, filters, "title")
    assert shown.select(filters, "title") is first
    assert shown.select(Filters(), "-date") is shown.posts
    assert shown.select(Filters(), "date", scope=("tags", "y")) == select(
        shown.term("tags", "y").posts, Filters(), "date"
    )


def _random_index(seed: int, count: int = 60) -> Index:
    import random

    rng = random.Random(seed)
    posts = {}
    for n in range(count):
        tags = rng.sample("abcdef", rng.randint(0, 4))
        fields = {"date": f"2024-0{rng.randint(1, 9)}-{rng.randint(1, 28):02d}"}
        if tags:
            fields["tags"] = "[" + ", ".join(tags) + "]"
        if rng.random() < 0.8:
            fields["categories"] = (
                "[" + ", ".join(rng.sample(["Uno", "Dos", "Tres"], 1 + (rng.random() < 0.2))) + "]"
            )
        if rng.random() < 0.1:
            fields["draft"] = "true"
        posts[f"p{n:02d}"] = fields
    return _index(**posts)


@pytest.mark.parametrize("seed", range(8))
def test_published_related_and_neighbours_agree_with_the_definitions(seed):
    index = _random_index(seed)
    for preview in (False, True):
        shown = published(index, NOW, preview)
        plain = visible(index.posts, NOW, preview)
        for post in index.posts:
            for limit, window in ((1, 100), (5, 100), (12, 100), (5, 2), (12, 4)):
                assert shown.related(post, limit, window) == related(plain, post, limit, window), (
                    post.slug,
                    limit,
                    window,
                )
            assert shown.neighbours(post) == neighbours(plain, post)


def test_public_version_ignores_drafts_and_scheduled_posts_but_not_what_is_shown():
    base = {"a": {"date": "2024-01-01", "tags": "[x]"}}
    version = published(_index(**base), NOW).version
    with_draft = published(_index(**base, d={"draft": "true", "tags": "[X]"}), NOW)
    later = published(_index(**base, s={"date": "2030-01-01"}), NOW)
    assert with_draft.version == later.version == version
    edited = published(_index(a={"date": "2024-01-01", "tags": "[x]", "title": "New"}), NOW)
    assert edited.version != version
    index = _index(**base, s={"date": "2030-01-01"})
    assert published(index, datetime(2031, 1, 1, tzinfo=UTC)).version != version
    assert public_version(index, index.posts) == published(index, NOW, preview=True).version


# carry_over: a patched index starts with what the previous one computed, patched


def _published_fields(shown: Published) -> dict[str, object]:
    return {
        "posts": shown.posts,
        "version": shown.version,
        "categories": shown.categories,
        "tags": shown.tags,
        "latest": shown.latest,
        "positions": dict(shown.positions),
        "terms": dict(shown._terms),
        "members": dict(shown._members),
    }


CARRIED = {
    "uno": {"title": "Uno", "date": "2024-01-05", "categories": ["Viajes"], "tags": ["mar"]},
    "dos": {"title": "Dos", "date": "2024-01-04", "categories": ["viajes"], "tags": ["Mar"]},
    "tres": {"title": "Tres", "date": "2024-01-03", "tags": ["mar", "sol"], "draft": True},
    "cuatro": {"title": "Cuatro", "date": "2030-01-01", "categories": ["Viajes"]},
    "cinco": {"title": "Cinco", "date": "2024-01-01", "updated": "2024-05-01"},
}


@pytest.mark.parametrize(
    ("slug", "change"),
    [
        ("uno", {"title": "Uno editado"}),
        ("dos", {"updated": "2024-05-20"}),  # now the latest modified
        ("cinco", {"updated": "2024-01-02"}),  # no longer the latest modified
        ("tres", {"title": "Borrador editado"}),  # hidden: public lists stay
        ("cuatro", {"title": "Programado editado"}),
    ],
)
def test_carry_over_equals_what_the_patched_index_computes_itself(slug, change) -> None:
    def files(edit: dict[str, dict]) -> tuple[SourceFile, ...]:
        texts = {s: post_text(**{**fields, **edit.get(s, {})}) for s, fields in CARRIED.items()}
        return tuple(SourceFile(f"{s}.md", text.encode()) for s, text in texts.items())

    first = build_index(Sources(files({})), OPTIONS, NOW)
    for moment, preview in [(NOW, False), (NOW, True), (datetime(2031, 1, 1, tzinfo=UTC), False)]:
        published(first, moment, preview)
    index_snapshot(first)
    second = build_index(Sources(files({slug: change})), OPTIONS, NOW, previous=first)
    third = build_index(Sources(files({slug: change})), OPTIONS, NOW, previous=first)
    assert second.patched_from(first) is not None
    carry_over(first, second)
    for moment, preview in [(NOW, False), (NOW, True), (datetime(2031, 1, 1, tzinfo=UTC), False)]:
        carried, computed = published(second, moment, preview), published(third, moment, preview)
        assert _published_fields(carried) == _published_fields(computed)
        assert carried.version == public_version(third, computed.posts)
        for post in computed.posts:
            assert carried.related(post) == computed.related(post)
            assert carried.neighbours(post) == computed.neighbours(post)
    assert dict(index_snapshot(second)) == dict(index_snapshot(third))
    before = index_snapshot(first)
    assert index_changes(first, second, NOW) == changes(before, NOW, index_snapshot(third), NOW)
    assert published(second, NOW).version != published(first, NOW).version or slug in {
        "tres",
        "cuatro",
    }


def test_carry_over_does_nothing_for_an_index_built_in_full() -> None:
    first = _index(**_dated("uno", "dos"))
    published(first, NOW)
    second = _index(**_dated("uno", "dos", "tres"))
    carry_over(first, second)
    assert second.memos() == []


def test_public_version_does_not_depend_on_the_order_of_posts() -> None:
    index = _index(**_dated("uno", "dos", "tres"))
    assert public_version(index, index.posts) == public_version(index, index.posts[::-1])
    assert public_version(index, index.posts) != public_version(index, index.posts[1:])
