"""Keys typed with prefix+O, before the popup exists, kept for it (tmux 3.2 and newer).

tmux reads a client's keys and queues each one as it arrives; the keys that come in the same
read as prefix+O are queued before its binding has run, and `display-popup` holds the queue
until the popup closes: those keys then went to whatever pane the client showed after it
(measured: `/idle` and Enter typed into the pane below, or into the agent just jumped to).
Keys handled while the queue is not held go through the client's key table, unless tmux takes
them as pasted (`assume-paste-time`: keys less than a millisecond apart go straight to the
pane). So the key binding (otop/plugin/wiring.py):

1. sets the session's `assume-paste-time` to 0 and switches the client to the key table
   `otop-typeahead`, where every key records its name in the session option `@otop_typeahead`
   and stays in that table (any other key is swallowed);
2. opens the popup from `run-shell -b`, which does not hold the client's queue: the queued
   keys are recorded at once, and keys that come once the popup is open reach it directly.

The popup's app takes the recorded keys first (`take`), then undoes 1; the shell that opened
the popup undoes it too once the popup closes, should the app never have started.
"""

from __future__ import annotations

import contextlib

from otop.sources.tmux import Tmux, TmuxError
from otop.sources.tmux_args import THEN

TABLE = "otop-typeahead"
OPTION = "@otop_typeahead"
# tmux key name -> the name recorded: Enter is C-m on tmux 3.3 and Enter on 3.5, C-j is Enter
# from a terminal still in cooked mode.
SPECIAL = {
    "Enter": "Enter",
    "C-m": "Enter",
    "C-j": "C-j",
    "Escape": "Escape",
    "BSpace": "BSpace",
    "C-h": "BSpace",
    "Tab": "Tab",
    "Space": "Space",
    "Up": "Up",
    "Down": "Down",
    "Left": "Left",
    "Right": "Right",
    "Home": "Home",
    "End": "End",
    "PPage": "PPage",
    "NPage": "NPage",
    "DC": "DC",
    "C-u": "C-u",
    "C-w": "C-w",
}
KEYS = {**{chr(c): chr(c) for c in range(33, 127)}, **SPECIAL}


def bindings() -> list[list[str]]:
    """The `bind-key` commands of the typeahead table: each key appends its name (and a
    space) to the session's option and keeps the client in the table; `Any` swallows the
    rest."""
    stay = ["switch-client", "-T", TABLE]
    out = []
    for key, name in KEYS.items():
        record = ["set-option", "-qa", OPTION, name + " "]
        out.append(["bind-key", "-T", TABLE, key, *record, THEN, *stay])
    out.append(["bind-key", "-T", TABLE, "Any", *stay])
    return out


def arm() -> list[str]:
    """The commands a key binding runs before it opens the popup (see the module's text),
    each followed by the separator of a binding's commands."""
    return [
        *("set-option", "-q", "assume-paste-time", "0", THEN),
        *("set-option", "-qu", OPTION, THEN),
        *("switch-client", "-T", TABLE, THEN),
    ]


def disarm_shell(client: str, session: str) -> str:
    """Shell commands that undo `arm` for a client (when still in the table) and its session:
    run by the shell that opened the popup, once it has closed. The text goes through
    run-shell's format expansion first (`##` stays a format for display-message)."""
    table = f"\"$(tmux display-message -p -c {client} '##{{client_key_table}}')\""
    return (
        f"[ {table} = {TABLE} ] && tmux switch-client -c {client} -T root;"
        f" tmux set-option -qu -t {session} assume-paste-time"
    )


def take(tmux: Tmux, client: str) -> list[str]:
    """The key names recorded for the client's session, in order; the record is cleared, the
    client leaves the table and the session's paste detection comes back."""
    try:
        seen = tmux.client_values(client, "session_id", OPTION, "client_key_table")
    except TmuxError:
        return []
    if seen is None:
        return []
    session, recorded, table = seen
    cmds = [
        ["set-option", "-qu", "-t", session, OPTION],
        ["set-option", "-qu", "-t", session, "assume-paste-time"],
    ]
    if table == TABLE:
        cmds.append(["switch-client", "-c", client, "-T", "root"])
    with contextlib.suppress(TmuxError):
        tmux.chain(cmds)
    return recorded.split()
