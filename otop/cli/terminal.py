"""The terminal raw, as the app sets it: for the popup's first frame, before Textual loads.
Imports only `os`, `termios` and `atexit`: otop/cli/entry.py uses it before anything else."""

from __future__ import annotations

import os


def raw_terminal() -> bool:
    """The terminal raw from here on, as the app will set it (a key typed while otop loads is
    kept for the app, not echoed over the first frame); put back when otop leaves. False when
    there is no terminal."""
    import termios

    if not os.isatty(0):
        return False
    try:
        saved = termios.tcgetattr(0)
        raw = termios.tcgetattr(0)
    except termios.error:
        return False
    raw[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
    raw[1] &= ~termios.OPOST
    raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
    raw[6][termios.VMIN], raw[6][termios.VTIME] = 1, 0
    import atexit

    atexit.register(termios.tcsetattr, 0, termios.TCSADRAIN, saved)
    termios.tcsetattr(0, termios.TCSANOW, raw)
    return True
