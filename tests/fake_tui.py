"""A fake opencode TUI for replies through tmux: draws the prompt input or a question dialog
the way opencode 1.18 lays them out (tests/screens/), takes keys from its terminal and writes
what it was sent, one line each, to $OTOP_FAKE_TUI_LOG (`prompt: TEXT`, `answer: TEXT`).

Run by a command that sets argv[0] to `opencode` (tests/test_reply_tmux.py); its comm is set
here. $OTOP_FAKE_TUI_MODE is `prompt` (an idle TUI) or `question` (a question dialog open).
"""

from __future__ import annotations

import ctypes
import os
import termios
import tty

OPTIONS = ("red", "blue", "Type your own answer")
BAR = "  ┃"


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


def main() -> None:
    ctypes.CDLL(None).prctl(15, b"opencode", 0, 0, 0)
    log = os.environ["OTOP_FAKE_TUI_LOG"]
    mode = os.environ.get("OTOP_FAKE_TUI_MODE", "prompt")
    tty_fd = os.open("/dev/tty", os.O_RDWR)  # stdin carries this program; keys come here
    tty.setraw(tty_fd, termios.TCSANOW)
    text = ""

    def sent(kind: str, what: str) -> None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{kind}: {what}\n")

    while True:
        drawn = "\r\n".join(screen(mode, text))
        os.write(tty_fd, ("\033[2J\033[H" + drawn).encode())
        for char in os.read(tty_fd, 1024).decode(errors="replace"):
            if mode == "question":
                if char in "12":
                    sent("answer", OPTIONS[int(char) - 1])
                    mode = "prompt"
                elif char == "3":
                    mode, text = "custom", ""
            elif char == "\r":
                sent("answer" if mode == "custom" else "prompt", text)
                mode, text = "prompt", ""
            elif char == "\x7f":
                text = text[:-1]
            elif char.isprintable():
                text += char


if __name__ == "__main__":
    main()
