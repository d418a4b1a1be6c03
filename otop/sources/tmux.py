"""tmux, read the same way on every version into plain pane records; jump, capture, options."""

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from otop.core.model import Pane
from otop.core.spawn import Child
from otop.sources.tmux_args import chained

# Reading tmux the same way on every version (3.1c to 3.5a and on).
#
# tmux 3.5 passes whatever a command prints through vis(3) with VIS_OCTAL|VIS_CSTYLE|
# VIS_NOSLASH: a control byte comes back as `\037` or `\r`, but a backslash stays a lone
# backslash, so a value holding the text `\037` and one holding the byte 0x1f print the same.
# No control byte survives as a separator there, and such output cannot be un-escaped as it
# stands. So every value otop reads is asked for as #{s/\\/\\\\/:name}: tmux doubles the
# value's backslashes before printing. In what comes back, `\\` is a backslash of the value
# and any other backslash starts an escape that vis(3) made (`\ooo`, `\r`, ...) or the
# decoding of tmux's bytes did (`\xNN` for bytes that are not UTF-8), and otop's own
# separators are escapes no value can produce: `\|` ends a field, `\$` ends a record. Older
# tmux prints control bytes raw, and raw bytes read the same way: one decoding, every version.
FIELD_END = "\\|"
RECORD_END = "\\$"
_TOKEN = re.compile(r"\\(?:([0-7]{3})|x([0-9a-fA-F]{2})|(.))|[^\\]+|\\", re.DOTALL)
_CSTYLE = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "s": 32, "0": 0}


def field(name: str) -> str:
    """A format variable with its backslashes doubled by tmux (see above)."""
    return "#{s/\\\\/\\\\\\\\/:" + name + "}"


def record(names: Iterable[str], kind: str = "") -> str:
    """A format printing one record: an optional kind, then each variable as a field."""
    parts = [kind + FIELD_END] if kind else []
    parts += [field(n) + FIELD_END for n in names]
    return "".join(parts) + RECORD_END


def records(lines: Iterable[str]) -> list[list[str]]:
    """The records in a command's output (formats made by `record`), their fields decoded;
    text after the last record's end (an unfinished record) is dropped."""
    out: list[list[str]] = []
    fields: list[str] = []
    value = bytearray()
    after_record = False
    for m in _TOKEN.finditer("\n".join(lines)):
        octal, hexa, char = m.groups()
        text = m.group()
        if after_record and text.startswith("\n"):
            text = text[1:]  # the line break tmux prints after each record
        after_record = False
        if octal:
            value.append(int(octal, 8) & 0xFF)
        elif hexa:
            value.append(int(hexa, 16))
        elif char == "|":
            fields.append(value.decode("utf-8", "replace"))
            value = bytearray()
        elif char == "$":
            out.append(fields)
            fields, value, after_record = [], bytearray(), True
        elif char is not None and char in _CSTYLE:
            value.append(_CSTYLE[char])
        elif char == "\\":
            value.append(0x5C)
        else:
            value += text.encode()
    return out


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
    "pane_title",
)
_PANES = record(_FIELDS, "P")
_CLIENTS = record(("client_name", "pane_id", "client_width", "client_height"), "C")
_LIST_PANES = ("list-panes", "-a", "-F", _PANES, ";", "list-clients", "-F", _CLIENTS)


class TmuxError(Exception):
    """A tmux command failed; the message says why in plain words."""


class Target(NamedTuple):
    """Which tmux server to talk to."""

    socket_name: str | None = None
    socket_path: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, name: str | None = None, path: str | None = None
    ) -> "Target":
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


class Running:
    """A tmux command under way (see `Tmux.start`), or one that could not start (`error`)."""

    def __init__(self, child: Child | None, name: str, error: str = "") -> None:
        self.child = child
        self.name = name
        self.error = error

    def lines(self) -> list[str]:
        """What it printed, as lines; TmuxError with tmux's own words when it failed."""
        if self.child is None:
            raise TmuxError(self.error)
        code, out, err = self.child.wait()
        if code != 0:
            text = err.decode("utf-8", "backslashreplace").strip()
            raise TmuxError(" ".join(text.split()) or f"tmux {self.name} failed")
        lines = out.decode("utf-8", "backslashreplace").split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        return lines


class Tmux:
    """One tmux server, spoken to with one command per question."""

    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target.from_env()
        self.commands = 0
        # The attached clients and the pane each one shows, as of the last panes() or clients(),
        # and their sizes (columns, lines).
        self.looking: list[tuple[str, str]] = []
        self.sizes: list[tuple[int, int]] = []
        self._first: tuple[float, Running] | None = None  # see start_panes

    def cmd(self, *args: str) -> list[str]:
        """Run one tmux command; raise TmuxError with tmux's own words when it fails."""
        return self.start(*args).lines()

    def start(self, *args: str) -> Running:
        """Start one tmux command and return at once; its `lines()` wait for the answer (and
        raise TmuxError when it failed, or could not start).

        tmux is run directly: otop needs nothing but the command's output, read as bytes and
        decoded here (bytes that are not UTF-8 become `\\xNN`, which `records` reads back).
        `-u` makes tmux print UTF-8 whatever the locale of the watcher's environment: without
        it, a client that is not UTF-8 gets every non-ASCII character of a title as `_`."""
        self.commands += 1
        name = args[0] if args else "tmux"
        try:  # found on PATH as the shell would (shutil.which would load archive modules)
            return Running(Child(["tmux", "-u", *self.target.args(), *args]), name)
        except FileNotFoundError:
            return Running(None, name, "tmux is not installed (not on PATH)")
        except OSError as exc:
            return Running(None, name, f"cannot run tmux: {exc.strerror}")

    def chain(self, commands: Iterable[Sequence[str]]) -> list[str]:
        """Several commands in as few tmux invocations as fit (`a ; b ; c`); tmux stops at a
        failure, and so do the invocations after it (TmuxError)."""
        out: list[str] = []
        for args in chained(commands):
            out += self.cmd(*args)
        return out

    def option(self, name: str, default: str = "", scope: str = "-g") -> str:
        """One option's value as `show-options` prints it, or the default when it is unset.

        Exact for any value without control characters; tmux 3.5 prints those escaped (see
        `records`), which `show-options` gives no way to undo: `values` reads exactly, but
        as formats do (the session's value before the global one)."""
        try:
            out = self.cmd("show-options", scope + "qv", name)
        except TmuxError:
            return default
        return "\n".join(out) if out else default

    def values(self, *names: str, target: str | None = None) -> list[str]:
        """Format variables (options too) as the server expands them, for a pane (`target`)
        or where tmux stands; exactly; "" for each when tmux printed no record."""
        where = ["-t", target] if target else []
        found = records(self.cmd("display-message", "-p", *where, record(names)))
        row = found[0] if found else []
        return row if len(row) == len(names) else [""] * len(names)

    def client_values(self, client: str, *names: str) -> list[str] | None:
        """Format variables as one client sees them (its session, its pane), or None when no
        such client is attached. From `list-clients`: `display-message -c` expands its
        format for the client on tmux 3.2 and newer only."""
        for r in records(self.cmd("list-clients", "-F", record(("client_name", *names)))):
            if len(r) == len(names) + 1 and r[0] == client:
                return r[1:]
        return None

    def start_panes(self, options: Sequence[str] = ()) -> Running:
        """Start listing every pane and client (see `panes`); with `options`, their values
        first, in the same tmux process. Without, the answer of a `first_look` less than a
        second old is given again instead: a one-shot's scan costs no second tmux process."""
        first, self._first = self._first, None
        if not options and first is not None and time.monotonic() - first[0] < 1.0:
            return first[1]
        ask = ["display-message", "-p", record(options, "O"), ";"] if options else []
        return self.start(*ask, *_LIST_PANES)

    def first_look(self, *options: str) -> list[str]:
        """The named options' values as formats see them ("" when unset or no server runs),
        with every pane and client read in the same tmux process (see `start_panes`)."""
        running = self.start_panes(options)
        try:
            found = records(running.lines())
        except TmuxError:
            return [""] * len(options)  # a failure other than no server shows in the scan
        self._first = (time.monotonic(), running)
        row = next((r[1:] for r in found if r[:1] == ["O"]), [])
        return row if len(row) == len(options) else [""] * len(options)

    def panes(self, running: Running | None = None) -> list[Pane]:
        """Every pane of every session of the server; empty when no server runs. The same tmux
        command lists the clients too (`looking`), at no extra process. `running`: that
        command, started earlier by `start_panes` (a scan reads /proc meanwhile)."""
        try:
            found = records((running or self.start_panes()).lines())
        except TmuxError as exc:
            if _no_server(str(exc)):
                self.looking = []
                return []
            raise
        self._clients(found)
        return [p for p in (parse_pane(r) for r in found if r[:1] == ["P"]) if p]

    def clients(self) -> list[tuple[str, str]]:
        """The attached clients as (client name, pane it shows); empty when none or no server.
        Their sizes land in `sizes`."""
        try:
            self._clients(records(self.cmd("list-clients", "-F", _CLIENTS)))
        except TmuxError:
            self._clients([])
        return self.looking

    def _clients(self, found: Iterable[list[str]]) -> None:
        clients = parse_clients(found)
        self.looking = [(name, pane) for name, pane, _ in clients]
        self.sizes = [size for _, _, size in clients]

    def capture(self, pane_ids: Iterable[str], lines: int = 0) -> dict[str, str]:
        """The visible text of several panes, fetched in a single tmux command.

        Each pane's text follows a marker line that tmux prints with the pane's own
        `#{pane_id}` (a literal `%N` would go through strftime and come back mangled) and a
        random token of this call, so no text inside a pane can pass itself off as a marker."""
        ids = list(pane_ids)
        if not ids:
            return {}
        token = f"@@otop-{os.urandom(8).hex()}@@"  # (secrets would load hashlib)
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


def parse_clients(found: Iterable[list[str]]) -> list[tuple[str, str, tuple[int, int]]]:
    """Client records (kind "C") as (client name, pane id, (columns, lines))."""
    out = []
    for r in found:
        if len(r) == 5 and r[0] == "C" and r[2].startswith("%"):
            w, h = (int(x) if x.isdigit() else 0 for x in r[3:5])
            out.append((r[1], r[2], (w, h)))
    return out


def parse_pane(r: list[str]) -> Pane | None:
    """A pane record (kind "P", then the fields of `_FIELDS`) as a Pane, or None."""
    if len(r) != len(_FIELDS) + 1 or r[0] != "P":
        return None
    v = dict(zip(_FIELDS, r[1:], strict=True))
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
