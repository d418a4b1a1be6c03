"""`scripts/demo --real`: real opencode TUIs against the scripted model, headless."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from otop.sources.processes import ProcScanner
from tests.e2e import opencode_binary

pytestmark = [pytest.mark.e2e, pytest.mark.tmux, pytest.mark.ui]


def test_real_demo_shows_real_states_and_cleans_up() -> None:
    """Three real TUIs reach generating, tool and permission; the plugin counts them; nothing
    is left running afterwards."""
    opencode_binary()

    def mine() -> set[int]:
        return {p.pid for p in ProcScanner().scan()[0] if "otop-demo-real-" in (p.cwd or "")}

    out = subprocess.run(
        [sys.executable, "-m", "devtools.demo", "--real", "--headless", "16"],
        capture_output=True,
        text=True,
        timeout=150,
    ).stdout
    assert "Add pagination to the orders API" in out
    for state in ("generating", "tool:bash", "permission"):
        assert state in out, state
    assert any(
        "⏳1" in line and "⚙2" in line for line in out.splitlines() if line.startswith("status: ")
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and mine():
        time.sleep(0.3)
    assert not mine(), "the real demo left opencode running"
