"""A command run with its output read back, without the subprocess module: loading that (its
threads, selectors and signal tables) cost a one-shot `otop list` more than running tmux did.
A `Child` is started at once and read later, so a caller can do its own work meanwhile."""

from __future__ import annotations

import os
import select

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# The same numbers on Linux, macOS and the BSDs.
_SIGKILL = 9
_SIGPIPE = 13


class Child:
    """One command started now (found on PATH as the shell would), its stdout and stderr piped
    back; stdin is otop's own. `wait` reads both to the end and reaps it."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        try:
            # Python ignores SIGPIPE, and an ignored signal stays ignored across exec.
            self.pid = os.posix_spawnp(
                argv[0],
                list(argv),
                os.environ if env is None else env,
                file_actions=actions,
                setsigdef=(_SIGPIPE,),
            )
        except BaseException:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            raise
        os.close(out_w)
        os.close(err_w)
        self._out, self._err = out_r, err_r
        self._result: tuple[int, bytes, bytes] | None = None

    def wait(self) -> tuple[int, bytes, bytes]:
        """The exit status (a negative signal number when killed), stdout and stderr."""
        if self._result is None:
            self._result = self._collect()
        return self._result

    def _collect(self) -> tuple[int, bytes, bytes]:
        out = {self._out: bytearray(), self._err: bytearray()}
        poller = select.poll()
        for fd in out:
            poller.register(fd, select.POLLIN)
        try:
            open_fds = len(out)
            while open_fds:  # both at once: a child blocked on a full stderr never ends
                for fd, _ in poller.poll():
                    data = os.read(fd, 1 << 16)
                    out[fd] += data
                    if not data:
                        poller.unregister(fd)
                        open_fds -= 1
            _, status = os.waitpid(self.pid, 0)
        except BaseException:  # interrupted: the child is not left behind
            os.kill(self.pid, _SIGKILL)
            os.waitpid(self.pid, 0)
            raise
        finally:
            for fd in out:
                os.close(fd)
        return os.waitstatus_to_exitcode(status), bytes(out[self._out]), bytes(out[self._err])


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """Run a command to its end: exit status, stdout, stderr (OSError when it cannot start)."""
    return Child(argv, env).wait()
