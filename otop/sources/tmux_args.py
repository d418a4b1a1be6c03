"""The words of one tmux command line: commands chained with `;`, and cut where a client may
send no more in one invocation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class _Then(str):
    """The separator between the commands of one key binding (`bind-key K a \\; b`)."""


# Passed as it is by `chain` and `literal`, where any other argument ending in `;` is escaped.
THEN = _Then("\\;")


# What one tmux client may send as one command: tmux 3.7 and newer refuse more than 1000
# arguments ("command too long"; measured on 3.7c and 3.8), and every version refuses a message
# of more than 16 KiB. A chain is cut well below both.
MOST_ARGUMENTS = 900
MOST_BYTES = 12_000


def chained(commands: Iterable[Sequence[str]]) -> list[list[str]]:
    """Commands joined by `;` into argument lists, each within what one invocation may send."""
    batches: list[list[str]] = []
    args: list[str] = []
    size = 0
    for command in commands:
        words = [literal(a) for a in command]
        cost = sum(len(w.encode()) + 1 for w in words)
        if args and (len(args) + len(words) >= MOST_ARGUMENTS or size + cost > MOST_BYTES):
            batches.append(args)
            args, size = [], 0
        if args:
            args.append(";")
        args += words
        size += cost + 2
    if args:
        batches.append(args)
    return batches


def literal(arg: str) -> str:
    """An argument tmux will not split: a trailing `;` would end the command, `\\;` does not."""
    if arg is THEN:
        return arg
    return arg[:-1] + "\\;" if arg.endswith(";") else arg
