"""A real tmux client in a pseudo-terminal, for the screenshots and for tests that press keys
the way a person does."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping
from pathlib import Path

import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text


def attach(
    socket: str, env: Mapping[str, str], cols: int, rows: int, target: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`tmux -L socket attach` on a new pseudo-terminal of a given size; (process, master fd)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    args = ["tmux", "-L", socket, "attach", *(["-t", target] if target else [])]
    env = {**env, "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return proc, master


_NAMES = {
    "brightblack": "bright_black",
    "brightred": "bright_red",
    "brightgreen": "bright_green",
    "brightyellow": "bright_yellow",
    "brightblue": "bright_blue",
    "brightmagenta": "bright_magenta",
    "brightcyan": "bright_cyan",
    "brightwhite": "bright_white",
    "brown": "yellow",
}


def _colour(value: str) -> str | None:
    if value == "default":
        return None
    if len(value) == 6 and all(c in "0123456789abcdefABCDEF" for c in value):
        return f"#{value}"
    return _NAMES.get(value, value)


class Terminal:
    """A tmux client in a pseudo-terminal, its output fed to an emulated screen."""

    def __init__(
        self, socket: str, env: Mapping[str, str], cols: int, rows: int, target: str | None = None
    ) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.proc, self.master = attach(socket, env, cols, rows, target)

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.stream.feed(os.read(self.master, 65536))
                except OSError:
                    return

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        os.close(self.master)

    def svg(self, path: Path, title: str) -> None:
        console = Console(record=True, width=self.screen.columns, file=open(os.devnull, "w"))  # noqa: SIM115
        for y in range(self.screen.lines):
            line = self.screen.buffer[y]
            text = Text()
            for x in range(self.screen.columns):
                ch = line[x]
                if ch.data == "":
                    continue  # the right half of a wide character
                fg, bg = _colour(ch.fg), _colour(ch.bg)
                if ch.reverse:
                    fg, bg = bg or "black", fg or "white"
                text.append(ch.data, Style(color=fg, bgcolor=bg, bold=ch.bold))
            console.print(text, no_wrap=True, crop=True)
        console.save_svg(str(path), title=title)
