"""The shared response cache against a real redis-server, started and stopped here."""

from __future__ import annotations


def test_redis_cache_shared_by_two_app_instances(write_post, make_app, redis_url):
    write_post("a.md", title="Original", date="2024-01-01")
    first = make_app(cache_type="RedisCache", cache_redis_url=redis_url)
    second = make_app(cache_type="RedisCache", cache_redis_url=redis_url)
    assert first.test_client().get("/api/v1/posts/a").get_json()["title"] == "Original"
    # The second instance has the same version, so it answers from the entry the first stored,
    # even though the file on disk has changed since (it has not reloaded).
    write_post("a.md", title="Edited", date="2024-01-01")
    assert second.test_client().get("/api/v1/posts/a").get_json()["title"] == "Original"
    # After a reload the version differs, and no instance can see the old entry.
    second.extensions["contentapi"].reload()
    assert second.test_client().get("/api/v1/posts/a").get_json()["title"] == "Edited"
    first.extensions["contentapi"].reload()
    assert first.test_client().get("/api/v1/posts/a").get_json()["title"] == "Edited"
