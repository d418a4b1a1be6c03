"""The README's picture, from a real run: the demo's tmux server, a real client attached
through a pseudo-terminal, prefix+O pressed, and the terminal's screen (emulated by pyte)
saved as SVG with rich. Run it with `scripts/screenshots`."""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text

from otop.sim.demo import ROOT, Demo

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

    def __init__(self, demo: Demo, cols: int, rows: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**demo.env, "TERM": "xterm-256color"}
        self.proc = subprocess.Popen(
            ["tmux", "-L", demo.socket, "attach", "-t", "demo"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "otop-popup.svg"))
    ap.add_argument("--settle", type=float, default=9.0, help="seconds for agents to spread")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    demo = Demo()
    term: Terminal | None = None
    try:
        demo.start()
        demo.tmux("set", "-g", "status-right", "#{otop_status}")
        demo.tmux("set", "-g", "@otop-popup-width", "92%")
        demo.tmux("set", "-g", "@otop-popup-height", "75%")
        demo.tmux("run-shell", str(ROOT / "otop.tmux"))
        demo.tmux("select-window", "-t", "demo:api")
        term = Terminal(demo, 120, 34)
        term.pump(args.settle)
        term.press(b"\x02O")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "Add pagination" not in term.text():
            term.pump(0.2)
        term.pump(2.5)
        term.svg(out, "otop popup over a tmux session (scripts/demo)")
        print(f"wrote {out}")
    finally:
        if term is not None:
            term.close()
        demo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
