"""A whole scan and the CLI over real parts: tmux panes, processes, a database and a log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from devtools.store import OpencodeDB, now_ms
from otop.cli import exits
from otop.cli.parser import main
from tests.conftest import PERMISSION_SCREEN, TmuxServer, agent_cmd, pid_in, spawn_fake, wait_for


def log_line(ts: float, run: str, message: str, **kv: str) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
    pairs = " ".join(f"{k.replace('__', '.')}={v}" for k, v in kv.items())
    return f'timestamp={stamp} level=INFO run={run} message="{message}" {pairs}\n'


@pytest.fixture
def world(tmux: TmuxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Three fake agents in panes, a dead one, a database and a shared log that match them."""
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    tmux.env["XDG_DATA_HOME"] = str(data)  # the agents' own environment names their data
    monkeypatch.delenv("OPENCODE_DB", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    dirs = {k: tmp_path / k for k in "abcd"}
    for d in dirs.values():
        d.mkdir()
    db = OpencodeDB(data / "opencode" / "opencode.db", seed=3)
    # a: a bash tool running, found through its own log run.
    ses_a = db.session(str(dirs["a"]), "Build the thing")
    db.user(ses_a, "go")
    m = db.assistant(ses_a)
    db.tool_part(m, ses_a, "bash", inp={"command": "make"})
    # b: resumed with -s, finished.
    ses_b = db.session(str(dirs["b"]), "Old finished work", at=now_ms() - 3_600_000)
    db.finished_turn(ses_b, "hi", "All good.", at=now_ms() - 3_600_000)
    # d: a read waiting on a permission dialog; found by its pane title.
    ses_d = db.session(str(dirs["d"]), "Read system files")
    db.user(ses_d, "read /etc/hostname")
    m = db.assistant(ses_d)
    db.tool_part(m, ses_d, "read", inp={"filePath": "/etc/hostname"})
    # c: a turn left unfinished by a process that is gone; its pane still carries the title.
    ses_c = db.session(str(dirs["c"]), "Killed mid-turn")
    db.user(ses_c, "go")
    db.assistant(ses_c)
    pane_a = tmux.new_window(dirs["a"], agent_cmd(), "a")
    pane_b = tmux.new_window(dirs["b"], agent_cmd("-s", ses_b), "b")
    pane_d = tmux.new_window(
        dirs["d"], agent_cmd(title="OC | Read system files", screen=PERMISSION_SCREEN), "d"
    )
    pane_c = tmux.new_window(
        dirs["c"],
        "bash --norc --noprofile -c \"printf '\\033]2;OC | Killed mid-turn\\007'; sleep 60\"",
        "c",
    )
    pid_a = pid_in(tmux, pane_a)
    import psutil

    started = psutil.Process(pid_a).create_time()
    log = data / "opencode" / "log" / "opencode.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        log_line(started + 2.5, "aaaa1111", "creating instance", directory=str(dirs["a"]))
        + log_line(started + 3.0, "aaaa1111", "loop", session__id=ses_a, step="0")
    )
    for p in (pane_b, pane_d):
        pid_in(tmux, p)
    return {
        "socket": tmux.socket,
        "ses": {"a": ses_a, "b": ses_b, "c": ses_c, "d": ses_d},
        "pane": {"a": pane_a, "b": pane_b, "c": pane_c, "d": pane_d},
        "pid_a": pid_a,
        "db": db,
    }


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(list(args)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, dict)
    return doc


def test_list_json(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`otop list --json` maps every pane to its session with the right state and evidence."""
    # The fake agents are a second old; a run is trusted only once its process is older than
    # RUN_SETTLE (tested in test_correlate), which this test does not wait for.
    monkeypatch.setattr("otop.decide.runs.RUN_SETTLE", 0.0)
    doc = run_json(capsys, "-L", str(world["socket"]), "list", "--json", "--cpu")
    assert set(doc) == {"version", "generated_at", "agents"}
    assert doc["version"] == 1
    agents = doc["agents"]
    assert isinstance(agents, list)
    ses = world["ses"]
    panes = world["pane"]
    assert isinstance(ses, dict) and isinstance(panes, dict)
    by_ses = {a["session_id"]: a for a in agents}
    a = by_ses[ses["a"]]
    assert (a["state"], a["tool"], a["group"]) == ("tool", "bash", "working")
    assert a["pane"]["id"] == panes["a"]
    assert a["pid"] == world["pid_a"]
    assert a["evidence"]["session"]["source"] == "log"
    assert a["evidence"]["session"]["confidence"] == "likely"
    b = by_ses[ses["b"]]
    assert (b["state"], b["pane"]["id"]) == ("idle", panes["b"])
    assert b["evidence"]["session"]["source"] == "argv"
    assert b["last_output"] == "All good."
    d = by_ses[ses["d"]]
    assert (d["state"], d["group"], d["tool"]) == ("permission", "waiting", "read")
    assert d["evidence"]["session"]["source"] == "pane title"
    assert d["evidence"]["state"]["source"] == "screen"
    c = by_ses[ses["c"]]
    assert (c["state"], c["group"], c["pid"]) == ("stale", "stale", None)
    assert c["pane"]["id"] == panes["c"]
    for agent in agents:
        for key in (
            "pid",
            "kind",
            "session_id",
            "title",
            "directory",
            "state",
            "group",
            "tool",
            "interactive",
            "model",
            "tokens",
            "cost",
            "messages",
            "last_output",
            "round_started_at",
            "started_at",
            "cpu_percent",
            "rss_bytes",
            "tty",
            "pane",
            "children",
            "evidence",
        ):
            assert key in agent
    assert a["cpu_percent"] is not None
    assert a["tty"] and a["tty"].startswith("/dev/pts/")


def test_list_table_and_explain(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table names each agent's state and pane; explain gives the evidence in words."""
    monkeypatch.setattr("otop.decide.runs.RUN_SETTLE", 0.0)  # as in test_list_json
    assert main(["-L", str(world["socket"]), "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["STATE", "TITLE", "SESSION"]
    assert "permission:read" in out and "tool:bash" in out and "stale" in out
    # waiting first
    assert out.splitlines()[1].startswith("permission")
    ses = world["ses"]
    assert isinstance(ses, dict)
    assert main(["-L", str(world["socket"]), "explain", ses["a"]]) == 0
    text = capsys.readouterr().out
    assert "log run aaaa1111" in text and "certain" in text


def test_jump(
    world: dict[str, object], tmux: TmuxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`otop jump` selects the agent's window and pane; an unknown id is one clear error line."""
    ses = world["ses"]
    panes = world["pane"]
    assert isinstance(ses, dict) and isinstance(panes, dict)
    assert main(["-L", str(world["socket"]), "jump", ses["b"]]) == 0
    assert tmux("display", "-p", "-t", "s:", "#{pane_id}").strip() == panes["b"]
    assert main(["-L", str(world["socket"]), "jump", "--next"]) == 0
    assert tmux("display", "-p", "-t", "s:", "#{pane_id}").strip() == panes["d"]
    assert main(["-L", str(world["socket"]), "jump", "ses_nothing"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("otop: no running agent matches")


def test_list_without_tmux_server(
    world: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    """With an unknown tmux socket, agents are still listed, without panes, and the status
    says that the tmux server asked for is not there."""
    assert main(["-L", "otop-test-no-such-server", "list", "--json"]) == exits.NO_TMUX
    out, err = capsys.readouterr()
    assert "otop: no tmux server at -L otop-test-no-such-server" in err
    doc = json.loads(out)
    agents = doc["agents"]
    assert isinstance(agents, list) and len(agents) >= 3
    assert all(a["pane"] is None for a in agents)


def test_bad_db_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A corrupt database file gives a one-line message, not a traceback."""
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    main(["-L", "otop-test-none", "--db", str(bad), "list"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "not a readable SQLite database" in captured.out + captured.err


def test_hostile_title_in_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Escape sequences in a title never reach the terminal through the table."""
    from otop.core.model import (
        Agent,
        Confidence,
        Evidence,
        SessionBrief,
        SessionDetail,
        State,
        Tokens,
        Turn,
    )
    from otop.outputs.render import table

    ev = Evidence("x", Confidence.CERTAIN, "x")
    brief = SessionBrief(
        "ses_1", "evil \x1b]2;pwn\x07\x1b[31mred\x1b[0m #(rm -rf /)", "/p", 0, 0, True
    )
    detail = SessionDetail(brief, "m", "a", Tokens(), 0, 1, "", Turn())
    agent = Agent("k", None, None, detail, State.IDLE, None, ev, ev, ev)
    out = table([agent], time.time())
    assert "\x1b" not in out and "\x07" not in out
    assert "evil" in out


def test_unfinished_session_with_a_server_is_not_stale(
    tmux: TmuxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With `opencode serve` running, a TUI-less unfinished turn may be the server's: not stale."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    tmux.env["XDG_DATA_HOME"] = str(tmp_path / "data")
    db = OpencodeDB(tmp_path / "data" / "opencode" / "opencode.db")
    sid = db.session(str(tmp_path), "Driven by a web client")
    db.user(sid, "go")
    db.assistant(sid)
    pane = tmux.new_window(tmp_path, agent_cmd("serve", "--port", "4096"), "srv")
    pid_in(tmux, pane)
    doc = run_json(capsys, "-L", tmux.socket, "list", "--json", "--all")
    agents = doc["agents"]
    assert isinstance(agents, list)
    mine = [a for a in agents if a["session_id"] == sid]
    assert len(mine) == 1
    assert mine[0]["state"] == "generating"
    assert mine[0]["kind"] == "serve"
    assert mine[0]["evidence"]["session"]["confidence"] == "guess"


def test_exit_statuses_say_whether_otop_could_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`list` exits 0 on a quiet machine, and beside an agent of its own data directory while
    otop's own database does not exist (saying nothing of it); 4 for a named database it cannot
    read; 3 for a tmux server named that is not there."""
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("OTOP_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nothing"))
    assert main(["list"]) == exits.LOOKED
    theirs = tmp_path / "theirs"
    db = OpencodeDB(theirs / "opencode" / "opencode.db")
    ses = db.session(str(tmp_path), "Work elsewhere")
    db.finished_turn(ses, "hi", "Done.")
    db.close()
    monkeypatch.setenv("XDG_DATA_HOME", str(theirs))  # the agent's own environment
    fake = spawn_fake(tmp_path, "-s", ses)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nothing"))
    try:
        capsys.readouterr()

        def listed() -> bool:
            status = main(["list", "--json"])
            out, err = capsys.readouterr()
            found = [a for a in json.loads(out)["agents"] if a["session_id"] == ses]
            return status == exits.LOOKED and bool(found) and "no opencode database" not in err

        wait_for(listed, what="its agent listed, exit 0")
        assert main(["--db", str(tmp_path / "nothing" / "x.db"), "list"]) == exits.NO_DATABASE
        assert main(["-L", "otop-test-none", "list"]) == exits.NO_TMUX
    finally:
        fake.kill()
        fake.wait()
