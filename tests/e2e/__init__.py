"""End-to-end tests against the real opencode binary."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.lab import OPENCODE_VERSION, find_binary


def opencode_binary(version: str = OPENCODE_VERSION) -> str:
    """The installed opencode of that version; a test without it fails in CI (which must run
    every end-to-end test) and is skipped elsewhere."""
    binary = find_binary(version)
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"opencode {version} is not installed, and CI must run the e2e tests")
        pytest.skip(f"opencode {version} not installed (scripts/install-opencode)")
    return binary


def burn(n: int = 2) -> list[subprocess.Popen[bytes]]:
    """Busy loops that keep both cores loaded, as agents streaming beside each other do.

    At nice 5 (a quarter of a core each against the TUIs): with busy loops at the TUIs' own
    priority, one of three opencode 1.18.33 TUIs started together never drew its screen (its
    title stayed the shell's; 3 tries of 3), which would test opencode, not otop."""
    code = "import os\nos.nice(5)\nwhile True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
