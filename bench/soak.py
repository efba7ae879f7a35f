"""Soak: mixed load on gunicorn (two workers) while the content changes under it.

    python bench/soak.py --seconds 60

Starts gunicorn with gunicorn.conf.py and two workers on loopback, over a copy of the bundled
`content/` plus generated posts, reached through a symlink `current -> releases/N` with the
watcher on. Then, for `--seconds`:

- `--clients` threads request listings, post details, search, terms, feeds, the archive, media
  and health checks, and junk: unknown or malformed parameters (`?cb=N`, `?perpage=5`,
  `?page=-1`, an encoded `&` in a tag, control characters);
- one thread edits posts, adds new ones, deletes them, breaks a post (invalid date, a YAML
  billion laughs, an oversize file) and fixes it, and every `--swap-every` seconds copies the
  release, changes it and switches the `current` symlink to it, as a deploy does.

It reports requests, failures, latency percentiles, and each worker's memory (RSS and PSS from
/proc) at the start and the end. A failure is a 5xx, a timeout or lost connection, a JSON body
that does not parse, or a 404 for anything but a post the mutator added or deleted; junk may
answer 200 or 400, never 5xx. Bounded: at most 600 s, 16 clients and 2,000,000 requests; exits
1 when anything failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
GUNICORN = Path(sys.executable).parent / "gunicorn"
MAX_REQUESTS = 2_000_000

JUNK = [
    "/feeds/rss.xml?cb={n}",
    "/api/v1/posts?perpage=5",
    "/api/v1/posts?page=-1",
    "/api/v1/posts?page=abc&per_page=999999",
    "/api/v1/posts?tag=fermentacion%26tag%3Dmasa-madre",
    "/api/v1/posts?page%3D2%26per_page=3",
    "/api/v1/posts?fields=nope,slug",
    "/api/v1/search?q=%00%0d%0a%1b",
    "/api/v1/search?q=" + "%C3%B1" * 300,
    "/api/v1/posts/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/media/..%2f..%2fetc%2fpasswd",
    "/api/v1/changes?since=garbage.253402300800",
    "/api/v1/posts?sort=-nope&lang[]=x",
]
EXPECTED_JUNK = {200, 301, 308, 400, 404}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(title: str, date: str = "2024-01-01", body: str = "Texto de prueba.") -> str:
    return f'---\ntitle: "{title}"\ndate: {date}\ntags: [soak]\n---\n\n{body}\n'


def laughs() -> str:
    lines = ['l1: &l1 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]" for n in range(2, 10)]
    return "---\ntitle: Risas\ndate: 2024-01-01\n" + "\n".join(lines) + "\n---\nrisas\n"


class Tally:
    """Counts and latencies, shared by every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.failures: collections.Counter[str] = collections.Counter()
        self.expected_404 = 0

    def record(self, kind: str, outcome: str, seconds: float, failure: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_kind[kind][outcome] += 1
            if failure:
                self.failures[failure] += 1
            if outcome == "404 (deleted)":
                self.expected_404 += 1

    @property
    def count(self) -> int:
        return len(self.latencies)


class Content:
    """The releases folder, the `current` symlink, and what the mutator did to them."""

    def __init__(self, base: Path, generated: int) -> None:
        self.base = base
        self.releases = base / "releases"
        self.current = base / "current"
        first = self.releases / "1"
        shutil.copytree(ROOT / "content", first)
        if generated:
            from generate import generate_corpus

            generate_corpus(first / "generated", generated)
        self.number = 1
        self.current.symlink_to(first, target_is_directory=True)
        self.lock = threading.Lock()
        self.added: list[str] = []  # slugs of posts added and not deleted since
        self.volatile: set[str] = set()  # slugs that may 404: added, deleted or swapped away
        self.actions: collections.Counter[str] = collections.Counter()
        self.originals: list[Path] = []

    @property
    def folder(self) -> Path:
        return self.releases / str(self.number)

    def slugs_to_request(self, known: list[str], rng: random.Random) -> str:
        with self.lock:
            if self.added and rng.random() < 0.3:
                return rng.choice(self.added)
        return rng.choice(known)

    def mutate(self, step: int, rng: random.Random) -> None:
        folder = self.folder
        originals = sorted(p for p in (folder / "generated").rglob("*.md"))[:50]
        action = ["edit", "add", "add", "delete", "break", "fix", "edit", "laughs"][step % 8]
        if action == "edit" and originals:
            victim = rng.choice(originals)
            victim.write_text(victim.read_text() + f"\nEdición {step}.\n")
        elif action == "add":
            slug = f"soak-{step}"
            with self.lock:
                self.volatile.add(slug)
            (folder / f"{slug}.md").write_text(post(f"Soak {step}"))
            with self.lock:
                self.added.append(slug)
        elif action == "delete":
            with self.lock:
                slug = self.added.pop(0) if self.added else None
            if slug:
                (folder / f"{slug}.md").unlink(missing_ok=True)
        elif action == "break":
            (folder / "broken.md").write_text("---\ntitle: Roto\ndate: ayer\n---\nroto\n")
            if originals:  # a valid post made invalid keeps serving its last good version
                victim = originals[step % len(originals)]
                text = victim.read_text()
                victim.write_text(text.replace("\ndate:", "\ndate: not a date\nold_date:", 1))
            if step % 24 == 4:
                (folder / "huge.md").write_text(post("Enorme", body="palabra " * 300_000))
        elif action == "fix":
            (folder / "broken.md").unlink(missing_ok=True)
            (folder / "huge.md").unlink(missing_ok=True)
            for victim in originals:
                text = victim.read_text()
                if "\ndate: not a date\nold_date:" in text:
                    victim.write_text(text.replace("\ndate: not a date\nold_date:", "\ndate:", 1))
        elif action == "laughs":
            (folder / "laughs.md").write_text(laughs())
        self.actions[action] += 1

    def swap(self) -> None:
        """Copy the release, change it, and switch `current` to it atomically."""
        new = self.releases / str(self.number + 1)
        shutil.copytree(self.folder, new, symlinks=True)
        (new / f"release-{self.number + 1}.md").write_text(post(f"Release {self.number + 1}"))
        with self.lock:
            self.volatile.add(f"release-{self.number + 1}")
            self.volatile.add(f"release-{self.number}")
        (new / f"release-{self.number}.md").unlink(missing_ok=True)
        link = self.base / "current.new"
        link.symlink_to(new, target_is_directory=True)
        link.replace(self.current)
        self.number += 1
        old = self.releases / str(self.number - 2)
        if old.exists():  # keep two releases, as deploy tools do
            shutil.rmtree(old)
        self.actions["symlink swap"] += 1


def workers_of(master: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry.name))
    return sorted(children)


def memory(pid: int) -> tuple[float, float] | None:
    """RSS and PSS in MiB from /proc/<pid>/smaps_rollup."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    values = {line.split(":")[0]: int(line.split()[1]) for line in lines if line.endswith("kB")}
    return values.get("Rss", 0) / 1024, values.get("Pss", 0) / 1024


def fetch(port: int, path: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Connection": "close"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def client(
    number: int, port: int, stop: float, tally: Tally, content: Content, known: list[str]
) -> None:
    rng = random.Random(number)
    counter = 0
    while time.monotonic() < stop and tally.count < MAX_REQUESTS:
        counter += 1
        roll = rng.random()
        slug = None
        if roll < 0.35:
            slug = content.slugs_to_request(known, rng)
            kind, path = "detail", f"/api/v1/posts/{slug}"
        elif roll < 0.50:
            kind, path = "listing", f"/api/v1/posts?page={rng.randint(1, 5)}&per_page=10"
        elif roll < 0.58:
            word = rng.choice(["pan", "modelo", "flask", "datos", "búsqueda", "respir"])
            kind, path = "search", f"/api/v1/search?q={urllib.parse.quote(word)}"
        elif roll < 0.64:
            kind, path = "terms", rng.choice(["/api/v1/tags", "/api/v1/categories"])
        elif roll < 0.70:
            kind, path = "feed", rng.choice(["/feeds/rss.xml", "/feeds/atom.xml", "/sitemap.xml"])
        elif roll < 0.74:
            kind, path = "meta", rng.choice(["/api/v1", "/api/v1/archive", "/readyz"])
        elif roll < 0.78:
            kind, path = "media", "/media/images/covers/masa-madre.png"
        elif roll < 0.82:
            kind, path = "health", "/healthz"
        else:
            kind, path = "junk", rng.choice(JUNK).format(n=f"{number}-{counter}")
        started = time.perf_counter()
        failure = None
        try:
            status, body, mimetype = fetch(port, path)
            outcome = str(status)
            if "json" in mimetype and status != 304:
                json.loads(body)
        except (OSError, urllib.error.URLError) as error:
            status, outcome = 0, type(error).__name__
            failure = f"{kind}: {outcome}"
        except ValueError:
            outcome = "bad JSON"
            failure = f"{kind}: JSON that does not parse ({path})"
        if failure is None:
            if status >= 500:
                failure = f"{kind}: {status} {path}"
            elif kind == "junk":
                if status not in EXPECTED_JUNK:
                    failure = f"junk: {status} {path}"
            elif status == 404 and slug is not None:
                with content.lock:
                    if slug in content.volatile:
                        outcome = "404 (deleted)"
                    else:
                        failure = f"detail: 404 for a post never deleted ({slug})"
            elif status not in {200, 304}:
                failure = f"{kind}: {status} {path}"
        tally.record(kind, outcome, time.perf_counter() - started, failure)


def served_everywhere(port: int, slug: str, timeout: float = 10.0) -> float | None:
    """Seconds until 10 requests in a row on new connections (so both workers answer) find
    the post that only the new release has, or None if that takes over `timeout`."""
    started = time.monotonic()
    streak = 0
    while time.monotonic() - started < timeout:
        try:
            streak = streak + 1 if fetch(port, f"/api/v1/posts/{slug}")[0] == 200 else 0
        except OSError:
            streak = 0
        if streak >= 10:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def _mib(values: tuple[float, float] | None) -> str:
    return f"{values[0]:6.1f} / {values[1]:6.1f}" if values else "  (not running)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--posts", type=int, default=200, help="generated posts besides content/")
    parser.add_argument("--swap-every", type=float, default=15)
    args = parser.parse_args()
    seconds = max(5.0, min(args.seconds, 600.0))
    clients = max(1, min(args.clients, 16))
    print(f"# {platform.node()}: {os.cpu_count()} cores, CPython {platform.python_version()}")
    print(f"# python bench/soak.py --seconds {seconds:g} --clients {clients} --posts {args.posts}")

    with tempfile.TemporaryDirectory(prefix="contentapi-soak-") as folder:
        base = Path(folder)
        content = Content(base, args.posts)
        port = free_port()
        log = base / "gunicorn.log"
        env = {
            **os.environ,
            "CONTENTAPI_CONTENT_DIR": str(content.current),
            "CONTENTAPI_WATCH": "true",
            "CONTENTAPI_PARSE_CACHE": str(base / "parse-cache"),
            "CONTENTAPI_LOG_LEVEL": "info",
        }
        command = [str(GUNICORN), "-c", "gunicorn.conf.py", "--workers", "2"]
        command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "wsgi:app"]
        with log.open("wb") as output:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if fetch(port, "/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print(log.read_text()[-3000:])
                    return 1
                time.sleep(0.2)
            listing = json.loads(fetch(port, "/api/v1/posts?per_page=100&fields=slug")[1])
            known = [item["slug"] for item in listing["data"]]
            published = listing["meta"]["pagination"]["total"]
            for path in ("/api/v1/posts", "/api/v1/search?q=pan", "/feeds/rss.xml"):
                for _ in range(4):
                    fetch(port, path)
            time.sleep(1.0)
            start_workers = workers_of(server.pid)
            start_memory = {pid: memory(pid) for pid in start_workers}

            tally = Tally()
            stop = time.monotonic() + seconds
            threads = [
                threading.Thread(
                    target=client, args=(n, port, stop, tally, content, known), daemon=True
                )
                for n in range(clients)
            ]
            for thread in threads:
                thread.start()
            rng = random.Random(7)
            step, next_swap = 0, time.monotonic() + args.swap_every
            swaps: list[float | None] = []
            while time.monotonic() < stop - 2:
                if time.monotonic() >= next_swap:
                    content.swap()
                    swaps.append(served_everywhere(port, f"release-{content.number}"))
                    next_swap += args.swap_every
                else:
                    content.mutate(step, rng)
                    step += 1
                time.sleep(0.5)
            for thread in threads:
                thread.join(timeout=30)
            end_workers = workers_of(server.pid)
            end_memory = {pid: memory(pid) for pid in end_workers}
        finally:
            server.terminate()
            server.wait(timeout=30)
        text = log.read_text(errors="replace")

    total = tally.count
    failed = sum(tally.failures.values())
    print(
        f"corpus: {published} published posts ({len(known)} of them requested by slug); "
        "content changes: "
        + ", ".join(f"{name} {count}" for name, count in sorted(content.actions.items()))
    )
    print(
        f"requests: {total} in {seconds:g}s ({total / seconds:.0f}/s) from {clients} clients; "
        f"failures: {failed}; 404s for added or deleted posts: {tally.expected_404}"
    )
    print(
        f"latency: p50 {percentile(tally.latencies, 0.5):.1f}ms, "
        f"p99 {percentile(tally.latencies, 0.99):.1f}ms, max {max(tally.latencies) * 1000:.0f}ms"
    )
    for kind in sorted(tally.by_kind):
        outcomes = ", ".join(f"{k} x{v}" for k, v in sorted(tally.by_kind[kind].items()))
        print(f"  {kind:8} {outcomes}")
    if swaps:
        late = sum(seconds is None for seconds in swaps)
        done = [seconds for seconds in swaps if seconds is not None]
        slowest = f"{max(done):.2f}s" if done else "-"
        print(
            f"symlink swaps: {len(swaps)}, each new release served by every worker within "
            f"{slowest}; not within 10 s: {late}"
        )
        failed += late
    for failure, count in tally.failures.most_common(10):
        print(f"  FAILED x{count}: {failure}")
    print("memory per worker, MiB (RSS / PSS):")
    for pid in sorted(set(start_workers) | set(end_workers)):
        before, after = _mib(start_memory.get(pid)), _mib(end_memory.get(pid))
        print(f"  worker {pid}: start {before}   end {after}")
    print(
        "server log: "
        f"{text.count('WORKER TIMEOUT')} worker timeouts, {text.count('Traceback')} tracebacks, "
        f"{text.count('reload refused') + text.count('reload failed')} refused/failed reloads, "
        f"{text.count('content folder replaced')} folder switches followed (all workers)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
