"""Recent sessions followed through opencode's event log, and session details reused while
their events stand still: real SQLite files in the real schema."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.store import OpencodeDB, now_ms
from otop.cli import exits
from otop.core.model import Home
from otop.scan import details as details_module
from otop.scan import kept
from otop.scan.database import Database
from otop.scan.kept import kept_name
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode import index as index_module
from otop.sources.opencode.index import FULL_EVERY, RootIndex
from otop.sources.opencode.store import Store
from tests.conftest import spawn_fake, wait_for

HOUR = 3_600_000


def test_one_full_read_then_the_event_log(db: OpencodeDB, store: Store) -> None:
    """After one full read, new and changed sessions come from the event log alone."""
    old = db.session("/a", "Old in a", at=now_ms() - 48 * HOUR)
    db.session("/z", "Old elsewhere", at=now_ms() - 48 * HOUR)
    index = RootIndex(store)
    since = time.time() - 1800
    assert {b.title for b in index.roots({"/a"}, since)} == {"Old in a"}
    assert index.full_reads == 1
    new = db.session("/c", "New in c")
    db.touch(old, title="Renamed in a")
    child = db.session("/c", "child", parent=new)
    before = store.queries
    got = {b.id: b.title for b in index.roots({"/a"}, since)}
    assert got == {old: "Renamed in a", new: "New in c"}
    assert child not in got
    # The log's newest row, the sessions touched before it, their briefs.
    assert index.full_reads == 1 and store.queries - before == 3
    db.touch(new, time_archived=now_ms())
    assert set(b.id for b in index.roots({"/a"}, since)) == {old}


def test_a_new_directory_reads_in_full(db: OpencodeDB, store: Store) -> None:
    """An agent in a directory not yet watched brings that directory's old sessions in."""
    db.session("/b", "Old in b", at=now_ms() - 48 * HOUR)
    index = RootIndex(store)
    since = time.time() - 1800
    assert index.roots({"/a"}, since) == []
    assert [b.title for b in index.roots({"/a", "/b"}, since)] == ["Old in b"]
    assert index.full_reads == 2


def test_many_sessions_touched_at_once_are_a_full_read(
    db: OpencodeDB, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import of many sessions at once is read in full again, not looked up one by one."""
    monkeypatch.setattr(index_module, "MANY_TOUCHED", 2)
    index = RootIndex(store)
    since = time.time() - 1800
    assert index.roots({"/a"}, since) == []
    db.session("/a", "One")
    db.session("/a", "Two")
    assert {b.title for b in index.roots({"/a"}, since)} == {"One", "Two"}
    assert index.full_reads == 1
    for title in ("Three", "Four", "Five"):
        db.session("/a", title)
    assert len(index.roots({"/a"}, since)) == 5
    assert index.full_reads == 2


def test_touched_sessions_stop_one_past_the_most(db: OpencodeDB, store: Store) -> None:
    """The log after a cursor names each touched session once, however many events it has;
    past `most` sessions the query stops at one more, and the cursor is the log's newest row."""
    start = store.event_cursor() or 0
    busy = db.session("/a", "Busy")
    for n in range(20):
        db.touch(busy, title=f"Busy {n}")
    others = [db.session("/a", f"Other {n}") for n in range(6)]
    newest = store.event_cursor()
    assert store.touched_since(start, 10) == ({busy, *others}, newest)
    touched, cursor = store.touched_since(start, 3)
    assert len(touched) == 4 and touched <= {busy, *others} and cursor == newest
    assert store.touched_since(cursor, 3) == (set(), cursor)


def test_older_schema_always_reads_in_full(tmp_path: Path) -> None:
    """opencode 1.14 has the event tables but writes nothing to them: every call is a full
    read, and a session made after the first read is still seen."""
    db = OpencodeDB(tmp_path / "old.db", schema="1.14")
    store = Store(db.path)
    index = RootIndex(store)
    since = time.time() - 1800
    assert index.roots({"/a"}, since) == []  # read while the database had no session at all
    db.session("/a", "Appears")
    assert [b.title for b in index.roots({"/a"}, since)] == ["Appears"]
    db.session("/a", "Later")
    assert {b.title for b in index.roots({"/a"}, since)} == {"Appears", "Later"}
    assert index.full_reads == 0  # no incremental state kept at all
    store.close()
    db.close()


class OneShot:
    """What one `otop list` without a watcher does with a database's kept state: take it up,
    find the roots, keep the state for the next, end."""

    def __init__(self, db: OpencodeDB, keep_dir: Path) -> None:
        home = Home(str(db.path), str(db.path.parent), str(keep_dir / "config"), "open")
        self.database = Database.of(home, str(keep_dir))
        self.index = self.database.index

    def roots(self, dirs: set[str], since: float) -> set[str]:
        self.database.store.open()
        self.database.recall()
        titles = {b.title for b in self.index.roots(dirs, since)}
        self.database.keep_for_next()
        self.database.close()
        return titles


def test_the_next_one_shot_follows_the_event_log_from_the_kept_index(
    db: OpencodeDB, tmp_path: Path
) -> None:
    """A one-shot keeps its index; the next takes it up and reads only the events since: the
    new session, the renamed one, not the archived one, and no full read."""
    old = db.session("/a", "Old in a", at=now_ms() - 48 * HOUR)
    gone = db.session("/a", "Archived soon", at=now_ms() - 48 * HOUR)
    db.session("/z", "Old elsewhere", at=now_ms() - 48 * HOUR)
    since = time.time() - 1800
    first = OneShot(db, tmp_path)
    assert first.roots({"/a"}, since) == {"Old in a", "Archived soon"}
    assert first.index.full_reads == 1
    db.session("/c", "New in c")
    db.touch(old, title="Renamed in a")
    db.touch(gone, time_archived=now_ms())
    second = OneShot(db, tmp_path)
    queries = second.database.store.queries
    assert second.roots({"/a"}, since + 1) == {"Renamed in a", "New in c"}
    assert second.index.full_reads == 0
    # The log's end and the kept row's id; the log's end again, the sessions touched before it
    # and their briefs; the new row's id.
    assert second.database.store.queries - queries == 6
    third = OneShot(db, tmp_path)
    assert third.roots({"/a"}, since + 2) == {"Renamed in a", "New in c"}
    assert third.index.full_reads == 0


@pytest.mark.parametrize(
    "spoil",
    [
        "another database",
        "another log",
        "a directory not kept",
        "too old",
        "not json",
        "another layout",
        "a symlink",
    ],
)
def test_a_kept_index_that_does_not_fit_is_a_full_read(
    db: OpencodeDB, tmp_path: Path, spoil: str
) -> None:
    """What was kept is taken up only for the very database and event log, its directories,
    within the full-read period, whole, of this layout, and never through a symlink; else the
    one-shot reads in full, and still answers right."""
    keep = tmp_path / kept_name(str(db.path))
    db.session("/a", "Old in a", at=now_ms() - 48 * HOUR)
    db.session("/b", "Old in b", at=now_ms() - 48 * HOUR)
    since = time.time() - 1800
    OneShot(db, tmp_path).roots({"/a"}, since)
    state = json.loads(keep.read_text())
    dirs = {"/a"}
    if spoil == "another database":
        other = OpencodeDB(tmp_path / "other.db")
        other.session("/a", "Other's")
        for i in range(5):  # its event log runs past the kept cursor
            other.session("/x", f"Other's old {i}", at=now_ms() - 48 * HOUR)
        other.close()
        db.close()  # its log checkpointed into the file: what is replaced is all of it
        (tmp_path / "other.db").replace(db.path)  # same path, another file
    elif spoil == "another log":  # a database made again where the old one was, same inode
        state["index"]["mark"] = "evt_of_another_log"
    elif spoil == "a directory not kept":
        dirs = {"/a", "/b"}
    elif spoil == "too old":
        state["index"]["full_at"] -= FULL_EVERY + 1
    elif spoil == "another layout":
        state["version"] += 1
    if spoil in ("another log", "too old", "another layout"):
        keep.write_text(json.dumps(state))
    elif spoil == "not json":
        keep.write_text(keep.read_text()[:-20])
    elif spoil == "a symlink":
        target = tmp_path / "elsewhere.json"
        keep.replace(target)
        keep.symlink_to(target)
    again = OneShot(db, tmp_path)
    titles = again.roots(dirs, since)
    assert again.index.full_reads == 1
    expected = {
        "another database": {"Other's"},
        "a directory not kept": {"Old in a", "Old in b"},
    }.get(spoil, {"Old in a"})
    assert titles == expected
    assert not keep.is_symlink()  # a planted link is replaced, never written through
    assert json.loads(keep.read_text())["version"] == kept.VERSION


def test_event_range_is_a_rowid_search(db: OpencodeDB, store: Store) -> None:
    """Reading new events is a rowid range search, not a scan of the whole log."""
    db.session("/a", "x")
    store.open()
    assert store._con is not None
    sql = "EXPLAIN QUERY PLAN SELECT rowid, aggregate_id FROM event WHERE rowid > ?"
    plan = " ".join(str(r[-1]) for r in store._con.execute(sql, [0]))
    assert "SEARCH event USING INTEGER PRIMARY KEY" in plan, plan


def test_scanner_reuses_details_until_the_session_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan reads a session's rows again only after a write to it (or after the TTL)."""
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    # Only this test's agent, whatever other opencode processes the machine runs.
    monkeypatch.setenv("OTOP_DB", str(data / "opencode" / "opencode.db"))
    db = OpencodeDB(data / "opencode" / "opencode.db")
    d = tmp_path / "p"
    d.mkdir()
    sid = db.session(str(d), "Cached")
    db.user(sid, "go")
    mid = db.assistant(sid)
    db.tool_part(mid, sid, "bash", inp={"command": "make"})
    proc = spawn_fake(d, "-s", sid)
    try:
        scanner = Scanner(Options(use_tmux=False))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not scanner.scan().agents:
            time.sleep(0.05)
        assert [a.state.value for a in scanner.scan().agents] == ["tool"]
        q0 = scanner.store.queries
        scanner.scan()
        quiet = scanner.store.queries - q0
        db.complete(mid, finish="stop")
        assert [a.state.value for a in scanner.scan().agents] == ["idle"]
        q1 = scanner.store.queries
        scanner.scan()
        assert scanner.store.queries - q1 == quiet <= 4
        # A write the event log does not see (a todo, say) shows once the TTL has passed.
        db.con.execute(
            "INSERT INTO todo VALUES (?, 'quiet todo', 'pending', 'low', 0, 0, 0)", [sid]
        )
        session = scanner.scan().agents[0].session
        assert session is not None and session.todos == ()
        monkeypatch.setattr(details_module, "DETAIL_TTL", 0.0)
        session = scanner.scan().agents[0].session
        assert session is not None and [t.content for t in session.todos] == ["quiet todo"]
    finally:
        proc.kill()
        proc.wait()
        db.close()


def test_one_shot_lists_keep_the_index_for_the_next(
    db: OpencodeDB,
    tmp_path: Path,
    spawn: list[subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`otop list --json` without a watcher reads the session table in full once; the next
    one-shot follows the event log from the index the first kept (its full read stays the
    first's), and still lists the agent with the session it runs."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the agent's, as otop's
    d = tmp_path / "p"
    d.mkdir()
    sid = db.session(str(d), "Kept")
    db.finished_turn(sid, "hi", "done")
    spawn.append(spawn_fake(d, "-s", sid))
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "OTOP_DB": str(db.path)}
    argv = [sys.executable, "-m", "otop", "-L", f"otop-none-{os.getpid()}", "list", "--json"]

    def listed() -> list[str]:
        out = subprocess.run(argv, capture_output=True, env=env, timeout=30)
        assert out.returncode == exits.NO_TMUX, out.stderr  # no tmux server at that name
        return [a["session_id"] for a in json.loads(out.stdout)["agents"]]

    wait_for(lambda: listed() == [sid], what="the agent")
    kept_file = run / "otop" / kept_name(str(db.path))
    first = json.loads(kept_file.read_text())["index"]
    db.session(str(d), "Another in p")
    assert listed() == [sid]
    second = json.loads(kept_file.read_text())["index"]
    assert second["full_at"] == first["full_at"]
    assert second["cursor"] > first["cursor"]
    assert "Another in p" in {row[1] for row in second["known"]}
    assert stat.S_IMODE(kept_file.stat().st_mode) == 0o600
