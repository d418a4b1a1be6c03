"""`otop` on the command line: the argument parser, and the one answer given without loading
the scanner (`list --json` from the running watcher's published scan)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from otop import __version__
from otop.cli.console import CommandError, say
from otop.cli.exits import INTERRUPTED

TARGET = "session id (or its end), pane id (%%3) or pid"
if TYPE_CHECKING:
    from typing import TypeAlias

    Sub: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    """The command line; each subcommand names its handler in otop/cli/commands.py (`func`)."""
    ap = argparse.ArgumentParser(
        prog="otop",
        description="htop for opencode agents: which tmux pane runs which session, and its state.",
    )
    ap.add_argument("--version", action="version", version=f"otop {__version__}")
    sock = ap.add_mutually_exclusive_group()
    sock.add_argument("-L", dest="socket_name", metavar="SOCKET_NAME", help="tmux socket name")
    sock.add_argument("-S", dest="socket_path", metavar="SOCKET_PATH", help="tmux socket path")
    ap.add_argument("--db", help="opencode database (default: found like opencode finds it)")
    ap.set_defaults(func="cmd_ui", command=None, own_session=False, client=None)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    _views(sub)
    _actions(sub)
    _serve(sub)
    _tools(sub)
    return ap


def _views(sub: Sub) -> None:
    p = sub.add_parser("list", help="print every agent once")
    p.set_defaults(func="cmd_list")
    p.add_argument("--json", action="store_true", help="machine-readable document (version 1)")
    p.add_argument(
        "--cpu",
        action="store_true",
        help="look twice, 0.25 s apart, to measure CPU (without it cpu_percent is null)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="include `opencode run`, servers and non-interactive sessions",
    )
    uis = {
        "ui": "the live table, full screen (the default)",
        "popup": "the live table sized for tmux display-popup; Enter jumps",
    }
    for name, text in uis.items():
        p = sub.add_parser(name, help=text)
        p.set_defaults(func="cmd_ui", own_session=False, client=None)
        p.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
    p.add_argument(
        "--own-session",
        action="store_true",
        help="run in a session of its own (tmux before 3.2: no popups); Esc goes back",
    )
    p.add_argument(
        "--client",
        metavar="NAME",
        help="the tmux client to act for (the one whose key opened the popup), and take the"
        " keys it typed before the popup was open",
    )
    p = sub.add_parser("explain", help="say why otop believes what it shows about an agent")
    p.set_defaults(func="cmd_explain")
    p.add_argument("target", help=TARGET)
    p = sub.add_parser("bar", help="status for desktop bars (SwiftBar, waybar, plain)")
    p.set_defaults(func="cmd_bar")
    p.add_argument("--format", choices=("swiftbar", "waybar", "plain"), default="plain")
    p.add_argument("--from", dest="source", metavar="URL", help="a running `otop serve`")
    p.add_argument("--token", help="bearer token for --from (or $OTOP_TOKEN)")


def _actions(sub: Sub) -> None:
    p = sub.add_parser("jump", help="switch the tmux client to an agent's pane")
    p.set_defaults(func="cmd_jump")
    p.add_argument("target", nargs="?", help=TARGET)
    p.add_argument(
        "--next",
        action="store_true",
        help="the agent that has waited longest for you, else the one longest unseen",
    )
    p.add_argument(
        "--notify",
        action="store_true",
        help="report problems with tmux display-message (for key bindings)",
    )
    p = sub.add_parser("answer", help="answer an agent's permission prompt without going there")
    p.set_defaults(func="cmd_answer")
    p.add_argument("target", help=TARGET)
    p.add_argument("reply", choices=("once", "always", "reject"))
    p = sub.add_parser(
        "reply", help="send an agent its next prompt, or answer its question, from here"
    )
    p.set_defaults(func="cmd_reply")
    p.add_argument("target", help=TARGET)
    p.add_argument("text", help="the prompt or the answer (a question's choice by its number)")


def _serve(sub: Sub) -> None:
    p = sub.add_parser("serve", help="the agents over HTTP: /health, /agents, /agents/ID, /events")
    p.set_defaults(func="cmd_serve")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8390, help="port (default 8390)")
    p.add_argument(
        "--token",
        help="require `Authorization: Bearer TOKEN`; others on this machine"
        " can read it in `ps`, so prefer --token-file or $OTOP_TOKEN",
    )
    p.add_argument("--token-file", metavar="PATH", help="read the bearer token from a file")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable); only loopback"
        " names and the bound address are answered otherwise, against DNS rebinding",
    )
    p.add_argument("--interval", type=float, default=2.0, help="seconds between scans")
    p.add_argument("--verbose", action="store_true", help="log every request")


def _tools(sub: Sub) -> None:
    p = sub.add_parser(
        "watch", help="keep tmux's @otop_status and window badges current (one per tmux server)"
    )
    p.set_defaults(func="cmd_watch")
    p = sub.add_parser("doctor", help="check tmux, the plugin, the database and the agents")
    p.set_defaults(func="cmd_doctor")
    p = sub.add_parser("tmux", help="load the tmux plugin into a server, or remove it")
    p.set_defaults(func="cmd_tmux")
    p.add_argument("action", choices=("setup", "uninstall"))


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "list" and args.json and not args.cpu and _published(args):
            return 0
        from otop.cli import commands

        handler: Callable[[argparse.Namespace], int] = getattr(commands, args.func)
        return handler(args)
    except CommandError as exc:
        say(f"otop: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return INTERRUPTED


def _published(args: argparse.Namespace) -> bool:
    """`list --json` from the running watcher's latest scan (otop/watcher/snapshot.py); False when
    there is no fresh one for this tmux server and database."""
    from otop.watcher.snapshot import print_listing

    return print_listing(args.socket_name, args.socket_path, args.db, args.all)
