"""otop's own way of running a command (tmux) and reading its output, without the subprocess
module: real processes, every way they can end."""

from __future__ import annotations

import os
import sys
import time

import pytest

from otop.core.spawn import Child, run


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_output_errors_and_exit_status() -> None:
    code = "import sys; print('out é'); print('err', file=sys.stderr); sys.exit(3)"
    assert run(py(code)) == (3, "out é\n".encode(), b"err\n")
    assert run(["true"]) == (0, b"", b"")


def test_both_streams_past_a_pipe_buffer() -> None:
    """A child filling stderr while otop waits on stdout (and the other way) still ends:
    both are read at once."""
    code = (
        "import sys\n"
        "sys.stderr.write('e' * 300000); sys.stderr.flush()\n"
        "sys.stdout.write('o' * 500000); sys.stdout.flush()\n"
        "sys.stderr.write('f' * 200000)\n"
    )
    status, out, err = run(py(code))
    assert status == 0 and out == b"o" * 500000 and err == b"e" * 300000 + b"f" * 200000


def test_a_missing_command_cannot_start() -> None:
    with pytest.raises(FileNotFoundError):
        run(["otop-no-such-command-here"])


def test_no_descriptor_is_left_open() -> None:
    fds = "/proc/self/fd" if os.path.isdir("/proc") else "/dev/fd"
    before = len(os.listdir(fds))
    for _ in range(20):
        run(["true"])
    with pytest.raises(FileNotFoundError):
        run(["otop-no-such-command-here"])
    assert len(os.listdir(fds)) == before


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the child's /proc/self/status")
def test_the_child_gets_sigpipe_back() -> None:
    """Python ignores SIGPIPE, and an ignored signal would stay ignored in the child: the
    child has the default again (as a command run from a shell has)."""
    status = run(["cat", "/proc/self/status"])[1].decode()
    ignored = int(next(ln for ln in status.splitlines() if ln.startswith("SigIgn:")).split()[1], 16)
    assert not ignored & (1 << (13 - 1))  # SIGPIPE is 13


def test_a_killed_child_says_by_which_signal() -> None:
    assert run(py("import os, signal; os.kill(os.getpid(), signal.SIGTERM)"))[0] == -15


def test_started_now_read_later() -> None:
    """A Child runs while its caller works: waiting after its work is done takes no time."""
    child = Child(py("print('ready')"))
    time.sleep(1.0)  # the caller's own work
    t0 = time.monotonic()
    assert child.wait() == (0, b"ready\n", b"")
    assert time.monotonic() - t0 < 0.5
    assert child.wait() == (0, b"ready\n", b"")  # read once, kept
