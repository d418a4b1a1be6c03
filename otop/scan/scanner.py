"""The one place where the sources meet: processes, tmux, the logs and the stores become a Scan.

Each opencode process is read against its own data (otop/sources/homes.py): processes are
grouped by the database they use, and each group is correlated and decided against that
database, its log and its sessions alone (otop/scan/database.py keeps one per database)."""

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from otop.core.model import (
    Agent,
    Home,
    LogRun,
    Pane,
    Problem,
    Proc,
    ProcKind,
    Scan,
    SessionBrief,
    SessionDetail,
)
from otop.decide.agents import (
    orphan_agent,
    process_agent,
    server_agents,
    unknown_data_agent,
)
from otop.decide.correlate import correlate, orphan_pane
from otop.decide.tiers import World
from otop.scan.current import Services
from otop.scan.database import Database
from otop.scan.screens import look_closer, permission_screens, tmux_panes
from otop.sources.opencode.binary import generation
from otop.sources.opencode.paths import Paths, find_paths
from otop.sources.opencode.rows import HistoryEntry
from otop.sources.opencode.servers import ServerConfig
from otop.sources.opencode.store import Store
from otop.sources.processes import ProcScanner
from otop.sources.tmux import Target, Tmux

if TYPE_CHECKING:
    from otop.sources.opencode.remote import Remotes

# Sessions whose unfinished turn lost its process are shown as stale for this long; a
# database no live process uses any more is kept as long, for its stale sessions.
ORPHAN_WINDOW = 30 * 60.0


class Options(NamedTuple):
    """How a Scanner looks."""

    db: str | None = None  # only this database's agents (--db, $OTOP_DB)
    socket_name: str | None = None
    socket_path: str | None = None
    min_cpu_window: float = 0.0  # one-shot scans wait this long for a CPU delta
    orphan_window: float = ORPHAN_WINDOW
    use_tmux: bool = True
    servers: tuple[ServerConfig, ...] = ()
    keep_dir: str | None = None  # a one-shot keeps its index of sessions here for the next


class _Found(NamedTuple):
    """What one database's part of a scan found."""

    agents: list[Agent]
    orphans: list[tuple[Database, SessionDetail]]


class Scanner:
    """Keeps connections and cursors between scans, so each scan reads only what is new."""

    def __init__(
        self,
        options: Options | None = None,
        env: Mapping[str, str] | None = None,
        tmux: Tmux | None = None,
    ) -> None:
        """`tmux`: the server of the options, already asked something (`Tmux.first_look`)."""
        self.options = options or Options()
        self.paths: Paths = find_paths(env, self.options.db)
        explicit = self.options.db or (os.environ if env is None else env).get("OTOP_DB")
        self.only: str | None = self.paths.db if explicit else None
        self.default = Database(self.paths, self.options.keep_dir)
        self.databases: dict[str, Database] = {self.default.path: self.default}
        own = Home(self.default.path, self.paths.data_dir, self.paths.config_dir, "")
        self.procs = ProcScanner(default=own)
        target = Target.from_env(env, self.options.socket_name, self.options.socket_path)
        self.tmux: Tmux | None = (tmux or Tmux(target)) if self.options.use_tmux else None
        self._remotes: Remotes | None = None
        self.services = Services()  # opencode 2's, one per state directory of its TUIs
        self._sessions_in: dict[str, Database] = {}  # session id -> its database, last scan

    @property
    def store(self) -> Store:
        """otop's own database (the one its environment, --db or $OTOP_DB names)."""
        return self.default.store

    @property
    def remotes(self) -> "Remotes":
        """The configured opencode servers' pollers, made (and the HTTP modules imported) on
        first use: a machine without servers never pays for them."""
        if self._remotes is None:
            from otop.sources.opencode.remote import Remotes

            self._remotes = Remotes(list(self.options.servers))
        return self._remotes

    @remotes.setter
    def remotes(self, value: "Remotes") -> None:
        self._remotes = value

    def close(self) -> None:
        for db in self.databases.values():
            db.close()
        if self._remotes is not None:
            self._remotes.stop()

    def wait_for_servers(self) -> None:
        """For one-shot commands: give opencode servers their timeout to answer first (a
        live view never waits; its next scan shows them)."""
        if self.options.servers and self.remotes.clients:
            self.remotes.start()
            self.remotes.wait(self.remotes.timeout + 0.5)

    def history(
        self,
        session_id: str,
        limit: int | None = None,
        database: str | None = None,
        service: str | None = None,
    ) -> list[HistoryEntry]:
        """A session's messages: from the opencode 2 service of the state directory named
        (`service`), or that a scan found it in; else from its database: the one named (an
        agent says which), else the one the last scan found it in, else otop's own."""
        served = self.services.history(session_id, limit or 200, service)
        if served is not None:
            return served
        db = self._sessions_in.get(session_id, self.default)
        if database is not None:
            db = self.databases.get(database) or self._open(database)
        store = db.store
        return store.history(session_id) if limit is None else store.history(session_id, limit)

    def _open(self, database: str) -> Database:
        """A database no scan of this scanner has used (the watcher's scan named it)."""
        home = Home(database, os.path.dirname(database), self.paths.config_dir, "")
        db = self.databases[database] = Database.of(home)
        return db

    def config_dir(self, agent: Agent | None) -> str:
        """The opencode config directory of an agent's own data (MCP servers live there)."""
        home = agent.proc.home if agent is not None and agent.proc is not None else None
        return home.config_dir if home is not None else self.paths.config_dir

    def scan(self, now: float | None = None) -> Scan:
        """Look at everything once and join it into agents."""
        t0 = time.monotonic()
        problems: list[Problem] = []
        running = self.tmux.start_panes() if self.tmux else None  # answers while /proc is read
        try:
            procs, open_logs = self.procs.scan(want_open_logs=self._wants_process_logs())
        finally:  # the tmux child is read and reaped even if reading /proc failed
            panes = tmux_panes(self.tmux, running, problems)
        now = time.time() if now is None else now
        # opencode 2 keeps its data in a per-user service, not in a database its TUIs hold.
        current = [p for p in procs if generation(p.version) == 2]
        procs = [p for p in procs if generation(p.version) != 2]
        groups, unknown = self._group(procs)
        agents: list[Agent] = []
        orphans: list[tuple[Database, SessionDetail]] = []
        self._sessions_in = {}
        cpu = self._cpu(procs, t0)
        for db, members in groups:
            part = self._scan_database(db, members, panes, open_logs, cpu, now, problems)
            agents += part.agents
            orphans += part.orphans
        if unknown:
            world = World(unknown, panes, [], {}, {}, False, now)
            agents += [
                unknown_data_agent(b, cpu, f"cannot tell which database: {b.proc.home_problem}")
                for b in correlate(world)
            ]
        agents += self.services.agents(self.tmux, current, panes, cpu, now, problems)
        taken = {a.pane.id for a in agents if a.pane is not None}
        free = [p for p in panes if not _runs_opencode(p)]
        for db, detail in orphans:
            pane = orphan_pane(detail.brief.title, free, taken)
            # Only a server of this very database may be driving its sessions.
            servers = [p for p in procs if p.kind == ProcKind.SERVE and _uses(p, db)]
            agent = orphan_agent(detail, pane, servers, now)
            agents.append(agent._replace(database=db.path))
        self._forget({db.path for db, members in groups if members})
        self._add_remote(agents, problems, now)
        return Scan(
            generated_at=now,
            agents=tuple(agents),
            db_path=self.default.path,
            problems=tuple(problems),
            tmux_socket=self.tmux.target.describe() if self.tmux else None,
        )

    # -- the databases ------------------------------------------------------------------------

    def _group(self, procs: list[Proc]) -> tuple[list[tuple[Database, list[Proc]]], list[Proc]]:
        """Processes by the database they use (otop's own always among them, for its stale
        sessions), and those whose database cannot be told; only otop's own when --db or
        $OTOP_DB names one."""
        members: dict[str, list[Proc]] = {self.default.path: []}
        unknown: list[Proc] = []
        for p in procs:
            if p.home is None:
                if self.only is None:
                    unknown.append(p)
                continue
            if self.only is not None and p.home.db != self.only:
                continue
            if p.home.db not in self.databases:
                self.databases[p.home.db] = Database.of(p.home, self.options.keep_dir)
            members.setdefault(p.home.db, []).append(p)
        mono = time.monotonic()
        out = []
        for path, ps in members.items():
            db = self.databases[path]
            if ps or db is self.default:
                db.used = mono
            out.append((db, ps))
        # Databases no process uses now still show their stale sessions for a while.
        out += [
            (db, [])
            for path, db in self.databases.items()
            if path not in members and (self.only is None or path == self.only)
        ]
        return out, unknown

    def _forget(self, in_use: set[str]) -> None:
        """Close the databases no process has used for the orphan window, and at once those no
        process uses whose file was removed or replaced (a throwaway data directory's: held
        open, its space and descriptors would stay taken for the whole window). otop's own
        starts again on the new file."""
        cutoff = time.monotonic() - self.options.orphan_window
        for path, db in list(self.databases.items()):
            if path in in_use:
                continue
            replaced = db.store.replaced()
            if replaced or (db is not self.default and db.used < cutoff):
                db.close()
                del self.databases[path]
            if replaced and db is self.default:
                self.default = self.databases[path] = Database(self.paths, self.options.keep_dir)

    def _wants_process_logs(self) -> bool:
        """Per-process logs (opencode 1.14) are read when a database has no shared log."""
        return any(not db.log.exists for db in self.databases.values())

    def _scan_database(
        self,
        db: Database,
        procs: list[Proc],
        panes: list[Pane],
        open_logs: Mapping[int, list[str]],
        cpu: Mapping[int, float | None],
        now: float,
        problems: list[Problem],
    ) -> _Found:
        """Correlate and decide the processes of one database against its own rows."""
        mine: list[Problem] = []
        db.recall()
        shared_log = db.log.exists
        runs: list[LogRun] = []
        if procs and shared_log:
            try:
                runs = db.log.update(min(p.started_at for p in procs))
            except OSError as exc:
                mine.append(Problem("log", f"cannot read {db.paths.shared_log}: {exc}"))
        process_runs = db.process_runs({p.pid: open_logs.get(p.pid, []) for p in procs})
        sessions: dict[str, SessionBrief] = {}
        window = now - self.options.orphan_window
        named = (*runs, *(r for rs in process_runs.values() for r in rs))
        db_ok = db.sessions(procs, named, sessions, window, mine)
        log_ok = shared_log or bool(process_runs)
        world = World(procs, panes, runs, process_runs, sessions, log_ok, now)
        bindings = correlate(world) if procs else []
        if db_ok and self.tmux and any(b.wants_screen and b.pane is not None for b in bindings):
            bindings = look_closer(self.tmux, db.newest_prompts, world, bindings, mine)
        db.details.begin()
        ids = [b.session_id for b in bindings if b.session_id]
        details = db.details.bound(ids, db_ok, mine)
        orphans = db.details.orphans(bindings, sessions, window, db_ok, mine)
        db.details.end()
        db.keep_for_next()
        if db_ok:
            screens = permission_screens(self.tmux, bindings, details) if self.tmux else {}
            agents = [
                process_agent(b, details, screens, cpu, now)._replace(database=db.path)
                for b in bindings
            ]
        else:  # its rows cannot be read: its session and state cannot be told, and it says so
            why = "cannot read its database: " + next(
                (p.message for p in mine if p.source == "database"), "unreadable"
            )
            agents = [unknown_data_agent(b, cpu, why) for b in bindings]
        for a in agents:
            if a.session_id:
                self._sessions_in[a.session_id] = db
        for d in orphans:
            self._sessions_in[d.brief.id] = db
        if db is self.default:
            problems += mine
        else:  # another database's trouble is its agents', not the whole view's; one its
            # TUIs have not made yet is said, but it is no failure to read (otop/cli/exits.py)
            source = "data" if os.path.exists(db.path) else "data not made yet"
            problems += [Problem(source, f"{db.path}: {p.message}") for p in mine]
        return _Found(agents, [(db, d) for d in orphans])

    # -- the rest ---------------------------------------------------------------------------

    def _add_remote(self, agents: list[Agent], problems: list[Problem], now: float) -> None:
        """Agents of configured opencode servers, from their last answer (never waited for).

        A server's word on its own sessions is exact, so local rows of the same sessions
        (its process seen here, its sessions in this machine's database) give way to it."""
        if self._remotes is None and not self.options.servers:
            return
        from otop.sources.opencode.served import sessions

        self.remotes.start()
        remote: list[Agent] = []
        problems += [Problem("server", w) for w in self.remotes.warnings()]
        for view in self.remotes.latest():
            where = f"server {view.config.name} ({view.config.url})"
            if view.error:
                problems.append(Problem("server", f"{where}: {view.error}"))
            try:
                remote += server_agents(view.config.name, view.config.url, sessions(view), now)
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                # Whatever a server sends, the local view goes on.
                problems.append(Problem("server", f"{where}: unusable answer ({exc})"))
        ids = {a.session_id for a in remote}
        agents[:] = [a for a in agents if a.session_id not in ids] + remote

    def _cpu(self, procs: list[Proc], t0: float) -> dict[int, float | None]:
        cpu: dict[int, float | None] = {p.pid: p.cpu_percent for p in procs}
        missing = [p for p in procs if p.cpu_percent is None]
        if missing and self.options.min_cpu_window > 0:
            wait = self.options.min_cpu_window - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            cpu.update(self.procs.measure(missing))
        return cpu


def _uses(proc: Proc, db: Database) -> bool:
    return proc.home is not None and proc.home.db == db.path


def _runs_opencode(p: Pane) -> bool:
    return p.current_command in ("opencode", "opencode.exe")
