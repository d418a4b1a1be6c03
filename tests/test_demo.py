"""The demo, run headless as CI would: real states move, nothing is left running."""

from __future__ import annotations

import subprocess
import sys
import time

from otop.procs import ProcScanner


def test_demo_headless_shows_states_and_cleans_up() -> None:
    """The demo lists simulated agents in several states and stops every process it started."""

    def demo_agents() -> set[int]:
        # Only the demo's own agents: other tests may run real opencode processes meanwhile.
        return {p.pid for p in ProcScanner().scan()[0] if "otop-demo-" in (p.cwd or "")}

    before = demo_agents()
    out = subprocess.run(
        [sys.executable, "-m", "otop.sim.demo", "--headless", "16"],
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
    deadline = time.monotonic() + 10
    left = set()
    while time.monotonic() < deadline:
        left = demo_agents() - before
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"demo left processes behind: {left}"
