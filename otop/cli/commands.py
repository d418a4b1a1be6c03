"""The subcommands behind `otop` (cli.py parses; this module does the work)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable

from otop.actions import act
from otop.cli import exits, listing
from otop.cli.console import CommandError, UsageError, say
from otop.core.model import Agent, Scan
from otop.core.net import loopback
from otop.outputs.render import message_text, ordered, visible
from otop.outputs.row import row_view
from otop.plugin import picker, typeahead
from otop.plugin.options import INTERVAL_BOUNDS, read_config
from otop.scan.changes import Changes
from otop.scan.scanner import Scanner
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.rows import HistoryEntry
from otop.sources.tmux import Target, Tmux, TmuxError
from otop.watcher import snapshot


def _scanner(args: argparse.Namespace, one_shot: bool = True) -> Scanner:
    cpu = bool(getattr(args, "cpu", False))
    return listing.scanner(args.socket_name, args.socket_path, args.db, cpu=cpu, one_shot=one_shot)


def _check_interval(seconds: float) -> None:
    """`--interval` no shorter than `@otop-interval` may be."""
    least = INTERVAL_BOUNDS[0]
    if seconds < least:
        raise UsageError(f"--interval must be at least {least:g} seconds")


def cmd_doctor(args: argparse.Namespace) -> int:
    from otop.cli import doctor

    text, status = doctor.report(doctor.run(_scanner(args)))
    say(text)
    return status


def cmd_ui(args: argparse.Namespace) -> int:
    popup = args.command == "popup"
    if popup and not (os.environ.get("TMUX") or args.socket_name or args.socket_path):
        raise UsageError("`otop popup` runs inside tmux (bind it to display-popup); use `otop`")
    interval = getattr(args, "interval", 2.0)
    _check_interval(interval)
    from otop.ui.backend import LiveBackend

    scanner = _scanner(args, one_shot=False)

    def marked(scan: Scan) -> Scan:
        return snapshot.marked(scan, listing.socket_of(scanner))

    backend = LiveBackend(scanner, marked, lambda: _published_scan(scanner, snapshot.FRESH))
    client = picker.enter(backend.tmux) if args.own_session else args.client
    typed: list[str] = []
    if args.client:
        os.environ[act.CLIENT_ENV] = args.client
        typed = typeahead.take(backend.tmux, args.client)
    # The first rows are drawn before Textual loads: the watcher's latest scan, else the app's
    # own first one. The popup's were drawn already when the watcher's were fresh enough
    # (otop/cli/entry.py::first_frame, before this module loaded).
    first = _published_scan(scanner, snapshot.FIRST_FRAME_FRESH)
    drawn = False
    if first is None:
        first = backend.scan()
        drawn = _first_frame(first, raw=not popup)
    elif not popup:
        drawn = _first_frame(first, raw=True)
    try:
        from otop.ui.app import OtopApp

        app = OtopApp(backend, popup=popup, interval=interval, first=first, typed=typed)
    except BaseException:
        if drawn:
            os.write(1, LEAVE_FRAME)
        raise
    try:
        app.run()
    finally:
        if args.own_session:
            picker.leave(backend.tmux, client)
    return 0


# The first frame is drawn in the terminal's alternate screen, where the app draws: quitting
# gives the shell its screen back as it was.
ENTER_FRAME = b"\x1b[?1049h\x1b[?25l"
LEAVE_FRAME = b"\x1b[?25h\x1b[?1049l"


def _first_frame(scan: Scan, raw: bool) -> bool:
    """The rows of a first scan as plain text (otop/outputs/preframe.py, as the watcher draws the
    popup's), while Python loads Textual: on a busy machine that takes a second or more.
    With `raw`, the terminal is put in raw mode first, as the app will (keys typed meanwhile
    wait for it instead of being echoed over the rows). False when there is no terminal."""
    from otop.cli.terminal import raw_terminal
    from otop.outputs import preframe

    if not os.isatty(1) or (raw and not raw_terminal()):
        return False
    size = os.get_terminal_size(1)
    now = scan.generated_at
    rows = [row_view(a, now) for a in ordered(a for a in scan.agents if visible(a, False))]
    frame = preframe.draw(rows, now, size.columns, size.lines)
    data = memoryview(ENTER_FRAME + frame.encode())
    while data:
        data = data[os.write(1, data) :]
    return True


def _published_scan(scanner: Scanner, fresh: float) -> Scan | None:
    """The running watcher's latest scan, when `fresh` (otop/watcher/snapshot.py), as a Scan."""
    from otop.watcher.restore import scan_from
    from otop.watcher.runtime import RuntimeDirError

    db = scanner.paths.db
    try:
        doc = snapshot.read(listing.socket_of(scanner), db, fresh=fresh)
    except RuntimeDirError:
        return None
    return scan_from(doc, db) if doc is not None else None


def cmd_list(args: argparse.Namespace) -> int:
    return listing.run(_scanner(args), args.json, args.all)


def _find(scanner: Scanner, target: str) -> Agent:
    try:
        return act.find(listing.scan_once(scanner), target)
    except act.ActionError as exc:
        raise UsageError(str(exc)) from None


def cmd_jump(args: argparse.Namespace) -> int:
    if not args.target and not args.next:
        raise UsageError("jump needs a session id, pane id or pid, or --next")
    scanner = _scanner(args, one_shot=False)
    assert scanner.tmux is not None
    try:
        scan = listing.scan_once(scanner)
        if args.next:
            agent = act.next_one(scan.agents, scan.generated_at)
        else:
            agent = act.find(scan, args.target)
        act.jump(scanner.tmux, agent)
    except act.ActionError as exc:
        if not args.notify:
            raise UsageError(str(exc)) from None
        _notify(scanner.tmux, f"otop: {exc}")
        return 1
    return 0


def _notify(tmux: Tmux, text: str) -> None:
    """A message on the client's status line (a key binding has no terminal to print to)."""
    client = act.client()
    target = ["-c", client] if client else []
    try:
        tmux.cmd("display-message", *target, message_text(text))
    except TmuxError:
        say(text, file=sys.stderr)


def cmd_answer(args: argparse.Namespace) -> int:
    from otop.sources.opencode.dialog import REPLIES

    scanner = _scanner(args, one_shot=False)
    agent = _find(scanner, args.target)
    assert scanner.tmux is not None
    remotes = scanner.remotes if agent.server else None
    try:
        say(f"otop: {act.answer(scanner.tmux, agent, REPLIES.index(args.reply), remotes)}")
    except act.ActionError as exc:
        say(f"otop: not answered: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_reply(args: argparse.Namespace) -> int:
    scanner = _scanner(args, one_shot=False)
    agent = _find(scanner, args.target)
    assert scanner.tmux is not None
    try:
        say(f"otop: {act.reply(scanner.tmux, agent, args.text)}")
    except act.ActionError as exc:
        say(f"otop: not sent: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from otop.watcher import runtime, watch

    scanner = _scanner(args, one_shot=False)
    tmux = scanner.tmux
    assert tmux is not None
    try:
        sock = runtime.socket_path(tmux)
    except TmuxError as exc:
        raise UsageError(f"no tmux server to watch ({tmux.target.describe()}): {exc}") from None
    try:
        lock = runtime.take_lock(runtime.lock_path(sock))
    except runtime.AlreadyRunning as exc:
        say(f"otop: {exc}", file=sys.stderr)
        return 0
    except runtime.RuntimeDirError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot take the watcher lock: {exc}") from None

    with lock:
        tmux.cmd("set-option", "-gq", watch.PID_OPTION, str(os.getpid()))

        def counted(beats: int, scans: int, pushes: int) -> None:
            runtime.write_beats(lock, beats, scans, pushes)

        watcher = watch.Watcher(scanner, tmux, lambda: read_config(tmux), sock, counted)
        return watcher.run()


def cmd_serve(args: argparse.Namespace) -> int:
    from otop.serve.hub import Hub
    from otop.serve.server import OtopServer, serve

    token = args.token or os.environ.get("OTOP_TOKEN") or None
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip() or None
        except OSError as exc:
            raise UsageError(
                f"cannot read --token-file {args.token_file}: {exc.strerror}"
            ) from None
        if token is None:
            raise UsageError(f"--token-file {args.token_file} is empty")
    if not loopback(args.host) and not token:
        raise UsageError(f"binding to {args.host} exposes your sessions: give --token TOKEN")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port number")
    _check_interval(args.interval)
    scanner = _scanner(args, one_shot=False)
    sock, changes = listing.socket_of(scanner), Changes(scanner)
    hub = Hub(
        lambda: snapshot.marked(scanner.scan(), sock),
        _history(scanner),
        args.interval,
        lambda: (*changes.signature(), snapshot.marks_stamp(sock)),
        turns=changes.turns,
    )
    try:
        server = OtopServer(
            (args.host, args.port), hub, token, args.verbose, tuple(args.allow_host)
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    guard = "a bearer token is required" if token else "no token: loopback only"
    say(f"otop serve: http://{host}:{port}/agents ({guard}); Ctrl-C stops", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        serve(server)
    return 0


def _history(scanner: Scanner) -> Callable[[str], list[HistoryEntry]]:
    def history(session_id: str) -> list[HistoryEntry]:
        try:
            return scanner.history(session_id, limit=20)
        except StoreError:
            return []

    return history


def cmd_bar(args: argparse.Namespace) -> int:
    from otop.outputs.bar import FORMATS

    if args.source:
        scan = _fetch(args.source, args.token or os.environ.get("OTOP_TOKEN"))
        agents = list(scan.agents)  # as the server listed them
        problems = [p.message for p in scan.problems]
        status = exits.LOOKED
    else:
        scanner = _scanner(args)
        scan = listing.scan_once(scanner)
        agents = ordered(a for a in scan.agents if visible(a, False))
        named = scanner.only is not None
        own = exits.own_database_counts(scan, agents, named)
        problems = [p.message for p in scan.problems if p.source != "database" or own]
        status = exits.of_scan(scan, agents, named)
    rows = [row_view(a, scan.generated_at) for a in agents]
    say(FORMATS[args.format](rows, problems))
    return status


def _fetch(url: str, token: str | None) -> Scan:
    """The agents document from a running `otop serve` (the same HTTP client as for opencode
    servers: no redirects, a size cap, one deadline), read back as its Scan."""
    from otop.sources.opencode.remote import Client, ServerError, describe
    from otop.sources.opencode.servers import ServerConfig
    from otop.watcher.restore import scan_from

    base = url.rstrip("/").removesuffix("/agents")
    if not base.startswith(("http://", "https://")):
        raise UsageError(f"--from wants an http:// URL, not {url!r}")
    target = base + "/agents"
    try:
        doc = Client(ServerConfig("serve", base), timeout=5.0, token=token).get("/agents")
    except (ServerError, OSError, ValueError) as exc:
        raise CommandError(f"cannot read {target}: {describe(exc)}", exits.NO_SERVER) from None
    scan = scan_from(doc, None) if isinstance(doc, dict) else None
    if scan is None:
        raise CommandError(f"{target} did not answer an agents document", exits.NO_SERVER)
    return scan


def cmd_tmux(args: argparse.Namespace) -> int:
    from otop.plugin import wiring

    tmux = Tmux(Target.from_env(None, args.socket_name, args.socket_path))
    try:
        if args.action == "uninstall":
            for line in wiring.uninstall(tmux):
                say(f"otop: {line}")
            return 0
        report = wiring.setup(tmux)
    except TmuxError as exc:
        raise UsageError(f"tmux ({tmux.target.describe()}): {exc}") from None
    if report.messages:
        _notify(tmux, "otop: " + "; ".join(report.messages))
    for text in report.messages:
        say(f"otop: {text}", file=sys.stderr)
    keys = ", ".join(f"prefix+{k}" for k in report.bound) or "no keys"
    say(f"otop: bound {keys}; {report.watcher}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from otop.outputs.explain import explain

    scanner = _scanner(args)
    scan = listing.scan_once(scanner)
    try:
        agent = act.find(scan, args.target)
    except act.ActionError as exc:
        raise UsageError(str(exc)) from None
    say(explain(agent, time.time()))
    return exits.of_scan(scan, scan.agents, scanner.only is not None)
