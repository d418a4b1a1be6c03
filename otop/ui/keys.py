"""Every key of the app in one table: the bindings, the help screen and the README's key table
are made from (or checked against) it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """One key: the Textual key names, the action, its footer label (shown when `footer`), and
    how the help screen and the README name and explain it."""

    keys: str
    action: str
    label: str
    footer: bool
    shown: str  # as a person types it
    help: str


APP_KEYS = (Key("q", "quit", "quit", True, "q esc", "quit (esc first clears a filter or a reply)"),)
# In the order of the footer (and of the help screen).
TABLE_KEYS = (
    Key("escape", "close", "close", False, "", ""),
    Key(
        "enter",
        "select",
        "jump/detail",
        True,
        "enter",
        "jump to the agent's pane (popup) / open its detail view (full screen)",
    ),
    Key("o", "jump", "jump", False, "o", "jump to the agent's pane"),
    Key("r", "rescan", "refresh", False, "r", "scan again now"),
    Key("j", "down", "down", False, "j k ↑ ↓", "move; pgup/pgdn page"),
    Key("k", "up", "up", False, "", ""),
    Key(
        "slash",
        "filter",
        "filter",
        True,
        "/",
        "filter by title, model, directory, tty, state or session id (enter takes the"
        " highlighted match; tab or down keeps the filter and selects the top match for the"
        " table's keys: 1 2 3, i, e, t, y, v, o; esc clears)",
    ),
    Key("less_than_sign", "sort(-1)", "sort", False, "< >", "sort by the previous / next column"),
    Key("greater_than_sign", "sort(1)", "sort", True, "", ""),
    Key("s", "flip", "flip", False, "s", "flip the sort direction"),
    Key("y", "yank", "yank", True, "y", "yank: copy the session id (clipboard, else tmux buffer)"),
    Key(
        "e",
        "explain",
        "why",
        True,
        "e",
        "why otop believes what it shows (evidence and confidence)",
    ),
    Key("t", "todos", "todo", False, "t", "the session's todo list"),
    Key(
        "m",
        "mcp",
        "mcp",
        False,
        "m",
        "MCP servers from opencode's config for the session's project",
    ),
    Key("v", "preview", "preview", True, "v", "show / hide a live preview of the agent's pane"),
    Key(
        "a",
        "toggle_all",
        "all",
        False,
        "a",
        "show / hide non-interactive sessions and subagent children",
    ),
    Key(
        "p",
        "toggle_background",
        "bg",
        False,
        "p",
        "show / hide background processes (opencode run, serve)",
    ),
    Key(
        "w,n",
        "next_waiting",
        "next waiting",
        True,
        "w n",
        "select the next agent waiting for you (else the next unseen one)",
    ),
    Key(
        "i",
        "reply",
        "reply",
        True,
        "i",
        "reply: send the next prompt, or answer a question (a number picks a choice)",
    ),
    Key(
        "1",
        "answer(0)",
        "allow once",
        False,
        "1 2 3",
        "answer a permission prompt: allow once / allow always / reject",
    ),
    Key("2", "answer(1)", "allow always", False, "", ""),
    Key("3", "answer(2)", "reject", False, "", ""),
    Key("question_mark", "help", "help", True, "?", "this help"),
)
DETAIL_KEYS = (
    Key("escape,q", "app.pop_screen", "back", True, "esc q", "back to the table"),
    Key(
        "tab",
        "switch",
        "history/pane",
        True,
        "tab",
        "switch between the history and a live capture of the pane",
    ),
    Key("o", "jump", "jump", True, "o", "jump to the agent's pane"),
    Key("j", "scroll(1)", "down", False, "j k pgup pgdn", "scroll"),
)


def bindings(keys: tuple[Key, ...]) -> list[Binding]:
    return [Binding(k.keys, k.action, k.label, show=k.footer) for k in keys]


def described(keys: tuple[Key, ...]) -> list[tuple[str, str]]:
    """(keys as typed, what they do) for the keys the help screen and README explain."""
    return [(k.shown, k.help) for k in keys if k.shown]
