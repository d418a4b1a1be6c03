"""A fake opencode TUI for replies through tmux: draws the prompt input or a question dialog
the way opencode 1.18 lays them out (tests/screens/), takes keys from its terminal and writes
what it was sent, one line each, to $OTOP_FAKE_TUI_LOG (`prompt: TEXT`, `answer: TEXT`); its
permission dialog marks the selected choice with a background of its own, as opencode does.

Run by a command that sets argv[0] to `opencode` (tests/test_reply_tmux.py); its comm is set
here. $OTOP_FAKE_TUI_MODE is `prompt` (an idle TUI), `question` (a question dialog open) or
`permission` (a permission dialog open).
"""

from __future__ import annotations

import ctypes
import os
import termios
import tty

OPTIONS = ("red", "blue", "Type your own answer")
CHOICES = ("Allow once", "Allow always", "Reject")
REPLIES = ("once", "always", "reject")
BAR = "  ┃"
SELECTED = "\033[48;5;75m{}\033[49m"


def permission(choice: int) -> list[str]:
    """The permission dialog with one choice selected."""
    shown = [SELECTED.format(c) if i == choice else c for i, c in enumerate(CHOICES)]
    asked = [f"{BAR}  △ Permission required", f"{BAR}    ← Read /etc/hostname", BAR]
    return [""] * 10 + [*asked, f"{BAR}   " + "   ".join(shown), BAR]


def screen(mode: str, text: str) -> list[str]:
    """The lines drawn for a mode and what is typed (the draft, or the custom answer)."""
    if mode == "prompt":
        box = [BAR, f"{BAR}  {text}", BAR, f"{BAR}  Build · Fake Model Fake", "  ╹" + "▀" * 60]
        return [""] * 10 + box
    lines = [BAR, f"{BAR}  Pick one?", BAR]
    for n, label in enumerate(OPTIONS, 1):
        lines.append(f"{BAR}  {n}. {label}")
    if mode == "custom":
        lines.append(f"{BAR}     {text or OPTIONS[-1]}")
    return [""] * 6 + [*lines, BAR, f"{BAR}  ↑↓ select  enter submit  esc dismiss", BAR]


class Tui:
    """What the fake TUI shows and what it has been sent."""

    def __init__(self, mode: str, log: str) -> None:
        self.mode, self.log = mode, log
        self.text = ""  # the draft, or the custom answer being typed
        self.choice = 0  # the permission dialog's selected choice

    def lines(self) -> list[str]:
        return (
            permission(self.choice) if self.mode == "permission" else screen(self.mode, self.text)
        )

    def sent(self, kind: str, what: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"{kind}: {what}\n")

    def take(self, keys: str) -> None:
        if self.mode == "permission":
            # Right and Left move the selection (wrapping), Enter confirms it.
            moved = keys.count("\033[C") - keys.count("\033[D")
            self.choice = (self.choice + moved) % len(CHOICES)
            if "\r" in keys:
                self.sent("answer", REPLIES[self.choice])
                self.mode = "prompt"
            return
        for char in keys:
            self.key(char)

    def key(self, char: str) -> None:
        if self.mode == "question":
            if char in "12":
                self.sent("answer", OPTIONS[int(char) - 1])
                self.mode = "prompt"
            elif char == "3":
                self.mode, self.text = "custom", ""
        elif char == "\r":
            self.sent("answer" if self.mode == "custom" else "prompt", self.text)
            self.mode, self.text = "prompt", ""
        elif char == "\x7f":
            self.text = self.text[:-1]
        elif char.isprintable():
            self.text += char


def main() -> None:
    ctypes.CDLL(None).prctl(15, b"opencode", 0, 0, 0)
    tui = Tui(os.environ.get("OTOP_FAKE_TUI_MODE", "prompt"), os.environ["OTOP_FAKE_TUI_LOG"])
    tty_fd = os.open("/dev/tty", os.O_RDWR)  # stdin carries this program; keys come here
    tty.setraw(tty_fd, termios.TCSANOW)
    while True:
        os.write(tty_fd, ("\033[2J\033[H" + "\r\n".join(tui.lines())).encode())
        tui.take(os.read(tty_fd, 1024).decode(errors="replace"))


if __name__ == "__main__":
    main()
