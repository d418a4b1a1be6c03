"""The exit statuses of otop's commands, in one place (the README's table of commands lists
them): 0 whenever otop could look, whatever it found; a status of its own for each thing that
kept it from looking, with the reason on stderr."""

from __future__ import annotations

from collections.abc import Sequence

from otop.core.model import Agent, Scan

LOOKED = 0  # it looked: agents or none
FAILED = 1  # an action could not be done (jump, answer, reply), or doctor found it broken
USAGE = 2  # bad arguments, or no agent matches the one named
NO_TMUX = 3  # no tmux server where one was asked for (-L, -S, or $TMUX)
NO_DATABASE = 4  # a database it could not read: the one named (--db, $OTOP_DB), or an agent's
NO_SERVER = 5  # an opencode server it was told to read did not answer, or answered nonsense
INTERRUPTED = 130

# Which problems of a scan (otop.core.model.Problem.source) keep otop from looking.
_STATUS_OF = {"tmux": NO_TMUX, "data": NO_DATABASE, "server": NO_SERVER}


def of_scan(scan: Scan, agents: Sequence[Agent], named_database: bool) -> int:
    """The status of a command that printed a scan's agents: the first in the order above of
    what kept it from looking."""
    statuses = [_STATUS_OF.get(p.source, LOOKED) for p in scan.problems]
    if own_database_counts(scan, agents, named_database):
        statuses += [NO_DATABASE for p in scan.problems if p.source == "database"]
    return min((s for s in statuses if s), default=LOOKED)


def own_database_counts(scan: Scan, agents: Sequence[Agent], named_database: bool) -> bool:
    """Whether trouble with otop's own database (`database` problems) keeps otop from
    looking: when it was named, or a live agent uses it. Missing, with no agent of its own,
    it is just a machine where every agent keeps its data elsewhere, or none runs. (Another
    database's trouble, `data`, is always a live agent's.)"""
    return named_database or any(a.proc is not None and a.database == scan.db_path for a in agents)
