"""Where opencode keeps its database, logs and config, found the way opencode finds them.

Light on purpose: `otop list --json` resolves the database from here before anything else
loads (otop/cli/entry.py), so this module imports only `os` (and otop/core/xdg.py). Paths are
strings: nothing a one-shot scan reads needs pathlib (17 million instructions to import).
"""

from __future__ import annotations

import os

from otop.core.xdg import xdg_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Paths:
    """opencode's data, log and config locations for one environment."""

    __slots__ = ("config_dir", "data_dir", "db", "log_dir")

    def __init__(self, data_dir: str, config_dir: str, db: str, log_dir: str) -> None:
        self.data_dir = data_dir
        self.config_dir = config_dir
        self.db = db
        self.log_dir = log_dir

    @property
    def shared_log(self) -> str:
        return os.path.join(self.log_dir, "opencode.log")


def data_dir(env: Mapping[str, str]) -> str:
    return os.path.join(xdg_dir(env, "XDG_DATA_HOME", ".local/share"), "opencode")


def state_dir(env: Mapping[str, str]) -> str:
    return os.path.join(xdg_dir(env, "XDG_STATE_HOME", ".local/state"), "opencode")


def db_file(env: Mapping[str, str], db: str | None = None) -> str:
    """The database: an explicit one (--db, $OTOP_DB, $OPENCODE_DB; relative to the data
    directory), else the stable channel's, else the most recently written channel's
    (`opencode-*.db`)."""
    data = data_dir(env)
    explicit = db or env.get("OTOP_DB") or env.get("OPENCODE_DB")
    if explicit:
        return os.path.join(data, explicit)  # an absolute one stays as it is
    main = os.path.join(data, "opencode.db")
    if os.path.exists(main):
        return main
    try:
        names = os.listdir(data)
    except OSError:
        names = []
    channels = [
        os.path.join(data, n)
        for n in names
        if n.startswith("opencode-") and n.endswith(".db") and os.path.isfile(os.path.join(data, n))
    ]
    return max(channels, key=_mtime) if channels else main


def _mtime(path: str) -> float:
    try:
        wal = path + "-wal"
        return max(os.stat(path).st_mtime, os.stat(wal).st_mtime if os.path.exists(wal) else 0.0)
    except OSError:
        return 0.0


def config_dir(env: Mapping[str, str]) -> str:
    return os.path.join(xdg_dir(env, "XDG_CONFIG_HOME", ".config"), "opencode")


def find_paths(env: Mapping[str, str] | None = None, db: str | None = None) -> Paths:
    """Resolve opencode's paths from the environment (XDG dirs, OPENCODE_DB) or an explicit DB."""
    env = os.environ if env is None else env
    data = data_dir(env)
    return Paths(data, config_dir(env), db_file(env, db), os.path.join(data, "log"))
