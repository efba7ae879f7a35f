"""The post model: what a post's fields promise to the code that reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contentapi.engine.model import EPOCH, Post


def test_post_date_is_the_date_of_a_post() -> None:
    written = datetime(2024, 3, 10, 9, 30, tzinfo=UTC)
    post = Post(path="hola.md", digest="d", slug="hola", title="Hola", date=written)
    assert post.post_date == written


def test_post_date_of_a_page_without_a_date_names_the_file() -> None:
    page = Post(
        path="pages/about.md",
        digest="d",
        slug="about",
        title="About",
        date=None,
        page=True,
    )
    assert page.modified == EPOCH
    with pytest.raises(ValueError, match=r"pages/about\.md is a page without a date"):
        _ = page.post_date
