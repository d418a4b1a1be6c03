"""Pure: when an agent needs you or finished, said once, and what you have not seen yet.

Fed every watcher beat with the agents, the panes clients look at and `now`; returns the events
to tell. A change counts only once the new state has held for `settle` seconds (opencode goes
working-idle-working around tool calls); the first look at an agent is a baseline, so a
watcher that starts (or restarts) replays nothing.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from otop.core.model import GROUP_OF, Agent, Group, Scan

WAITING = "waiting"  # an event: the agent entered the waiting group
FINISHED = "finished"  # an event: a working agent's turn ended (idle group)
DEFAULT_SETTLE = 2.0


def phase(agent: Agent) -> str:
    """What counts as a change: each waiting state on its own, the other groups as a whole."""
    return str(agent.state.value if agent.group == Group.WAITING else agent.group.value)


_WAITING_STATES = frozenset(s.value for s, g in GROUP_OF.items() if g == Group.WAITING)


_WORKING, _IDLE = Group.WORKING.value, Group.IDLE.value


class Mark:
    """What the watcher knows of one agent's attention (changed in place, beat by beat)."""

    __slots__ = (
        "looking",
        "pending",
        "pending_since",
        "phase",
        "seen_at",
        "unseen_reason",
        "unseen_since",
        "worked",
    )

    def __init__(
        self,
        phase: str,
        unseen_since: float | None = None,
        unseen_reason: str | None = None,
        seen_at: float | None = None,
    ) -> None:
        self.phase = phase
        self.pending: str | None = None  # a phase seen but not yet held for `settle`
        self.pending_since = 0.0
        self.unseen_since = unseen_since  # set by an event nobody looked at
        self.unseen_reason = unseen_reason
        self.seen_at = seen_at  # when a client last looked at its pane
        self.looking = False
        self.worked = False  # seen working since the phase last settled


class Event(NamedTuple):
    """One thing to tell: an agent started waiting, or finished its turn."""

    kind: str
    agent: Agent
    at: float


class Attention:
    """Settled phases, unseen marks and seen times of every agent, keyed by agent key."""

    def __init__(self, settle: float = DEFAULT_SETTLE) -> None:
        self.settle = settle
        self.marks: dict[str, Mark] = {}

    def update(self, agents: Iterable[Agent], looked: set[str], now: float) -> list[Event]:
        """One beat: settle phases, set and clear marks; the events nobody is looking at."""
        events: list[Event] = []
        alive: set[str] = set()
        for a in agents:
            alive.add(a.key)
            seen = a.pane is not None and a.pane.id in looked
            m = self.marks.setdefault(a.key, Mark(""))
            if not m.phase:  # first sight (or a restarted watcher's): a baseline, no event
                m.phase = phase(a)
                m.worked = m.phase == _WORKING
            elif (kind := self._step(m, phase(a), now)) is not None and not seen:
                events.append(Event(kind, a, now))
                m.unseen_since, m.unseen_reason = now, kind
            if seen:
                m.unseen_since = m.unseen_reason = None
            if seen != m.looking:  # a client came to it, or the last one left it
                m.seen_at, m.looking = now, seen
        for key in self.marks.keys() - alive:
            del self.marks[key]
        return events

    def wants_clients(self) -> bool:
        """Whether the next beat needs to know what clients show (a mark to clear, an event
        about to be told); otherwise a slow look does."""
        return any(m.unseen_since is not None or m.pending is not None for m in self.marks.values())

    def _step(self, m: Mark, ph: str, now: float) -> str | None:
        """Settle one observation. Working needs no settling to count: a turn shorter than the
        settle time still ends in `finished` once idle has held."""
        if ph == _WORKING:
            m.worked = True
        if ph == m.phase and not (ph == _IDLE and m.worked):
            m.pending = None
            return None
        if m.pending != ph:
            m.pending, m.pending_since = ph, now
        if now - m.pending_since < self.settle:
            return None
        old, m.phase, m.pending = m.phase, ph, None
        worked, m.worked = m.worked, ph == _WORKING
        if old in _WAITING_STATES and ph == _WORKING and m.unseen_reason == WAITING:
            m.unseen_since = m.unseen_reason = None  # answered somewhere: nothing left to see
        if ph in _WAITING_STATES and old != ph:
            return WAITING
        if ph == _IDLE and worked:
            return FINISHED
        return None

    def view(self) -> dict[str, tuple[float | None, float | None]]:
        """Per agent key: (unseen since, seen at)."""
        return {
            k: (m.unseen_since, m.seen_at)
            for k, m in self.marks.items()
            if m.unseen_since is not None or m.seen_at is not None
        }

    def to_json(self) -> dict[str, Any]:
        """The marks a restarted watcher and other commands read (phases are not kept: a new
        watcher starts from a baseline)."""
        return {
            k: {
                "unseen_since": m.unseen_since,
                "unseen_reason": m.unseen_reason,
                "seen_at": m.seen_at,
            }
            for k, m in self.marks.items()
            if m.unseen_since is not None or m.seen_at is not None
        }

    @classmethod
    def from_json(cls, data: object, settle: float = DEFAULT_SETTLE) -> "Attention":
        """Marks kept by an earlier watcher; anything malformed is dropped, never trusted."""
        out = cls(settle)
        if not isinstance(data, dict):
            return out
        for key, v in data.items():
            if not isinstance(key, str) or not isinstance(v, dict):
                continue
            reason = v.get("unseen_reason")
            since = _number(v.get("unseen_since"))
            out.marks[key] = Mark(
                "",
                unseen_since=since if reason in (WAITING, FINISHED) else None,
                unseen_reason=reason
                if since is not None and reason in (WAITING, FINISHED)
                else None,
                seen_at=_number(v.get("seen_at")),
            )
        return out


def read_view(data: object) -> dict[str, tuple[float | None, float | None]]:
    """What another command shows of a watcher's marks file."""
    return Attention.from_json(data).view()


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def apply(scan: Scan, view: Mapping[str, tuple[float | None, float | None]]) -> Scan:
    """The scan with each agent's unseen mark and seen time filled in."""
    if not view:
        return scan
    agents = tuple(
        a._replace(unseen_since=view[a.key][0], seen_at=view[a.key][1]) if a.key in view else a
        for a in scan.agents
    )
    return scan._replace(agents=agents)


def next_for_you(agents: Iterable[Agent], now: float) -> Agent | None:
    """The agent prefix+N goes to: the longest waiting, else the longest unseen (panes only)."""
    with_pane = [a for a in agents if a.pane is not None]
    waiting = [a for a in with_pane if a.group == Group.WAITING]
    if waiting:
        return min(waiting, key=lambda a: a.waiting_since or now)
    unseen = [a for a in with_pane if a.unseen_since is not None]
    return min(unseen, key=lambda a: a.unseen_since or now) if unseen else None
