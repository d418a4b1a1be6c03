"""The one place where the sources meet: processes, tmux, the log and the store become a Scan."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from otop.decide.agents import orphan_agent, process_agent, recent_in_dir
from otop.decide.correlate import correlate, orphan_pane
from otop.decide.runs import proc_dir
from otop.decide.screen import shows_permission
from otop.decide.tiers import Binding, World
from otop.details import Details
from otop.model import (
    Agent,
    LogRun,
    Pane,
    Problem,
    Proc,
    ProcKind,
    Scan,
    SessionBrief,
    SessionDetail,
)
from otop.opencode.index import RootIndex
from otop.opencode.logs import SharedLog, read_process_log
from otop.opencode.paths import Paths, find_paths
from otop.opencode.servers import ServerConfig
from otop.opencode.store import Store, StoreError
from otop.procs import PidProbe, ProcScanner
from otop.tmux import Target, Tmux, TmuxError

if TYPE_CHECKING:
    from otop.opencode.remote import Remotes

# Sessions whose unfinished turn lost its process are shown as stale for this long.
ORPHAN_WINDOW = 30 * 60.0


@dataclass(frozen=True)
class Options:
    """How a Scanner looks."""

    db: str | None = None
    socket_name: str | None = None
    socket_path: str | None = None
    min_cpu_window: float = 0.0  # one-shot scans wait this long for a CPU delta
    orphan_window: float = ORPHAN_WINDOW
    use_tmux: bool = True
    servers: tuple[ServerConfig, ...] = ()


class Scanner:
    """Keeps connections and cursors between scans, so each scan reads only what is new."""

    def __init__(
        self, options: Options | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.options = options or Options()
        self.paths: Paths = find_paths(env, self.options.db)
        self.store = Store(self.paths.db)
        self.index = RootIndex(self.store)
        self.details = Details(self.store)
        self.log = SharedLog(self.paths.shared_log)
        self.procs = ProcScanner()
        self.tmux: Tmux | None = (
            Tmux(Target.from_env(env, self.options.socket_name, self.options.socket_path))
            if self.options.use_tmux
            else None
        )
        self._remotes: Remotes | None = None
        self._process_logs: dict[str, tuple[int, LogRun]] = {}
        self._prompt_cache: dict[str, tuple[float | None, str]] = {}  # id -> (updated, prompt)
        self.last_duration = 0.0

    @property
    def remotes(self) -> Remotes:
        """The configured opencode servers' pollers, made (and the HTTP modules imported) on
        first use: a machine without servers never pays for them."""
        if self._remotes is None:
            from otop.opencode.remote import Remotes

            self._remotes = Remotes(list(self.options.servers))
        return self._remotes

    @remotes.setter
    def remotes(self, value: Remotes) -> None:
        self._remotes = value

    def close(self) -> None:
        self.store.close()
        if self._remotes is not None:
            self._remotes.stop()

    def wait_for_servers(self) -> None:
        """For one-shot commands: give opencode servers their timeout to answer first (a
        live view never waits; its next scan shows them)."""
        if self.options.servers and self.remotes.clients:
            self.remotes.start()
            self.remotes.wait(self.remotes.timeout + 0.5)

    def process_log_paths(self) -> list[str]:
        """The per-process log files (opencode 1.14) seen in the last scan."""
        return list(self._process_logs)

    def scan(self, now: float | None = None) -> Scan:
        """Look at everything once and join it into agents."""
        t0 = time.monotonic()
        problems: list[Problem] = []
        shared_log = self.log.exists
        procs, open_logs = self.procs.scan(want_open_logs=not shared_log)
        panes = self._panes(problems)
        now = time.time() if now is None else now
        runs: list[LogRun] = []
        if procs and shared_log:
            try:
                runs = self.log.update(min(p.started_at for p in procs))
            except OSError as exc:
                problems.append(Problem("log", f"cannot read {self.paths.shared_log}: {exc}"))
        process_runs = self._per_process_runs(open_logs)
        sessions: dict[str, SessionBrief] = {}
        db_ok = self._sessions(procs, runs, process_runs, sessions, now, problems)
        log_ok = shared_log or bool(process_runs)
        world = World(procs, panes, runs, process_runs, sessions, log_ok, now)
        bindings = correlate(world)
        if db_ok and any(b.wants_screen and b.pane is not None for b in bindings):
            bindings = self._look_closer(world, bindings, problems)
        self.details.begin()
        details = self.details.bound([b.session_id for b in bindings if b.session_id], db_ok,
                                     problems)  # fmt: skip
        window = now - self.options.orphan_window
        orphans = self.details.orphans(bindings, sessions, window, db_ok, problems)
        self.details.end()
        screens = self._screens(bindings, details)
        cpu = self._cpu(procs, t0)
        agents = [process_agent(b, details, screens, cpu, now) for b in bindings]
        taken = {a.pane.id for a in agents if a.pane is not None}
        servers = [p for p in procs if p.kind == ProcKind.SERVE]
        for detail in orphans:
            pane = orphan_pane(
                detail.brief.title, [p for p in panes if not _runs_opencode(p)], taken
            )
            agents.append(orphan_agent(detail, pane, servers, now))
        self._add_remote(agents, problems, now)
        self.last_duration = time.monotonic() - t0
        return Scan(
            generated_at=now,
            agents=tuple(agents),
            db_path=str(self.paths.db),
            problems=tuple(problems),
            tmux_socket=self.tmux.target.describe() if self.tmux else None,
        )

    def _add_remote(self, agents: list[Agent], problems: list[Problem], now: float) -> None:
        """Agents of configured opencode servers, from their last answer (never waited for).

        A server's word on its own sessions is exact, so local rows of the same sessions
        (its process seen here, its sessions in this machine's database) give way to it."""
        if self._remotes is None and not self.options.servers:
            return
        from otop.opencode.remote import agents as remote_agents

        self.remotes.start()
        remote: list[Agent] = []
        problems += [Problem("server", w) for w in self.remotes.warnings()]
        for view in self.remotes.latest():
            where = f"server {view.config.name} ({view.config.url})"
            if view.error:
                problems.append(Problem("server", f"{where}: {view.error}"))
            try:
                remote += remote_agents(view, now)
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                # Whatever a server sends, the local view goes on.
                problems.append(Problem("server", f"{where}: unusable answer ({exc})"))
        ids = {a.session_id for a in remote}
        agents[:] = [a for a in agents if a.session_id not in ids] + remote

    # -- sources ----------------------------------------------------------------------------

    def _panes(self, problems: list[Problem]) -> list[Pane]:
        if self.tmux is None:
            return []
        try:
            return self.tmux.panes()
        except TmuxError as exc:
            problems.append(Problem("tmux", f"tmux ({self.tmux.target.describe()}): {exc}"))
            return []

    def _look_closer(
        self, world: World, bindings: list[Binding], problems: list[Problem]
    ) -> list[Binding]:
        """The screen tier, only when own evidence left panes undecided: capture those panes,
        read their candidate sessions' newest prompts, and correlate again."""
        unsure = [b for b in bindings if b.wants_screen and b.pane is not None]
        if self.tmux is None:
            return bindings
        try:
            screens = self.tmux.capture([b.pane.id for b in unsure if b.pane is not None])
            wanted = {c for b in unsure for c in (b.candidates or recent_in_dir(world, b))}
            prompts = self._prompts(wanted, world)
        except (TmuxError, StoreError) as exc:
            problems.append(Problem("screen", f"cannot read panes to tell sessions apart: {exc}"))
            return bindings
        return correlate(replace(world, screens=screens, prompts=prompts))

    def _prompts(self, ids: set[str], world: World) -> dict[str, str]:
        """Newest prompts, read again only for sessions updated since (a new prompt moves the
        session's time_updated), so a pane left undecided costs no queries beat after beat."""

        def stamp(sid: str) -> float:
            s = world.sessions.get(sid)
            return s.updated_at if s else -1.0

        stale = {sid for sid in ids if self._prompt_cache.get(sid, (None, ""))[0] != stamp(sid)}
        if stale:
            fresh = self.store.newest_prompts(stale)
            for sid in stale:
                self._prompt_cache[sid] = (stamp(sid), fresh.get(sid, ""))
        self._prompt_cache = {k: v for k, v in self._prompt_cache.items() if k in world.sessions}
        return {sid: self._prompt_cache[sid][1] for sid in ids if self._prompt_cache[sid][1]}

    def _per_process_runs(self, open_logs: Mapping[int, list[str]]) -> dict[int, list[LogRun]]:
        out: dict[int, list[LogRun]] = {}
        # Only the files held now are kept (and probed by the watcher): a closed one is gone.
        held = {path for paths in open_logs.values() for path in paths}
        self._process_logs = {k: v for k, v in self._process_logs.items() if k in held}
        for pid, paths in open_logs.items():
            for path in paths:
                p = Path(path)
                try:
                    size = p.stat().st_size
                except OSError:
                    continue
                cached = self._process_logs.get(path)
                if cached is None or cached[0] != size:
                    run = read_process_log(p)
                    if run is None:
                        continue
                    cached = (size, run)
                    self._process_logs[path] = cached
                out.setdefault(pid, []).append(cached[1])
        return out

    def _sessions(
        self,
        procs: list[Proc],
        runs: list[LogRun],
        process_runs: Mapping[int, list[LogRun]],
        into: dict[str, SessionBrief],
        now: float,
        problems: list[Problem],
    ) -> bool:
        """Load the sessions correlation may need; False when the database is unusable."""
        try:
            self.store.open()
            dirs = {d for p in procs for d in (proc_dir(p), p.cwd) if d}
            for s in self.index.roots(dirs, now - self.options.orphan_window):
                into[s.id] = s
            named = {p.session_arg for p in procs if p.session_arg}
            for run in (*runs, *(r for rs in process_runs.values() for r in rs)):
                named.update(run.sessions)
            missing = named - into.keys()
            into.update(self.store.briefs(missing))
            parents = {s.parent_id for s in into.values() if s.parent_id} - into.keys()
            into.update(self.store.briefs(parents))
            return True
        except StoreError as exc:
            problems.append(Problem("database", str(exc)))
            self.index.reset()
            return False

    def _screens(
        self, bindings: list[Binding], details: Mapping[str, SessionDetail]
    ) -> dict[str, bool]:
        """For panes whose session has an unfinished turn: does the screen show a permission?"""
        if self.tmux is None:
            return {}
        wanted = [
            b.pane.id
            for b in bindings
            if b.pane is not None
            and b.session_id is not None
            and b.session_id in details
            and not details[b.session_id].turn.completed
        ]
        try:
            shots = self.tmux.capture(wanted)
        except TmuxError:
            return {}
        return {pid: shows_permission(text) for pid, text in shots.items()}

    def _cpu(self, procs: list[Proc], t0: float) -> dict[int, float | None]:
        cpu: dict[int, float | None] = {p.pid: p.cpu_percent for p in procs}
        missing = [p for p in procs if p.cpu_percent is None]
        if missing and self.options.min_cpu_window > 0:
            wait = self.options.min_cpu_window - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            cpu.update(self.procs.measure(missing))
        return cpu


class Changes:
    """Cheap facts whose change means a scan could tell something new: the set of opencode
    pids (one /proc listing), the database's data_version, the log files' sizes. The watcher
    and `otop serve` look at these often and scan only when they move."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.pids = PidProbe()

    def signature(self) -> tuple[object, ...]:
        try:
            version: int = self.scanner.store.data_version()
        except StoreError:
            version = -1
        logs: list[tuple[str, int]] = []
        for p in (self.scanner.paths.shared_log, *map(Path, self.scanner.process_log_paths())):
            try:
                logs.append((str(p), p.stat().st_size))
            except OSError:
                continue
        return (self.pids.pids(), version, tuple(logs))


def _runs_opencode(p: Pane) -> bool:
    return p.current_command in ("opencode", "opencode.exe")
