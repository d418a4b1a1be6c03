"""The picker on tmux older than 3.2, which has no popups: a session of its own.

A window would belong to the session the key was pressed in, and every client attached to
that session would be moved to it. A session of its own moves only the client that asked:
`new-session` run by a key binding switches that client to the new session and remembers
where it came from (`switch-client -l` goes back). The session ends with the app; set to
`detach-on-destroy off`, its client is never detached should the app die first.
"""

from __future__ import annotations

import os

from otop.actions.act import CLIENT_ENV
from otop.sources.tmux import Tmux, TmuxError

SESSION = "otop-picker-#{client_pid}"  # one per client (new-session -s expands formats)
OWN_SESSION_FLAG = "--own-session"


def own_session(tmux: Tmux) -> str | None:
    """The session this process's pane belongs to, or None outside tmux."""
    pane = os.environ.get("TMUX_PANE")
    if not pane:
        return None
    try:
        return tmux.values("session_id", target=pane)[0] or None
    except TmuxError:
        return None


def enter(tmux: Tmux) -> str | None:
    """Take the picker's session: find the client shown it (the one that pressed the key),
    act for it, and never let the session's end detach it. Returns the client's name."""
    session = own_session(tmux)
    if session is None:
        return None
    try:
        tmux.cmd("set-option", "-t", session, "detach-on-destroy", "off")
        found = tmux.cmd("list-clients", "-t", session, "-F", "#{client_name}")
    except TmuxError:
        return None
    name = found[0] if found else None
    if name:
        os.environ[CLIENT_ENV] = name
    return name


def leave(tmux: Tmux, client: str | None) -> None:
    """Send the client back where it was, unless a jump already took it elsewhere."""
    session = own_session(tmux)
    if client is None or session is None:
        return
    try:
        if tmux.client_values(client, "session_id") == [session]:
            tmux.cmd("switch-client", "-c", client, "-l")
    except TmuxError:
        return
