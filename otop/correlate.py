"""Pure: processes x panes x log runs x sessions -> which pane and session each agent has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from otop.model import Confidence, Evidence, LogRun, Pane, Proc, ProcKind, SessionBrief
from otop.opencode.screen import HOME_TITLE, title_matches, title_session

# A run's first log line comes 2-3 s after its process starts (measured with 1.18.33); a
# loaded machine can stretch that, so accept a generous window after the start, none before.
RUN_START_WINDOW = (-1.0, 30.0)
C, L, G, U = Confidence.CERTAIN, Confidence.LIKELY, Confidence.GUESS, Confidence.UNKNOWN


@dataclass
class Binding:
    """What correlation concluded for one process."""

    proc: Proc
    pane: Pane | None
    pane_evidence: Evidence
    run: LogRun | None = None
    run_confidence: Confidence = U
    session_id: str | None = None
    session_evidence: Evidence = field(
        default_factory=lambda: Evidence("none", U, "no evidence for a session")
    )
    notes: list[str] = field(default_factory=list)
    ambiguous: bool = False  # several processes could show the same sessions: no state either


@dataclass(frozen=True)
class World:
    """The inputs of correlation, as plain data."""

    procs: Sequence[Proc]
    panes: Sequence[Pane]
    runs: Sequence[LogRun]  # from the shared log
    process_runs: Mapping[int, LogRun]  # pid -> its own log file (opencode <= 1.14)
    sessions: Mapping[str, SessionBrief]  # every session the scan knows of, by id
    log_available: bool = True


def proc_dir(p: Proc) -> str | None:
    return p.dir_arg or p.cwd


def match_pane(proc: Proc, panes: Sequence[Pane]) -> tuple[Pane | None, Evidence]:
    """The pane a process runs in: same terminal, else a pane whose shell is an ancestor."""
    if proc.tty:
        for pane in panes:
            if pane.tty == proc.tty:
                return pane, Evidence(
                    "tty", C, f"pid {proc.pid} holds {proc.tty}, the tty of {pane.id}"
                )
    for pane in panes:
        if pane.pid in proc.ancestors:
            return pane, Evidence(
                "process tree",
                C,
                f"pid {proc.pid} descends from {pane.id}'s shell (pid {pane.pid})",
            )
    if not panes:
        return None, Evidence("tmux", U, "no tmux panes seen (no server, or outside tmux)")
    return None, Evidence("tmux", U, f"pid {proc.pid} runs in no pane of this tmux server")


def match_runs(
    procs: Sequence[Proc], runs: Sequence[LogRun]
) -> dict[int, tuple[LogRun, Confidence]]:
    """Pair processes with log runs by directory and start time; each run serves one process."""
    lo, hi = RUN_START_WINDOW
    options: dict[int, list[LogRun]] = {}
    for p in procs:
        d = proc_dir(p)
        options[p.pid] = [
            r
            for r in runs
            if lo <= r.started_at - p.started_at <= hi
            and (r.directory is None or d is None or r.directory == d or r.directory == p.cwd)
        ]
    taken: set[str] = set()
    out: dict[int, tuple[LogRun, Confidence]] = {}
    for p in sorted(procs, key=lambda x: (x.started_at, x.pid)):
        free = [r for r in options[p.pid] if r.run_id not in taken]
        if not free:
            continue
        free.sort(key=lambda r: r.started_at - p.started_at)
        run = free[0]
        # Unique when no other process could have written this run and no other run fits.
        rivals = [q for q in procs if q.pid != p.pid and run in options[q.pid]]
        conf = C if len(options[p.pid]) == 1 and not rivals else L
        taken.add(run.run_id)
        out[p.pid] = (run, conf)
    return out


def root_of(sid: str, sessions: Mapping[str, SessionBrief]) -> str:
    """The root session of a (possibly subagent) session."""
    seen = set()
    while sid in sessions and sessions[sid].parent_id and sid not in seen:
        seen.add(sid)
        parent = sessions[sid].parent_id
        assert parent is not None
        sid = parent
    return sid


def correlate(world: World) -> list[Binding]:
    """Bind every process to its pane and to the session it shows, strongest evidence first."""
    bindings = []
    for p in world.procs:
        pane, pev = match_pane(p, world.panes)
        bindings.append(Binding(proc=p, pane=pane, pane_evidence=pev))
    runs = match_runs([b.proc for b in bindings], world.runs)
    for b in bindings:
        if b.proc.pid in world.process_runs:
            b.run, b.run_confidence = world.process_runs[b.proc.pid], C
        elif b.proc.pid in runs:
            b.run, b.run_confidence = runs[b.proc.pid]
    claimed: set[str] = set()
    order = sorted(bindings, key=lambda b: (b.proc.started_at, b.proc.pid))
    undecided = []
    for b in order:
        if b.proc.kind == ProcKind.SERVE:
            b.session_evidence = Evidence("kind", C, "opencode serve: a server, not one session")
            continue
        if not _direct(b, world, claimed):
            undecided.append(b)
    for b in undecided:
        _indirect(b, world, claimed, bindings)
    return bindings


def _title_candidates(b: Binding, world: World) -> tuple[str | None, list[str]]:
    """The session title in the pane title, and the root sessions of the directory it fits."""
    if b.pane is None:
        return None, []
    shown = title_session(b.pane.title)
    if shown is None:
        return None, []
    d = proc_dir(b.proc)
    fits = [
        s.id
        for s in world.sessions.values()
        if s.parent_id is None
        and (d is None or s.directory == d or s.directory == b.proc.cwd)
        and title_matches(shown, s.title)
    ]
    return shown, fits


def _direct(b: Binding, world: World, claimed: set[str]) -> bool:
    """Per-process evidence: argv `-s`, the process's own log run. True when it decided."""
    arg = b.proc.session_arg
    arg_root = root_of(arg, world.sessions) if arg and arg in world.sessions else None
    run = b.run
    run_root = None
    if run is not None:
        for sid in reversed(run.sessions):
            r = root_of(sid, world.sessions)
            if r in world.sessions or sid in run.created:
                run_root = r
                break
    shown, fits = _title_candidates(b, world)
    chosen: tuple[str, Evidence] | None = None
    if run_root and run is not None:
        when = run.last_session_at
        lag = run.started_at - b.proc.started_at
        detail = f"log run {run.run_id} (started {lag:+.1f} s after pid {b.proc.pid}"
        detail += f" in {run.directory or '?'}) last worked on {run_root}"
        if when:
            detail += f" at {_hms(when)}"
        chosen = (run_root, Evidence("log", b.run_confidence, detail))
        if arg_root and arg_root != run_root:
            b.notes.append(f"argv -s names {arg_root}, but the log shows a later session")
    elif arg_root:
        chosen = (arg_root, Evidence("argv", C, f"argv has -s {arg}"))
    elif arg:
        b.notes.append(f"argv -s {arg} names no session in the database")
    if chosen is None:
        if run is not None and not run.sessions and b.run_confidence == C and shown is None:
            b.session_evidence = Evidence(
                "log", C, f"log run {run.run_id} has touched no session yet"
            )
            return True
        return False
    sid, ev = chosen
    if shown is not None:
        if sid in fits:
            ev = Evidence(ev.source, ev.confidence, ev.detail, (*ev.notes, "pane title agrees"))
        elif len(fits) == 1:
            ev = Evidence(
                ev.source,
                ev.confidence,
                ev.detail,
                (*ev.notes, f"pane title names {fits[0]} instead; {ev.source} wins"),
            )
    if b.notes:
        ev = Evidence(ev.source, ev.confidence, ev.detail, (*ev.notes, *b.notes))
    b.session_id, b.session_evidence = sid, ev
    claimed.add(sid)
    return True


def _indirect(b: Binding, world: World, claimed: set[str], everyone: Sequence[Binding]) -> None:
    """Weaker tiers: pane title, DB activity since the process started, then recency."""
    d = proc_dir(b.proc)
    shown, fits = _title_candidates(b, world)
    free_fits = [f for f in fits if f not in claimed]
    notes = tuple(b.notes)
    if len(free_fits) == 1:
        sid = free_fits[0]
        b.session_id = sid
        b.session_evidence = Evidence(
            "pane title", L, f"pane title 'OC | {shown}' fits only {sid} in {d}", notes
        )
        claimed.add(sid)
        return
    if b.pane is not None and b.pane.title == HOME_TITLE:
        b.session_evidence = Evidence(
            "pane title", L, "pane title 'OpenCode' is the home screen: no session open", notes
        )
        return
    if len(free_fits) > 1:
        notes = (*notes, f"pane title 'OC | {shown}' fits {len(free_fits)} sessions")
    pool = [
        s
        for s in world.sessions.values()
        if s.parent_id is None
        and s.id not in claimed
        and d is not None
        and (s.directory == d or s.directory == b.proc.cwd)
        and (s.interactive or b.proc.kind == ProcKind.RUN)
    ]
    if free_fits:
        pool = [s for s in pool if s.id in free_fits] or pool
    sharing = [
        o
        for o in everyone
        if o is not b
        and o.session_id is None
        and proc_dir(o.proc) == d
        and o.proc.kind == b.proc.kind
    ]
    active = [s for s in pool if s.updated_at >= b.proc.started_at]
    if len(active) == 1 and not sharing:
        s = active[0]
        b.session_id = s.id
        b.session_evidence = Evidence(
            "db activity",
            L,
            f"{s.id} is the only session of {d} active since pid {b.proc.pid} started",
            notes,
        )
        claimed.add(s.id)
        return
    if b.proc.continue_arg and pool and not sharing:
        older = [s for s in pool if s.updated_at <= b.proc.started_at] or pool
        s = max(older, key=lambda x: x.updated_at)
        b.session_id = s.id
        b.session_evidence = Evidence(
            "argv", L, f"--continue: {s.id} was the newest session of {d} at start", notes
        )
        claimed.add(s.id)
        return
    if sharing:
        b.ambiguous = True
        b.session_evidence = Evidence(
            "none",
            U,
            f"cannot tell which session: {len(sharing) + 1} processes in {d}"
            " and no per-process evidence",
            notes,
        )
        return
    candidates = active or pool
    if not candidates:
        b.session_evidence = Evidence("none", U, f"no session of {d} found", notes)
        return
    s = max(candidates, key=lambda x: x.updated_at)
    b.session_id = s.id
    b.session_evidence = Evidence(
        "recency", G, f"{s.id} is the most recently updated session of {d}", notes
    )
    claimed.add(s.id)


def orphan_pane(title: str, panes: Sequence[Pane], taken: set[str]) -> Pane | None:
    """The one pane not running opencode whose title still names a session title."""
    hits = [
        p
        for p in panes
        if p.id not in taken
        and (shown := title_session(p.title)) is not None
        and title_matches(shown, title)
    ]
    return hits[0] if len(hits) == 1 else None


def _hms(t: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(t))
