"""The artifact store on disk: shared by processes, and a lost or damaged file only costs a
rebuild, never a wrong row or an exception."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from contentapi.engine.artifacts import HTML, Row, encode
from contentapi.service.artifact_db import Answer, ArtifactDB, open_artifacts, store_file
from contentapi.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def rows(count: int, prefix: str = "k") -> list[Row]:
    """Rows large enough to spill over several pages, each naming its own key."""
    made = []
    for i in range(count):
        key = f"{prefix}{i}"
        made.append(
            Row(key, HTML, '[["a.png",true]]', encode(key, HTML, ["o", f"<p>{i}</p>" * 300]))
        )
    return made


def checkpoint(path: Path) -> None:
    """Move the WAL into the main file, so damage to the main file reaches the rows."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def settings(**values: str) -> Settings:
    return Settings.from_env({f"CONTENTAPI_{key.upper()}": v for key, v in values.items()})


# --- where it lives -------------------------------------------------------------------------------


def test_artifact_db_store_file_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store_file(settings()) == tmp_path / "xdg" / "contentapi" / "artifacts.sqlite"
    assert store_file(settings(parse_cache="off")) == store_file(settings())
    beside = settings(parse_cache=str(tmp_path / "cache"))
    assert store_file(beside) == tmp_path / "cache" / "artifacts.sqlite"
    chosen = settings(store_path=str(tmp_path / "s.db"))
    assert store_file(chosen) == tmp_path / "s.db"
    assert store_file(settings(store_path="off")) is None
    assert store_file(settings(store_path="OFF")) is None
    assert open_artifacts(settings(store_path="off")) is None


# --- reading and writing --------------------------------------------------------------------------


def test_artifact_db_put_then_get_and_deps(tmp_path):
    database = ArtifactDB(tmp_path / "nested" / "a.sqlite")
    made = rows(3)
    assert database.get("k0", HTML) is None
    assert database.put(made)
    assert database.get("k1", HTML) == made[1]
    assert database.get("k1", "derived") is None
    found = database.deps(["k0", "k2", "absent"])
    assert found == {("k0", HTML): made[0].deps, ("k2", HTML): made[2].deps}
    connection = sqlite3.connect(tmp_path / "nested" / "a.sqlite")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_artifact_db_deps_of_many_keys_are_queried_in_batches(tmp_path):
    database = ArtifactDB(tmp_path / "a.sqlite")
    made = [Row(f"k{i}", HTML, "[]", b"v") for i in range(1200)]
    assert database.put(made)
    assert len(database.deps([row.key for row in made])) == 1200


def test_artifact_db_prune_keeps_only_the_keys_in_use(tmp_path):
    database = ArtifactDB(tmp_path / "a.sqlite")
    database.put(rows(4))
    assert database.prune({"k0", "k3"}) == 2
    assert set(database.deps(["k0", "k1", "k2", "k3"])) == {("k0", HTML), ("k3", HTML)}


def test_artifact_db_a_row_whose_bytes_changed_reads_as_a_miss(tmp_path):
    path = tmp_path / "a.sqlite"
    database = ArtifactDB(path)
    database.put(rows(2))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE artifact SET value = ? WHERE key = 'k0'", (b"x" * 10,))
    connection.close()
    assert database.get("k0", HTML) is None
    assert database.get("k1", HTML) == rows(2)[1]


# --- lost and damaged files -----------------------------------------------------------------------


def _delete_main(path: Path) -> None:
    path.unlink()


def _delete_all(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(0)


def _truncate_half(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _garbage_head(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(os.urandom(4096))


def _garbage_everywhere(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for offset in range(1024, size, 8192):
            handle.seek(offset)
            handle.write(os.urandom(512))


def _replaced_by_text(path: Path) -> None:
    path.unlink()
    path.write_text("this is not a database\n" * 100)


@pytest.mark.parametrize(
    "damage",
    [
        _delete_main,
        _delete_all,
        _truncate,
        _truncate_half,
        _garbage_head,
        _garbage_everywhere,
        _replaced_by_text,
    ],
)
def test_artifact_db_damage_mid_run_costs_a_rebuild_not_a_wrong_row(tmp_path, damage, caplog):
    path = tmp_path / "a.sqlite"
    made = rows(60)
    reader, writer = ArtifactDB(path), ArtifactDB(path)  # connections open before the damage
    assert writer.put(made)
    assert reader.get("k0", HTML) == made[0]
    checkpoint(path)
    damage(path)
    for database in (reader, writer, ArtifactDB(path)):
        for _ in range(2):  # the first access may find the damage, the second the new file
            for row in made:
                found = database.get(row.key, HTML)
                assert found is None or found == row
            database.deps([row.key for row in made])
    fresh = rows(3, prefix="after")
    assert writer.put(fresh) or writer.put(fresh)
    assert reader.get("after1", HTML) == fresh[1]
    assert ArtifactDB(path).get("after2", HTML) == fresh[2]


def test_artifact_db_unusable_folder_is_no_store_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    database = ArtifactDB(blocker / "a.sqlite")
    assert database.get("k", HTML) is None
    assert database.put(rows(1)) is False
    assert database.deps(["k"]) == {}
    assert database.prune(set()) == 0


def test_artifact_db_a_file_of_another_layout_is_started_again(tmp_path):
    path = tmp_path / "a.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE artifact (key TEXT)")
    connection.execute("PRAGMA user_version=99")
    connection.commit()
    connection.close()
    database = ArtifactDB(path)
    assert database.put(rows(1))
    assert database.get("k0", HTML) == rows(1)[0]


def test_artifact_db_a_store_of_the_previous_layout_keeps_its_artifacts(tmp_path):
    """A store whose pointers were laid out otherwise keeps its artifacts and answers; only
    the pointers go, and with them every record of a complete answer fill."""
    path = tmp_path / "a.sqlite"
    assert ArtifactDB(path).put(rows(1))
    connection = sqlite3.connect(path)
    connection.execute("DROP TABLE pointer")
    connection.execute(
        "CREATE TABLE pointer (key TEXT PRIMARY KEY, marker TEXT, answer TEXT, crc INTEGER)"
    )
    connection.execute("INSERT INTO filled VALUES ('answers:old'), ('artifacts')")
    connection.execute("PRAGMA user_version=1")
    connection.commit()
    connection.close()
    database = ArtifactDB(path)
    assert database.get("k0", HTML) == rows(1)[0]
    assert not database.filled("answers:old") and database.filled("artifacts")
    assert database.put_pointers("answers:new", [("uno", "a" * 40)])


def test_artifact_db_carry_pointers_copies_what_is_stored_or_nothing(tmp_path):
    """A refill copies the previous version's pointers whose answers are stored, stores its
    own over them, and keeps the lot only when the new version then has every pointer."""
    database = ArtifactDB(tmp_path / "a.sqlite")
    answers = [Answer(key, "br", "[]", "[200,[]]", b"body") for key in ("ka", "kb", "kc")]
    assert database.put_answers(answers)
    assert database.put_pointers("old", [("a", "ka"), ("b", "kb"), ("gone", "kx")])
    assert not database.carry_pointers("old", "new", [("c", "kc")], expected=4)  # "gone"
    assert database.pointed("new", "a", "br") is None
    assert database.carry_pointers("old", "new", [("b", "kc"), ("c", "kc")], expected=3)
    assert [database.pointed("new", slug, "br") for slug in "abc"] == [
        answers[0],
        answers[2],
        answers[2],
    ]
    assert database.pointed("old", "b", "br") == answers[1]
    database.prune_pointers("new")
    assert database.prune_unpointed("new") == 1  # "kb"
    assert database.answer_keys(["ka", "kb", "kc"]) == {"ka", "kc"}


# --- several processes ----------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_artifact_db import rows
    from contentapi.service.artifact_db import Answer, ArtifactDB

    database = ArtifactDB(Path(sys.argv[1]))
    made = rows(120, prefix=sys.argv[2])
    for start in range(0, len(made), 4):
        assert database.put(made[start : start + 4], wait=10.0), "a write was refused"
        database.get(made[start].key, "html")
    """
)


def test_artifact_db_processes_write_at_once_and_lose_nothing(tmp_path):
    path = tmp_path / "a.sqlite"
    script = WRITER.format(tests=str(ROOT / "tests"))
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), prefix], cwd=ROOT)
        for prefix in ("a", "b", "c")
    ]
    database = ArtifactDB(path)
    while any(writer.poll() is None for writer in writers):
        found = database.get("a0", HTML)
        assert found is None or found == rows(1, prefix="a")[0]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0]
    keys = [f"{prefix}{i}" for prefix in "abc" for i in range(120)]
    assert len(database.deps(keys)) == 360


def test_artifact_db_a_connection_from_before_a_fork_is_not_used_after_it(tmp_path):
    path = tmp_path / "a.sqlite"
    database = ArtifactDB(path)
    database.put(rows(1))
    assert database.get("k0", HTML) is not None  # this thread's connection is open now
    for thread in threading.enumerate():  # no other thread may hold a lock across the fork
        if thread.name == "contentapi-warm-up":
            thread.join(timeout=60)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            database.put(rows(2, prefix="child"))
            code = 0 if database.get("child1", HTML) == rows(2, prefix="child")[1] else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while (found := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if found[0] == 0:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        pytest.fail("the child process hung")
    assert os.waitstatus_to_exitcode(found[1]) == 0
    assert database.get("child0", HTML) == rows(1, prefix="child")[0]
    assert database.get("k0", HTML) == rows(1)[0]


def test_artifact_db_threads_making_a_new_file_at_once_all_get_it(tmp_path):
    database = ArtifactDB(tmp_path / "a.sqlite")
    start = threading.Barrier(8)
    results: list[bool] = []

    def write(number: int) -> None:
        start.wait()
        results.append(database.put(rows(2, prefix=f"t{number}-"), wait=10.0))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [True] * 8
    assert len(database.deps([f"t{n}-{i}" for n in range(8) for i in range(2)])) == 16
