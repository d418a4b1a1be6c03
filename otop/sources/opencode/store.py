"""opencode's SQLite store, read strictly read-only, by session id and newest rows first."""

from __future__ import annotations

import os
from collections.abc import Iterable

from otop.core.model import MessageRow, PartRow, SessionBrief, SessionDetail, Todo, Tokens, Turn
from otop.sources.opencode import turn as turn_rules
from otop.sources.opencode.connection import Connection
from otop.sources.opencode.rows import HistoryEntry, last_line, load_json, read_history
from otop.sources.opencode.turn import model_label, ms_to_s

# Messages read per session to find the newest turn; a user message further back is found
# by walking the same index lazily, never by reading the whole history.
_RECENT_MESSAGES = 6
_TEXT_SEARCH_MESSAGES = 12
_CHILDREN_LIMIT = 8


class Store(Connection):
    """opencode's sessions, messages and parts, tolerant of older schemas."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 2.0) -> None:
        super().__init__(path, busy_timeout=busy_timeout)
        self._sums: dict[tuple[str, float, int], tuple[Tokens, float]] = {}

    # -- sessions ---------------------------------------------------------------------------

    def _col(self, name: str, fallback: str = "NULL") -> str:
        return name if name in self.session_columns else fallback

    def _brief_select(self) -> str:
        return (
            "SELECT id, title, directory, time_created, time_updated, "
            f"{self._interactive()}, parent_id FROM session"
        )

    def _interactive(self) -> str:
        """The column that says a session is interactive (only a subagent's has a permission
        set; a database without the column has interactive sessions only)."""
        return "permission IS NULL" if "permission" in self.session_columns else "1"

    @staticmethod
    def _brief(row: tuple[object, ...]) -> SessionBrief:
        return SessionBrief(
            id=str(row[0]),
            title=str(row[1] or ""),
            directory=str(row[2] or ""),
            created_at=ms_to_s(row[3]) or 0.0,
            updated_at=ms_to_s(row[4]) or 0.0,
            interactive=bool(row[5]),
            parent_id=str(row[6]) if row[6] else None,
        )

    def roots(self, directories: Iterable[str], updated_since: float) -> list[SessionBrief]:
        """Root sessions in the given directories, or of any directory updated since a time."""
        dirs = sorted(set(directories))
        marks = ",".join("?" * len(dirs))
        where = f"directory IN ({marks}) OR " if dirs else ""
        archived = " AND time_archived IS NULL" if "time_archived" in self.session_columns else ""
        sql = (
            f"{self._brief_select()} WHERE parent_id IS NULL{archived}"
            f" AND ({where}time_updated >= ?)"
        )
        rows = self._rows(sql, [*dirs, int(updated_since * 1000)])
        return [self._brief(r) for r in rows]

    def roots_by_id(self, ids: Iterable[str]) -> dict[str, SessionBrief]:
        """Live (unarchived) root sessions among some ids (primary-key lookups)."""
        return {k: b for k, b in self.briefs(ids, archived=False).items() if b.parent_id is None}

    # -- change markers (opencode 1.18's event log) ----------------------------------------

    def event_cursor(self) -> int | None:
        """The newest row of the event log, or None when this schema has no event log."""
        if not {"event", "event_sequence"} <= self.tables:
            return None  # older schemas: no event log that every write goes through
        rows = self._rows("SELECT max(rowid) FROM event")
        # opencode 1.14 has the tables but writes nothing to them (measured): an empty log
        # cannot be followed, so read in full until an event shows it is kept.
        return int(str(rows[0][0] or 0)) or None

    def event_id(self, rowid: int) -> str | None:
        """The id of one row of the event log (random in part: it tells one log from another
        whose rows number alike), or None when there is no such row."""
        rows = self._rows("SELECT id FROM event WHERE rowid = ?", [rowid])
        return str(rows[0][0]) if rows else None

    def touched_since(self, cursor: int, most: int) -> tuple[set[str], int]:
        """Sessions with events after a cursor (a rowid range: cheap however long the log) and
        the log's newest row. Past `most` sessions it stops at one more (the caller reads in
        full then), not at the end of an import's thousands of rows."""
        newest = int(str(self._rows("SELECT max(rowid) FROM event")[0][0] or 0))
        if newest <= cursor:
            return set(), cursor
        rows = self._rows(
            "SELECT DISTINCT aggregate_id FROM event WHERE rowid > ? AND rowid <= ? LIMIT ?",
            [cursor, newest, most + 1],
        )
        return {str(r[0]) for r in rows}, newest

    def sequences(self, ids: Iterable[str]) -> dict[str, int] | None:
        """Each session's event count so far (changes with every write to it), or None when
        this schema does not keep one."""
        if "event_sequence" not in self.tables:
            return None
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._rows(
            f"SELECT aggregate_id, seq FROM event_sequence WHERE aggregate_id IN ({marks})", wanted
        )
        return {str(r[0]): int(r[1]) for r in rows}  # type: ignore[call-overload]

    def briefs(self, ids: Iterable[str], archived: bool = True) -> dict[str, SessionBrief]:
        """Sessions by id (primary-key lookups); `archived=False` leaves archived ones out."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        live = ""
        if not archived and "time_archived" in self.session_columns:
            live = " AND time_archived IS NULL"
        rows = self._rows(f"{self._brief_select()} WHERE id IN ({marks}){live}", wanted)
        return {b.id: b for b in (self._brief(r) for r in rows)}

    # -- one session in depth ----------------------------------------------------------------

    def detail(self, session_id: str, *, depth: int = 1) -> SessionDetail | None:
        """What the monitor needs of one session, from its newest rows only."""
        r = self._session_row(session_id)
        if r is None:
            return None
        brief = self._brief(r[:7])
        turn, model, agent, last_output = self._turn(session_id)
        if r[15]:
            turn = _with_compaction(turn)
        messages_row = self._rows("SELECT count(*) FROM message WHERE session_id = ?", [session_id])
        messages = int(messages_row[0][0]) if messages_row else 0  # type: ignore[call-overload]
        if "tokens_input" in self.session_columns:
            tokens = Tokens(*(int(x or 0) for x in r[10:15]))  # type: ignore[call-overload]
            cost = float(r[9] or 0.0)  # type: ignore[arg-type]
        else:
            tokens, cost = self._summed(session_id, brief.updated_at, messages)
        session_model = model_label(load_json(r[7])) if r[7] else ""
        children: tuple[SessionDetail, ...] = ()
        if depth > 0:
            children = self._children(session_id, turn.round_started_at, depth - 1)
        return SessionDetail(
            brief=brief,
            model=session_model or model,
            agent=str(r[8] or agent or ""),
            tokens=tokens,
            cost=cost,
            messages=messages,
            last_output=last_output,
            turn=turn,
            todos=self.todos(session_id),
            children=children,
        )

    def _session_row(self, session_id: str) -> tuple[object, ...] | None:
        """The session's own row: who it is, its model and agent, tokens, cost, compaction."""
        cols = [
            "id",
            "title",
            "directory",
            "time_created",
            "time_updated",
            self._interactive(),
            "parent_id",
            self._col("model"),
            self._col("agent"),
            self._col("cost"),
            self._col("tokens_input"),
            self._col("tokens_output"),
            self._col("tokens_reasoning"),
            self._col("tokens_cache_read"),
            self._col("tokens_cache_write"),
            self._col("time_compacting"),
        ]
        rows = self._rows(f"SELECT {', '.join(cols)} FROM session WHERE id = ?", [session_id])
        return rows[0] if rows else None

    def _turn(self, session_id: str) -> tuple[Turn, str, str, str]:
        """The newest messages (and the newest assistant's parts) of one session, read by
        otop.sources.opencode.turn; with the model, the agent and the model's last words."""
        recent = [
            MessageRow(str(mid), ms_to_s(c) or 0.0, ms_to_s(u) or 0.0, load_json(raw))
            for mid, c, u, raw in self._rows(
                "SELECT id, time_created, time_updated, data FROM message WHERE session_id = ?"
                " ORDER BY time_created DESC, id DESC LIMIT ?",
                [session_id, _RECENT_MESSAGES],
            )
        ]
        if not recent:
            return Turn(), "", "", ""
        earlier = None
        if not turn_rules.has_user(recent):
            earlier = self._last_user_time(session_id, int(recent[-1].created * 1000))
        newest = turn_rules.newest_assistant(recent)
        parts = []
        if newest is not None:
            parts = [
                PartRow(str(pid), ms_to_s(u) or 0.0, load_json(raw))
                for pid, u, raw in self._rows(
                    "SELECT id, time_updated, data FROM part WHERE message_id = ? ORDER BY id",
                    [newest.id],
                )
            ]
        turn, model, agent = turn_rules.build(recent, parts, earlier)
        return turn, model, agent, self._last_output(session_id)

    def _last_user_time(self, session_id: str, before_ms: int) -> float | None:
        """Walk the message index backwards from a point to the newest user message."""
        if self._con is None:
            self.open()
        assert self._con is not None
        self.queries += 1
        with self._lock:
            cur = self._con.execute(
                "SELECT time_created, data FROM message WHERE session_id = ? AND time_created <= ?"
                " ORDER BY time_created DESC, id DESC",
                [session_id, before_ms],
            )
            for created, raw in cur:
                data = load_json(raw)
                if data is not None and data.get("role") == "user":
                    cur.close()
                    return ms_to_s(created)
        return None

    def _last_output(self, session_id: str) -> str:
        """The last non-empty line of the newest assistant text, searching a few messages back."""
        rows = self._rows(
            "SELECT m.data, p.data FROM message m JOIN part p ON p.message_id = m.id"
            " WHERE m.id IN (SELECT id FROM message WHERE session_id = ?"
            " ORDER BY time_created DESC, id DESC LIMIT ?)"
            " ORDER BY m.time_created DESC, m.id DESC, p.id DESC",
            [session_id, _TEXT_SEARCH_MESSAGES],
        )
        roles: dict[object, str | None] = {}
        for mraw, raw in rows:
            if mraw not in roles:
                mdata = load_json(mraw)
                roles[mraw] = str(mdata.get("role")) if mdata else None
            if roles[mraw] != "assistant":
                continue  # the user's own prompt is not the model's last words
            data = load_json(raw)
            if data is None or data.get("type") != "text" or data.get("synthetic"):
                continue
            line = last_line(str(data.get("text") or ""))
            if line:
                return line
        return ""

    def newest_prompts(self, ids: Iterable[str]) -> dict[str, str]:
        """Each session's newest user prompt text (for telling panes apart by what they show)."""
        out: dict[str, str] = {}
        for sid in sorted(set(ids)):
            rows = self._rows(
                "SELECT m.data, p.data FROM message m JOIN part p ON p.message_id = m.id"
                " WHERE m.id IN (SELECT id FROM message WHERE session_id = ?"
                " ORDER BY time_created DESC, id DESC LIMIT ?)"
                " ORDER BY m.time_created DESC, m.id DESC, p.id",
                [sid, _TEXT_SEARCH_MESSAGES],
            )
            for mraw, raw in rows:
                mdata, data = load_json(mraw), load_json(raw)
                if not mdata or mdata.get("role") != "user" or not data:
                    continue
                if data.get("type") == "text" and not data.get("synthetic") and data.get("text"):
                    out[sid] = str(data["text"])
                    break
        return out

    def _summed(self, session_id: str, updated: float, count: int) -> tuple[Tokens, float]:
        """Tokens and cost added up from messages, for schemas whose session rows lack them."""
        key = (session_id, updated, count)
        if key in self._sums:
            return self._sums[key]
        rows = self._rows("SELECT data FROM message WHERE session_id = ?", [session_id])
        result = turn_rules.totals(load_json(raw) for (raw,) in rows)
        self._sums[key] = result
        return result

    def _children(
        self, session_id: str, since: float | None, depth: int
    ) -> tuple[SessionDetail, ...]:
        """Subagent sessions started in the current round (the parent index, newest first)."""
        rows = self._rows(
            "SELECT id, time_created FROM session WHERE parent_id = ?"
            " ORDER BY time_created DESC LIMIT ?",
            [session_id, _CHILDREN_LIMIT],
        )
        out = []
        for cid, created in rows:
            if since is not None and (ms_to_s(created) or 0.0) < since - 1.0:
                continue
            child = self.detail(str(cid), depth=depth)
            if child is not None:
                out.append(child)
        return tuple(out)

    def todos(self, session_id: str) -> tuple[Todo, ...]:
        if "todo" not in self.tables:
            return ()
        rows = self._rows(
            "SELECT content, status, priority FROM todo WHERE session_id = ? ORDER BY position",
            [session_id],
        )
        return tuple(Todo(str(c or ""), str(s or ""), str(p or "")) for c, s, p in rows)

    def history(self, session_id: str, limit: int = 200) -> list[HistoryEntry]:
        """The newest messages of a session with their parts, oldest first (detail view)."""
        return read_history(self._rows, session_id, limit)


def _with_compaction(turn: Turn) -> Turn:
    return turn._replace(completed=False)
