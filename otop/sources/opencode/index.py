"""The root sessions a scan needs, kept current from opencode's event log between scans.

Without an index on `session.time_updated` or `directory`, finding recent sessions means
reading the whole session table: cost that grows with history. opencode 1.18 appends every
write to `event` (a rowid table), so after one full read, the sessions touched since are a
rowid range away. A new project directory, or a few minutes passing, reads in full again;
schemas without the event log always read in full.

A one-shot scan (`otop list` without a watcher) lives for one scan: it keeps the index for the
next (otop/scan/kept.py), which then follows the event log from there instead of reading the
table again. What is kept names the database's device and inode, and the log's row it reached
by rowid and id; anything that does not match (another file, a log that went back, a database
made again where an old one was) is a full read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from otop.core.model import SessionBrief
from otop.sources.opencode.store import Store

# Catch what the event log cannot tell (deleted or archived sessions): a full read this often.
FULL_EVERY = 300.0
# More sessions touched since the last look than this (an import, a long absence): one full
# read costs less than their lookups by id, and stays under SQLite's limit of variables.
MANY_TOUCHED = 500


class RootIndex:
    """Root sessions in the live agents' directories or updated within a window."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cursor: int | None = None
        self.dirs: set[str] = set()
        self.known: dict[str, SessionBrief] = {}
        self.full_at = 0.0  # epoch seconds: a kept index is read by another process
        self.since = 0.0
        self.full_reads = 0

    def reset(self) -> None:
        self.cursor = None

    def roots(self, directories: Iterable[str], since: float) -> list[SessionBrief]:
        dirs = set(directories)
        now = time.time()
        if (
            self.cursor is not None
            and dirs <= self.dirs
            and 0.0 <= now - self.full_at <= FULL_EVERY
            and since >= self.since
        ):
            touched, cursor = self.store.touched_since(self.cursor, MANY_TOUCHED)
            if len(touched) <= MANY_TOUCHED:
                return self._follow(touched, cursor, dirs, since)
        return self._full_read(dirs, since, now)

    def _full_read(self, dirs: set[str], since: float, now: float) -> list[SessionBrief]:
        cursor = self.store.event_cursor()  # before the read: nothing slips between
        rows = self.store.roots(dirs, since)
        if cursor is None:
            return rows  # no event log in this schema: always the full read
        self.known = {b.id: b for b in rows}
        self.cursor, self.dirs, self.since, self.full_at = cursor, dirs, since, now
        self.full_reads += 1
        return rows

    def _follow(
        self, touched: set[str], cursor: int, dirs: set[str], since: float
    ) -> list[SessionBrief]:
        """The known roots brought up to date with the sessions the log says were touched."""
        if touched:
            fresh = self.store.roots_by_id(touched)
            for sid in touched:
                if sid in fresh:
                    self.known[sid] = fresh[sid]
                else:
                    self.known.pop(sid, None)  # a child session, or archived
        keep = [b for b in self.known.values() if b.directory in dirs or b.updated_at >= since]
        self.dirs, self.since = dirs | self.dirs, since
        self.known = {
            b.id: b
            for b in self.known.values()
            if b.directory in self.dirs or b.updated_at >= since
        }
        self.cursor = cursor
        return keep

    # -- kept between one-shot scans ------------------------------------------------------------

    def kept(self) -> dict[str, object] | None:
        """What the next one-shot needs to take up this index (None when there is nothing to
        follow: no full read yet, or no event log in this schema)."""
        if self.cursor is None or self.store.identity is None:
            return None
        return {
            "database": [self.store.path, *self.store.identity],
            "cursor": self.cursor,
            "mark": self.store.event_id(self.cursor),
            "dirs": sorted(self.dirs),
            "since": self.since,
            "full_at": self.full_at,
            "known": [list(b) for b in self.known.values()],
        }

    def take_up(self, state: dict[str, Any]) -> bool:
        """Take up what a one-shot kept, when it is of this very database and its event log
        has not gone back since (the row it reached is still there, with the same id)."""
        try:
            self.store.open()
            if (
                state["database"] != [self.store.path, *(self.store.identity or ())]
                or not 0 < state["cursor"] <= (self.store.event_cursor() or 0)
                or state["mark"] is None
                or state["mark"] != self.store.event_id(state["cursor"])
            ):
                return False
            known = [SessionBrief(*row) for row in state["known"]]
            cursor, dirs = int(state["cursor"]), {str(d) for d in state["dirs"]}
            since, full_at = float(state["since"]), float(state["full_at"])
        except (ValueError, TypeError, KeyError):
            return False
        self.known = {b.id: b for b in known}
        self.cursor, self.dirs, self.since, self.full_at = cursor, dirs, since, full_at
        return True
