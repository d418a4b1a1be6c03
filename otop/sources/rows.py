"""What a process source says of each process, every scan: the same record from /proc and
from psutil."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Row(NamedTuple):
    """One process as a scan sees every process; CPU, memory and terminal may be left None
    until `complete` is asked for the processes the scan keeps."""

    name: str  # the kernel's command name (comm)
    ppid: int
    cpu_seconds: float | None
    start: float  # with the pid, names a process for its whole life
    rss_bytes: int | None
    tty: str | None  # the controlling terminal as tmux names it (/dev/pts/N, /dev/ttysNNN)


class Source(Protocol):
    """Where processes are read from: /proc (Linux) or psutil (anywhere)."""

    name: str

    def table(self) -> dict[int, Row]: ...

    def complete(self, pid: int, row: Row) -> Row: ...

    def argv0(self, pid: int) -> str: ...

    def pids(self) -> set[int]: ...

    def owner(self, pid: int) -> int | None: ...

    def command(self, pid: int) -> str: ...
