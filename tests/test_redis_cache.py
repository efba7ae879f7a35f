"""The shared response cache against a real redis-server, started and stopped here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

REDIS = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if REDIS is None:
        pytest.skip("redis-server is not installed (.ci/run installs it with apt-get)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
