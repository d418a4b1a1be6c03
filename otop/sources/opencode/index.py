"""The root sessions a scan needs, kept current from opencode's event log between scans.

Without an index on `session.time_updated` or `directory`, finding recent sessions means
reading the whole session table: cost that grows with history. opencode 1.18 appends every
write to `event` (a rowid table), so after one full read, the sessions touched since are a
rowid range away. A new project directory, or a few minutes passing, reads in full again;
schemas without the event log always read in full.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from otop.core.model import SessionBrief
from otop.sources.opencode.store import Store

# Catch what the event log cannot tell (deleted or archived sessions): a full read this often.
FULL_EVERY = 300.0


class RootIndex:
    """Root sessions in the live agents' directories or updated within a window."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cursor: int | None = None
        self.dirs: set[str] = set()
        self.known: dict[str, SessionBrief] = {}
        self.full_at = 0.0
        self.since = 0.0
        self.full_reads = 0

    def reset(self) -> None:
        self.cursor = None

    def roots(self, directories: Iterable[str], since: float) -> list[SessionBrief]:
        dirs = set(directories)
        mono = time.monotonic()
        if (
            self.cursor is None
            or not dirs <= self.dirs
            or mono - self.full_at > FULL_EVERY
            or since < self.since
        ):
            cursor = self.store.event_cursor()  # before the read: nothing slips between
            rows = self.store.roots(dirs, since)
            if cursor is None:
                return rows  # no event log in this schema: always the full read
            self.known = {b.id: b for b in rows}
            self.cursor, self.dirs, self.since, self.full_at = cursor, dirs, since, mono
            self.full_reads += 1
            return rows
        touched, self.cursor = self.store.touched_since(self.cursor)
        if touched:
            fresh = self.store.roots_by_id(touched)
            for sid in touched:
                if sid in fresh:
                    self.known[sid] = fresh[sid]
                else:
                    self.known.pop(sid, None)  # a child session, or archived
        self.dirs, self.since = dirs | self.dirs, since
        keep = [b for b in self.known.values() if b.directory in dirs or b.updated_at >= since]
        self.known = {
            b.id: b
            for b in self.known.values()
            if b.directory in self.dirs or b.updated_at >= since
        }
        return keep
