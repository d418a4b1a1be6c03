"""The opencode 2 part of a scan. A 2.x TUI holds no database: it is a client of its user's
service, which holds every session. So the TUIs are grouped by the service their state
directory names, the service is read once a scan, panes are joined to sessions by the same
ladder as for 1.x on the service's sessions (argv `-s`, the pane's title; never "the newest of
its directory"), and states are decided from what the service says of the joined sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from otop.core.model import (
    Agent,
    Evidence,
    Pane,
    Problem,
    Proc,
    ProcKind,
    SessionBrief,
    SessionDetail,
)
from otop.decide.agents import process_agent, unknown_data_agent
from otop.decide.correlate import correlate
from otop.decide.tiers import Binding, World
from otop.scan.screens import look_closer
from otop.sources.opencode import current
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.rows import HistoryEntry
from otop.sources.tmux import Tmux

if TYPE_CHECKING:  # the HTTP client loads only where an opencode 2 TUI runs
    from otop.sources.opencode.service import Seen, Service, Where


class Services:
    """The opencode 2 services of this user's TUIs, kept between scans."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}  # state directory -> its service
        self.written: set[str] = set()  # the files the services write as sessions change
        self.shown: dict[str, str] = {}  # session id -> the state directory of its service

    def agents(
        self,
        tmux: Tmux | None,
        procs: list[Proc],
        panes: list[Pane],
        cpu: Mapping[int, float | None],
        now: float,
        problems: list[Problem],
    ) -> list[Agent]:
        """Agents of the opencode 2 processes among `procs`."""
        groups: dict[str, list[Proc]] = {}
        for p in _agents_among(procs):
            groups.setdefault(p.home.state_dir if p.home else "", []).append(p)
        # A service writes its database (in its TUIs' data directory) at every change: a
        # looker's cheap probe of a change (otop/scan/changes.py).
        self.written = {f"{p.home.db}-wal" for ps in groups.values() for p in ps if p.home}
        out: list[Agent] = []
        for state_dir, members in groups.items():
            out += self._of(tmux, state_dir, members, panes, cpu, now, problems)
        self._services = {k: v for k, v in self._services.items() if k in groups}
        self.shown = {k: v for k, v in self.shown.items() if v in groups}
        return out

    def history(
        self, session_id: str, limit: int, state_dir: str | None = None
    ) -> list[HistoryEntry] | None:
        """A session's messages from the service that holds it (`state_dir`, else the one a
        scan found it in), oldest first; None when no opencode 2 service holds it."""
        from otop.sources.opencode.service import ServiceError

        where = state_dir or self.shown.get(session_id)
        if where is None:
            return None
        try:
            return current.history(self._service(where).history(session_id, limit))
        except ServiceError as exc:
            raise StoreError(str(exc)) from None

    def _of(
        self,
        tmux: Tmux | None,
        state_dir: str,
        members: list[Proc],
        panes: list[Pane],
        cpu: Mapping[int, float | None],
        now: float,
        problems: list[Problem],
    ) -> list[Agent]:
        from otop.sources.opencode.service import ServiceError

        try:
            service = self._service(state_dir)
            seen = service.look()
        except ServiceError as exc:
            problems.append(Problem("server", str(exc)))
            why = f"opencode {members[0].version or '2'}: {exc}"
            return [unknown_data_agent(b, cpu, why) for b in _bind(members, panes, now)]
        briefs = {b.id: b for b in map(current.brief, seen.sessions) if b is not None}
        world = World(members, panes, [], {}, briefs, False, now)
        bindings = correlate(world)
        if tmux is not None:  # a young TUI's title counts once its screen shows it drawn
            bindings = look_closer(tmux, _no_prompts, world, bindings, problems)
        service.closer(seen, [b.session_id for b in bindings if b.session_id])
        self.shown.update((b.session_id, state_dir) for b in bindings if b.session_id)
        return [_agent(b, seen, service.where, cpu, now) for b in bindings]

    def _service(self, state_dir: str) -> Service:
        from otop.sources.opencode.service import Service, ServiceError, locate

        if not state_dir:
            raise ServiceError("its state directory cannot be told (its environment is unread)")
        where = locate(state_dir)
        kept = self._services.get(state_dir)
        if kept is None or kept.where != where:  # a restarted service listens anew
            kept = self._services[state_dir] = Service(where)
        return kept


def _agents_among(procs: list[Proc]) -> list[Proc]:
    """The processes that are agents: not the per-user service, nor the private server a
    `--standalone` TUI starts as its child (`serve --stdio`): that TUI is the agent."""
    tuis = {p.pid for p in procs if p.kind == ProcKind.TUI}
    return [
        p
        for p in procs
        if p.kind != ProcKind.SERVICE and not (p.kind == ProcKind.SERVE and tuis & set(p.ancestors))
    ]


def _bind(members: list[Proc], panes: list[Pane], now: float) -> list[Binding]:
    """Panes of TUIs whose service cannot be read (no session can be told)."""
    return correlate(World(members, panes, [], {}, {}, False, now))


def _no_prompts(ids: set[str], sessions: Mapping[str, SessionBrief]) -> dict[str, str]:
    """No prompt is read for the screen tier of opencode 2 yet: only whether a TUI is drawn."""
    return {}


def _agent(
    b: Binding, seen: Seen, where: Where, cpu: Mapping[int, float | None], now: float
) -> Agent:
    """A TUI's agent from what its service says of the session its pane shows."""
    if _private_server(b.proc):
        # Its turns run in a server of its own (or another), which its user's service does not
        # run: the service would call them idle.
        why = f"opencode {b.proc.version} runs its sessions in a server otop does not read"
        return unknown_data_agent(b, cpu, why)
    sid = b.session_id
    if sid is not None and sid not in seen.messages:
        return unknown_data_agent(b, cpu, f"its service did not give the messages of {sid}")
    listed = next((s for s in seen.sessions if sid and s.get("id") == sid), None)
    running = sid in seen.active
    found = (
        current.detail(listed, seen.messages.get(sid, []), running)
        if listed is not None and sid
        else None
    )
    details: dict[str, SessionDetail] = {sid: found} if sid and found else {}
    asked = current.pending(seen.permissions.get(sid or "", []), "per_")
    form = current.pending(seen.forms.get(sid or "", []), "frm_")
    screens = {b.pane.id: asked is not None} if b.pane is not None and running else {}
    # The service runs the turn, not the TUI: the TUI's CPU says nothing of a stuck turn.
    agent = process_agent(b, details, screens, {b.proc.pid: None}, now)
    proc = agent.proc._replace(cpu_percent=cpu.get(b.proc.pid)) if agent.proc else None
    said = _service_words(sid, running, asked, form, agent.evidence_state.detail)
    return agent._replace(
        proc=proc,
        evidence_state=Evidence(current.SOURCE, agent.evidence_state.confidence, said),
        request_id=asked or form,
    )


def _private_server(p: Proc) -> bool:
    """`--standalone` (a private server) or `--server URL` (another one than the user's)."""
    return any(a == "--standalone" or a.split("=", 1)[0] == "--server" for a in p.argv[1:])


def _service_words(
    sid: str | None, running: bool, asked: str | None, form: str | None, decided: str
) -> str:
    """What the service said that the state rests on."""
    if sid is None:
        return decided
    if asked:
        return f"GET /api/session/{sid}/permission lists {asked}"
    if form:
        return f"GET /api/session/{sid}/form lists {form}"
    listed = "lists it as running" if running else "does not list it (idle)"
    return f"GET /api/session/active {listed}; {decided}"
