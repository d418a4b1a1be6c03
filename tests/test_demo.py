"""The demo, run headless as CI would: real states move, nothing is left running."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from otop.sources.processes import ProcScanner
from tests.conftest import ROOT, spawn_fake, wait_for


def demo_agents() -> set[int]:
    # Only the demo's own agents: other tests may run real opencode processes meanwhile.
    return {p.pid for p in ProcScanner().scan()[0] if "otop-demo-" in (p.cwd or "")}


@pytest.mark.slow
@pytest.mark.tmux
def test_demo_headless_shows_states_and_cleans_up(tmp_path: Path) -> None:
    """The demo lists its own simulated agents (not the user's other opencode processes) in
    several states and stops every process it started."""

    before = demo_agents()
    # Another opencode of the user's, with data of its own: not the demo's to list.
    foreign = spawn_fake(tmp_path, "-s", "ses_foreign0000000000000000000")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "devtools.demo", "--headless", "16"],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    finally:
        foreign.kill()
        foreign.wait()
    # The foreign process is never listed; the demo's own agents may read `new` (no session)
    # while they start, but each has its session by the last frame.
    assert f" {foreign.pid} " not in out and "(unknown session)" not in out
    last_frame = out.rsplit("status: ", 2)[-2]
    assert "(no session)" not in last_frame, last_frame
    assert "Add pagination" in out
    assert "Fix the flaky" in out
    seen = {
        s
        for s in ("permission", "question", "subagent", "tool:bash", "generating", "idle")
        if s in out
    }
    assert len(seen) >= 4, seen
    assert "demo:1.0" in out  # agents are mapped to their panes
    # The plugin is loaded: counts in the status line, badges on the agents' windows, moving.
    statuses = {line for line in out.splitlines() if line.startswith("status: ")}
    assert len(statuses) >= 2, statuses
    assert any("⏳" in s for s in statuses) and any("⚙" in s for s in statuses)
    badges = {line for line in out.splitlines() if line.startswith("badge api:")}
    assert len(badges) >= 2, badges
    assert "badge otop:\n" in out or "badge otop:" in out.splitlines()
    deadline = time.monotonic() + 10
    left = set()
    while time.monotonic() < deadline:
        left = demo_agents() - before
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"demo left processes behind: {left}"
    watchers = subprocess.run(
        ["pgrep", "-f", "otop -S .*otop-demo-.* watch"], capture_output=True, text=True
    ).stdout.split()
    assert not watchers, f"the demo's watcher is still running: {watchers}"


@pytest.mark.slow
@pytest.mark.tmux
def test_a_closed_terminal_leaves_nothing_running() -> None:
    """The demo attached to a terminal that is then closed (not detached from): within ten
    seconds its tmux server, watcher and simulated agents are gone."""
    before = demo_agents()
    master, slave = pty.openpty()
    demo = subprocess.Popen(
        [sys.executable, "-m", "devtools.demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    try:
        wait_for(lambda: len(demo_agents() - before) == 5, 30, what="the demo's agents")
        os.close(master)  # the terminal window closes: the kernel hangs its session up
        master = -1
        t0 = time.monotonic()
        wait_for(
            lambda: not (demo_agents() - before) and demo.poll() is not None,
            10,
            what="nothing of the demo left",
        )
        print(f"demo gone {time.monotonic() - t0:.1f} s after its terminal closed")
    finally:
        if master >= 0:
            os.close(master)
        if demo.poll() is None:
            demo.kill()
            demo.wait()
