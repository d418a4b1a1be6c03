"""The `otop` command. `otop list --json` is answered here, from the running watcher's
published scan, before anything else loads: Python's own start is then most of its time.
Every other command line (and this one, when there is no fresh scan) goes to otop/cli.py.
Imports only `os`, `sys` and the light otop.snapshot, otop.runtime and otop.opencode.paths."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

OPTIONS = {"-L": "socket_name", "-S": "socket_path", "--db": "db"}


def main() -> int:
    asked = list_json(sys.argv[1:])
    if asked is not None and published(*asked):
        return 0
    from otop.cli import main as cli_main

    return cli_main()


def list_json(argv: Sequence[str]) -> tuple[str | None, str | None, str | None, bool] | None:
    """What `otop [-L NAME | -S PATH] [--db PATH] list --json [--all]` asks: socket name,
    socket path, database, --all; None for any other command line (argparse then reads it,
    its errors included)."""
    got: dict[str, str | None] = dict.fromkeys(OPTIONS.values())
    i = 0
    while i < len(argv) and argv[i] != "list":
        opt, eq, value = argv[i].partition("=")
        if not eq and opt[:2] in ("-L", "-S") and len(opt) > 2:
            opt, value = opt[:2], opt[2:]
        elif not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        name = OPTIONS.get(opt)
        if name is None or got[name] is not None or not value or value.startswith("-"):
            return None
        got[name] = value
        i += 1
    flags = argv[i + 1 :]
    if i == len(argv) or "--json" not in flags or not set(flags) <= {"--json", "--all"}:
        return None
    if got["socket_name"] is not None and got["socket_path"] is not None:
        return None  # argparse says they exclude each other
    return got["socket_name"], got["socket_path"], got["db"], "--all" in flags


def published(socket_name: str | None, socket_path: str | None, db: str | None,
              show_all: bool) -> bool:  # fmt: skip
    """Print `list --json` from the watcher's scan; False (nothing printed) without a fresh
    one for this tmux server and database."""
    from otop import snapshot
    from otop.opencode.paths import db_file

    sock = snapshot.socket_of(socket_name, socket_path, dict(os.environ))
    found = snapshot.listing(sock, db_file(os.environ, db), show_all)
    if found is None:
        return False
    text, problems = found
    for p in problems:
        sys.stderr.write(f"otop: {p}\n")
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(text + b"\n")
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # `| head`: nothing more to say, and no traceback on the way out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True
