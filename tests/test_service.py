"""opencode 2 through its per-user service: each TUI's pane joined to the session it shows by
its own evidence, states from what the service says, and a service that cannot be read or
trusted said plainly (a stand-in service on 127.0.0.1 with the real 2.1.2's shapes; the
real binary is tests/e2e/test_current_real.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otop.cli import exits
from otop.cli.parser import main
from otop.core.model import Agent, Confidence, State
from otop.scan.changes import Changes
from otop.scan.scanner import Options, Scanner
from tests.conftest import TmuxServer, pid_in, wait_for
from tests.fake_service import FakeService, opencode_2_executable, tui_command
from tests.test_current import SESSION, USER, assistant, idle, tool

ALPHA = {**SESSION, "id": "ses_alpha0000001aaaaaaaaaaaa", "title": "Alpha one"}
BETA = {**SESSION, "id": "ses_beta00000001bbbbbbbbbbbb", "title": "Beta two"}
OLD = {**SESSION, "id": "ses_newest000001cccccccccccc", "title": "Newest of the dir"}
PERMISSION = {"id": "per_2523a519d001vpSdLGdpqUO829", "sessionID": ALPHA["id"], "action": "read"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[FakeService]:
    """The service, its sessions in `tmp_path/p`."""
    s = FakeService()
    (tmp_path / "p").mkdir()
    where = {"location": {"directory": str(tmp_path / "p")}}
    s.routes = {
        "/api/session": {"data": [{**x, **where} for x in (OLD, ALPHA, BETA)]},
        "/api/session/active": {"data": {ALPHA["id"]: {"type": "running"}}},
        f"/api/session/{ALPHA['id']}/message": {
            "data": [assistant(tool("read"), done=False), USER]
        },
        f"/api/session/{ALPHA['id']}/permission": {"data": [PERMISSION]},
        f"/api/session/{ALPHA['id']}/form": {"data": []},
        f"/api/session/{BETA['id']}/message": {"data": [idle("succeeded"), assistant(), USER]},
    }
    yield s
    s.stop()


def agents_of(tmux: TmuxServer, home: Path) -> dict[str, Agent]:
    scanner = Scanner(Options(socket_name=tmux.socket), env={"XDG_DATA_HOME": str(home / "own")})
    try:
        found = scanner.scan().agents
    finally:
        scanner.close()
    return {a.pane.id: a for a in found if a.pane is not None and a.proc and a.proc.version}


def test_each_pane_shows_its_own_session(
    tmux: TmuxServer,
    tmp_path: Path,
    service: FakeService,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three TUIs in one directory, past %10: the one titled `Alpha one` is at Alpha's
    permission (request id kept for answering), the one started `-s BETA` shows Beta idle
    (certain), the one on its home screen is `new`, and none is given the directory's newest
    session; the service's password goes to it alone and is never shown; `doctor` names the
    service and its clients."""
    exe = opencode_2_executable(tmp_path)
    state = tmp_path / "state"
    service.describe(state)
    env = {"XDG_STATE_HOME": str(state), "XDG_DATA_HOME": str(tmp_path / "data")}
    work = tmp_path / "p"
    for _ in range(10):
        tmux.new_window(tmp_path, "sleep 600", "filler")
    panes = {
        "alpha": tmux.new_window(work, tui_command(exe, env, title="OC | Alpha one"), "a"),
        "beta": tmux.new_window(
            work, tui_command(exe, env, "-s", BETA["id"], title="OC | Beta two"), "b"
        ),
        "home": tmux.new_window(work, tui_command(exe, env, title="OpenCode"), "h"),
    }
    for p in panes.values():
        pid_in(tmux, p)
    wait_for(lambda: len(agents_of(tmux, tmp_path)) == 3, what="three opencode 2 agents")
    found = agents_of(tmux, tmp_path)
    alpha, beta, home = (found[panes[k]] for k in ("alpha", "beta", "home"))
    assert (alpha.session_id, alpha.state, alpha.tool) == (ALPHA["id"], State.PERMISSION, "read")
    assert alpha.request_id == PERMISSION["id"]
    assert alpha.evidence_session.source == "pane title"
    assert alpha.evidence_session.confidence == Confidence.LIKELY
    assert (
        alpha.evidence_state.source == "service" and PERMISSION["id"] in alpha.evidence_state.detail
    )
    assert (beta.session_id, beta.state) == (BETA["id"], State.IDLE)
    assert beta.evidence_session.confidence == Confidence.CERTAIN
    assert (home.session_id, home.state) == (None, State.NEW)
    assert all(a.session_id != OLD["id"] for a in found.values())
    assert all(int(p[1:]) >= 10 for p in panes.values())
    assert "/api/session/ses_newest000001cccccccccccc/message" not in service.asked
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "own"))
    capsys.readouterr()
    main(["-L", tmux.socket, "doctor"])
    report = capsys.readouterr().out
    assert f"ok    service   opencode 2.1.2 at {service.url} (pid " in report
    assert "3 TUI(s) its clients" in report and service.password not in report
    shown = repr(found) + "".join(
        str(a.evidence_state) + str(a.evidence_session) for a in found.values()
    )
    assert service.password not in shown


@pytest.mark.parametrize(
    ("how", "said"),
    [
        pytest.param("readable by others", "mode not 600", id="mode 644"),
        pytest.param("stopped", "unreachable", id="service stopped"),
        pytest.param("wrong password", "401", id="wrong password"),
        pytest.param("elsewhere", "no loopback http URL", id="not loopback"),
    ],
)
def test_a_service_that_cannot_be_read_is_said(
    tmux: TmuxServer,
    tmp_path: Path,
    service: FakeService,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    said: str,
) -> None:
    """A service.json others can read, one naming no loopback URL, a service that is gone or
    does not take its password: the TUI is in its pane, `unknown` with the reason, the
    problem is said once, and `list` exits with the status of a server it could not read."""
    exe = opencode_2_executable(tmp_path)
    state = tmp_path / "state"
    path = service.describe(state, 0o644 if how == "readable by others" else 0o600)
    if how == "stopped":
        service.stop()
    if how == "wrong password":
        service.password = "other"
    if how == "elsewhere":
        path.write_text(path.read_text().replace("127.0.0.1", "192.0.2.1"))
    env = {"XDG_STATE_HOME": str(state), "XDG_DATA_HOME": str(tmp_path / "data")}
    pane = tmux.new_window(tmp_path / "p", tui_command(exe, env, title="OC | Alpha one"), "a")
    pid_in(tmux, pane)
    wait_for(lambda: pane in agents_of(tmux, tmp_path), what="the agent")
    agent = agents_of(tmux, tmp_path)[pane]
    assert agent.state == State.UNKNOWN and said in agent.evidence_session.detail
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "own"))
    capsys.readouterr()
    assert main(["-L", tmux.socket, "list"]) == exits.NO_SERVER
    err = capsys.readouterr().err
    assert said in err and err.count(said) == 1


def test_a_write_of_the_service_wakes_the_lookers(
    tmux: TmuxServer, tmp_path: Path, service: FakeService
) -> None:
    """The service writes its database's WAL at each change of a session: the lookers' cheap
    probe moves with it, so the watcher scans again without waiting for its full scan."""
    exe = opencode_2_executable(tmp_path)
    state, data = tmp_path / "state", tmp_path / "data"
    service.describe(state)
    env = {"XDG_STATE_HOME": str(state), "XDG_DATA_HOME": str(data)}
    pane = tmux.new_window(tmp_path / "p", tui_command(exe, env, title="OC | Alpha one"), "a")
    pid_in(tmux, pane)
    scanner = Scanner(
        Options(socket_name=tmux.socket), env={"XDG_DATA_HOME": str(tmp_path / "own")}
    )
    try:
        wait_for(lambda: any(a.proc and a.proc.version for a in scanner.scan().agents), what="it")
        changes = Changes(scanner)
        wal = data / "opencode" / "opencode.db-wal"
        assert scanner.services.written == {str(wal)}
        wal.parent.mkdir(parents=True, exist_ok=True)
        wal.write_bytes(b"one")
        before = changes.signature()
        wal.write_bytes(b"one and two")
        assert changes.signature() != before
    finally:
        scanner.close()
