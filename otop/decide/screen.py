"""What opencode's TUI shows on screen that its database does not say."""

from __future__ import annotations

import re

_PERMISSION = "Permission required"
_PERMISSION_CHOICES = ("Allow once", "Reject")
_TITLE = re.compile(r"^OC \| (.*)$", re.S)
HOME_TITLE = "OpenCode"
TITLE_CUT = 40


def shows_permission(screen: str) -> bool:
    """Whether a captured pane shows opencode's permission dialog right now."""
    return _PERMISSION in screen and all(c in screen for c in _PERMISSION_CHOICES)


# How much of a prompt must show on screen: enough to tell prompts apart, short enough to sit
# on the first line the TUI draws of it (wrapped lines interleave with the sidebar).
PROMPT_NEEDLE = 24
_BLANKS = re.compile(r"[\s\u2500-\u259f]+")


def squeeze(text: str) -> str:
    """Text without whitespace and box-drawing characters, so wrapping and frames drop out."""
    return _BLANKS.sub("", text)


def shows_prompt(screen: str, prompt: str) -> bool:
    """Whether a pane's visible text shows (the start of) a prompt the user sent."""
    first = next((line for line in prompt.splitlines() if line.strip()), "")
    needle = squeeze(first)[:PROMPT_NEEDLE]
    if len(needle) < 8:  # too short to tell one prompt from another
        return False
    return any(needle in squeeze(line) for line in screen.splitlines())


# What a drawn opencode TUI always shows: the home screen's prompt, the footer's hint, or
# (opencode 2, whose dialogs take the footer's place) a dialog's own hints.
_TUI_TEXTS = ("Ask anything", "ctrl+p commands", "esc interrupt", "enter confirm", "enter submit")


def shows_tui(screen: str) -> bool:
    """Whether a pane shows opencode's TUI (drawn, not still starting)."""
    return any(t in screen for t in _TUI_TEXTS)


def title_session(pane_title: str) -> str | None:
    """The session title an opencode pane title names (`OC | <title cut to 40>`), if any."""
    m = _TITLE.match(pane_title)
    return m.group(1) if m else None


def title_matches(pane_part: str, session_title: str) -> bool:
    """Whether a session's title, cut as the TUI cuts it (and kept as tmux keeps it), is the
    one in a pane title."""
    want = pane_part.strip()
    have = session_title.strip()
    return bool(want) and any(
        want in (kept(have), kept(have[:TITLE_CUT]).strip()) for kept in (str, held_by_new_tmux)
    )


def held_by_new_tmux(title: str) -> str:
    """A pane title as tmux 3.7 and newer keep it (measured on 3.7c and 3.8): backslashes
    doubled, and `#(` made `_(` so no title can run a command through a format."""
    return title.replace("\\", "\\\\").replace("#(", "_(")
