"""Where opencode keeps its database, logs and config, found the way opencode finds them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple


class Paths(NamedTuple):
    """opencode's data, log and config locations for one environment (a NamedTuple, not a
    dataclass: `list --json` from the snapshot resolves it without importing dataclasses)."""

    data_dir: Path
    config_dir: Path
    db: Path
    log_dir: Path

    @property
    def shared_log(self) -> Path:
        return self.log_dir / "opencode.log"


def _xdg(env: Mapping[str, str], name: str, default: str) -> Path:
    value = env.get(name, "")
    if value and os.path.isabs(value):
        return Path(value)
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / default


def find_paths(env: Mapping[str, str] | None = None, db: str | None = None) -> Paths:
    """Resolve opencode's paths from the environment (XDG dirs, OPENCODE_DB) or an explicit DB."""
    env = os.environ if env is None else env
    data_dir = _xdg(env, "XDG_DATA_HOME", ".local/share") / "opencode"
    config_dir = _xdg(env, "XDG_CONFIG_HOME", ".config") / "opencode"
    explicit = db or env.get("OTOP_DB") or env.get("OPENCODE_DB")
    if explicit:
        db_path = Path(explicit)
        if not db_path.is_absolute():
            db_path = data_dir / db_path
    else:
        db_path = _pick_db(data_dir)
    return Paths(data_dir=data_dir, config_dir=config_dir, db=db_path, log_dir=data_dir / "log")


def _pick_db(data_dir: Path) -> Path:
    """The stable channel's DB, else the most recently written channel DB (`opencode-*.db`)."""
    main = data_dir / "opencode.db"
    if main.exists():
        return main
    try:
        channels = [p for p in data_dir.glob("opencode-*.db") if p.is_file()]
    except OSError:
        channels = []
    if channels:
        return max(channels, key=_mtime)
    return main


def _mtime(path: Path) -> float:
    try:
        wal = path.with_name(path.name + "-wal")
        return max(path.stat().st_mtime, wal.stat().st_mtime if wal.exists() else 0.0)
    except OSError:
        return 0.0
