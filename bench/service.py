"""The whole service under load, in one command: `make bench` (this script, `--posts 10000`).

    python bench/service.py --posts 10000 [--posts-more 1000 100000] [--seconds 10]

For each corpus size (made by bench/generate.py, kept in the temp folder between runs):

1. start gunicorn as the README says (`gunicorn -c gunicorn.conf.py wsgi:app`, 2 workers,
   `CONTENTAPI_WATCH=true`), first with empty parse and search caches ("cold"), then again with
   what the first start wrote ("warm"): ready = first 200 on `/readyz`; worked = every worker
   has its search index (built, or read from the file another process built) and has
   analysed every post;
2. memory: PSS of the master and its workers, from /proc/PID/smaps_rollup;
3. throughput with `Accept-Encoding: br, gzip` for a list page, every post's detail once (what a
   crawler or a CDN fill does), a category page, a search, and a feed, with wrk (installed with
   apt-get if missing; a Python client with threads otherwise);
4. search latency over HTTP, one query at a time, by kind of query (bench/search.py's mix);
5. reload: one file edited, until 20 requests in a row on new connections (so from either
   worker) serve the new title;
6. the limit: bench/limit_app.py (a bare Flask app with a precomputed 20 KB body) on the same
   gunicorn settings, measured the same way, and each throughput as a ratio of it.

Everything runs on 127.0.0.1 and every phase is bounded in time. Prints the machine, the
command and a table per size; with several sizes, how ready time, memory and reload grow.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import runpy
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from search import queries  # noqa: E402

ENCODING = "br, gzip"
WORKERS = 2
WRK_LUA = """
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do urls[#urls + 1] = line end
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  step = math.floor(#urls / tonumber(args[1]))
  at = id * step
end
function request()
  at = at + 1
  if at > #urls then at = 1 end
  return wrk.format("GET", urls[at], {["Accept-Encoding"] = "br, gzip"})
end
"""


# The machine and the tools


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.platform()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def find_wrk() -> str | None:
    """wrk from Debian; installed with apt-get when missing and allowed (root), else None."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("# installing wrk with apt-get", flush=True)
    for command in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"]):
        subprocess.run(command, capture_output=True, timeout=300, check=False)
        if shutil.which("wrk"):
            break
    else:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# A gunicorn we start, watch and stop


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path
    started: float

    @property
    def pids(self) -> list[int]:
        """The master and its workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            workers = [int(pid) for pid in children.read_text().split()]
        except OSError:
            workers = []
        return [self.process.pid, *workers]

    def pss_mib(self) -> float:
        """Proportional set size of the master and workers: shared pages counted once."""
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        return total / 1024

    def logged(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log.read_text(errors="replace")))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop, to our own pid
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group we started
                self.process.wait(timeout=10)


def start(command: list[str], env: dict[str, str], port: int, log: Path, cwd: Path) -> Server:
    handle = log.open("w")
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(process, port, log, time.monotonic())


def get(port: int, path: str, timeout: float = 30.0, close: bool = False) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Accept-Encoding": "identity"}
        if close:
            headers["Connection"] = "close"
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_ready(server: Server, timeout: float) -> float:
    """Seconds from start to the first 200 on /readyz."""
    deadline = server.started + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {server.log}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(server.port, "/readyz", timeout=2)[0] == 200:
                return time.monotonic() - server.started
        time.sleep(0.02)
    raise TimeoutError(f"not ready after {timeout:.0f} s; see {server.log}")


def wait_worked(server: Server, timeout: float) -> float:
    """Seconds from start until every worker has logged the end of its warm-up (search index
    made or read, every post analysed)."""
    deadline = server.started + timeout
    while time.monotonic() < deadline:
        if server.logged(r"warm-up \S+: search index and") >= WORKERS:
            return time.monotonic() - server.started
        time.sleep(0.1)
    raise TimeoutError(f"workers still busy after {timeout:.0f} s; see {server.log}")


def wait_answers(server: Server, timeout: float) -> float:
    """Seconds from start until a worker has logged that every post's default detail answer is
    stored (the background fill after the warm-up, `contentapi/web/prebuilt.py`); NaN if not
    within `timeout`."""
    deadline = server.started + timeout
    while time.monotonic() < deadline:
        if server.logged(r"prebuilt answers \S+: every answer stored"):
            return time.monotonic() - server.started
        time.sleep(0.1)
    return float("nan")


# Load


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    tool: str
    urls: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _ms(text: str) -> float:
    """wrk's `1.23ms`, `850.00us` or `1.02s` in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk_load(wrk: str, port: int, urls: list[str], seconds: float, connections: int) -> Load:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "urls.lua"
        script.write_text(WRK_LUA)
        listing = Path(folder) / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        threads = 2
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:.0f}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
                "--",
                str(threads),
            ],
            env={**os.environ, "BENCH_URLS": str(listing)},
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    took = re.search(r"requests in ([\d.]+)(\w+)", out)
    elapsed = float(took.group(1)) * {"s": 1, "ms": 0.001, "m": 60}[took.group(2)]  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"timeout (\d+)", out))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "99" not in latency:
        print(out, file=sys.stderr)
    return Load(
        requests,
        elapsed,
        errors,
        _ms(latency.get("50", "0ms")),
        _ms(latency.get("99", "0ms")),
        "wrk",
        len(urls),
    )


def python_load(port: int, urls: list[str], seconds: float, connections: int) -> Load:
    """The fallback: `connections` threads, each with a keep-alive connection, for `seconds`."""
    times: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        at = offset
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop:
            path = urls[at % len(urls)]
            at += 1
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept-Encoding": ENCODING})
                response = connection.getresponse()
                response.read()
                failed += response.status >= 400
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            times.extend(mine)
            errors += failed

    began = time.monotonic()
    step = max(1, len(urls) // connections)
    threads = [threading.Thread(target=client, args=(n * step,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ordered = sorted(times) or [0.0]
    return Load(
        len(times),
        elapsed,
        errors,
        ordered[len(ordered) // 2] * 1000,
        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "python",
        len(urls),
    )


# One run


@dataclass
class Result:
    posts: int
    ready_cold: float = 0.0
    ready_warm: float = 0.0
    worked: float = 0.0
    worked_cold: float = 0.0
    answers_cold: float = 0.0  # every post's detail answer prebuilt (after the warm-up)
    answers: float = 0.0
    pss_idle: float = 0.0
    pss_loaded: float = 0.0
    reload: float = 0.0
    loads: dict[str, Load] = field(default_factory=dict)
    limit: Load | None = None
    limit_pss: float = 0.0
    search: dict[str, tuple[float, float, int]] = field(default_factory=dict)


def corpus(count: int) -> Path:
    """A corpus only this benchmark edits (it edits one file and puts it back)."""
    from generate import generate_corpus

    root = Path(tempfile.gettempdir()) / f"contentapi-service-bench-{count}"
    if not (root / ".complete").exists():
        print(f"# generating {count} posts in {root}", flush=True)
        generate_corpus(root, count)
        (root / ".complete").write_text("ok")
    return root


def gunicorn_settings(env: dict[str, str]) -> dict[str, object]:
    """The values gunicorn.conf.py sets, read the way gunicorn reads them."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def paged(port: int, path: str, key: str = "slug") -> Iterator[str]:
    page = 1
    while True:
        _, body = get(port, f"{path}{'&' if '?' in path else '?'}page={page}&per_page=100")
        data = json.loads(body)
        for item in data["data"]:
            yield item[key]
        if not data["meta"]["pagination"]["next"]:
            return
        page += 1


def run(posts: int, seconds: float, connections: int, wrk: str | None, work: Path) -> Result:
    result = Result(posts)
    root = corpus(posts)
    python = str(Path(sys.executable))
    gunicorn = [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    cache, search_cache = work / f"parse-cache-{posts}", work / f"search-cache-{posts}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(search_cache, ignore_errors=True)
    port = free_port()
    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "CONTENTAPI_CONTENT_DIR": str(root),
        "CONTENTAPI_PARSE_CACHE": str(cache),
        "CONTENTAPI_SEARCH_CACHE": str(search_cache),
        "CONTENTAPI_WATCH": "true",
        "CONTENTAPI_BASE_URL": f"http://127.0.0.1:{port}/",
    }
    budget = 120 + posts / 100  # seconds any start may take: 16 min at 100,000 posts
    load = (
        (lambda urls: wrk_load(wrk, port, urls, seconds, connections))
        if wrk
        else (lambda urls: python_load(port, urls, seconds, connections))
    )

    print(f"## {posts} posts: cold start", flush=True)
    server = start(gunicorn, env, port, work / f"gunicorn-{posts}-cold.log", ROOT)
    try:
        result.ready_cold = wait_ready(server, budget)
        result.worked_cold = wait_worked(server, budget * 3)
        result.answers_cold = wait_answers(server, budget * 3)
    finally:
        server.stop()

    print(f"## {posts} posts: warm start and load", flush=True)
    server = start(gunicorn, env, port, work / f"gunicorn-{posts}.log", ROOT)
    try:
        result.ready_warm = wait_ready(server, budget)
        result.worked = wait_worked(server, budget * 3)
        result.answers = wait_answers(server, budget * 3)  # "once the store is built"
        time.sleep(1)
        result.pss_idle = server.pss_mib()
        slugs = list(paged(port, "/api/v1/posts?fields=slug"))
        pages = max(1, len(slugs) // 10)
        categories = [
            item["slug"] for item in json.loads(get(port, "/api/v1/categories")[1])["data"]
        ]
        sizes = range(5, 15)  # per_page varies, so few URLs repeat: responses are not cached
        urls = {
            "list": [
                f"/api/v1/posts?page={n}&per_page={k}" for n in range(1, pages) for k in sizes
            ],
            "detail": [f"/api/v1/posts/{slug}" for slug in slugs],
            "category": [
                f"/api/v1/categories/{slug}?page={n}&per_page={k}"
                for n in range(1, max(2, pages // max(1, len(categories))))
                for slug in categories
                for k in sizes
            ],
            "search": [
                f"/api/v1/search?q={urllib.parse.quote(text)}&per_page={k}"
                for text in dict.fromkeys(text for _, text in queries(300))
                for k in sizes
            ],
            "feed": ["/feeds/rss.xml", *(f"/feeds/rss.xml?category={c}" for c in categories)],
        }
        for name, paths in urls.items():
            print(f"## {posts} posts: {name} ({len(paths)} URLs, {seconds:.0f} s)", flush=True)
            result.loads[name] = load(paths)
        result.pss_loaded = server.pss_mib()
        result.search = search_latency(port)
        result.reload = reload_time(port, root, budget)
    finally:
        server.stop()

    print(f"## {posts} posts: the limit (bare Flask, 20 KB)", flush=True)
    settings = gunicorn_settings(env)
    limit = [
        python,
        "-m",
        "gunicorn",
        "-c",
        "/dev/null",
        "--chdir",
        str(HERE),
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(settings["workers"]),
        "--threads",
        str(settings["threads"]),
        "--keep-alive",
        str(settings["keepalive"]),
        "--timeout",
        str(settings["timeout"]),
        "--access-logfile",
        "-",
        "--access-logformat",
        str(settings["access_log_format"]),
        "limit_app:app",
    ]
    server = start(limit, env, port, work / f"limit-{posts}.log", ROOT)
    try:
        wait_ready(server, 60)
        result.limit = load(["/readyz", *(f"/x/{n}" for n in range(999))])
        result.limit_pss = server.pss_mib()
    finally:
        server.stop()
    return result


def search_latency(port: int) -> dict[str, tuple[float, float, int]]:
    """p50 and p99 per kind of query, one at a time on one connection (no repeats, so no
    response is served from the cache)."""
    made: dict[str, list[float]] = {}
    seen: set[str] = set()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for kind, text in queries(300):
        if text in seen:
            continue
        seen.add(text)
        path = f"/api/v1/search?q={urllib.parse.quote(text)}&per_page=20"
        began = time.perf_counter()
        connection.request("GET", path, headers={"Accept-Encoding": ENCODING})
        response = connection.getresponse()
        response.read()
        took = time.perf_counter() - began
        if response.status == 200:
            made.setdefault(kind, []).append(took * 1000)
    connection.close()
    made["all"] = [t for times in made.values() for t in times]
    return {
        kind: (
            statistics.median(times),
            sorted(times)[min(len(times) - 1, int(0.99 * len(times)))],
            len(times),
        )
        for kind, times in made.items()
    }


def reload_time(port: int, root: Path, budget: float) -> float:
    """Seconds from writing one edited file until 20 requests in a row, each on a new
    connection (so from either worker), serve it. The file is put back afterwards."""
    from contentapi.engine.slugs import slug_from_path

    files = sorted(root.rglob("*.md"))
    for path in files[len(files) // 2 :]:
        slug = slug_from_path(path.name)
        status, _ = get(port, f"/api/v1/posts/{slug}")
        if status == 200 and "\nslug:" not in path.read_text(errors="replace"):
            break
    else:
        raise RuntimeError("no post to edit")
    original = path.read_bytes()
    marker = f"Edited {time.time_ns()}"
    edited = re.sub(
        r"^title: .*$", f"title: {json.dumps(marker)}", original.decode(), count=1, flags=re.M
    )
    first_new = began = time.monotonic()
    try:
        path.write_text(edited)
        streak = 0
        while streak < 20:
            if time.monotonic() - began > budget:
                raise TimeoutError("the edit was not served in time")
            _, answer = get(port, f"/api/v1/posts/{slug}", close=True)
            streak = streak + 1 if marker.encode() in answer else 0
            if streak == 1:
                first_new = time.monotonic()
        return first_new - began
    finally:
        path.write_bytes(original)
        time.sleep(1.5)  # both workers reload the original before the server stops


# Report


def report(result: Result) -> None:
    limit = result.limit
    print()
    print(f"### {result.posts} posts")
    cold, warm = result.ready_cold, result.ready_warm
    print(f"ready (first 200 on /readyz): cold {cold:.2f} s, warm {warm:.2f} s")
    print(
        f"every worker done (search index, every post analysed): cold {result.worked_cold:.2f} s,"
        f" warm {result.worked:.2f} s after start"
    )
    print(
        f"every post's detail answer prebuilt, after that: cold {result.answers_cold:.2f} s, "
        f"warm {result.answers:.2f} s after start"
    )
    print(
        f"memory, master + {WORKERS} workers (PSS): {result.pss_idle:.0f} MiB idle, "
        f"{result.pss_loaded:.0f} MiB after load; the limit app {result.limit_pss:.0f} MiB"
    )
    print(f"one file edited until every worker serves it: {result.reload * 1000:.0f} ms")
    print()
    tool = next(iter(result.loads.values())).tool if result.loads else "-"
    print(f"throughput ({tool}, Accept-Encoding: {ENCODING})")
    print("endpoint    URLs  requests    req/s  p50 ms  p99 ms  errors  vs limit")
    for name, load in [*result.loads.items(), *([("limit", limit)] if limit else [])]:
        ratio = f"{load.rate / limit.rate:.2f}x" if limit and limit.rate else "-"
        print(
            f"{name:<9} {load.urls:>6} {load.requests:>9} {load.rate:>8.0f} {load.p50_ms:>7.1f} "
            f"{load.p99_ms:>7.1f} {load.errors:>7}  {ratio:>8}"
        )
    print("(a URL asked for again may be served from the response cache: compare requests, URLs)")
    print()
    print("search over HTTP, one query at a time (per_page=20), ms")
    print("kind         queries   p50    p99")
    for kind, (p50, p99, count) in result.search.items():
        print(f"{kind:<12} {count:>7} {p50:>6.1f} {p99:>6.1f}")


def growth(results: list[Result]) -> None:
    print()
    print("### growth")
    print("posts    ready cold  ready warm  worked cold  worked warm  PSS idle  reload")
    for r in results:
        print(
            f"{r.posts:>7} {r.ready_cold:>9.2f}s {r.ready_warm:>9.2f}s {r.worked_cold:>10.2f}s "
            f"{r.worked:>10.2f}s {r.pss_idle:>6.0f}MiB {r.reload * 1000:>6.0f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--posts", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seconds", type=float, default=10.0, help="per throughput phase")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args()
    print(f"# command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"# machine: {machine()}")
    wrk = None if args.python_client else find_wrk()
    print(f"# load: {'wrk ' + wrk if wrk else 'Python threads'}, {args.connections} connections")
    results = []
    with tempfile.TemporaryDirectory(prefix="contentapi-bench-") as folder:
        for count in args.posts:
            results.append(run(count, args.seconds, args.connections, wrk, Path(folder)))
            report(results[-1])
    if len(results) > 1:
        growth(results)


if __name__ == "__main__":
    main()
