"""Change notifications: every new content version POSTed, signed, to the configured URLs.

Signed per Standard Webhooks (https://www.standardwebhooks.com/): `webhook-id` (the same on
every retry), `webhook-timestamp` (seconds) and `webhook-signature`, `v1,` + the base64
HMAC-SHA256 of `id.timestamp.body` under the secret (`whsec_` + base64, as the spec's
libraries take it).

Nothing here runs on a reload's or a request's thread: `Notifier.notify` only puts the message
in a bounded queue; one background thread per process delivers it, with a timeout, and retries
failures with a doubling delay. Under gunicorn every worker reloads by itself, so the workers
agree through a small state file in the runtime folder, under an exclusive file lock: a
version is sent by whichever process claims it first, and only if it is newer than the last
version sent. The same file keeps the recent deliveries, so admin diagnostics show them
whichever worker answers.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import heapq
import hmac
import json
import logging
import math
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from contentapi import __version__
from contentapi.outputs.serialize import Links, changes_body, token_moment
from contentapi.service.store import runtime_folder
from contentapi.settings import webhook_key as secret_bytes

if TYPE_CHECKING:
    from contentapi.service.store import Reload
    from contentapi.settings import Settings

log = logging.getLogger("contentapi")
MAX_PENDING: Final = 100  # deliveries waiting (new or to retry); past it the oldest is dropped
RECENT: Final = 20  # deliveries remembered for diagnostics
MAX_DELAY: Final = 3600.0


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(key: bytes, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """What a receiver checks: a signature made with the key, at a recent timestamp."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(key, headers.get("webhook-id", ""), timestamp, body)
    offered = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def redact(url: str) -> str:
    """A webhook URL as logs and diagnostics show it: deploy hooks carry a secret in the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path.strip("/") else url


@dataclass(frozen=True)
class Message:
    """One content change to announce: its id (stable across retries), version and JSON body."""

    id: str
    version: str
    built_at: float
    body: bytes

    @classmethod
    def of(cls, version: str, built_at: float, payload: Any) -> Message:
        """A message whose id is unique to this version as built at this moment."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(f"msg_{version}_{int(built_at * 1000):x}", version, built_at, body)


@dataclass(frozen=True, order=True)
class _Delivery:
    due: float
    sequence: int
    url: str = field(compare=False)
    message: Message = field(compare=False)
    attempt: int = field(default=1, compare=False)
    claimed: bool = field(default=False, compare=False)


Post = Callable[[str, dict[str, str], bytes, float], int]


def http_post(url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
    """POST and return the status; a network failure raises OSError."""
    # Only http(s) URLs get here: the setting is checked at startup.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class SharedState:
    """The workers' shared record of what was sent: a JSON file changed under a file lock."""

    def __init__(self, folder: Path, key: str) -> None:
        self.file = folder / f"webhooks-{key}.json"
        self.lock = folder / f"webhooks-{key}.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.lock.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                try:
                    state = json.loads(self.file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    state = {}
                before = json.dumps(state, sort_keys=True)
                yield state
                if json.dumps(state, sort_keys=True) != before:
                    self._write(state)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, state: dict[str, Any]) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=".webhooks-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(state, out)
        Path(temporary).replace(self.file)

    def claim(self, message: Message) -> bool:
        """True for the one process that should send this version: it is not the version sent
        last, and it was built after it (a worker that lags behind never sends an old one)."""
        with self._locked() as state:
            if state.get("version") == message.version:
                return False
            if float(state.get("built_at", 0)) > message.built_at:
                return False
            state.update(version=message.version, built_at=message.built_at)
            return True

    def record(self, entry: dict[str, Any]) -> None:
        with self._locked() as state:
            recent = [e for e in state.get("recent", []) if e.get("key") != entry["key"]]
            state["recent"] = [entry, *recent][:RECENT]

    def recent(self) -> list[dict[str, Any]]:
        with self._locked() as state:
            return list(state.get("recent", []))


class Notifier:
    """Queues messages and delivers them from one background thread per process."""

    def __init__(
        self,
        urls: tuple[str, ...],
        secret: str,
        state: SharedState,
        *,
        timeout: float = 5.0,
        retries: int = 5,
        retry_delay: float = 5.0,
        post: Post = http_post,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.urls = urls
        self.key = secret_bytes(secret) if urls else b""
        self.state = state
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.post = post
        self.clock = clock
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._reset()

    def _reset(self) -> None:
        """Fresh thread state, also in a process forked from one that had some."""
        self._pid = os.getpid()
        self._pending: list[_Delivery] = []
        self._sequence = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._busy = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def notify(self, message: Message) -> None:
        """Queue a message for every URL; returns at once, never raises for a delivery."""
        if not self.urls:
            return
        if self._pid != os.getpid():
            self._reset()
        with self._wake:
            for url in self.urls:
                self._push(_Delivery(time.monotonic(), self._next(), url, message))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="contentapi-webhooks", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def stop(self, wait: float = 5.0) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(wait)

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending (for tests and a graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                if not self._pending and not self._busy:
                    return True
            time.sleep(0.02)
        return False

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _push(self, delivery: _Delivery) -> None:
        if len(self._pending) >= MAX_PENDING:
            oldest = min(self._pending, key=lambda d: (d.message.built_at, d.sequence))
            self._pending.remove(oldest)
            heapq.heapify(self._pending)
            self.dropped += 1
            log.error(
                "webhook queue full: dropped version %s for %s",
                oldest.message.version,
                redact(oldest.url),
                extra={"event": "webhook-dropped"},
            )
        heapq.heappush(self._pending, delivery)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (
                    not self._pending or self._pending[0].due > time.monotonic()
                ):
                    wait = self._pending[0].due - time.monotonic() if self._pending else None
                    self._wake.wait(wait)
                if self._stopped:
                    return
                delivery = heapq.heappop(self._pending)
                self._busy = True
            delay: float | None = None
            try:
                if self._claimed(delivery):
                    delay = self._attempt(delivery)
            except Exception:  # a bug here must not end every later delivery
                log.exception("webhook delivery failed unexpectedly")
            with self._wake:
                if delay is not None:
                    retry = replace(
                        delivery,
                        due=time.monotonic() + delay,
                        sequence=self._next(),
                        attempt=delivery.attempt + 1,
                        claimed=True,
                    )
                    self._push(retry)
                self._busy = False

    def _claimed(self, delivery: _Delivery) -> bool:
        """Whether this process sends the message; decided once, for all of its URLs."""
        if delivery.claimed:
            return True
        try:
            mine = self.state.claim(delivery.message)
        except OSError as error:  # better sent twice than not at all
            log.warning("webhook state unusable, sending anyway: %s", error)
            mine = True
        with self._wake:
            same = [d for d in self._pending if d.message.id == delivery.message.id]
            self._pending = [d for d in self._pending if d.message.id != delivery.message.id]
            if mine:
                self._pending += [replace(d, claimed=True) for d in same]
            heapq.heapify(self._pending)
        return mine

    def _attempt(self, delivery: _Delivery) -> float | None:
        """Send once; the delay before the next attempt, or None when done (sent or given up)."""
        message = delivery.message
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"contentapi/{__version__}",
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.key, message.id, timestamp, message.body),
        }
        status: int | None = None
        error = ""
        try:
            status = self.post(delivery.url, headers, message.body, self.timeout)
        except (OSError, ValueError) as exc:  # refused, timed out, unreachable
            error = str(exc) or type(exc).__name__
        ok = status is not None and 200 <= status < 300
        if not ok and not error:
            error = f"HTTP {status}"
        give_up = not ok and delivery.attempt > self.retries
        where = redact(delivery.url)
        entry = {
            "key": f"{message.id} {delivery.url}",
            "id": message.id,
            "version": message.version,
            "url": where,
            "attempts": delivery.attempt,
            "status": "delivered" if ok else "failed" if give_up else "retrying",
            "http_status": status,
            "error": error or None,
            "at": timestamp,
        }
        with contextlib.suppress(OSError):
            self.state.record(entry)
        extra = {"version": message.version, "url": where, "attempt": delivery.attempt}
        if ok:
            self.delivered += 1
            log.info(
                "webhook %s delivered to %s", message.id, where, extra={"event": "webhook", **extra}
            )
            return None
        if give_up:
            self.failed += 1
            log.error(
                "webhook %s to %s failed after %d attempts: %s",
                message.id,
                where,
                delivery.attempt,
                error,
                extra={"event": "webhook-failed", **extra},
            )
            return None
        delay = min(self.retry_delay * 2.0 ** (delivery.attempt - 1), MAX_DELAY)
        log.warning(
            "webhook %s to %s failed (%s): retry %d of %d in %.1f s",
            message.id,
            where,
            error,
            delivery.attempt,
            self.retries,
            delay,
            extra={"event": "webhook-retry", **extra},
        )
        return delay

    def status(self) -> dict[str, Any]:
        """For admin diagnostics: what this process has pending and what was sent lately."""
        try:
            recent = self.state.recent() if self.urls else []
        except OSError as error:
            recent = []
            log.warning("webhook state unreadable: %s", error)
        for entry in recent:
            entry.pop("key", None)
        return {
            "urls": [redact(url) for url in self.urls],
            "pending": self.pending,
            "delivered": self.delivered,
            "failed": self.failed,
            "dropped": self.dropped,
            "recent": recent,
        }


def change_message(result: Reload, links: Links, sign: Callable[[str], str]) -> Message | None:
    """The message for a reload that changed what clients see (None for one that did not, a
    draft's edit included): the payload `/api/v1/changes?since=<the token before>` answers,
    its tokens signed by `sign` as that endpoint signs them."""
    if result.previous is None or result.public_previous == result.public_version:
        return None
    now = result.at or result.index.built_at

    def token(version: str, seconds: int) -> str:
        payload = f"{version}.{seconds}"
        return f"{payload}.{sign(payload)}"

    payload = changes_body(
        result.index,
        result.changes,
        links,
        since=token(result.previous, math.floor(now.timestamp())),
        token=token(result.version, token_moment(result.index, now)),
        reset=False,
    )
    return Message.of(result.version, result.index.built_at.timestamp(), payload)


def notifier_for(settings: Settings) -> Notifier:
    """The notifier of one deployment: its shared state is keyed by content folder and URLs."""
    identity = "\n".join([str(settings.content_dir.resolve()), *settings.webhook_urls])
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Notifier(
        settings.webhook_urls,
        settings.webhook_secret,
        SharedState(runtime_folder(settings), key),
        timeout=settings.webhook_timeout,
        retries=settings.webhook_retries,
        retry_delay=settings.webhook_retry_delay,
    )
