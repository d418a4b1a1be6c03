"""A process that looks like an opencode TUI to otop: argv[0] and comm `opencode`, its own
run in the shared log, a pane title, and (optionally) a session it writes turns into.

Start it as `exec -a opencode python -m devtools.agent [-s SESSION] [--log FILE] ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import sys
import time


def _rename() -> None:
    """Set comm to `opencode`, as the real binary's is."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(15, b"opencode", 0, 0, 0)


def log_line(run: str, message: str, **pairs: str) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    kv = " ".join(f"{k.replace('__', '.')}={v}" for k, v in pairs.items())
    msg = f'"{message}"' if " " in message else message
    return f"timestamp={stamp} level=INFO run={run} message={msg} {kv}".rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-s", "--session")
    ap.add_argument("--log", help="shared opencode.log to write this run's lines to")
    ap.add_argument("--title", help="pane title to set (OSC 2)")
    ap.add_argument("--seconds", type=float, default=3600)
    args = ap.parse_args(argv)
    _rename()
    if args.title is not None and sys.stdout.isatty():
        sys.stdout.write(f"\033]2;{args.title}\007")
        sys.stdout.flush()
    if args.log:
        run = secrets.token_hex(4)
        time.sleep(0.3)  # opencode's first line comes a little after its start
        with open(args.log, "a") as f:
            f.write(log_line(run, "creating instance", directory=os.getcwd()))
            if args.session:
                f.write(log_line(run, "loop", session__id=args.session, step="0"))
    time.sleep(args.seconds)


if __name__ == "__main__":
    main()
