"""What a scan reads from tmux: the panes, and the screens of the panes whose data cannot
decide (which session a pane shows; whether a running tool is a permission prompt)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from otop.core.model import Pane, Problem, SessionBrief, SessionDetail
from otop.decide.agents import recent_in_dir
from otop.decide.correlate import correlate
from otop.decide.screen import shows_permission
from otop.decide.tiers import Binding, World
from otop.sources.opencode.connection import StoreError
from otop.sources.tmux import Running, Tmux, TmuxError


def tmux_panes(tmux: Tmux | None, running: Running | None, problems: list[Problem]) -> list[Pane]:
    """The panes of the server `running` asked (none without tmux); what went wrong told in
    `problems`."""
    if tmux is None or running is None:
        return []
    target = tmux.target
    try:
        panes = tmux.panes(running)
    except TmuxError as exc:
        problems.append(Problem("tmux", f"tmux ({target.describe()}): {exc}"))
        return []
    # A live server always has a pane: none is no server, which matters where one was
    # asked for (-L, -S, or the $TMUX of a shell inside it), not outside tmux.
    if not panes and (target.socket_name or target.socket_path):
        problems.append(Problem("tmux", f"no tmux server at {target.describe()}"))
    return panes


def look_closer(
    tmux: Tmux,
    prompts_of: Callable[[set[str], Mapping[str, SessionBrief]], dict[str, str]],
    world: World,
    bindings: list[Binding],
    problems: list[Problem],
) -> list[Binding]:
    """The screen tier, only when own evidence left panes undecided: capture those panes,
    read their candidate sessions' newest prompts (`prompts_of`: a database's, or none), and
    correlate again."""
    unsure = [b for b in bindings if b.wants_screen and b.pane is not None]
    if not unsure:
        return bindings
    try:
        screens = tmux.capture([b.pane.id for b in unsure if b.pane is not None])
        wanted = {c for b in unsure for c in (b.candidates or recent_in_dir(world, b))}
        prompts = prompts_of(wanted, world.sessions)
    except (TmuxError, StoreError) as exc:
        problems.append(Problem("screen", f"cannot read panes to tell sessions apart: {exc}"))
        return bindings
    return correlate(world._replace(screens=screens, prompts=prompts))


def permission_screens(
    tmux: Tmux, bindings: list[Binding], details: Mapping[str, SessionDetail]
) -> dict[str, bool]:
    """For panes whose session runs a tool (its own or a subagent's): does the screen show a
    permission? (A permission prompt is a running tool in the database; a turn that only
    streams or thinks needs no look at its screen.)"""
    wanted = [
        b.pane.id
        for b in bindings
        if b.pane is not None
        and b.session_id is not None
        and b.session_id in details
        and _runs_a_tool(details[b.session_id])
    ]
    try:
        shots = tmux.capture(wanted)
    except TmuxError:
        return {}
    return {pid: shows_permission(text) for pid, text in shots.items()}


def _runs_a_tool(d: SessionDetail) -> bool:
    return not d.turn.completed and bool(
        d.turn.running_tools or any(c.turn.running_tools for c in d.children)
    )
