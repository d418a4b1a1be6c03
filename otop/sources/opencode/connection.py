"""A read-only connection to one opencode database (otop/sources/opencode/store.py reads sessions
through it): opened lazily, its tables and session columns learned, SQLite's errors said in
plain words, and whether the file it reads was removed or replaced since it was opened."""

from __future__ import annotations

import os
import sqlite3
from _thread import allocate_lock  # threading's own lock; `threading` costs 4M instructions
from collections.abc import Sequence


class StoreError(Exception):
    """The database cannot be read; the message says why in plain words."""


class Connection:
    """A read-only connection to one opencode database: opened on first use, its schema
    learned, what goes wrong said in plain words."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 2.0) -> None:
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._con: sqlite3.Connection | None = None
        self._lock = allocate_lock()  # the UI's and serve's threads share a connection
        self.session_columns: frozenset[str] = frozenset()
        self.tables: frozenset[str] = frozenset()
        self.queries = 0
        self.rows_read = 0
        self._file: tuple[int, int] | None = None  # device and inode of the file opened

    def open(self) -> None:
        """Open the database read-only and learn its schema; raise StoreError if unusable."""
        if self._con is not None:
            return
        try:
            self._file = _identity(self.path)
        except OSError:
            raise StoreError(
                f"no opencode database at {self.path} (has opencode run here?)"
            ) from None
        uri = f"file:{uri_path(self.path)}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, check_same_thread=False)
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(exc, self.path, self.busy_timeout)) from None
        if not {"session", "message", "part"} <= tables:
            con.close()
            raise StoreError(f"{self.path} is not an opencode database (no session/message tables)")
        self.tables = frozenset(tables)
        self.session_columns = frozenset(
            r[1] for r in con.execute("PRAGMA table_info(session)").fetchall()
        )
        self._con = con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def identity(self) -> tuple[int, int] | None:
        """The device and inode of the file open now (None before it is opened)."""
        return self._file

    def replaced(self) -> bool:
        """Whether the file open here was removed, or another put in its place, since."""
        if self._con is None:
            return False
        try:
            return _identity(self.path) != self._file
        except OSError:
            return True

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        if self._con is None:
            self.open()
        assert self._con is not None
        self.queries += 1
        try:
            with self._lock:
                rows = self._con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(exc, self.path, self.busy_timeout)) from None
        self.rows_read += len(rows)
        return rows

    def summary(self) -> tuple[int, str | None]:
        """How many sessions the database holds, and the newest opencode version that wrote one."""
        rows = self._rows("SELECT count(*), max(version) FROM session")
        count, version = rows[0] if rows else (0, None)
        return int(str(count or 0)), str(version) if version else None

    def newest_message(self) -> int:
        """The message table's highest rowid. It moves when a turn starts (the prompt's row)
        or a step begins: rarely, where data_version moves at every streamed word."""
        row = self._rows("SELECT max(rowid) FROM message")
        return int(row[0][0] or 0) if row else 0  # type: ignore[call-overload]

    def data_version(self) -> int:
        """A number that changes whenever another connection commits: a cheap change probe."""
        row = self._rows("PRAGMA data_version")
        return int(row[0][0]) if row else 0  # type: ignore[call-overload]


def uri_path(path: str) -> str:
    """A file path as the path of an SQLite URI: `%`, `?` and `#` escaped (SQLite decodes
    %HH and ends the path at `?` or `#`). Not urllib's quote: its import costs a one-shot
    scan more than the rest of this module."""
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _explain(exc: sqlite3.DatabaseError, path: str, timeout: float) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{path} is locked by a writer (waited {timeout:g} s); try again"
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a readable SQLite database ({text})"
    if "unable to open" in text:
        return f"cannot open {path} read-only ({text})"
    return f"cannot read {path}: {text}"


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
