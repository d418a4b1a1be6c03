"""Pure: opencode's prompt input and question dialog, read from a pane's plain text.

Measured on 1.18.33, 1.18.34 and 1.14.48 (same layout): the prompt input is a box whose
bottom edge is `╹▀▀▀…`, its last line names the agent and model (`Build · Fake Model`), the
lines above it hold what is typed (on the home screen a placeholder `Ask anything…`). A dialog
(permission, question) replaces the box. A question dialog numbers its options (`1. red`),
ends with `Type your own answer`, and its footer says `enter submit  esc dismiss` (with several
questions: `⇆ tab … enter confirm`); a digit picks that option at once, the custom one opens a
line under it that shows what is typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOTTOM = re.compile(r"╹▀+")
_OPTION = re.compile(r"^\s*┃\s{1,3}(\d+)\.\s(.*)$")
_SIDEBAR_GAP = re.compile(r"\s{3,}")
CUSTOM = "Type your own answer"
PLACEHOLDER = "Ask anything"
# How far above the footer a question dialog's options may start.
_DIALOG_LINES = 40


def input_box(screen: str) -> str | None:
    """What the prompt input holds ("" when empty), or None when no input box is drawn (a
    dialog is open, or the pane does not show opencode's TUI)."""
    lines = screen.splitlines()
    bottoms = [i for i, line in enumerate(lines) if _BOTTOM.search(line)]
    if not bottoms:
        return None
    b = bottoms[-1]
    if any("┃" in line for line in lines[b + 1 :]):  # a dialog drawn below it
        return None
    m = _BOTTOM.search(lines[b])
    assert m is not None
    left, right = m.start(), m.end()
    inside: list[str] = []
    for line in reversed(lines[:b]):
        if line[left : left + 1] != "┃":
            break
        inside.append(line[left + 1 : right].strip())
    if len(inside) < 2 or not inside[0]:  # the agent and model line, then the text lines
        return None
    text = " ".join(t for t in reversed(inside[1:]) if t)
    return "" if text.startswith(PLACEHOLDER) else text


@dataclass(frozen=True)
class Question:
    """A question dialog as drawn: its options' labels (option n is digit n)."""

    options: tuple[str, ...]
    several: bool  # more than one question (tabs): answered in the pane, not from otop
    typed: str | None  # the custom answer's line when it is open, else None

    @property
    def custom(self) -> int | None:
        """The digit of `Type your own answer`, if the dialog offers it."""
        return self.options.index(CUSTOM) + 1 if CUSTOM in self.options else None

    def key(self) -> tuple[str, ...]:
        """What tells one dialog from the next (the options, in order)."""
        return self.options


def question(screen: str) -> Question | None:
    """The question dialog the pane shows, or None."""
    lines = [line.rstrip() for line in screen.splitlines()]
    feet = [i for i, line in enumerate(lines) if "esc dismiss" in line and "select" in line]
    if not feet or input_box(screen) is not None:
        return None
    f = feet[-1]
    options: list[str] = []
    typed: str | None = None
    column = -1  # where the custom option's label starts: its answer line is written there
    for line in lines[max(0, f - _DIALOG_LINES) : f]:
        m = _OPTION.match(line)
        if m and int(m.group(1)) in (1, len(options) + 1):
            if int(m.group(1)) == 1:  # a list starts (an earlier one above was history)
                options, typed = [], None
            options.append(_SIDEBAR_GAP.split(m.group(2).strip())[0])
            column = m.start(2) if options[-1] == CUSTOM else -1
            continue
        if column >= 0:
            body = _SIDEBAR_GAP.split(line[column:].strip())[0] if line[column:][:1].strip() else ""
            if body:  # the custom answer's line is open: its placeholder, or what is typed
                typed = "" if body == CUSTOM else body
            column = -1
    if not options:
        return None
    return Question(tuple(options), "⇆" in lines[f] or "confirm" in lines[f], typed)
