"""Telling the user: a tmux message on the clients that look elsewhere, the bell in the agent's
window, a desktop notification or the user's own command. Text from sessions is hostile: it
reaches tmux escaped and commands as argv or JSON on stdin, never through a shell."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from otop.core.text import clean
from otop.decide.attention import WAITING, Event
from otop.outputs.render import message_text
from otop.outputs.row import state_label, title_of
from otop.sources.tmux import Tmux, TmuxError

NOTIFY_LEVELS = ("off", "waiting", "all")
# A notifier that has not finished by then is killed (it must not pile up beside the agents).
COMMAND_TIMEOUT = 10.0


@dataclass(frozen=True)
class NotifySettings:
    """The `@otop-bell`, `@otop-notify` and `@otop-notify-command` options, parsed."""

    bell: bool = False
    level: str = "off"  # off | waiting | all
    command: tuple[str, ...] = ()  # argv; empty: notify-send / osascript when present


def wanted(level: str, kind: str) -> bool:
    return level == "all" or (level == "waiting" and kind == WAITING)


def message(event: Event) -> str:
    """The one-line message of an event, in plain text."""
    a = event.agent
    where = f" in {a.pane.location}" if a.pane else (f" on {a.server}" if a.server else "")
    if event.kind == WAITING:
        return f"{title_of(a)} needs you: {state_label(a.state, a.tool)}{where}"
    return f"{title_of(a)} finished{where}"


def payload(event: Event) -> dict[str, object]:
    """The event as JSON for `@otop-notify-command` (on its stdin)."""
    a = event.agent
    return {
        "event": event.kind,
        "at": int(event.at * 1000),
        "state": a.state.value,
        "group": a.group.value,
        "tool": clean(a.tool) if a.tool else None,
        "title": title_of(a),
        "session_id": a.session_id,
        "pid": a.proc.pid if a.proc else None,
        "pane": a.pane.to_json() if a.pane else None,
        "server": a.server,
        "message": message(event),
    }


class Notifier:
    """Sends events; children it started are reaped (and killed past their time) each beat."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux
        self.children: list[tuple[subprocess.Popen[bytes], float]] = []
        self.sent = 0

    def tell(self, event: Event, clients: Sequence[tuple[str, str]], s: NotifySettings) -> None:
        """One event: a message on each client not showing its pane, the bell, the desktop."""
        pane = event.agent.pane
        text = message_text("otop: " + message(event))
        for name, shown in clients:
            if pane is not None and shown == pane.id:
                continue
            with contextlib.suppress(TmuxError):
                self.tmux.cmd("display-message", "-c", name, text)
        if s.bell and pane is not None:
            ring(pane.tty)
        if wanted(s.level, event.kind):
            argv = s.command or desktop(message(event), event.kind)
            if argv:
                self.run(list(argv), json.dumps(payload(event)).encode() if s.command else b"")
        self.sent += 1

    def run(self, argv: list[str], stdin: bytes) -> None:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            print(f"otop: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr, flush=True)
            return
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.write(stdin)
        with contextlib.suppress(OSError):
            proc.stdin.close()
        self.children.append((proc, time.monotonic() + COMMAND_TIMEOUT))

    def reap(self) -> None:
        left = []
        for proc, deadline in self.children:
            if proc.poll() is not None:
                continue
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    proc.kill()
                proc.wait()
                continue
            left.append((proc, deadline))
        self.children = left


# The text reaches AppleScript as an argument of its run handler, never as part of its source:
# a title holding quotes, backslashes or `" & do shell script "…` stays text.
OSASCRIPT = (
    "on run argv",
    "display notification (item 1 of argv) with title (item 2 of argv)",
    "end run",
)


def desktop(text: str, kind: str, platform: str = sys.platform) -> list[str]:
    """A desktop notification command for this system, when one is installed."""
    summary = "otop: needs you" if kind == WAITING else "otop: finished"
    if platform == "darwin" and shutil.which("osascript"):
        script = [w for line in OSASCRIPT for w in ("-e", line)]
        return ["osascript", *script, text, summary]
    if shutil.which("notify-send"):
        urgency = "critical" if kind == WAITING else "normal"
        return ["notify-send", "-a", "otop", "-u", urgency, "--", summary, text]
    return []


def ring(tty: str) -> None:
    """The terminal bell in a pane, as if its program rang it: tmux flags the window and passes
    the bell on by `bell-action`."""
    if not tty.startswith("/dev/"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            os.write(fd, b"\a")
        finally:
            os.close(fd)
