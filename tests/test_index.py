"""Recent sessions followed through opencode's event log, and session details reused while
their events stand still: real SQLite files in the real schema."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.store import OpencodeDB, now_ms
from otop.scan import details as details_module
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.index import RootIndex
from otop.sources.opencode.store import Store
from tests.conftest import spawn_fake

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
    assert index.full_reads == 1 and store.queries - before == 2
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
