"""Session details kept between scans: read again only when a session's event sequence (or
a child's) moved, and at least every DETAIL_TTL seconds for what the event log misses."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from otop.core.model import Problem, SessionBrief, SessionDetail
from otop.decide.tiers import Binding
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.store import Store

_Cached = tuple[tuple[object, ...], SessionDetail, float]
# A cached session detail is read again after this long even if its events stand still.
DETAIL_TTL = 10.0


class Details:
    """The details cache of one Scanner, bracketed by begin() and end() around each scan."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # (session id, depth) -> (change marker, detail, monotonic time read)
        self.cache: dict[tuple[str, int], _Cached] = {}
        self.used: set[tuple[str, int]] = set()

    def begin(self) -> None:
        self.used = set()

    def end(self) -> None:
        """Forget the details this scan did not ask for (their sessions are gone from view)."""
        self.cache = {k: v for k, v in self.cache.items() if k in self.used}

    def get(self, sid: str, depth: int, seqs: Mapping[str, int] | None) -> SessionDetail | None:
        """One session's detail, reused while its event sequence (and its children's) stand
        still; read again at least every DETAIL_TTL seconds for what the event log misses."""
        key = (sid, depth)
        self.used.add(key)
        cached = self.cache.get(key)
        marker: tuple[object, ...] | None = None
        if seqs is not None and sid in seqs:
            kids = cached[1].children if cached else ()
            marker = (seqs[sid], *(seqs.get(c.brief.id) for c in kids))
            if (
                cached is not None
                and cached[0] == marker
                and time.monotonic() - cached[2] < DETAIL_TTL
            ):
                return cached[1]
        d = self.store.detail(sid, depth=depth)
        if d is None:
            self.cache.pop(key, None)
            return None
        if marker is not None:
            kids_now = tuple(seqs.get(c.brief.id) for c in d.children) if seqs else ()
            self.cache[key] = ((marker[0], *kids_now), d, time.monotonic())
        return d

    def sequences(self, ids: Iterable[str]) -> dict[str, int] | None:
        """Event sequences of sessions and of the children their cached details hold."""
        wanted = set(ids)
        for (sid, _), (_, d, _) in self.cache.items():
            if sid in wanted:
                wanted.update(c.brief.id for c in d.children)
        return self.store.sequences(wanted)

    def bound(
        self, ids: list[str], db_ok: bool, problems: list[Problem]
    ) -> dict[str, SessionDetail]:
        out: dict[str, SessionDetail] = {}
        if not db_ok:
            return out
        try:
            seqs = self.sequences(ids)
        except StoreError as exc:
            problems.append(Problem("database", str(exc)))
            return out
        for sid in ids:
            try:
                d = self.get(sid, 1, seqs)
            except StoreError as exc:
                problems.append(Problem("database", str(exc)))
                break
            if d is not None:
                out[sid] = d
        return out

    def orphans(
        self,
        bindings: list[Binding],
        sessions: Mapping[str, SessionBrief],
        since: float,
        db_ok: bool,
        problems: list[Problem],
    ) -> list[SessionDetail]:
        """Recent root sessions with an unfinished turn that no live process shows."""
        if not db_ok:
            return []
        bound = {b.session_id for b in bindings}
        out: list[SessionDetail] = []
        recent = [
            s
            for s in sessions.values()
            if not s.parent_id and s.id not in bound and s.updated_at >= since
        ]
        try:
            seqs = self.store.sequences(s.id for s in recent)
        except StoreError as exc:
            problems.append(Problem("database", str(exc)))
            return out
        for s in recent:
            try:
                d = self.get(s.id, 0, seqs)
            except StoreError as exc:
                problems.append(Problem("database", str(exc)))
                return out
            if d is not None and not d.turn.completed and d.turn.last_message_id:
                out.append(d)
        return out
