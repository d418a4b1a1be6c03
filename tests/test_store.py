"""The store reader over real SQLite files: fields, schema drift, bad rows and bad files."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from devtools.store import OpencodeDB, now_ms
from otop.core.model import State
from otop.decide.status import Signals, infer
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.paths import find_paths
from otop.sources.opencode.store import Store


def test_detail_fields(db: OpencodeDB, store: Store) -> None:
    """Title, directory, model, agent, tokens, cost, counts, last output and todos are read."""
    sid = db.session("/proj", "Refactor the parser")
    db.touch(sid, tokens_input=1200, tokens_output=340, tokens_reasoning=5, cost=0.25)
    db.finished_turn(sid, "please", "Working on it.\n\nDone: parser split in two.\n")
    db.todo(sid, [("split parser", "completed"), ("write tests", "in_progress")])
    d = store.detail(sid)
    assert d is not None
    assert d.brief.title == "Refactor the parser"
    assert d.brief.directory == "/proj"
    assert d.brief.interactive
    assert d.model == "fake/fake-model"
    assert d.agent == "build"
    assert (d.tokens.input, d.tokens.output, d.tokens.reasoning) == (1200, 340, 5)
    assert d.cost == pytest.approx(0.25)
    assert d.messages == 2
    assert d.last_output == "Done: parser split in two."
    assert [t.content for t in d.todos] == ["split parser", "write tests"]
    assert d.turn.round_started_at is not None


def test_non_interactive_and_children(db: OpencodeDB, store: Store) -> None:
    """`opencode run` sessions are non-interactive; subagents of this round are children."""
    run = db.session("/p", "batch", interactive=False)
    b = store.detail(run)
    assert b is not None and not b.brief.interactive
    root = db.session("/p", "root")
    db.user(root, "delegate")
    mid = db.assistant(root)
    child = db.session("/p", "look around (@general subagent)", parent=root)
    db.tool_part(mid, root, "task", metadata={"sessionId": child})
    d = store.detail(root)
    assert d is not None
    assert [c.brief.id for c in d.children] == [child]
    assert d.children[0].brief.parent_id == root


def test_round_start_found_far_back(db: OpencodeDB, store: Store) -> None:
    """The round start is the newest user message even behind many assistant steps."""
    sid = db.session("/p", "long turn")
    start = now_ms() - 60_000
    db.user(sid, "go", at=start)
    for i in range(20):
        db.assistant(sid, at=start + 100 + i, completed=start + 200 + i, finish="tool-calls")
    d = store.detail(sid)
    assert d is not None
    assert d.turn.round_started_at == pytest.approx(start / 1000)


def test_schema_1_14_sums_tokens(tmp_path: Path) -> None:
    """A 1.14 database (no cost/token columns, no model column) still yields totals and model."""
    db = OpencodeDB(tmp_path / "old.db", schema="1.14")
    sid = db.session("/p", "old one")
    db.finished_turn(sid, "a", "b")
    db.finished_turn(sid, "c", "d", at=now_ms() + 5000)
    s = Store(db.path)
    d = s.detail(sid)
    assert d is not None
    assert d.tokens.input == 200 and d.tokens.output == 24
    assert d.model == "fake/fake-model"
    assert "cost" not in s.session_columns


def test_malformed_json_degrades(db: OpencodeDB, store: Store) -> None:
    """A message or part whose JSON is broken degrades that row; the session still reads."""
    sid = db.session("/p", "broken")
    db.finished_turn(sid, "a", "fine answer")
    time.sleep(0.002)
    mid = db.raw_message(sid, "{not json")
    db.part(mid, sid, "[[[")
    d = store.detail(sid)
    assert d is not None
    assert d.turn.malformed
    assert d.last_output == "fine answer"
    v = infer(d, Signals(alive=True), time.time())
    assert v.state in (State.IDLE, State.GENERATING)


def test_malformed_part_of_running_turn(db: OpencodeDB, store: Store) -> None:
    """A broken part beside a running tool keeps the tool visible."""
    sid = db.session("/p", "x")
    db.user(sid, "go")
    mid = db.assistant(sid)
    db.part(mid, sid, "{broken")
    db.tool_part(mid, sid, "bash")
    d = store.detail(sid)
    assert d is not None
    assert [t.tool for t in d.turn.running_tools] == ["bash"]
    assert d.turn.malformed


@pytest.mark.parametrize("name", ["100% done", "why?", "#1", "a b%3f"])
def test_a_database_under_any_directory_name_is_read(tmp_path: Path, name: str) -> None:
    """Characters that mean something in an SQLite URI (`%`, `?`, `#`) are escaped: the
    database under that directory is the one read, not another file or an error."""
    db = OpencodeDB(tmp_path / name / "opencode.db")
    sid = db.session("/p", "found it")
    (tmp_path / "a b?").mkdir()  # what `a b%3f` would name if `%` were left alone
    s = Store(db.path)
    d = s.detail(sid)
    assert d is not None and d.brief.title == "found it"
    assert s.path == str(tmp_path / name / "opencode.db")


def test_missing_db(tmp_path: Path) -> None:
    """No database gives a plain-words error naming the path."""
    with pytest.raises(StoreError, match="no opencode database at"):
        Store(tmp_path / "nope.db").open()


def test_not_sqlite(tmp_path: Path) -> None:
    """A file that is not SQLite is reported as such."""
    f = tmp_path / "opencode.db"
    f.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        Store(f).open()


def test_foreign_sqlite(tmp_path: Path) -> None:
    """A SQLite file without opencode's tables is refused."""
    f = tmp_path / "other.db"
    con = sqlite3.connect(f)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not an opencode database"):
        Store(f).open()


def test_locked_db_reports_after_timeout(tmp_path: Path) -> None:
    """A writer holding an exclusive lock makes reads fail after the busy timeout, in words."""
    db = OpencodeDB(tmp_path / "o.db")
    sid = db.session("/p", "t")
    db.con.execute("PRAGMA journal_mode=delete")
    db.close()
    writer = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        s = Store(tmp_path / "o.db", busy_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="locked"):
            s.open()
            s.detail(sid)
        assert time.monotonic() - t0 < 3
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_lock_released_within_timeout(tmp_path: Path) -> None:
    """A short write lock is waited out, not reported."""
    db = OpencodeDB(tmp_path / "o.db")
    sid = db.session("/p", "t")
    db.con.execute("PRAGMA journal_mode=delete")
    db.close()
    writer = sqlite3.connect(tmp_path / "o.db", isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, lambda: writer.execute("ROLLBACK")).start()
    s = Store(tmp_path / "o.db", busy_timeout=3)
    d = s.detail(sid)
    assert d is not None and d.brief.id == sid
    writer.close()


def test_read_only(db: OpencodeDB, store: Store) -> None:
    """The store's connection cannot write, and reading leaves the file's content unchanged."""
    sid = db.session("/p", "t")
    db.finished_turn(sid, "a", "b")
    db.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.path.read_bytes()
    store.detail(sid)
    store.roots(["/p"], time.time() - 60)
    assert store._con is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._con.execute("DELETE FROM session")
    assert db.path.read_bytes() == before


def test_queries_use_indexes(db: OpencodeDB, store: Store) -> None:
    """The per-session queries are index lookups, never table scans of message or part."""
    sid = db.session("/p", "t")
    db.finished_turn(sid, "a", "b")
    assert store._con is not None
    plans = []
    for sql, args in [
        (
            "SELECT id FROM message WHERE session_id = ?"
            " ORDER BY time_created DESC, id DESC LIMIT 6",
            [sid],
        ),
        ("SELECT id FROM part WHERE message_id = ? ORDER BY id", ["m"]),
        ("SELECT count(*) FROM message WHERE session_id = ?", [sid]),
        ("SELECT id FROM session WHERE parent_id = ? ORDER BY time_created DESC", [sid]),
    ]:
        plan = " ".join(str(r[-1]) for r in store._con.execute("EXPLAIN QUERY PLAN " + sql, args))
        plans.append(plan)
        assert "USING" in plan and "INDEX" in plan, plan
    assert not any("SCAN message" in p or "SCAN part" in p for p in plans)


def test_data_version_moves_on_write(db: OpencodeDB, store: Store) -> None:
    """PRAGMA data_version changes when opencode commits, so scans can skip quiet periods."""
    v1 = store.data_version()
    assert store.data_version() == v1
    db.session("/p", "t")
    assert store.data_version() != v1


def test_newest_message_moves_on_a_prompt_not_on_a_streamed_part(
    db: OpencodeDB, store: Store
) -> None:
    """The newest message row moves when a prompt (or a step) is written, not when a part
    streams: a probe cheap enough to glance at many times a second for turns starting."""
    sid = db.session("/p", "t")
    before = store.newest_message()
    db.user(sid, "hello")
    prompted = store.newest_message()
    assert prompted > before
    mid = db.assistant(sid)
    assert store.newest_message() > prompted
    stepped = store.newest_message()
    db.part(mid, sid, {"type": "text", "text": "a streamed word"})
    assert store.newest_message() == stepped


def test_paths_follow_xdg_and_opencode_db(tmp_path: Path) -> None:
    """The DB is found under XDG_DATA_HOME, OPENCODE_DB overrides it, channel DBs are found."""
    env = {"HOME": str(tmp_path / "h"), "XDG_DATA_HOME": str(tmp_path / "x")}
    assert find_paths(env).db == str(tmp_path / "x" / "opencode" / "opencode.db")
    assert find_paths({"HOME": "/home/u"}).db == "/home/u/.local/share/opencode/opencode.db"
    assert find_paths({**env, "OPENCODE_DB": "other.db"}).db == str(
        tmp_path / "x/opencode/other.db"
    )
    assert find_paths({**env, "OPENCODE_DB": "/abs/o.db"}).db == "/abs/o.db"
    chan = tmp_path / "x" / "opencode" / "opencode-beta.db"
    chan.parent.mkdir(parents=True)
    chan.write_bytes(b"")
    assert find_paths(env).db == str(chan)
    assert find_paths(env).shared_log == str(tmp_path / "x" / "opencode" / "log" / "opencode.log")


def test_last_output_is_the_models_not_the_users(db: OpencodeDB, store: Store) -> None:
    """While a new round has no answer yet, the last output stays the model's previous words."""
    sid = db.session("/p", "t")
    db.finished_turn(sid, "first", "model said this", at=now_ms() - 5000)
    db.user(sid, "the user's new prompt")
    db.assistant(sid)
    d = store.detail(sid)
    assert d is not None
    assert d.last_output == "model said this"
