"""The `otop` command. `otop list --json` is answered here, from the running watcher's
published scan (otop/watcher/snapshot.py prints it), before anything else loads: Python's own
start is then most of its time. Without a fresh scan, `list --json` scans here with
otop/cli/listing.py alone. `otop popup` shows the watcher's first frame here, as early, in a
raw terminal (otop/cli/terminal.py). Every other command line goes to otop/cli/parser.py.
Imports only `os` and `sys`, and the light otop.watcher.snapshot, otop.watcher.runtime and
otop.sources.opencode.paths."""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

OPTIONS = {"-L": "socket_name", "-S": "socket_path", "--db": "db"}


def command() -> NoReturn:
    """The `otop` command and `python -m otop`: `main`, ended as a command line tool should.

    `otop list --json` is a one-shot that ends in a fraction of a second: the cyclic garbage
    collector's passes while it imports find nothing worth freeing, and Python's teardown
    (every module and object freed one by one) would cost it about a sixth of its time, so it
    runs without the one and leaves without the other once its output is flushed. A reader
    that stops reading (`otop list | head`) ends it quietly, as it ends other tools."""
    one_shot = list_json(sys.argv[1:]) is not None
    if one_shot:
        gc.disable()
    try:
        code = main()
        if one_shot:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


def main() -> int:
    asked = list_json(sys.argv[1:])
    if asked is not None:
        from otop.watcher.snapshot import print_listing

        return 0 if print_listing(*asked) else scanned(*asked)
    target = popup(sys.argv[1:])
    if target is not None:
        first_frame(*target)
    from otop.cli.parser import main as cli_main

    return cli_main()


def list_json(argv: Sequence[str]) -> tuple[str | None, str | None, str | None, bool] | None:
    """What `otop [-L NAME | -S PATH] [--db PATH] list --json [--all]` asks: socket name,
    socket path, database, --all; None for any other command line (argparse then reads it,
    its errors included)."""
    got, i = _globals(argv, "list")
    if got is None:
        return None
    flags = argv[i + 1 :]
    if i == len(argv) or "--json" not in flags or not set(flags) <= {"--json", "--all"}:
        return None
    if got["socket_name"] is not None and got["socket_path"] is not None:
        return None  # argparse says they exclude each other
    return got["socket_name"], got["socket_path"], got["db"], "--all" in flags


def popup(argv: Sequence[str]) -> tuple[str | None, str | None] | None:
    """The tmux server `otop [-L NAME | -S PATH] [--db PATH] popup ...` runs for (socket
    name, socket path), or None for any other command line."""
    got, i = _globals(argv, "popup")
    if got is None or i == len(argv):
        return None
    return got["socket_name"], got["socket_path"]


def _globals(argv: Sequence[str], command: str) -> tuple[dict[str, str | None] | None, int]:
    """The global options before `command` as argparse reads them, and where the command
    stands; None when anything else stands there."""
    got: dict[str, str | None] = dict.fromkeys(OPTIONS.values())
    i = 0
    while i < len(argv) and argv[i] != command:
        opt, eq, value = argv[i].partition("=")
        if not eq and opt[:2] in ("-L", "-S") and len(opt) > 2:
            opt, value = opt[:2], opt[2:]
        elif not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        name = OPTIONS.get(opt)
        if name is None or got[name] is not None or not value or value.startswith("-"):
            return None, i
        got[name] = value
        i += 1
    return got, i


def first_frame(socket_name: str | None, socket_path: str | None) -> None:
    """The popup's terminal raw at once (keys typed from here on reach the app as typed; the
    terminal is put back when otop leaves), then the watcher's first frame of the popup: rows
    before Python has loaded anything else."""
    from otop.cli.terminal import raw_terminal

    if not raw_terminal():
        return
    from otop.watcher import snapshot
    from otop.watcher.runtime import RuntimeDirError

    try:
        sock = snapshot.socket_of(socket_name, socket_path, dict(os.environ))
        with open(snapshot.frame_path(sock), "rb") as f:
            frame = memoryview(f.read())
        while frame:
            frame = frame[os.write(1, frame) :]
    except (OSError, RuntimeDirError):
        return


def scanned(
    socket_name: str | None, socket_path: str | None, db: str | None, show_all: bool
) -> int:
    """`list --json` from a scan of its own (no watcher's is fresh): only the scan is loaded,
    not the other commands or their parser."""
    from otop.cli import listing
    from otop.cli.console import CommandError, say
    from otop.cli.exits import INTERRUPTED

    try:
        return listing.run(listing.scanner(socket_name, socket_path, db), True, show_all)
    except CommandError as exc:
        say(f"otop: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return INTERRUPTED
