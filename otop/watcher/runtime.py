"""The private runtime directory and the watcher's lock: whose files they are, and whether
the watcher and its tmux server live. Kept light (`os`, `fcntl`, `_socket` and
otop/core/xdg.py only, paths as strings): `otop list --json` uses it before anything else
loads (otop/cli/entry.py).
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys

from otop.core.xdg import xdg_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import IO

    from otop.sources.tmux import Tmux


class RuntimeDirError(Exception):
    """The runtime directory is not a private one of this user: said in one line."""


def runtime_dir(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> str:
    """A private directory for lock and log files: $XDG_RUNTIME_DIR/otop (when it is absolute,
    as the XDG spec asks); on macOS, which has no XDG_RUNTIME_DIR, $TMPDIR/otop (the per-user
    temporary directory, private already); else /tmp/otop-UID. It must be this user's own
    directory, mode 0700 and not a symlink (in /tmp anybody can make it first)."""
    env = os.environ if env is None else env
    base = xdg_dir(env, "XDG_RUNTIME_DIR") or (env.get("TMPDIR") if platform == "darwin" else None)
    d = os.path.join(base, "otop") if base else f"/tmp/otop-{os.getuid()}"
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise RuntimeDirError(f"cannot make the runtime directory {d}: {exc.strerror}") from None
    st = os.lstat(d)
    why = None
    if stat.S_ISLNK(st.st_mode):
        why = "is a symlink"
    elif not stat.S_ISDIR(st.st_mode):
        why = "is not a directory"
    elif st.st_uid != os.getuid():
        why = f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    elif st.st_mode & 0o077:
        why = f"is open to others (mode {stat.S_IMODE(st.st_mode):o}, not 700)"
    if why:
        raise RuntimeDirError(f"refusing the runtime directory {d}: it {why}")
    return d


def open_private(path: str, flags: int) -> int:
    """Open a file of the runtime directory without following a symlink planted there."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def is_watcher(pid: int) -> bool:
    """Whether a pid (read from a lock file) is this user's own `otop watch` process."""
    import psutil

    try:
        p = psutil.Process(pid)
        argv = p.cmdline()
        mine = p.uids().real == os.getuid()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return (
        mine and "watch" in argv and any("otop" in os.path.basename(a) or a == "otop" for a in argv)
    )


def server_alive(socket_path: str) -> bool:
    """Whether a tmux server answers on its socket (tmux 3.3a leaves the file after
    kill-server, so the file existing says nothing)."""
    import _socket  # the C module: `socket` itself would import enum, selectors and more

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(socket_path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def private_file(kind: str, socket_path: str, ext: str) -> str:
    """A file of the runtime directory that belongs to one tmux server."""
    return os.path.join(runtime_dir(), private_name(kind, socket_path, ext))


def private_name(kind: str, path: str, ext: str) -> str:
    """The name of a runtime file that belongs to one file (a tmux socket, a database), after
    its real path (on macOS /tmp is /private/tmp, and tmux says the latter)."""
    return kind + os.path.realpath(path).replace("/", "%") + ext


def lock_path(socket_path: str) -> str:
    """The lock file that makes a watcher the only one for its tmux server."""
    return private_file("watch", socket_path, ".lock")


class AlreadyRunning(Exception):
    """Another watcher holds the lock for this tmux server."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"a watcher already runs for this tmux server (pid {pid or '?'})")
        self.pid = pid


# How long a starting watcher tries for the lock. A reader (`holder`, `beats`: `otop doctor`,
# `list --json`, the tests) holds a shared lock for the microseconds of one read; a watcher
# holds its exclusive lock for its life. One refusal is no proof that a watcher runs.
LOCK_TRIES = 50
LOCK_RETRY_S = 0.01


def take_lock(path: str) -> IO[str]:
    """Hold the watcher lock for as long as the returned file stays open."""
    import time

    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    f = os.fdopen(fd, "r+", encoding="utf-8")
    for attempt in range(LOCK_TRIES):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt + 1 < LOCK_TRIES:
                time.sleep(LOCK_RETRY_S)
    else:
        f.seek(0)
        words = f.read().split()
        f.close()
        pid = int(words[0]) if words and words[0].isdigit() else None
        raise AlreadyRunning(pid)
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def write_beats(lock: IO[str], beats: int, scans: int, pushes: int) -> None:
    """Count the watcher's beats in its lock file, after its pid: `PID BEATS SCANS PUSHES`.
    One write in place per beat (the numbers only grow), read by `beats`: tests wait for N
    beats instead of sleeping, and `otop doctor` says the watcher is alive and looking."""
    line = f"{os.getpid()} {beats} {scans} {pushes}\n".encode()
    os.pwrite(lock.fileno(), line, 0)


def _held(path: str) -> list[int] | None:
    """The numbers of a lock file while a watcher holds it, else None."""
    try:
        f = os.fdopen(open_private(path, os.O_RDONLY), encoding="utf-8")
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            words = f.read().split()
            return [int(w) for w in words] if words and all(w.isdigit() for w in words) else []
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


def holder(path: str) -> int | None:
    """The pid of the watcher holding a lock, or None when nobody holds it."""
    held = _held(path)
    return held[0] if held else None


def beats(path: str) -> tuple[int, int, int] | None:
    """(beats, scans, pushes) of the watcher holding a lock, as it last counted them."""
    held = _held(path)
    if not held or len(held) < 4:
        return None
    return held[1], held[2], held[3]


def log_path() -> str:
    """Where watchers write their errors."""
    return os.path.join(runtime_dir(), "watch.log")


# -- starting and stopping the watcher (the plugin's part; imported late, so one-shot commands
# that only read the runtime directory stay light) ------------------------------------------


def socket_path(tmux: Tmux) -> str:
    return tmux.values("socket_path")[0]


def start_watcher(tmux: Tmux) -> str:
    """Start `otop watch` for this server, or ask the running one to re-read the options."""
    import signal
    import subprocess
    import sys

    sock = socket_path(tmux)
    pid = holder(lock_path(sock))
    if pid and is_watcher(pid):
        try:
            os.kill(pid, signal.SIGHUP)
            return f"watcher {pid} reloaded"
        except ProcessLookupError:
            pass
    log = log_path()
    if os.path.isfile(log) and not os.path.islink(log) and os.path.getsize(log) > 1_000_000:
        os.unlink(log)
    with os.fdopen(open_private(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "otop", "-S", sock, "watch"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
    return f"watcher {proc.pid} started"


def stop_watcher(tmux: Tmux, wait: float = 3.0) -> int | None:
    """Stop this server's watcher; returns its pid if one ran."""
    import signal
    import time

    lock = lock_path(socket_path(tmux))
    pid = holder(lock)
    if not pid or not is_watcher(pid):
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    end = time.monotonic() + wait
    while time.monotonic() < end and holder(lock):
        time.sleep(0.05)
    return pid
