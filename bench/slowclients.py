"""Slow clients (slowloris) against gunicorn alone and behind deploy/nginx.conf.

    python bench/slowclients.py --clients 8 --seconds 20

For each setup, `--clients` sockets on loopback send a request head one byte every 0.3 s and
never finish it (reconnecting when dropped), for `--seconds`; meanwhile `/healthz` is probed
every 0.5 s on a new connection with a 5 s timeout. Setups: gunicorn with two sync workers
(`--threads 1`, as the review ran it), gunicorn with gunicorn.conf.py's own thread count, and
nginx (if installed) with deploy/nginx.conf in front of the sync workers. Everything is started
here and stopped at the end; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
HEAD = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def slow_clients(port: int, count: int, stop: threading.Event) -> None:
    def connect() -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
            sock.sendall(HEAD[:1])
            return sock
        except OSError:
            return None

    sockets = [connect() for _ in range(count)]
    sent = [1] * count
    while not stop.is_set():
        for n, sock in enumerate(sockets):
            if sock is None:
                sockets[n], sent[n] = connect(), 1
                continue
            try:
                sock.sendall(HEAD[sent[n] : sent[n] + 1] or b"a")
                sent[n] += 1
            except OSError:
                sock.close()
                sockets[n] = None
        stop.wait(0.3)
    for sock in sockets:
        if sock is not None:
            sock.close()


def probe(port: int) -> float | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Authorization": "Bearer probe", "Connection": "close"},  # past nginx's cache
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError):
        return None
    return time.monotonic() - started


def attack(port: int, clients: int, seconds: float) -> str:
    stop = threading.Event()
    thread = threading.Thread(target=slow_clients, args=(port, clients, stop), daemon=True)
    thread.start()
    time.sleep(1.0)
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        results.append(probe(port))
        time.sleep(0.5)
    stop.set()
    thread.join(timeout=10)
    answered = sorted(r for r in results if r is not None)
    worst = f"{answered[-1] * 1000:.0f}ms" if answered else "-"
    median = f"{answered[len(answered) // 2] * 1000:.1f}ms" if answered else "-"
    return f"{len(answered)}/{len(results)} answered, p50 {median}, max {worst}"


def nginx_config(folder: Path, listen: int, upstream: int) -> Path:
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    site = site.replace("/var/cache/nginx/contentapi", str(folder / "cache"))
    (folder / "contentapi.conf").write_text(site)
    temps = "".join(
        f"    {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = folder / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log off;\n{temps}    include {folder / 'contentapi.conf'};\n}}\n"
    )
    return main


def run(setup: str, clients: int, seconds: float, folder: Path) -> str:
    content = folder / "content"
    if not content.exists():
        content.mkdir()
        (content / "a.md").write_text("---\ntitle: A\ndate: 2024-01-01\n---\nText.\n")
    upstream = free_port()
    threads = [] if setup == "gunicorn, gunicorn.conf.py threads" else ["--threads", "1"]
    env = {**os.environ, "CONTENTAPI_CONTENT_DIR": str(content), "CONTENTAPI_PARSE_CACHE": "off"}
    command = [str(GUNICORN), "-c", "gunicorn.conf.py", "--workers", "2", *threads]
    command += ["--bind", f"127.0.0.1:{upstream}", "--access-logfile", "/dev/null", "wsgi:app"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for(upstream)
        port = upstream
        if setup.startswith("nginx"):
            nginx_dir = Path(tempfile.mkdtemp(dir=folder))
            port = free_port()
            main = nginx_config(nginx_dir, port, upstream)
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            processes.append(subprocess.Popen([nginx, "-c", str(main)], stderr=subprocess.DEVNULL))
            wait_for(port)
        return attack(port, clients, seconds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    clients = max(1, min(args.clients, 64))  # bounded: this is a test of our own server
    seconds = max(2.0, min(args.seconds, 120.0))
    print(f"# {platform.node()}: {os.cpu_count()} cores, CPython {platform.python_version()}")
    print(f"# python bench/slowclients.py --clients {clients} --seconds {seconds:g}")
    setups = ["gunicorn, 2 sync workers", "gunicorn, gunicorn.conf.py threads"]
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        setups.append("nginx (deploy/nginx.conf) + 2 sync workers")
    with tempfile.TemporaryDirectory() as folder:
        for setup in setups:
            outcome = run(setup, clients, seconds, Path(folder))
            print(f"{setup:45} /healthz during the attack: {outcome}")


if __name__ == "__main__":
    main()
