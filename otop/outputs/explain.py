"""Pure: why otop believes what it shows about one agent, in plain words."""

from __future__ import annotations

from otop.core.model import Agent, Evidence
from otop.core.text import clean
from otop.outputs.row import age, title_of


def _line(label: str, ev: Evidence) -> list[str]:
    out = [f"{label:<8} {ev.confidence.value:<8} {ev.detail}  [{ev.source}]"]
    out += [f"{'':<8} {'':<8} note: {n}" for n in ev.notes]
    return out


_FOUND = {
    "open": "the process holds it open",
    "environment": "its environment names it (the process has not opened one yet)",
}


def _data(agent: Agent) -> str:
    """Which opencode database the agent is read from, and how otop knows."""
    home = agent.proc.home if agent.proc else None
    if agent.database is None:
        if agent.proc and agent.proc.home_problem:
            return f"cannot tell which database: {clean(agent.proc.home_problem)}"
        return "-" if agent.server is None else f"server {clean(agent.server)}"
    how = _FOUND.get(home.found, "otop's own") if home else "a stale session of it"
    return f"{clean(agent.database)} ({how})"


def explain(agent: Agent, now: float) -> str:
    """A few lines: the agent, then pane, session and state with their source and confidence."""
    who = f"pid {agent.proc.pid} ({agent.proc.kind.value})" if agent.proc else "no live process"
    head = f"{title_of(agent)}: {agent.state.value}"
    if agent.tool:
        head += f" ({agent.tool})"
    lines = [head, f"agent    {who}, session {agent.session_id or '-'}"]
    if agent.waiting_since:
        lines.append(f"waiting  for {age(now - agent.waiting_since)}")
    lines.append(f"data     {_data(agent)}")
    lines += _line("pane", agent.evidence_pane)
    lines += _line("session", agent.evidence_session)
    lines += _line("state", agent.evidence_state)
    return "\n".join(lines)
