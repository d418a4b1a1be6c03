"""tmux through libtmux, turned into plain pane records; jump, capture and options."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otop.model import Pane

SEP = "\x1f"
_FIELDS = (
    "pane_id",
    "session_name",
    "window_index",
    "window_id",
    "window_name",
    "pane_index",
    "pane_tty",
    "pane_pid",
    "pane_current_command",
    "pane_active",
    "window_active",
    "pane_title",  # last: the only field a program inside the pane controls
)
_FORMAT = SEP.join(f"#{{{f}}}" for f in _FIELDS)
# A client line starts with the separator, which no pane line does (pane ids start with %).
_CLIENT_FORMAT = SEP + SEP.join(("#{client_name}", "#{pane_id}", "#{client_width}",
                                  "#{client_height}"))  # fmt: skip


class TmuxError(Exception):
    """A tmux command failed; the message says why in plain words."""


@dataclass(frozen=True)
class Target:
    """Which tmux server to talk to."""

    socket_name: str | None = None
    socket_path: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, name: str | None = None, path: str | None = None
    ) -> Target:
        """Explicit -L/-S first, else the server this process runs inside ($TMUX), else default."""
        if name or path:
            return cls(socket_name=name, socket_path=path)
        env = os.environ if env is None else env
        inside = env.get("TMUX", "")
        if inside:
            return cls(socket_path=inside.split(",")[0])
        return cls()

    def describe(self) -> str:
        if self.socket_path:
            return self.socket_path
        return f"-L {self.socket_name}" if self.socket_name else "default socket"

    def args(self) -> list[str]:
        if self.socket_path:
            return ["-S", self.socket_path]
        if self.socket_name:
            return ["-L", self.socket_name]
        return []


class Tmux:
    """One tmux server, spoken to with one command per question."""

    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target.from_env()
        self.available = shutil.which("tmux") is not None
        self._server: Any = None
        self.commands = 0
        # The attached clients and the pane each one shows, as of the last panes() or clients(),
        # and their sizes (columns, lines).
        self.looking: list[tuple[str, str]] = []
        self.sizes: list[tuple[int, int]] = []

    @property
    def server(self) -> Any:
        """The libtmux server, imported and made on first use (libtmux costs ~50 ms to import,
        and a command that never talks to tmux should not pay it)."""
        if self._server is None:
            import libtmux

            self._server = libtmux.Server(
                socket_name=self.target.socket_name, socket_path=self.target.socket_path
            )
        return self._server

    def cmd(self, *args: str) -> list[str]:
        """Run one tmux command; raise TmuxError with tmux's own words when it fails."""
        if not self.available:
            raise TmuxError("tmux is not installed (not on PATH)")
        self.commands += 1
        from libtmux import exc as tmux_exc

        try:
            result = self.server.cmd(*args)
        except tmux_exc.LibTmuxException as exc:
            raise TmuxError(str(exc)) from None
        if result.returncode != 0:
            err = " ".join(result.stderr).strip() or f"tmux {args[0]} failed"
            raise TmuxError(err)
        return list(result.stdout)

    def chain(self, commands: Iterable[Sequence[str]]) -> list[str]:
        """Several commands in one tmux invocation (`a ; b ; c`); tmux stops at a failure."""
        args: list[str] = []
        for c in commands:
            if args:
                args.append(";")
            args += [literal(a) for a in c]
        return self.cmd(*args) if args else []

    def option(self, name: str, default: str = "", scope: str = "-g") -> str:
        """One option's value, or the default when it is unset."""
        try:
            out = self.cmd("show-options", scope + "qv", name)
        except TmuxError:
            return default
        return "\n".join(out) if out else default

    def expand(self, fmt: str) -> str:
        """A format expanded by the server (`display-message -p`)."""
        return "\n".join(self.cmd("display-message", "-p", fmt))

    def panes(self) -> list[Pane]:
        """Every pane of every session of the server; empty when no server runs. The same tmux
        command lists the clients too (`looking`), at no extra process."""
        try:
            lines = self.cmd("list-panes", "-a", "-F", _FORMAT, ";", "list-clients", "-F",
                             _CLIENT_FORMAT)  # fmt: skip
        except TmuxError as exc:
            if _no_server(str(exc)):
                self.looking = []
                return []
            raise
        self._clients(lines)
        return [p for p in (parse_pane(line) for line in lines if line[:1] != SEP) if p]

    def clients(self) -> list[tuple[str, str]]:
        """The attached clients as (client name, pane it shows); empty when none or no server.
        Their sizes land in `sizes`."""
        try:
            self._clients(self.cmd("list-clients", "-F", _CLIENT_FORMAT))
        except TmuxError:
            self._clients([])
        return self.looking

    def _clients(self, lines: Iterable[str]) -> None:
        found = parse_clients(lines)
        self.looking = [(name, pane) for name, pane, _ in found]
        self.sizes = [size for _, _, size in found]

    def capture(self, pane_ids: Iterable[str], lines: int = 0) -> dict[str, str]:
        """The visible text of several panes, fetched in a single tmux command.

        Each pane's text follows a marker line that tmux prints with the pane's own
        `#{pane_id}` (a literal `%N` would go through strftime and come back mangled) and a
        random token of this call, so no text inside a pane can pass itself off as a marker."""
        ids = list(pane_ids)
        if not ids:
            return {}
        token = f"@@otop-{secrets.token_hex(8)}@@"
        args: list[str] = []
        for pid in ids:
            if args:
                args.append(";")
            args += ["display-message", "-p", "-t", pid, token + "#{pane_id}"]
            args += [";", "capture-pane", "-p", "-t", pid]
            if lines:
                args += ["-S", f"-{lines}"]
        try:
            out = self.cmd(*args)
        except TmuxError:
            # One closed pane fails the chain: fall back to one command each.
            if len(ids) == 1:
                return {}
            merged: dict[str, str] = {}
            for pid in ids:
                merged.update(self.capture([pid], lines))
            return merged
        return split_captures(out, token, ids)

    def styled(self, pane_id: str) -> str:
        """A pane's visible text with its colours (`capture-pane -e`)."""
        return "\n".join(self.cmd("capture-pane", "-p", "-e", "-t", pane_id))

    def keys(self, pane_id: str, *keys: str) -> None:
        """Press keys (tmux key names) in a pane."""
        self.cmd("send-keys", "-t", pane_id, *keys)

    def jump(self, pane: Pane, client: str | None = None) -> None:
        """Show a pane: switch the client to its session, select its window and the pane."""
        switch = ["switch-client"]
        if client:
            switch += ["-c", client]
        try:
            self.cmd(*switch, "-t", pane.id)
        except TmuxError as exc:
            # Outside any client (a plain shell), selecting is all that can be done.
            if "no current client" not in str(exc) and "can't find client" not in str(exc):
                raise
        self.cmd("select-window", "-t", pane.window_id)
        self.cmd("select-pane", "-t", pane.id)


def literal(arg: str) -> str:
    """An argument tmux will not split: a trailing `;` would end the command, `\\;` does not."""
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def split_captures(lines: Sequence[str], token: str, ids: Sequence[str]) -> dict[str, str]:
    """Cut a chained capture's output at its marker lines; a marker must name the pane asked
    for at its place in the chain, or the text after it is dropped."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    expected = iter(ids)
    for line in lines:
        if line.startswith(token):
            pane = line[len(token) :]
            current = result.setdefault(pane, []) if pane == next(expected, None) else None
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v) for k, v in result.items()}


def parse_clients(lines: Iterable[str]) -> list[tuple[str, str, tuple[int, int]]]:
    """Client lines of the format above as (client name, pane id, (columns, lines))."""
    out = []
    for line in lines:
        parts = line.split(SEP)
        if len(parts) == 5 and parts[0] == "" and parts[2].startswith("%"):
            w, h = (int(x) if x.isdigit() else 0 for x in parts[3:5])
            out.append((parts[1], parts[2], (w, h)))
    return out


def parse_pane(line: str) -> Pane | None:
    """One line of the list-panes format above as a Pane, or None if it is not one."""
    fields = line.split(SEP, len(_FIELDS) - 1)
    if len(fields) != len(_FIELDS):
        return None
    v = dict(zip(_FIELDS, fields, strict=False))
    try:
        return Pane(
            id=v["pane_id"],
            session=v["session_name"],
            window_index=int(v["window_index"]),
            window_id=v["window_id"],
            window_name=v["window_name"],
            pane_index=int(v["pane_index"]),
            tty=v["pane_tty"],
            pid=int(v["pane_pid"] or 0),
            title=v["pane_title"],
            current_command=v["pane_current_command"],
            active=v["pane_active"] == "1" and v["window_active"] == "1",
        )
    except ValueError:
        return None


def _no_server(text: str) -> bool:
    return any(
        s in text
        for s in (
            "no server running",
            "error connecting",
            "No such file or directory",
            "failed to connect",
        )
    )
