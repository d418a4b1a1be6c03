"""End-to-end tests against the real opencode binary."""

from __future__ import annotations

import os

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
