"""The root sessions a scan needs, kept current from opencode's event log between scans.

Without an index on `session.time_updated` or `directory`, finding recent sessions means
reading the whole session table: cost that grows with history. opencode 1.18 appends every
write to `event` (a rowid table), so after one full read, the sessions touched since are a
rowid range away. A new project directory, or a few minutes passing, reads in full again;
schemas without the event log always read in full.

A one-shot scan (`otop list` without a watcher) lives for one scan: it keeps the index in a
small file of its private runtime directory (`keep`), so that the next one-shot follows the
event log from there instead of reading the table again. The file names the database's device
and inode, and the log's row it reached by rowid and id; anything that does not match (another
file, a log that went back, a database made again where an old one was) is a full read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable

from otop.core.model import SessionBrief
from otop.sources.opencode.store import Store

# Catch what the event log cannot tell (deleted or archived sessions): a full read this often.
FULL_EVERY = 300.0
# More sessions touched since the last look than this (an import, a long absence): one full
# read costs less than their lookups by id, and stays under SQLite's limit of variables.
MANY_TOUCHED = 500
# The kept file's layout; another number is read as no file.
KEPT_VERSION = 1


class RootIndex:
    """Root sessions in the live agents' directories or updated within a window."""

    def __init__(self, store: Store, keep: str | None = None) -> None:
        self.store = store
        self.keep = keep
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
        if self.cursor is None and self.keep is not None:
            self._restore()
        if (
            self.cursor is not None
            and dirs <= self.dirs
            and 0.0 <= now - self.full_at <= FULL_EVERY
            and since >= self.since
        ):
            touched, cursor = self.store.touched_since(self.cursor)
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
        self._save()
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
        if cursor != self.cursor:
            self.cursor = cursor
            self._save()
        return keep

    # -- kept between one-shot scans ------------------------------------------------------------

    def _save(self) -> None:
        """Leave the index for the next one-shot: written whole, then renamed into place."""
        if self.keep is None or self.cursor is None or self.store.identity is None:
            return
        state = {
            "version": KEPT_VERSION,
            "database": [self.store.path, *self.store.identity],
            "cursor": self.cursor,
            "mark": self.store.event_id(self.cursor),
            "dirs": sorted(self.dirs),
            "since": self.since,
            "full_at": self.full_at,
            "known": [list(b) for b in self.known.values()],
        }
        part = f"{self.keep}.{os.getpid()}"
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, ensure_ascii=False)
            os.replace(part, self.keep)
        except OSError:
            pass  # the next one-shot reads in full, as this one did

    def _restore(self) -> None:
        """Take up the index a one-shot left, when it is of this very database and its event
        log has not gone back since."""
        assert self.keep is not None
        try:
            fd = os.open(self.keep, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, encoding="utf-8") as f:
                state = json.load(f)
            self.store.open()
            if (
                state["version"] != KEPT_VERSION
                or state["database"] != [self.store.path, *(self.store.identity or ())]
                or not 0 < state["cursor"] <= (self.store.event_cursor() or 0)
                or state["mark"] is None
                or state["mark"] != self.store.event_id(state["cursor"])
            ):
                return
            known = [SessionBrief(*row) for row in state["known"]]
            cursor, dirs = int(state["cursor"]), {str(d) for d in state["dirs"]}
            since, full_at = float(state["since"]), float(state["full_at"])
        except (OSError, ValueError, TypeError, KeyError):
            return
        self.known = {b.id: b for b in known}
        self.cursor, self.dirs, self.since, self.full_at = cursor, dirs, since, full_at
