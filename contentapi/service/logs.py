"""Logging: readable text, or one JSON object per line for log collectors; request logs."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, request

from contentapi.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Control characters (C0, DEL, C1) and Unicode line separators: a URL or a file name holding
# CR/LF, NUL or ESC must not start a fake log line or recolour a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` on one line: CR as `\\r`, LF as `\\n`, tab as `\\t`, others as `\\xNN`/`\\uNNNN`."""
    return _CONTROL.sub(lambda m: _NAMED.get(m[0]) or _escaped(m[0]), text)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class TextFormatter(logging.Formatter):
    """`time level logger: message`, the message on one line whatever it quotes; a
    traceback, when there is one, follows on its own lines as usual."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra fields}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure` adds, marked so that configuring again finds it."""

    _contentapi = True


def configure(app: Flask, settings: Settings) -> None:
    """One handler on the `contentapi` logger, and a log line for every request."""
    logger = logging.getLogger("contentapi")
    logger.setLevel(settings.log_level.upper())
    if not any(getattr(h, "_contentapi", False) for h in logger.handlers):
        logger.addHandler(_Handler())
        logger.propagate = False
    for handler in logger.handlers:
        if getattr(handler, "_contentapi", False):
            handler.setFormatter(
                JsonFormatter()
                if settings.log_format == "json"
                else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log_request(
            request.method, request.full_path.rstrip("?"), request.path, response.status_code, took
        )
        return response


_ACCESS = logging.getLogger("contentapi.access")


def log_request(method: str, full_path: str, path: str, status: int, took_ms: float) -> None:
    """The access line of one request (`contentapi.access`), whichever way it was answered."""
    _ACCESS.info(
        "%s %s %s %.1fms",
        method,
        full_path,
        status,
        took_ms,
        extra={
            "event": "request",
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(took_ms, 2),
        },
    )
