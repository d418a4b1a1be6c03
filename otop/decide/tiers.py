"""Pure: the correlation ladder's records and its tiers, strongest first. Each tier looks at one
kind of evidence (argv, the pane's title, its screen, the log) and returns a Clue: the sessions
that evidence allows, and whether it is the process's own or shared with others."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import NamedTuple

from otop.core.model import Confidence, Evidence, LogRun, Pane, Proc, SessionBrief
from otop.decide.runs import proc_dir
from otop.decide.screen import HOME_TITLE, shows_prompt, shows_tui, title_matches, title_session

# A TUI sets its pane title within seconds of starting; until then the pane may still carry a
# title an earlier (killed) process set, so a young process's title naming an old session is
# not taken as its own word.
TITLE_SETTLE = 20.0
C, L, G, U = Confidence.CERTAIN, Confidence.LIKELY, Confidence.GUESS, Confidence.UNKNOWN
C, L, G, U = Confidence.CERTAIN, Confidence.LIKELY, Confidence.GUESS, Confidence.UNKNOWN


class Clue(NamedTuple):
    """What one tier says about the session a process shows."""

    tier: str
    own: bool  # from this very pane or process, not shareable with another
    sessions: frozenset[str]  # root sessions this evidence allows
    detail: str
    home: bool = False  # the pane shows opencode's home screen: no session open
    cap: Confidence = L  # the most this evidence can earn alone


class Binding:
    """What correlation concluded for one process (the tiers fill it in as they go)."""

    __slots__ = (
        "ambiguous",
        "candidates",
        "notes",
        "pane",
        "pane_evidence",
        "proc",
        "run",
        "run_confidence",
        "session_evidence",
        "session_id",
        "wants_screen",
    )

    def __init__(self, proc: Proc, pane: Pane | None, pane_evidence: Evidence) -> None:
        self.proc = proc
        self.pane = pane
        self.pane_evidence = pane_evidence
        self.run: LogRun | None = None  # the process's own log run, when known to be its own
        self.run_confidence = U
        self.session_id: str | None = None
        self.session_evidence = Evidence("none", U, "no evidence for a session")
        self.notes: list[str] = []
        self.ambiguous = False  # cannot tell which session: no state either
        self.candidates: tuple[str, ...] = ()  # sessions still in question when ambiguous
        self.wants_screen = False  # the pane's screen would tell more (the scan may capture it)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Binding({fields})"


class World(NamedTuple):
    """The inputs of correlation, as plain data."""

    procs: Sequence[Proc]
    panes: Sequence[Pane]
    runs: Sequence[LogRun]  # from the shared log (1.18)
    process_runs: Mapping[int, Sequence[LogRun]]  # pid -> a run per log file it holds (1.14)
    sessions: Mapping[str, SessionBrief]  # every session the scan knows of, by id
    log_available: bool = True
    now: float = 0.0
    screens: Mapping[str, str] = MappingProxyType({})  # pane id -> visible text
    prompts: Mapping[str, str] = MappingProxyType({})  # session id -> newest prompt


def in_dir(s: SessionBrief, p: Proc) -> bool:
    d = proc_dir(p)
    return d is not None and (s.directory == d or s.directory == p.cwd)


def root_of(sid: str, sessions: Mapping[str, SessionBrief]) -> str:
    """The root session of a (possibly subagent) session."""
    seen = set()
    while sid in sessions and sessions[sid].parent_id and sid not in seen:
        seen.add(sid)
        parent = sessions[sid].parent_id
        assert parent is not None
        sid = parent
    return sid


# -- the tiers, strongest first ------------------------------------------------------------


class Context(NamedTuple):
    """What the tiers share: the world, pane bindings and the runs known to be one's own."""

    world: World
    runs: dict[int, LogRun]
    holders: dict[str, list[Proc]]  # 1.14 log file -> live processes holding it


def tier_argv(b: Binding, ctx: Context) -> Clue | None:
    """`-s ID` on the command line: the session the process was started on."""
    arg = b.proc.session_arg
    if not arg:
        return None
    if arg not in ctx.world.sessions:
        b.notes.append(f"argv -s {arg} names no session in the database")
        return None
    root = root_of(arg, ctx.world.sessions)
    return Clue("argv", True, frozenset({root}), f"argv has -s {arg}")


def tier_title(b: Binding, ctx: Context) -> Clue | None:
    """The pane's own title: `OpenCode` on the home screen, `OC | <title cut to 40>` inside."""
    if b.pane is None:
        return None
    if b.pane.title == HOME_TITLE:
        return Clue("pane title", True, frozenset(), "pane title 'OpenCode': home screen", True)
    shown = title_session(b.pane.title)
    if shown is None:
        return None
    w = ctx.world
    fits = frozenset(
        s.id
        for s in w.sessions.values()
        if s.parent_id is None and in_dir(s, b.proc) and title_matches(shown, s.title)
    )
    if not fits:
        b.notes.append(f"pane title 'OC | {shown}' fits no session of {proc_dir(b.proc)}")
        return None
    if w.now - b.proc.started_at < TITLE_SETTLE and not _drawn(b, w):
        b.notes.append(f"pane title 'OC | {shown}' may be left from an earlier process")
        return None
    return Clue("pane title", True, fits, f"pane title 'OC | {shown}' in {b.pane.id}")


def _drawn(b: Binding, w: World) -> bool:
    """Whether a young process has drawn its TUI (and so set the pane's title itself)."""
    assert b.pane is not None
    screen = w.screens.get(b.pane.id)
    if screen is None:
        b.wants_screen = True
        return False
    return shows_tui(screen)


def tier_screen(b: Binding, ctx: Context) -> Clue | None:
    """What the pane shows: a session's newest prompt on the screen."""
    w = ctx.world
    if b.pane is None or b.pane.id not in w.screens:
        return None
    text = w.screens[b.pane.id]
    hits = frozenset(
        sid
        for sid, prompt in w.prompts.items()
        if sid in w.sessions and in_dir(w.sessions[sid], b.proc) and shows_prompt(text, prompt)
    )
    if not hits:
        return None
    return Clue("screen", True, hits, f"{b.pane.id} shows the newest prompt of that session")


def tier_log(b: Binding, ctx: Context) -> Clue | None:
    """The process's log run (1.18 shared log) or log files (1.14): shared evidence."""
    w = ctx.world
    run = ctx.runs.get(b.proc.pid)
    if run is not None:
        sid = _newest_in_dir(run, b.proc, w)
        lag = run.started_at - b.proc.started_at
        where = f"log run {run.run_id} (started {lag:+.1f} s after pid {b.proc.pid})"
        if sid is None:
            return Clue("log", False, frozenset(), f"{where} has touched no session yet", True)
        when = f" at {_hms(run.last_session_at)}" if run.last_session_at else ""
        return Clue("log", False, frozenset({sid}), f"{where} last worked on {sid}{when}")
    return _file_clue(b, ctx)


def _file_clue(b: Binding, ctx: Context) -> Clue | None:
    """opencode 1.14: the log files a process holds, read for sessions of its directory; a file
    another live process of the same directory holds tells nothing about either."""
    w = ctx.world
    best: tuple[float, str, str] | None = None
    for run in w.process_runs.get(b.proc.pid, ()):
        rivals = [
            q.pid
            for q in ctx.holders.get(run.source, [])
            if q.pid != b.proc.pid and proc_dir(q) == proc_dir(b.proc)
        ]
        if rivals:
            b.notes.append(f"log file {run.run_id} is shared with pid {rivals[0]}")
            continue
        named = _roots_in_dir(run, b.proc, w)
        if len(named) > 1:
            # Lines carry no process id: a file naming two sessions of this directory may
            # hold the lines of a process that shared it and is gone.
            b.notes.append(f"log file {run.run_id} names {len(named)} sessions of this directory")
            return None
        if named and (best is None or (run.last_session_at or 0) > best[0]):
            best = (run.last_session_at or 0.0, named[0], run.run_id)
    if best is None:
        return None
    # Its lines carry no process id, and a process that shared the file may be gone.
    detail = f"log file {best[2]} names only {best[1]}"
    return Clue("log", False, frozenset({best[1]}), detail, cap=G)


def _newest_in_dir(run: LogRun, p: Proc, w: World) -> str | None:
    """The newest session a run worked on whose root lives in the process's directory."""
    named = _roots_in_dir(run, p, w)
    return named[-1] if named else None


def _roots_in_dir(run: LogRun, p: Proc, w: World) -> list[str]:
    """The root sessions of the process's directory a run names, oldest mention first."""
    out: list[str] = []
    for sid in run.sessions:
        root = root_of(sid, w.sessions)
        if root in w.sessions and in_dir(w.sessions[root], p):
            if root in out:
                out.remove(root)
            out.append(root)
    return out


OWN_TIERS: tuple[Callable[[Binding, Context], Clue | None], ...] = (
    tier_argv,
    tier_title,
    tier_screen,
)


def _hms(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S UTC")
