"""Pure: processes x panes x logs x sessions -> which pane and session each agent has.

Correlation is a ladder. Each tier is a small function that looks at one kind of evidence and
returns a Clue (the sessions that evidence allows) or nothing. Evidence from this very pane or
process (argv `-s`, its own terminal title, what its own screen shows) is *own*; evidence that
several processes could share (log runs matched by start time, a log file two processes hold,
directory activity, recency) is *shared*. Own evidence decides; shared evidence may only choose
among what own evidence allows, is never `certain` alone, and when nothing else is left the
answer is "cannot tell" rather than a swap. The processes of one directory are decided together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from otop.model import Confidence, Evidence, LogRun, Pane, Proc, ProcKind, SessionBrief
from otop.opencode.screen import (
    HOME_TITLE,
    shows_prompt,
    shows_tui,
    title_matches,
    title_session,
)

# A run's first log line comes 2-5 s after its process starts (measured with 1.18.33, up to
# 4.5 s on a loaded machine); allow more, and a second before for the coarse process clock.
RUN_START_WINDOW = (-1.0, 30.0)
# A TUI sets its pane title within seconds of starting; until then the pane may still carry a
# title an earlier (killed) process set, so a young process's title naming an old session is
# not taken as its own word.
TITLE_SETTLE = 20.0
# Until its own run has surely begun, a process may be matched with another's run (one that
# died moments before it started): its runs are contested, never accepted, for this long.
RUN_SETTLE = 8.0
C, L, G, U = Confidence.CERTAIN, Confidence.LIKELY, Confidence.GUESS, Confidence.UNKNOWN


@dataclass(frozen=True)
class Clue:
    """What one tier says about the session a process shows."""

    tier: str
    own: bool  # from this very pane or process, not shareable with another
    sessions: frozenset[str]  # root sessions this evidence allows
    detail: str
    home: bool = False  # the pane shows opencode's home screen: no session open
    cap: Confidence = L  # the most this evidence can earn alone


@dataclass
class Binding:
    """What correlation concluded for one process."""

    proc: Proc
    pane: Pane | None
    pane_evidence: Evidence
    run: LogRun | None = None  # the process's own log run, when it is known to be its own
    run_confidence: Confidence = U
    session_id: str | None = None
    session_evidence: Evidence = field(
        default_factory=lambda: Evidence("none", U, "no evidence for a session")
    )
    notes: list[str] = field(default_factory=list)
    ambiguous: bool = False  # cannot tell which session: no state either
    candidates: tuple[str, ...] = ()  # sessions still in question when ambiguous
    wants_screen: bool = False  # the pane's screen would tell more (the scan may capture it)


@dataclass(frozen=True)
class World:
    """The inputs of correlation, as plain data."""

    procs: Sequence[Proc]
    panes: Sequence[Pane]
    runs: Sequence[LogRun]  # from the shared log (1.18)
    process_runs: Mapping[int, Sequence[LogRun]]  # pid -> a run per log file it holds (1.14)
    sessions: Mapping[str, SessionBrief]  # every session the scan knows of, by id
    log_available: bool = True
    now: float = 0.0
    screens: Mapping[str, str] = field(default_factory=dict)  # pane id -> visible text
    prompts: Mapping[str, str] = field(default_factory=dict)  # session id -> newest prompt


def proc_dir(p: Proc) -> str | None:
    return p.dir_arg or p.cwd


def in_dir(s: SessionBrief, p: Proc) -> bool:
    d = proc_dir(p)
    return d is not None and (s.directory == d or s.directory == p.cwd)


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


def _fits(p: Proc, r: LogRun) -> bool:
    lo, hi = RUN_START_WINDOW
    d = proc_dir(p)
    return (
        r.directory is not None
        and (r.directory == d or r.directory == p.cwd)
        and lo <= r.started_at - p.started_at <= hi
    )


def match_runs(procs: Sequence[Proc], runs: Sequence[LogRun], now: float) -> dict[int, LogRun]:
    """Pair processes with shared-log runs by directory and start time, keeping only pairs that
    every maximum matching agrees on: two runs that either of two processes could have written
    (TUIs started together, in either order) give neither process a run."""
    edges = {p.pid: [r.run_id for r in runs if _fits(p, r)] for p in procs}
    edges = {pid: rs for pid, rs in edges.items() if rs}
    young = {p.pid for p in procs if now - p.started_at < RUN_SETTLE}
    by_id = {r.run_id: r for r in runs}
    out: dict[int, LogRun] = {}
    for group in _components(edges):
        for pid, rid in _forced(group, edges).items():
            if pid not in young:
                out[pid] = by_id[rid]
    return out


def _components(edges: Mapping[int, list[str]]) -> list[list[int]]:
    """Processes that share candidate runs, transitively, in groups."""
    groups: list[tuple[set[int], set[str]]] = []
    for pid, rids in edges.items():
        hit = [g for g in groups if g[1] & set(rids)]
        pids, rs = {pid}, set(rids)
        for g in hit:
            pids |= g[0]
            rs |= g[1]
            groups.remove(g)
        groups.append((pids, rs))
    return [sorted(g[0]) for g in groups]


def _forced(pids: list[int], edges: Mapping[int, list[str]], cap: int = 2000) -> dict[int, str]:
    """The process-run pairs present in every maximum matching of a small bipartite graph."""
    best: list[dict[int, str]] = []
    size = 0
    count = 0

    def walk(i: int, used: frozenset[str], cur: dict[int, str]) -> None:
        nonlocal size, count
        count += 1
        if count > cap:
            return
        if i == len(pids):
            if len(cur) > size:
                size, best[:] = len(cur), [dict(cur)]
            elif len(cur) == size and cur:
                best.append(dict(cur))
            return
        pid = pids[i]
        for rid in edges[pid]:
            if rid not in used:
                cur[pid] = rid
                walk(i + 1, used | {rid}, cur)
                del cur[pid]
        walk(i + 1, used, cur)

    walk(0, frozenset(), {})
    if count > cap or not best:
        return {}
    first = best[0]
    return {pid: rid for pid, rid in first.items() if all(m.get(pid) == rid for m in best)}


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


@dataclass
class Context:
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


# -- deciding --------------------------------------------------------------------------------


def correlate(world: World) -> list[Binding]:
    """Bind every process to its pane and to the session it shows."""
    bindings = []
    for p in world.procs:
        pane, pev = match_pane(p, world.panes)
        bindings.append(Binding(proc=p, pane=pane, pane_evidence=pev))
    runs = match_runs([p for p in world.procs if p.kind != ProcKind.SERVE], world.runs, world.now)
    holders: dict[str, list[Proc]] = {}
    for p in world.procs:
        for r in world.process_runs.get(p.pid, ()):
            holders.setdefault(r.source, []).append(p)
    ctx = Context(world, runs, holders)
    for b in bindings:
        if b.proc.pid in runs:
            b.run, b.run_confidence = runs[b.proc.pid], L
    groups: dict[str | None, list[Binding]] = {}
    for b in bindings:
        if b.proc.kind == ProcKind.SERVE:
            b.session_evidence = Evidence("kind", C, "opencode serve: a server, not one session")
        else:
            groups.setdefault(proc_dir(b.proc), []).append(b)
    for group in groups.values():
        _decide_directory(group, ctx)
    return bindings


@dataclass
class _Own:
    """Own evidence of one process: the sessions it allows (None: it says nothing)."""

    allowed: frozenset[str] | None
    clues: list[Clue]
    home: bool = False


def _own(b: Binding, ctx: Context) -> _Own:
    clues = [c for c in (t(b, ctx) for t in OWN_TIERS) if c is not None]
    by = {c.tier: c for c in clues}
    argv, title, screen = by.get("argv"), by.get("pane title"), by.get("screen")
    if title is not None and title.home:
        if argv is not None:  # started on a session; the title may not have caught up
            return _Own(argv.sessions, [argv])
        return _Own(frozenset(), [title], home=True)
    allowed: frozenset[str] | None = None
    if title is not None:
        allowed = title.sessions
        if argv is not None and argv.sessions <= allowed:
            allowed = argv.sessions
        elif argv is not None:
            b.notes.append(f"started on {next(iter(argv.sessions))}; the pane now shows another")
    elif argv is not None:
        allowed = argv.sessions
    if screen is not None:
        narrowed = screen.sessions if allowed is None else allowed & screen.sessions
        allowed = narrowed or allowed
    return _Own(allowed, clues)


def _decide_directory(group: list[Binding], ctx: Context) -> None:
    """Decide the processes of one directory together: what one pane's own evidence names
    alone is not another pane's, then shared evidence chooses within what is left."""
    own = {id(b): _own(b, ctx) for b in group}
    changed = True
    while changed:
        changed = False
        for b in group:
            mine = own[id(b)]
            if mine.allowed is None or len(mine.allowed) < 2:
                continue
            taken = {
                next(iter(o.allowed))
                for x in group
                if x is not b and (o := own[id(x)]).allowed is not None and len(o.allowed) == 1
            }
            left = mine.allowed - taken
            if left and left != mine.allowed:
                mine.allowed, changed = left, True
    claimed: set[str] = set()
    for b in group:
        _settle(b, own[id(b)], tier_log(b, ctx), claimed)
    for b in group:
        mine = own[id(b)]
        if mine.allowed is None and not mine.home and b.session_evidence.source == "none":
            _weak(b, ctx, claimed, group)


def _settle(b: Binding, own: _Own, log: Clue | None, claimed: set[str]) -> None:
    """One process's answer from its own evidence and its log, with the confidence it earns."""
    notes = b.notes
    if own.home:
        conf = C if log is not None and log.home else L
        _set(b, None, Evidence("pane title", conf, own.clues[0].detail + ": no session open"))
        return
    allowed = own.allowed
    logged = next(iter(log.sessions)) if log is not None and log.sessions else None
    if allowed is None:
        if log is None:
            return
        if log.home:  # a TUI may show a session it opened without writing a line about it
            _set(b, None, Evidence("log", G, log.detail))
        else:
            _set(b, logged, Evidence("log", log.cap, log.detail), claimed)
        # A guess is worth a look at the screen, which may settle it.
        b.wants_screen = b.session_evidence.confidence == G
        return
    if len(allowed) == 1:
        sid = next(iter(allowed))
        lead = next(c for c in own.clues if c.sessions >= allowed)
        # Each tier that names this session alone; two of them, or argv that the pane's
        # title does not dispute, make it certain.
        alone = [c.tier for c in own.clues if c.sessions == allowed]
        if logged == sid:
            if log is not None and log.cap == L:
                alone.append("log")
        elif logged is not None:
            notes.append(f"the log names {logged}; this pane's own evidence wins")
        sure = len(alone) >= 2 or (lead.tier == "argv" and not _contradicted(own, sid))
        # Left over once other panes took theirs: two TUIs may show one session, so that
        # alone is a guess.
        conf = C if sure else L if alone else G
        extra = tuple(f"{t} agrees" for t in alone if t != lead.tier)
        if not alone:
            extra = (*extra, "the only session the pane's title fits that no other pane shows")
        _set(b, sid, Evidence(lead.tier, conf, lead.detail, extra), claimed)
        return
    if log is not None and logged in allowed:
        detail = f"{log.detail}; own evidence allows {len(allowed)} sessions"
        _set(b, logged, Evidence("log", log.cap, detail), claimed)
        return
    b.ambiguous = b.wants_screen = True
    b.candidates = tuple(sorted(allowed))
    which = ", ".join(sorted(allowed))
    b.session_evidence = Evidence(
        "none", U, f"cannot tell which session: the pane's evidence fits {which}", tuple(notes)
    )


def _contradicted(own: _Own, sid: str) -> bool:
    return any(sid not in c.sessions for c in own.clues)


def _set(b: Binding, sid: str | None, ev: Evidence, claimed: set[str] | None = None) -> None:
    if b.notes:
        ev = Evidence(ev.source, ev.confidence, ev.detail, (*ev.notes, *b.notes))
    b.session_id, b.session_evidence = sid, ev
    if sid is not None and claimed is not None:
        claimed.add(sid)


def _weak(b: Binding, ctx: Context, claimed: set[str], group: Sequence[Binding]) -> None:
    """No own evidence and no log: `--continue`, directory activity, recency, at most guesses
    (and nothing at all while another process of the directory is just as undecided)."""
    w = ctx.world
    d = proc_dir(b.proc)
    pool = [
        s
        for s in w.sessions.values()
        if s.parent_id is None
        and s.id not in claimed
        and in_dir(s, b.proc)
        and (s.interactive or b.proc.kind == ProcKind.RUN)
    ]
    sharing = [
        o
        for o in group
        if o is not b
        and o.proc.kind == b.proc.kind
        and o.session_id is None
        and o.session_evidence.source == "none"
    ]
    if sharing:
        b.ambiguous = b.wants_screen = True
        b.candidates = tuple(sorted(s.id for s in pool))
        n = len(sharing) + 1
        detail = f"cannot tell which session: {n} processes in {d} and no per-process evidence"
        _set(b, None, Evidence("none", U, detail))
        return
    active = [s for s in pool if s.updated_at >= b.proc.started_at]
    b.wants_screen = True  # whatever is guessed here, the screen may settle
    if b.proc.continue_arg and pool:
        older = [s for s in pool if s.updated_at <= b.proc.started_at] or pool
        s = max(older, key=lambda x: x.updated_at)
        detail = f"--continue: {s.id} was the newest session of {d} at start"
        _set(b, s.id, Evidence("argv", L, detail), claimed)
    elif len(active) == 1:
        s = active[0]
        detail = f"{s.id} is the only session of {d} active since pid {b.proc.pid} started"
        _set(b, s.id, Evidence("db activity", G, detail), claimed)
    elif active or pool:
        s = max(active or pool, key=lambda x: x.updated_at)
        detail = f"{s.id} is the most recently updated session of {d}"
        _set(b, s.id, Evidence("recency", G, detail), claimed)
    else:
        _set(b, None, Evidence("none", U, f"no session of {d} found"))


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
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S UTC")
