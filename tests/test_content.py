"""The bundled demo content: valid, and covering what the README promises it shows."""

from __future__ import annotations

from collections import Counter

from conftest import ROOT

from contentapi.engine.loader import load_index
from contentapi.settings import Settings


def _index():
    return load_index(Settings.from_env({"CONTENTAPI_CONTENT_DIR": str(ROOT / "content")}))


def test_content_has_no_errors_or_warnings():
    assert _index().all_issues() == ()


def test_content_covers_languages_categories_and_states(app):
    index = _index()
    now = app.extensions["contentapi"].clock()
    assert len(index.posts) >= 12
    langs = Counter(post.lang for post in index.posts)
    assert langs["es"] >= 4 and langs["en"] >= 4
    assert len(index.categories) >= 4
    assert any(post.draft for post in index.posts)
    assert any(post.status(now) == "scheduled" for post in index.posts)
    assert any(
        ":" in post.title and post.title != post.title.encode("ascii", "ignore").decode()
        for post in index.posts
    )
    bodies = "\n".join(index.body(post) for post in index.posts)
    for feature in ("```python", "|---", "[^1]", "- [x]", "~~", "![", "<kbd>"):
        assert feature in bodies, feature
