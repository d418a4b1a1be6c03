"""Pure: processes x panes x logs x sessions -> which pane and session each agent has.

Correlation is a ladder. Each tier is a small function that looks at one kind of evidence and
returns a Clue (the sessions that evidence allows) or nothing. Evidence from this very pane or
process (argv `-s`, its own terminal title, what its own screen shows) is *own*; evidence that
several processes could share (log runs matched by start time, a log file two processes hold,
directory activity, recency) is *shared*. Own evidence decides; shared evidence may only choose
among what own evidence allows, is never `certain` alone, and when nothing else is left the
answer is "cannot tell" rather than a swap. The processes of one directory are decided together.
"""

from collections.abc import Sequence
from typing import NamedTuple

from otop.core.model import Confidence, Evidence, Pane, Proc, ProcKind
from otop.decide.runs import match_runs, proc_dir
from otop.decide.screen import title_matches, title_session
from otop.decide.tiers import (
    OWN_TIERS,
    Binding,
    Clue,
    Context,
    World,
    in_dir,
    tier_log,
)

C, L, G, U = Confidence.CERTAIN, Confidence.LIKELY, Confidence.GUESS, Confidence.UNKNOWN


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


class _Own(NamedTuple):
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
                own[id(b)], changed = mine._replace(allowed=left), True
    claimed: set[str] = set()
    for b in group:
        _settle(b, own[id(b)], tier_log(b, ctx), claimed)
    for b in group:
        mine = own[id(b)]
        if mine.allowed is None and not mine.home and b.session_evidence.source == "none":
            _weak(b, ctx, claimed, group)


def _settle(b: Binding, own: _Own, log: Clue | None, claimed: set[str]) -> None:
    """One process's answer from its own evidence and its log, with the confidence it earns."""
    if own.home:
        conf = C if log is not None and log.home else L
        _set(b, None, Evidence("pane title", conf, own.clues[0].detail + ": no session open"))
        return
    allowed = own.allowed
    logged = next(iter(log.sessions)) if log is not None and log.sessions else None
    if allowed is None:
        if log is not None:
            _log_only(b, log, logged, claimed)
        return
    if len(allowed) == 1:
        _one_allowed(b, own, allowed, log, logged, claimed)
        return
    if log is not None and logged in allowed:
        detail = f"{log.detail}; own evidence allows {len(allowed)} sessions"
        _set(b, logged, Evidence("log", log.cap, detail), claimed)
        return
    b.ambiguous = b.wants_screen = True
    b.candidates = tuple(sorted(allowed))
    which = ", ".join(sorted(allowed))
    b.session_evidence = Evidence(
        "none", U, f"cannot tell which session: the pane's evidence fits {which}", tuple(b.notes)
    )


def _log_only(b: Binding, log: Clue, logged: str | None, claimed: set[str]) -> None:
    """No own evidence: the log's answer, and a look at the screen when that is a guess."""
    if log.home:  # a TUI may show a session it opened without writing a line about it
        _set(b, None, Evidence("log", G, log.detail))
    else:
        _set(b, logged, Evidence("log", log.cap, log.detail), claimed)
    # A guess is worth a look at the screen, which may settle it.
    b.wants_screen = b.session_evidence.confidence == G


def _one_allowed(
    b: Binding,
    own: _Own,
    allowed: frozenset[str],
    log: Clue | None,
    logged: str | None,
    claimed: set[str],
) -> None:
    """Own evidence allows one session: how sure it is, counting the tiers that agree."""
    sid = next(iter(allowed))
    lead = next(c for c in own.clues if c.sessions >= allowed)
    # Each tier that names this session alone; two of them, or argv that the pane's
    # title does not dispute, make it certain.
    alone = [c.tier for c in own.clues if c.sessions == allowed]
    if logged == sid:
        if log is not None and log.cap == L:
            alone.append("log")
    elif logged is not None:
        b.notes.append(f"the log names {logged}; this pane's own evidence wins")
    sure = len(alone) >= 2 or (lead.tier == "argv" and not _contradicted(own, sid))
    # Left over once other panes took theirs: two TUIs may show one session, so that
    # alone is a guess.
    conf = C if sure else L if alone else G
    extra = tuple(f"{t} agrees" for t in alone if t != lead.tier)
    if not alone:
        extra = (*extra, "the only session the pane's title fits that no other pane shows")
    _set(b, sid, Evidence(lead.tier, conf, lead.detail, extra), claimed)


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
