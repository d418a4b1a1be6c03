"""`otop doctor`: plain-words checks of everything otop needs, with a verdict each."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from otop import __version__
from otop.cli import exits
from otop.core.model import Agent, Confidence
from otop.core.text import clean
from otop.core.versions import tmux_versions
from otop.plugin.options import OPTIONS, PREFIX, read_config
from otop.plugin.wiring import (
    BADGE,
    BOUND_OPTION,
    INTERPOLATED,
    PLACEHOLDER,
    installed_version,
    tmux_version,
)
from otop.scan.scanner import Scanner
from otop.sources.opencode.connection import StoreError
from otop.sources.tmux import Tmux, TmuxError
from otop.watcher.runtime import RuntimeDirError, holder, lock_path, log_path

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked, how it went, and what to do about it."""

    verdict: str
    topic: str
    text: str
    status: int = exits.LOOKED  # the exit status this check calls for (otop/cli/exits.py)


def _packages() -> list[Check]:
    found = []
    for name in ("textual", "psutil", "pyperclip", "h11"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            return [Check(FAIL, "python", f"package {name} is missing: reinstall otop")]
    py = ".".join(map(str, sys.version_info[:3]))
    verdict = OK if sys.version_info >= (3, 10) else FAIL
    return [Check(verdict, "python", f"Python {py}, otop {__version__}, " + ", ".join(found))]


def _tmux(tmux: Tmux) -> tuple[list[Check], bool]:
    """tmux itself, then whether a server answers."""
    if shutil.which("tmux") is None:
        return [
            Check(FAIL, "tmux", "tmux is not installed (apt-get install tmux)", exits.NO_TMUX)
        ], False
    version = installed_version()
    shown = f"{version[0]}.{version[1]}" if version != (99, 0) else "a development build"
    tested = [v.upstream for v in tmux_versions()]
    if version < min(tmux_version(f"tmux {v}") for v in tested):
        out = [
            Check(
                WARN,
                "tmux",
                f"tmux {shown}: older than any otop is tested on ({', '.join(tested)})",
            )
        ]
    elif version < (3, 2):
        out = [Check(WARN, "tmux", f"tmux {shown}: no popups before 3.2, prefix+O opens a window")]
    else:
        out = [Check(OK, "tmux", f"tmux {shown}, popups supported")]
    try:
        tmux.cmd("display-message", "-p", "#{socket_path}")
    except TmuxError:
        where = tmux.target.describe()
        asked = tmux.target.socket_name or tmux.target.socket_path
        status = exits.NO_TMUX if asked else exits.LOOKED
        out.append(Check(WARN, "tmux", f"no tmux server at {where}: run this inside tmux", status))
        return out, False
    return out, True


def _plugin(tmux: Tmux) -> list[Check]:
    out = []
    keys = tmux.option(BOUND_OPTION).split()
    if keys:
        out.append(Check(OK, "plugin", "loaded; keys " + ", ".join(f"prefix+{k}" for k in keys)))
    else:
        out.append(
            Check(
                WARN,
                "plugin",
                "not loaded in this server: add `run-shell "
                "/path/to/otop/otop.tmux` (or the TPM line) to tmux.conf",
            )
        )
    status = tmux.option("status-left") + tmux.option("status-right")
    if INTERPOLATED in status:
        out.append(Check(OK, "status", "the status line shows the counts"))
    elif PLACEHOLDER in status:
        out.append(Check(WARN, "status", "#{otop_status} is there but not wired: reload tmux.conf"))
    else:
        out.append(Check(WARN, "status", "no counts: put #{otop_status} in status-right"))
    formats = tmux.option("window-status-format")
    out.append(
        Check(OK, "badges", "window badges are on")
        if BADGE in formats
        else Check(WARN, "badges", "window badges are off (@otop-badges)")
    )
    sock = tmux.values("socket_path")[0]
    try:
        pid = holder(lock_path(sock))
    except RuntimeDirError as exc:
        out.append(Check(FAIL, "watcher", f"{exc}: the watcher cannot run"))
        return out
    if pid:
        out.append(Check(OK, "watcher", f"running (pid {pid})"))
    elif keys:
        log = log_path()
        out.append(
            Check(
                FAIL,
                "watcher",
                f"not running, so counts and badges are frozen: reload tmux.conf, or see {log}",
            )
        )
    return out


def _options(tmux: Tmux) -> list[Check]:
    """The `@otop-*` options, read and checked as the plugin reads them: each refused value."""
    errors = read_config(tmux).errors
    if errors:
        return [Check(WARN, "options", f"{e}: the default is used") for e in errors]
    return [Check(OK, "options", f"every {PREFIX}* option is good ({len(OPTIONS)} known)")]


def _database(scanner: Scanner) -> list[Check]:
    path = scanner.paths.db
    try:
        count, version = scanner.store.summary()
    except StoreError as exc:
        missing = not os.path.exists(path)
        status = exits.NO_DATABASE if scanner.only or not missing else exits.LOOKED
        return [Check(WARN if missing else FAIL, "database", str(exc), status)]
    return [Check(OK, "database", f"{path}: {count} sessions, written by opencode {version}")]


def _agents(scanner: Scanner) -> list[Check]:
    scanner.wait_for_servers()
    scan = scanner.scan()
    out = [
        Check(WARN, p.source, p.message, exits.of_scan(scan._replace(problems=(p,)), [], False))
        for p in scan.problems
        if p.source not in ("database", "tmux")  # said by the checks of their own
    ]
    for name, client in scanner.remotes.clients.items():
        if not any(p.source == "server" and f"server {name} " in p.message for p in scan.problems):
            out.append(Check(OK, "server", f"{name} ({client.config.url}) answers"))
    live = [a for a in scan.agents if a.proc is not None]
    if not live:
        return [*out, Check(OK, "agents", "no opencode process running right now")]
    for a in live:
        assert a.proc is not None
        ev = a.evidence_session
        where = a.pane.location if a.pane else "no tmux pane"
        sid = a.session_id or "no session yet"
        verdict = WARN if ev.confidence in (Confidence.GUESS, Confidence.UNKNOWN) else OK
        text = (
            f"pid {a.proc.pid} in {where}: {sid}, {a.state.value};"
            f" session by {ev.source} ({ev.confidence.value}); {_database_of(a)}"
        )
        out.append(Check(verdict, "agent", text))
    return out + _services(live)


def _database_of(agent: Agent) -> str:
    """Which database the agent's session is read from, or why none could be told."""
    if agent.database:
        return f"database {clean(agent.database)}"
    if agent.proc is not None and (agent.proc.version or "").startswith("2."):
        return "read through its user's opencode 2 service"
    problem = agent.proc.home_problem if agent.proc else None
    return f"cannot tell which database: {clean(problem)}" if problem else "no database"


def _clipboard() -> Check:
    import pyperclip

    copy, _ = pyperclip.determine_clipboard()
    if type(copy).__name__ == "ClipboardUnavailable":
        return Check(OK, "clipboard", "no clipboard tool: `y` copies to the tmux buffer")
    return Check(OK, "clipboard", "system clipboard available for `y`")


def run(scanner: Scanner) -> list[Check]:
    """Every check, in the order a person would fix things."""
    checks = _packages()
    tmux = scanner.tmux
    assert tmux is not None
    tmux_checks, server = _tmux(tmux)
    checks += tmux_checks
    if server:
        checks += _guard(lambda: _plugin(tmux), "plugin")
        checks += _guard(lambda: _options(tmux), "options")
    checks += _database(scanner)
    checks += _guard(lambda: _agents(scanner), "agents")
    checks.append(_clipboard())
    return checks


def _services(agents: list[Agent]) -> list[Check]:
    """Each opencode 2 service the TUIs of the last scan are clients of: where, its version,
    and how many of them; one that cannot be read was said among the agents' problems."""
    from otop.sources.opencode.service import ServiceError, locate

    clients: dict[str, int] = {}
    for a in agents:
        if a.proc is not None and a.proc.version and a.proc.version.startswith("2."):
            home = a.proc.home.state_dir if a.proc.home else ""
            clients[home] = clients.get(home, 0) + 1
    out = []
    for state_dir, n in sorted(clients.items()):
        try:
            where = locate(state_dir)
        except ServiceError:
            continue
        text = f"opencode {where.version} at {where.url} (pid {where.pid}): {n} TUI(s) its clients"
        out.append(Check(OK, "service", text))
    return out


def _guard(fn: Callable[[], list[Check]], topic: str) -> list[Check]:
    try:
        return fn()
    except (TmuxError, StoreError, OSError) as exc:
        return [Check(FAIL, topic, f"could not check: {exc}")]


def report(checks: list[Check]) -> tuple[str, int]:
    """The checks as lines, and the exit status: the first a check calls for, else 1 when
    something a user needs is broken."""
    lines = [f"{c.verdict:<4}  {c.topic:<9} {c.text}" for c in checks]
    failed = sum(c.verdict == FAIL for c in checks)
    warned = sum(c.verdict == WARN for c in checks)
    lines.append(f"\n{failed} broken, {warned} to look at, {len(checks) - failed - warned} fine.")
    status = next((c.status for c in checks if c.status), exits.FAILED if failed else exits.LOOKED)
    return "\n".join(lines), status
