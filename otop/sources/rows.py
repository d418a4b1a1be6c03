"""What a process source says of each process, every scan, and of the opencode processes
it keeps: the same records from /proc and from psutil."""

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


class Facts(NamedTuple):
    """What does not change in a process's life: read once for each new opencode process."""

    uid: int  # its real user
    argv: tuple[str, ...]
    cwd: str | None  # None: it cannot be read (gone, or another user's)
    started_at: float  # epoch seconds
    exe: str | None = None  # its executable's path, where it can be read


class Source(Protocol):
    """Where processes are read from: /proc (Linux) or psutil (anywhere)."""

    name: str

    def table(self) -> dict[int, Row]: ...

    def complete(self, pid: int, row: Row) -> Row: ...

    def argv0(self, pid: int) -> str: ...

    def pids(self) -> set[int]: ...

    def owner(self, pid: int) -> int | None: ...

    def command(self, pid: int) -> str: ...

    def facts(self, pid: int) -> Facts | None:
        """None when the process is gone."""

    def open_files(self, pid: int) -> list[str]:
        """The paths of the files it holds open ([] when gone or not ours to read). Devices
        and removed files (` (deleted)` after the path) may be among them: what reads this
        looks for databases and logs by name."""

    def environ(self, pid: int) -> dict[str, str] | None:
        """None when it cannot be read."""

    def cpu_seconds(self, pid: int) -> float | None:
        """User and system time so far; None when gone."""
