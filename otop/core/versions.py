"""The opencode and tmux versions otop is tested against, read from versions.txt beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass

_PATH = os.path.join(os.path.dirname(__file__), "versions.txt")


@dataclass(frozen=True)
class TmuxVersion:
    """A tmux of Debian's: its package version (`3.5a-3`), suite and roles."""

    package: str
    suite: str
    roles: tuple[str, ...] = ()

    @property
    def upstream(self) -> str:
        """`3.1c-1+deb11u1` -> `3.1c`: what `tmux -V` says."""
        return self.package.split("-", 1)[0]


def _rows(kind: str) -> list[list[str]]:
    with open(_PATH, encoding="utf-8") as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    return [r[1:] for r in rows if r[0] == kind]


def opencode_versions() -> tuple[str, ...]:
    """Every opencode version the end-to-end tests run on, the pinned one first."""
    rows = _rows("opencode")
    return tuple(r[0] for r in sorted(rows, key=lambda r: "pinned" not in r[1:]))


def pinned_opencode() -> str:
    return opencode_versions()[0]


def tmux_versions() -> tuple[TmuxVersion, ...]:
    return tuple(TmuxVersion(r[0], r[1], tuple(r[2:])) for r in _rows("tmux"))
