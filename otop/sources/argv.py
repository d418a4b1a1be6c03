"""What an opencode command line says: its kind, the session it names, its project."""

from __future__ import annotations

from collections.abc import Sequence

from otop.core.model import ProcKind

NAMES = frozenset({"opencode", "opencode.exe"})
# Subcommands that are not agents (they talk to opencode's services and leave).
_OTHER = frozenset(
    {
        "auth",
        "agent",
        "upgrade",
        "uninstall",
        "models",
        "stats",
        "export",
        "import",
        "github",
        "pr",
        "debug",
        "mcp",
        "session",
        "completion",
        "generate",
        "plugin",
        "db",
        "service",  # opencode 2: start, stop or ask after the per-user service
        "api",
    }
)
_KINDS = {
    "run": ProcKind.RUN,
    "serve": ProcKind.SERVE,
    "web": ProcKind.SERVE,
    "acp": ProcKind.SERVE,
    "attach": ProcKind.ATTACH,
}
# Options of the TUI (and `run`) that take a value, so their value is not a positional.
_VALUED = {
    "-s",
    "--session",
    "-m",
    "--model",
    "--prompt",
    "-p",
    "--agent",
    "--port",
    "--hostname",
    "--log-level",
    "--format",
    "-f",
    "--file",
    "--title",
    "--attach",
    "--dir",
    "--variant",
    "--mdns-domain",
    "--cors",
    "--server",  # opencode 2: the service a TUI is a client of
}


def parse_argv(argv: Sequence[str]) -> tuple[ProcKind | None, str | None, bool, str | None]:
    """(kind, session id, continue flag, project dir) of an argv; kind None: not an agent."""
    session, cont, positional = _options(argv[1:])
    if positional:
        first = positional[0]
        if first == "serve" and "--service" in argv:
            return ProcKind.SERVICE, session, cont, None  # opencode 2's per-user service
        if first in _KINDS:
            return _KINDS[first], session, cont, None
        if first in _OTHER:
            return None, session, cont, None
        return ProcKind.TUI, session, cont, first
    return ProcKind.TUI, session, cont, None


def _options(args: Sequence[str]) -> tuple[str | None, bool, list[str]]:
    """(session id, continue flag, positionals) of the arguments after the program's name."""
    session = None
    cont = False
    positional: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-s", "--session") and i + 1 < len(args):
            session = args[i + 1]
            i += 2
            continue
        if a.startswith("--session="):
            session = a.split("=", 1)[1]
        elif a.startswith("-s") and len(a) > 2 and not a.startswith("--"):
            session = a[2:]
        elif a in ("-c", "--continue"):
            cont = True
        elif a in _VALUED and i + 1 < len(args):
            i += 2
            continue
        elif a == "--":
            positional.extend(args[i + 1 :])
            break
        elif not a.startswith("-"):
            positional.append(a)
        i += 1
    return session, cont, positional
