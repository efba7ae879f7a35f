"""deploy/nginx.conf in front of gunicorn: slow clients never take the workers away.

A slowloris-style client (bounded: a few sockets on loopback, for a few seconds) sends request
headers one byte at a time. Straight to gunicorn's sync workers that holds every worker (see
bench/slowclients.py for the figures); through the shipped nginx configuration `/healthz` keeps
answering. nginx is installed by .ci/run; without it the test skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port, post_text, wait_for_port

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
GUNICORN = Path(sys.executable).parent / "gunicorn"
CONFIG = ROOT / "deploy" / "nginx.conf"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)"),
    pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed"),
]


class SlowClients:
    """`count` sockets that send a request head one byte every `interval` seconds and never
    finish it, reconnecting when the server drops them; stops after `seconds` at most."""

    HEAD = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "

    def __init__(self, port: int, count: int = 8, interval: float = 0.3, seconds: float = 20):
        self.port, self.count, self.interval = port, count, interval
        self.deadline = time.monotonic() + seconds
        self.stopping = threading.Event()
        self.connected = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            sock.sendall(self.HEAD[:1])
        except OSError:
            return None
        self.connected += 1
        return sock

    def _run(self) -> None:
        sockets = [self._connect() for _ in range(self.count)]
        sent = [1] * self.count
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            for n, sock in enumerate(sockets):
                if sock is None:
                    sockets[n], sent[n] = self._connect(), 1
                    continue
                data = self.HEAD[sent[n] : sent[n] + 1] or b"a"
                try:
                    sock.sendall(data)
                    sent[n] += 1
                except OSError:
                    sock.close()
                    sockets[n] = None
            self.stopping.wait(self.interval)
        for sock in sockets:
            if sock is not None:
                sock.close()

    def __enter__(self) -> SlowClients:
        self.thread.start()
        time.sleep(1.0)  # let them take whatever they can
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


def _render(tmp: Path, listen: int, upstream: int) -> Path:
    """deploy/nginx.conf with test ports and folders, inside a minimal main configuration."""
    site = CONFIG.read_text()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("/var/cache/nginx/contentapi", str(tmp / "cache")),
    ]:
        assert site.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        site = site.replace(old, new)
    (tmp / "contentapi.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = tmp / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} warn;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n    access_log off;\n{temp}\n"
        f"    uwsgi_temp_path {tmp / 'uwsgi'};\n    scgi_temp_path {tmp / 'scgi'};\n"
        f"    include {tmp / 'contentapi.conf'};\n}}\n"
    )
    return main


@pytest.fixture
def stack(tmp_path):
    """gunicorn (two sync workers, as the review ran it) behind nginx with deploy/nginx.conf."""
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(post_text(title="A"))
    upstream, listen = free_port(), free_port()
    access = tmp_path / "gunicorn-access.log"
    env = {**os.environ, "CONTENTAPI_CONTENT_DIR": str(content), "CONTENTAPI_PARSE_CACHE": "off"}
    gunicorn = subprocess.Popen(
        [
            *(str(GUNICORN), "-c", "gunicorn.conf.py", "--workers", "2", "--threads", "1"),
            *("--bind", f"127.0.0.1:{upstream}", "--access-logfile", str(access), "wsgi:app"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    main = _render(nginx_dir, listen, upstream)
    check = subprocess.run([NGINX, "-t", "-c", str(main)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(
        [NGINX, "-c", str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(upstream, timeout=30)
        wait_for_port(listen, timeout=10)
        yield listen, access
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(timeout=30)
        gunicorn.wait(timeout=30)


def _probe(port: int) -> tuple[int, float]:
    """/healthz on a new connection; `Authorization` keeps nginx's cache out of the way so
    every probe reaches gunicorn."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Authorization": "Bearer probe", "Connection": "close"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
        return response.status, time.monotonic() - started


def test_deploy_nginx_keeps_healthz_answering_under_slow_clients(stack):
    port, access = stack
    assert _probe(port)[0] == 200
    with SlowClients(port, count=16) as attack:
        answers = []
        for _ in range(8):
            answers.append(_probe(port))
            time.sleep(0.4)
        assert attack.thread.is_alive(), "the slow clients should still be at it"
    assert attack.connected >= 16
    assert [status for status, _ in answers] == [200] * 8
    reached = access.read_text().count("/healthz")
    assert reached >= 9, "every probe should have reached gunicorn, not nginx's cache"


def test_deploy_nginx_passes_a_long_search_query(stack):
    """The contract allows `q` of 1,000 characters: up to 9 KB percent-encoded, past nginx's
    default 8 KB buffer for a request line. nginx must pass it on (what gunicorn then does
    with it is gunicorn.conf.py's `limit_request_line`)."""
    port, _ = stack
    query = urllib.parse.quote("語" * 1000)
    url = f"http://127.0.0.1:{port}/api/v1/search?q={query}"
    assert len(url) > 9000
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    assert not (status == 414 and b"nginx" in body), "nginx refused the request line"
