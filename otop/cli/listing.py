"""`otop list`: one scan, printed as a table or a JSON document. Also where every command
gets its scanner. Loaded without the other commands (and without argparse) when
`otop list --json` finds no watcher's scan to print (otop/cli/entry.py), so that a one-shot
listing pays for the scan alone."""

from __future__ import annotations

import os
import sys

from otop.cli import exits
from otop.cli.console import say
from otop.core.model import Scan
from otop.core.text import json_text
from otop.outputs.render import document, ordered, table, visible
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.servers import load_servers
from otop.sources.tmux import Target, Tmux
from otop.watcher import snapshot


def scanner(
    socket_name: str | None,
    socket_path: str | None,
    db: str | None,
    *,
    cpu: bool = False,
    one_shot: bool = True,
) -> Scanner:
    """A scanner for a tmux server and database, with the opencode servers configured."""
    target = Target.from_env(None, socket_name, socket_path)
    tmux = Tmux(target)
    # `@otop-servers` only when a tmux server runs: read once, in the same tmux process as
    # the first scan's panes (that scan then runs no tmux of its own).
    option = (
        tmux.first_look("@otop-servers")[0]
        if target.socket_path or target.socket_name or os.environ.get("TMUX")
        else ""
    )
    servers, errors = load_servers(os.environ, option)
    for e in errors:
        say(f"otop: {e}", file=sys.stderr)
    return Scanner(
        Options(
            db=db,
            socket_name=socket_name,
            socket_path=socket_path,
            # CPU is a delta between two looks: a one-shot command waits for it only when
            # asked (`list --cpu`), so that it answers at once.
            min_cpu_window=0.25 if one_shot and cpu else 0.0,
            servers=tuple(servers),
            # A one-shot leaves its index of sessions for the next: it then follows the event
            # log from there, instead of reading the whole session table again.
            keep_dir=_keep_dir() if one_shot else None,
        ),
        tmux=tmux,
    )


def _keep_dir() -> str | None:
    """The private runtime directory, or None where it cannot be had (then every one-shot
    reads in full, as the first does)."""
    from otop.watcher.runtime import RuntimeDirError, runtime_dir

    try:
        return runtime_dir()
    except (RuntimeDirError, OSError):
        return None


def scan_once(scanner: Scanner) -> Scan:
    """A one-shot scan: opencode servers get a moment (their timeout at most) to answer; with
    the watcher's unseen marks."""
    scanner.wait_for_servers()
    return snapshot.marked(scanner.scan(), socket_of(scanner))


def socket_of(scanner: Scanner) -> str:
    """The tmux socket file a scanner talks to (where the watcher's files are named after)."""
    o = scanner.options
    return snapshot.socket_of(o.socket_name, o.socket_path, dict(os.environ))


def run(scanner: Scanner, as_json: bool, show_all: bool) -> int:
    """Print every agent once; the exit status says whether otop could look (otop/cli/exits.py)."""
    scan = scan_once(scanner)
    agents = ordered(a for a in scan.agents if visible(a, show_all))
    named = scanner.only is not None
    if as_json:
        print(json_text(document(scan, agents)))
    else:
        local = [a for a in agents if a.server is None]
        if local or not agents:
            say(table(local, scan.generated_at, _width()) if local else _empty(scan))
        for name in sorted({a.server for a in agents if a.server}):
            say(f"\nserver {name}:")
            say(table([a for a in agents if a.server == name], scan.generated_at, _width()))
    own_counts = exits.own_database_counts(scan, agents, named)
    for p in scan.problems:
        if p.source != "database" or own_counts or (as_json and not agents):
            say(f"otop: {p.message}", file=sys.stderr)
    return exits.of_scan(scan, agents, named)


def _empty(scan: Scan) -> str:
    for p in scan.problems:
        if p.source == "database":
            return f"No opencode agents found. {p.message[:1].upper()}{p.message[1:]}."
    return "No opencode agents running."


def _width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120
