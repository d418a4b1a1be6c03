"""Which opencode data a process uses: its database, and the log and config directories
beside it. A running opencode holds its database open, so the files it holds say it best;
its environment (XDG_DATA_HOME, OPENCODE_DB, XDG_CONFIG_HOME) says where it would look
before it has opened it, and where its log and config live."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from otop.core.model import Home
from otop.sources.opencode.paths import config_dir, data_dir, db_file, state_dir

_OPENED = "open"  # the process holds the database open
_NAMED = "environment"  # its environment names it (it has not opened one yet)


def held_databases(paths: Sequence[str]) -> list[str]:
    """The SQLite databases among a process's open files (their -wal and -shm left out)."""
    return sorted({p for p in paths if p.endswith(".db") and os.path.basename(p) != ".db"})


def home_of(
    held: Sequence[str], env: Mapping[str, str] | None, fallback: Home
) -> tuple[Home | None, str]:
    """A process's data from the files it holds and its environment (None: unreadable; the
    config directory then is `fallback`'s, otop's own), or why it cannot be told.

    The database is the one it holds open: the one its environment names when it holds
    several, else the one opencode names (`opencode*.db`) when that is the only such; one
    named by its environment alone counts until it opens one (its first second or two)."""
    dbs = held_databases(held)
    named = db_file(env) if env is not None else None
    db: str | None = None
    if named is not None and named in dbs:
        db = named
    elif len(dbs) == 1:
        db = dbs[0]
    else:
        own = [d for d in dbs if os.path.basename(d).startswith("opencode")]
        db = own[0] if len(own) == 1 else None
    if db is None and dbs:
        return None, f"it holds {len(dbs)} databases open, and nothing says which is its own"
    how = _OPENED
    if db is None:
        if named is None:
            return None, "it holds no database open, and its environment cannot be read"
        db, how = named, _NAMED
    if env is not None:
        return Home(db, data_dir(env), config_dir(env), how, state_dir(env)), ""
    # Without its environment, the database's own directory is its data directory (opencode
    # keeps the database and the log directory side by side).
    return Home(db, os.path.dirname(db), fallback.config_dir, how), ""


def opened(home: Home | None) -> bool:
    """Whether a home was read off the files the process holds (final for its life)."""
    return home is not None and home.found == _OPENED
