"""The demo, run headless as CI would: real states move, nothing is left running."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from otop.sources.processes import ProcScanner


@pytest.mark.slow
@pytest.mark.tmux
def test_demo_headless_shows_states_and_cleans_up() -> None:
    """The demo lists simulated agents in several states and stops every process it started."""

    def demo_agents() -> set[int]:
        # Only the demo's own agents: other tests may run real opencode processes meanwhile.
        return {p.pid for p in ProcScanner().scan()[0] if "otop-demo-" in (p.cwd or "")}

    before = demo_agents()
    out = subprocess.run(
        [sys.executable, "-m", "devtools.demo", "--headless", "16"],
        capture_output=True,
        text=True,
        timeout=90,
    ).stdout
    assert "Add pagination" in out
    assert "Fix the flaky" in out
    seen = {s for s in ("permission", "question", "subagent", "tool:bash", "generating", "idle")
            if s in out}  # fmt: skip
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
    watchers = subprocess.run(["pgrep", "-f", "otop -S .*otop-demo-.* watch"],
                              capture_output=True, text=True).stdout.split()  # fmt: skip
    assert not watchers, f"the demo's watcher is still running: {watchers}"
