"""Webhooks: Standard Webhooks signatures, delivery from a background thread to a real local
receiver, retries with backoff, one sender among workers, and diagnostics."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import GUNICORN, free_port, gunicorn, post_text

from contentapi.service import webhooks
from contentapi.service.webhooks import (
    Message,
    Notifier,
    SharedState,
    redact,
    secret_bytes,
    sign,
    verify,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
KEY = secret_bytes(SECRET)


class Receiver:
    """A real HTTP server on the loopback interface that records each POST."""

    def __init__(self, port: int | None = None, status: int = 204) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = status
        self.arrived = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with owner.arrived:
                    owner.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    owner.arrived.notify_all()
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/secret-path"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def message(version: str = "0123456789abcdef", built_at: float = 1000.0) -> Message:
    return Message.of(version, built_at, {"token": f"{version}.1", "added": []})


def notifier(tmp_path: Path, *urls: str, **options: Any) -> Notifier:
    options.setdefault("retry_delay", 0.05)
    return Notifier(urls, SECRET, SharedState(tmp_path / "run", "test"), **options)


def test_webhooks_signature_matches_the_standard_webhooks_example():
    """The example in the Standard Webhooks specification, byte for byte."""
    key = secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_webhooks_secret_is_base64_with_or_without_prefix():
    raw = b"0123456789abcdef"
    assert secret_bytes("whsec_" + base64.b64encode(raw).decode()) == raw
    assert secret_bytes(base64.b64encode(raw).decode()) == raw
    with pytest.raises(ValueError, match="base64"):
        secret_bytes("whsec_not base64!")
    with pytest.raises(ValueError, match="16 bytes"):
        secret_bytes("whsec_" + base64.b64encode(b"short").decode())


def test_webhooks_verify_rejects_tampering_and_old_timestamps():
    now = int(time.time())
    body = b'{"a":1}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(KEY, "msg_1", now, body),
    }
    assert verify(KEY, headers, body)
    assert not verify(KEY, headers, b'{"a":2}')
    assert not verify(KEY, {**headers, "webhook-id": "msg_2"}, body)
    old = now - 3600
    stale = {
        **headers,
        "webhook-timestamp": str(old),
        "webhook-signature": sign(KEY, "msg_1", old, body),
    }
    assert not verify(KEY, stale, body)


def test_webhooks_redact_hides_secret_paths():
    assert redact("https://api.vercel.com/v1/integrations/deploy/prj_x/secret") == (
        "https://api.vercel.com/…"
    )
    assert redact("https://example.org") == "https://example.org"


def test_webhooks_delivers_signed_payload_to_a_real_receiver(tmp_path, receiver):
    sender = notifier(tmp_path, receiver.url)
    sent = message()
    sender.notify(sent)
    ((headers, body),) = receiver.wait_for(1)
    assert body == sent.body
    assert json.loads(body) == {"token": "0123456789abcdef.1", "added": []}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == sent.id
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert verify(KEY, headers, body)
    assert sender.drain(5)
    assert (sender.delivered, sender.failed) == (1, 0)
    sender.stop()


def test_webhooks_notify_returns_at_once_while_a_receiver_hangs(tmp_path):
    """A receiver that accepts and never answers: the caller waits for nothing."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        sender = notifier(tmp_path, url, timeout=0.2, retries=0)
        started = time.monotonic()
        for number in range(5):
            sender.notify(message(f"{number:016x}", 1000.0 + number))
        assert time.monotonic() - started < 0.1
        assert sender.drain(30)
        assert sender.failed == 5
        assert "timed out" in sender.status()["recent"][0]["error"]
    finally:
        silent.close()


def test_webhooks_down_receiver_is_retried_with_backoff_then_delivered(tmp_path):
    port = free_port()  # nothing listens there yet: connections are refused
    sender = notifier(tmp_path, f"http://127.0.0.1:{port}/hook", retry_delay=0.2, retries=5)
    sent = message()
    started = time.monotonic()
    sender.notify(sent)
    assert time.monotonic() - started < 0.05
    deadline = time.monotonic() + 5
    while not any(e["attempts"] >= 2 for e in sender.status()["recent"]):
        assert time.monotonic() < deadline, "no retry"
        time.sleep(0.02)
    late = Receiver(port)
    try:
        ((headers, body),) = late.wait_for(1)
        assert headers["webhook-id"] == sent.id  # the same message, retried
        assert verify(KEY, headers, body)
        assert sender.drain(5)
        (entry,) = sender.status()["recent"]
        assert entry["status"] == "delivered"
        assert entry["attempts"] >= 3
    finally:
        late.close()
        sender.stop()


def test_webhooks_give_up_after_the_retries_and_show_it(tmp_path, receiver):
    receiver.status = 500
    sender = notifier(tmp_path, receiver.url, retries=2, retry_delay=0.01)
    sender.notify(message())
    assert sender.drain(5)
    assert len(receiver.wait_for(3)) == 3
    status = sender.status()
    assert (status["delivered"], status["failed"]) == (0, 1)
    (entry,) = status["recent"]
    assert entry | {"at": 0} == {
        "id": message().id,
        "version": "0123456789abcdef",
        "url": f"http://127.0.0.1:{receiver.port}/…",
        "attempts": 3,
        "status": "failed",
        "http_status": 500,
        "error": "HTTP 500",
        "at": 0,
    }


def test_webhooks_one_sender_among_workers(tmp_path, receiver):
    """Two processes' notifiers share the runtime folder: each version goes out once."""
    first, second = notifier(tmp_path, receiver.url), notifier(tmp_path, receiver.url)
    first.notify(message("aaaaaaaaaaaaaaaa", 1000.0))
    second.notify(message("aaaaaaaaaaaaaaaa", 1000.5))  # the same version, built a bit later
    assert first.drain(5) and second.drain(5)
    first.notify(message("bbbbbbbbbbbbbbbb", 2000.0))
    second.notify(message("bbbbbbbbbbbbbbbb", 2000.2))
    assert first.drain(5) and second.drain(5)
    received = receiver.wait_for(2)
    time.sleep(0.2)
    versions = [json.loads(body)["token"][:16] for _, body in receiver.received]
    assert versions == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]
    assert len(received) == 2


def test_webhooks_a_lagging_worker_never_sends_an_older_version(tmp_path, receiver):
    first, second = notifier(tmp_path, receiver.url), notifier(tmp_path, receiver.url)
    first.notify(message("bbbbbbbbbbbbbbbb", 2000.0))
    assert first.drain(5)
    second.notify(message("aaaaaaaaaaaaaaaa", 1000.0))  # built before what was sent
    assert second.drain(5)
    first.notify(message("aaaaaaaaaaaaaaaa", 3000.0))  # back to the old content, later on
    assert first.drain(5)
    versions = [json.loads(body)["token"][:16] for _, body in receiver.wait_for(2)]
    assert versions == ["bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"]


def test_webhooks_every_url_gets_each_message(tmp_path, receiver):
    other = Receiver()
    try:
        sender = notifier(tmp_path, receiver.url, other.url)
        sender.notify(message())
        assert sender.drain(5)
        assert len(receiver.wait_for(1)) == 1
        assert len(other.wait_for(1)) == 1
    finally:
        other.close()


def test_webhooks_queue_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_PENDING", 3)
    sender = notifier(tmp_path, "http://127.0.0.1:9/", retry_delay=60)
    sender._thread = threading.Thread()  # never started: everything stays queued
    for number in range(5):
        sender.notify(message(f"{number:016x}", 1000.0 + number))
    assert sender.pending == 3
    assert sender.dropped == 2
    kept = sorted(d.message.version for d in sender._pending)
    assert kept == [f"{n:016x}" for n in (2, 3, 4)]


def test_webhooks_without_urls_do_nothing(tmp_path):
    sender = Notifier((), "", SharedState(tmp_path, "none"))
    sender.notify(message())
    assert sender.pending == 0
    assert sender.status()["recent"] == []


# --- end to end: gunicorn with two workers, each watching the folder ------------------------


def _get(port: int, path: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path, int]]:
    """gunicorn with two workers over a fresh folder, webhooks to a port given back."""
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(post_text(title="Original", date="2024-01-01"))
    hook_port = free_port()
    settings = {
        "content_dir": str(content),
        "watch": "true",
        "base_url": "https://api.example.org/",
        "webhook_urls": f"http://127.0.0.1:{hook_port}/revalidate",
        "webhook_secret": SECRET,
        "webhook_retry_delay": "0.5",
    }
    with gunicorn(tmp_path, **settings) as (port, _):
        yield port, content, hook_port


def _edit(content: Path, title: str) -> None:
    (content / "a.md").write_text(post_text(title=title, date="2024-01-01"))


def _served_title(port: int, title: str, within: float) -> float:
    """Seconds until a fresh request is answered with the new title."""
    started = time.monotonic()
    while _get(port, "/api/v1/posts/a")["title"] != title:
        assert time.monotonic() - started < within, f"{title!r} not served in {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")
def test_webhooks_gunicorn_sends_each_change_once_signed(served):
    port, content, hook_port = served
    hook = Receiver(hook_port)
    try:
        time.sleep(1.0)  # both workers booted and watching
        for number, title in enumerate(["First edit", "Second edit"], start=1):
            _edit(content, title)
            _served_title(port, title, within=5)
            received = hook.wait_for(number)
            time.sleep(1.5)  # time for a duplicate from the other worker to show up
            assert len(hook.received) == number, [h["webhook-id"] for h, _ in hook.received]
            headers, body = received[-1]
            assert verify(KEY, headers, body)
            payload = json.loads(body)
            assert payload["updated"] == [
                {
                    "slug": "a",
                    "url": "https://api.example.org/api/v1/posts/a",
                    "modified": "2024-01-01T00:00:00+00:00",
                }
            ]
            assert (payload["added"], payload["removed"], payload["reset"]) == ([], [], False)
            # The payload is what /changes answers for the token before the change.
            since = _get(port, f"/api/v1/changes?since={payload['since']}")
            assert since["updated"] == payload["updated"]
        diagnostics_ids = {h["webhook-id"] for h, _ in hook.received}
        assert len(diagnostics_ids) == 2
    finally:
        hook.close()


@pytest.mark.slow
@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed")
def test_webhooks_gunicorn_receiver_down_delays_nothing_and_is_retried(served):
    port, content, hook_port = served  # nothing listens on hook_port yet
    time.sleep(1.0)
    _edit(content, "Edited while the receiver is down")
    took = _served_title(port, "Edited while the receiver is down", within=5)
    assert took < 3  # the failed deliveries did not hold the reload back
    for _ in range(20):  # and requests are answered at their usual pace meanwhile
        started = time.monotonic()
        _get(port, "/api/v1/posts/a")
        assert time.monotonic() - started < 1
    time.sleep(1.0)  # a retry or two fail
    hook = Receiver(hook_port)
    try:
        ((headers, body),) = hook.wait_for(1, timeout=15)
        assert verify(KEY, headers, body)
        assert json.loads(body)["updated"][0]["slug"] == "a"
        time.sleep(1.0)
        assert len(hook.received) == 1
    finally:
        hook.close()


def test_webhooks_unusable_runtime_folder_still_sends(tmp_path, receiver):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    sender = Notifier((receiver.url,), SECRET, SharedState(blocked / "run", "x"))
    sender.notify(message())
    ((headers, body),) = receiver.wait_for(1)
    assert verify(KEY, headers, body)
    assert sender.drain(5)


def test_webhooks_a_draft_edit_sends_nothing(write_post, make_app, tmp_path):
    """Only what clients can see counts: a draft's edit changes no public version."""
    write_post("a.md", title="A")
    write_post("draft.md", title="D", draft="true")
    app = make_app(
        base_url="https://api.example.org",
        webhook_urls="http://127.0.0.1:9/hook",
        webhook_secret=SECRET,
        runtime_dir=str(tmp_path / "run"),
    )
    store = app.extensions["contentapi"]
    sent: list[Message] = []
    store.notifier.notify = sent.append
    write_post("draft.md", title="D, edited", draft="true")
    drafted = store.reload()
    assert drafted.version != drafted.previous  # the index changed...
    assert drafted.public_version == drafted.public_previous  # ...what clients see did not
    assert sent == []
    write_post("a.md", title="A, edited")
    result = store.reload()
    (message,) = sent
    payload = json.loads(message.body)
    assert message.version == result.version
    assert [item["slug"] for item in payload["updated"]] == ["a"]
    assert payload["token"].startswith(f"{result.version}.")
    client = app.test_client()  # the tokens are the ones /changes signs and accepts
    assert client.get(f"/api/v1/changes?since={payload['since']}").get_json()["reset"] is False
    assert client.get(f"/api/v1/changes?since={payload['token']}").get_json()["reset"] is False
