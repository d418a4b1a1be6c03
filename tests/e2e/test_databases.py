"""End to end: real opencode TUIs over three databases at once (the default one, another
XDG_DATA_HOME, OPENCODE_DB=other.db), each read against its own database, with either
process source; and a TUI whose data directory was removed while it runs says it cannot tell.

Before otop read each process's own data, only the default database's agent was right: the
others, two of them generating, were listed as `new` with no session."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.lab import OPENCODE_VERSION, Lab, wait_until
from otop.core.model import Agent, State
from otop.scan.scanner import Options, Scanner
from tests.e2e import opencode_binary

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]
STREAM = "[[stream:80:0.25]] a long one"  # 20 s of streaming


class Worlds:
    """One lab: TUIs of the default database, of another XDG_DATA_HOME and of OPENCODE_DB."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        lab.fillers()
        self.alt = lab.root / "alt-data"
        self.dbs = {
            "default": lab.data / "opencode" / "opencode.db",
            "alt": self.alt / "opencode" / "opencode.db",
            "named": lab.data / "opencode" / "other.db",
        }
        envs: dict[str, dict[str, str]] = {
            "default": {},
            "alt": {"XDG_DATA_HOME": str(self.alt)},
            "named": {"OPENCODE_DB": "other.db"},
        }
        self.panes = {k: lab.window(k, lab.project(k)) for k in envs}
        for name, env in envs.items():
            lab.start(self.panes[name], env=env)

    def scan(self, source: str) -> dict[str, Agent]:
        """pane -> agent, from a fresh scanner with this process source."""
        env = {**self.lab.env, "OTOP_PROCESS_SOURCE": source}
        scanner = Scanner(Options(socket_name=self.lab.socket), env=env)
        try:
            return {a.pane.id: a for a in scanner.scan().agents if a.pane}
        finally:
            scanner.close()

    def session_of(self, name: str, tag: str) -> str | None:
        """The session whose prompt carries the tag, in that TUI's own database."""
        con = sqlite3.connect(f"file:{self.dbs[name]}?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT session_id FROM part WHERE data LIKE ? LIMIT 1", [f"%{tag}%"]
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            con.close()
        return str(row[0]) if row else None


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    binary = opencode_binary(OPENCODE_VERSION)
    lab = Lab(tmp_path_factory.mktemp("databases"), binary, OPENCODE_VERSION)
    try:
        yield Worlds(lab)
    finally:
        lab.close()


@pytest.mark.parametrize("source", ["proc", "psutil"])
def test_each_agent_is_read_from_its_own_database(worlds: Worlds, source: str) -> None:
    """Two of them generating and one idle, over three databases: each agent has its own
    session from its own database, the right state, and says which database it is."""
    w = worlds
    tags = {name: f"tag-{source}-{name}" for name in w.panes}
    w.lab.type(w.panes["named"], f"[[stream:2:0.1]] {tags['named']}")
    for name in ("default", "alt"):
        w.lab.type(w.panes[name], f"{STREAM} {tags[name]}")
    want = {"default": State.GENERATING, "alt": State.GENERATING, "named": State.IDLE}

    def right() -> dict[str, Agent] | None:
        agents = w.scan(source)
        for name, pane in w.panes.items():
            a = agents.get(pane)
            if a is None or a.state != want[name]:
                return None
            if a.session_id is None or a.session_id != w.session_of(name, tags[name]):
                return None
        return agents

    agents = wait_until(right, 40, 0.5)
    for name, pane in w.panes.items():
        a = agents[pane]
        assert a.database == str(w.dbs[name]), (name, a.database)
        assert a.proc is not None and a.proc.home is not None and a.proc.home.found == "open"
    ids = {agents[p].session_id for p in w.panes.values()}
    assert len(ids) == 3
    wait_until(lambda: all(a.state == State.IDLE for a in w.scan(source).values()) or None, 60)


def test_a_removed_data_directory_cannot_be_told(worlds: Worlds) -> None:
    """The data directory of a running TUI removed: a scan says it cannot read its database,
    and why, instead of calling it new."""
    w = worlds
    shutil.rmtree(w.alt)
    for source in ("proc", "psutil"):
        a = w.scan(source)[w.panes["alt"]]
        assert a.state == State.UNKNOWN and a.session is None, a
        assert "cannot read its database" in a.evidence_session.detail
        assert str(Path(w.dbs["alt"])) in a.evidence_session.detail
        others = w.scan(source)
        assert others[w.panes["default"]].state != State.UNKNOWN
