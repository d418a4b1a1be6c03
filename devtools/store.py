"""Writes opencode's real database schema (1.18, or the older 1.14 shape) with chosen rows.

Tests build every state from it; the demo's simulated agents write through it. IDs have
opencode's shape (`ses_`/`msg_`/`prt_` + 12 hex + 14 base62); times are epoch milliseconds.
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
import time
from pathlib import Path
from typing import Any

_SESSION_1_18 = """
CREATE TABLE `session` (
  `id` text PRIMARY KEY, `project_id` text NOT NULL, `workspace_id` text, `parent_id` text,
  `slug` text NOT NULL, `directory` text NOT NULL, `path` text, `title` text NOT NULL,
  `version` text NOT NULL, `share_url` text, `summary_additions` integer,
  `summary_deletions` integer, `summary_files` integer, `summary_diffs` text, `metadata` text,
  `cost` real DEFAULT 0 NOT NULL, `tokens_input` integer DEFAULT 0 NOT NULL,
  `tokens_output` integer DEFAULT 0 NOT NULL, `tokens_reasoning` integer DEFAULT 0 NOT NULL,
  `tokens_cache_read` integer DEFAULT 0 NOT NULL, `tokens_cache_write` integer DEFAULT 0 NOT NULL,
  `revert` text, `permission` text, `agent` text, `model` text, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `time_compacting` integer, `time_archived` integer);
"""
# opencode 1.18 logs every write per session: a sequence per session, and the events.
_EVENTS_1_18 = """
CREATE TABLE `event_sequence` (
  `aggregate_id` text PRIMARY KEY, `seq` integer NOT NULL, `owner_id` text);
CREATE UNIQUE INDEX `event_aggregate_seq_idx` ON `event` (`aggregate_id`,`seq`);
"""
_SESSION_1_14 = """
CREATE TABLE `session` (
  `id` text PRIMARY KEY, `project_id` text NOT NULL, `parent_id` text, `slug` text NOT NULL,
  `directory` text NOT NULL, `title` text NOT NULL, `version` text NOT NULL, `share_url` text,
  `summary_additions` integer, `summary_deletions` integer, `summary_files` integer,
  `summary_diffs` text, `revert` text, `permission` text, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `time_compacting` integer, `time_archived` integer);
CREATE TABLE `__drizzle_migrations` (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric);
"""
_COMMON = """
CREATE TABLE `project` (
  `id` text PRIMARY KEY, `worktree` text NOT NULL, `vcs` text, `name` text, `icon_url` text,
  `icon_color` text, `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  `time_initialized` integer, `sandboxes` text NOT NULL);
CREATE TABLE `message` (
  `id` text PRIMARY KEY, `session_id` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL);
CREATE TABLE `part` (
  `id` text PRIMARY KEY, `message_id` text NOT NULL, `session_id` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL);
CREATE TABLE `todo` (
  `session_id` text NOT NULL, `content` text NOT NULL, `status` text NOT NULL,
  `priority` text NOT NULL, `position` integer NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, CONSTRAINT `todo_pk` PRIMARY KEY(`session_id`, `position`));
CREATE TABLE `event` (
  `id` text PRIMARY KEY, `aggregate_id` text NOT NULL, `seq` integer NOT NULL,
  `type` text NOT NULL, `data` text NOT NULL);
CREATE INDEX `message_session_time_created_id_idx` ON `message` (`session_id`,`time_created`,`id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`,`id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `session_parent_idx` ON `session` (`parent_id`);
CREATE INDEX `todo_session_idx` ON `todo` (`session_id`);
"""
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
RUN_PERMISSION = json.dumps([{"permission": "question", "action": "deny", "pattern": "*"}])


def now_ms() -> int:
    return int(time.time() * 1000)


class Ids:
    """opencode-shaped ids: ascending for messages and parts, descending for sessions."""

    def __init__(self, seed: int | None = None) -> None:
        self._rand = random.Random(seed)
        self._last = 0
        self._counter = 0

    def make(self, prefix: str, at_ms: int, descending: bool = False) -> str:
        if at_ms == self._last:
            self._counter += 1
        else:
            self._last, self._counter = at_ms, 0
        value = (at_ms * 0x1000 + self._counter) & ((1 << 48) - 1)
        if descending:
            value = ~value & ((1 << 48) - 1)
        tail = "".join(self._rand.choice(_B62) for _ in range(14))
        return f"{prefix}_{value:012x}{tail}"


class OpencodeDB:
    """A writable opencode database in the real schema, for tests and the demo."""

    def __init__(self, path: Path, *, schema: str = "1.18", seed: int | None = None) -> None:
        self.path = path
        self.schema = schema
        self.ids = Ids(seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self.con = sqlite3.connect(str(path), timeout=10, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=wal")
        if fresh:
            if schema == "1.18":
                self.con.executescript(_SESSION_1_18 + _COMMON + _EVENTS_1_18)
            else:
                # 1.14 has the event tables too, and never writes to them (measured).
                self.con.executescript(_SESSION_1_14 + _COMMON + _EVENTS_1_18)
        self.events = schema == "1.18"

    def event(self, sid: str, kind: str) -> None:
        """Log a write to a session as opencode 1.18 does (the sequence, then the event)."""
        if not self.events:
            return
        row = self.con.execute(
            "SELECT seq FROM event_sequence WHERE aggregate_id = ?", [sid]
        ).fetchone()
        seq = 0 if row is None else int(row[0]) + 1
        self.con.execute(
            "INSERT OR REPLACE INTO event_sequence (aggregate_id, seq) VALUES (?, ?)", [sid, seq]
        )
        self.con.execute(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?, ?, ?, ?, '{}')",
            [self.ids.make("evt", now_ms()), sid, seq, kind],
        )

    def close(self) -> None:
        self.con.close()

    # -- sessions ---------------------------------------------------------------------------

    def session(
        self,
        directory: str,
        title: str = "New session",
        *,
        parent: str | None = None,
        interactive: bool = True,
        at: int | None = None,
        model: str = "fake/fake-model",
        agent: str = "build",
    ) -> str:
        at = at or now_ms()
        sid = self.ids.make("ses", at, descending=True)
        provider, _, mid = model.partition("/")
        row: dict[str, Any] = {
            "id": sid,
            "project_id": "global",
            "parent_id": parent,
            "slug": "quiet-otter",
            "directory": directory,
            "title": title,
            "version": "1.18.33" if self.schema == "1.18" else "1.14.48",
            "permission": None if interactive and not parent else RUN_PERMISSION,
            "time_created": at,
            "time_updated": at,
        }
        if self.schema == "1.18":
            row["agent"] = agent
            row["model"] = json.dumps({"id": mid, "providerID": provider, "variant": "default"})
        cols = ", ".join(row)
        self.con.execute(
            f"INSERT INTO session ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
        self.event(sid, "session.created.1")
        return sid

    def touch(self, sid: str, at: int | None = None, **columns: Any) -> None:
        """Update a session's time_updated (and any other columns)."""
        columns["time_updated"] = at or now_ms()
        sets = ", ".join(f"{k} = ?" for k in columns)
        self.con.execute(f"UPDATE session SET {sets} WHERE id = ?", [*columns.values(), sid])
        self.event(sid, "session.updated.1")

    # -- messages and parts -----------------------------------------------------------------

    def user(self, sid: str, text: str, at: int | None = None) -> str:
        at = at or now_ms()
        mid = self.ids.make("msg", at)
        data = {
            "role": "user",
            "time": {"created": at},
            "agent": "build",
            "model": {"providerID": "fake", "modelID": "fake-model"},
        }
        self._message(mid, sid, at, data)
        self.part(mid, sid, {"type": "text", "text": text}, at)
        self.touch(sid, at)
        return mid

    def assistant(
        self,
        sid: str,
        *,
        at: int | None = None,
        completed: int | None = None,
        finish: str | None = None,
        error: dict[str, Any] | None = None,
        tokens_output: int = 0,
        parent: str | None = None,
    ) -> str:
        at = at or now_ms()
        mid = self.ids.make("msg", at)
        data: dict[str, Any] = {
            "parentID": parent or "",
            "role": "assistant",
            "mode": "build",
            "agent": "build",
            "path": {"cwd": "/", "root": "/"},
            "cost": 0,
            "tokens": {
                "total": 100 + tokens_output,
                "input": 100,
                "output": tokens_output,
                "reasoning": 0,
                "cache": {"write": 0, "read": 0},
            },
            "modelID": "fake-model",
            "providerID": "fake",
            "time": {"created": at},
        }
        if completed is not None:
            data["time"]["completed"] = completed
        if finish:
            data["finish"] = finish
        if error:
            data["error"] = error
        self._message(mid, sid, at, data)
        self.touch(sid, at)
        return mid

    def complete(
        self, mid: str, *, finish: str | None = "stop", error: dict[str, Any] | None = None
    ) -> None:
        """Finish an assistant message as opencode does: finish, tokens, then time.completed."""
        raw, sid = self.con.execute(
            "SELECT data, session_id FROM message WHERE id = ?", [mid]
        ).fetchone()
        data = json.loads(raw)
        at = now_ms()
        data["time"]["completed"] = at
        if finish:
            data["finish"] = finish
        if error:
            data["error"] = error
        self.con.execute(
            "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
            [json.dumps(data), at, mid],
        )
        self.event(sid, "message.updated.1")

    def _message(self, mid: str, sid: str, at: int, data: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data)"
            " VALUES (?, ?, ?, ?, ?)",
            [mid, sid, at, at, json.dumps(data)],
        )
        self.event(sid, "message.updated.1")

    def part(self, mid: str, sid: str, data: dict[str, Any] | str, at: int | None = None) -> str:
        """Add a part; `data` may be a raw string to store malformed JSON."""
        at = at or now_ms()
        pid = self.ids.make("prt", at)
        raw = data if isinstance(data, str) else json.dumps(data)
        self.con.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [pid, mid, sid, at, at, raw],
        )
        self.event(sid, "message.part.updated.1")
        return pid

    def update_part(self, pid: str, data: dict[str, Any]) -> None:
        self.con.execute(
            "UPDATE part SET data = ?, time_updated = ? WHERE id = ?",
            [json.dumps(data), now_ms(), pid],
        )
        (sid,) = self.con.execute("SELECT session_id FROM part WHERE id = ?", [pid]).fetchone()
        self.event(sid, "message.part.updated.1")

    def raw_message(self, sid: str, raw: str, at: int | None = None) -> str:
        """A message row whose data is exactly `raw` (for malformed JSON)."""
        at = at or now_ms()
        mid = self.ids.make("msg", at)
        self.con.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data)"
            " VALUES (?, ?, ?, ?, ?)",
            [mid, sid, at, at, raw],
        )
        self.event(sid, "message.updated.1")
        return mid

    def todo(self, sid: str, items: list[tuple[str, str]]) -> None:
        at = now_ms()
        self.con.execute("DELETE FROM todo WHERE session_id = ?", [sid])
        for pos, (content, status) in enumerate(items):
            self.con.execute(
                "INSERT INTO todo VALUES (?, ?, ?, ?, ?, ?, ?)",
                [sid, content, status, "medium", pos, at, at],
            )
        self.event(sid, "todo.updated.1")

    # -- whole turns, the way opencode writes them -------------------------------------------

    def tool_part(
        self,
        mid: str,
        sid: str,
        tool: str,
        status: str = "running",
        inp: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        state: dict[str, Any] = {"status": status, "input": inp or {}, "time": {"start": now_ms()}}
        if metadata:
            state["metadata"] = metadata
        if status in ("completed", "error"):
            state["time"]["end"] = now_ms()
            state["output"] = "ok"
        return self.part(
            mid, sid, {"type": "tool", "tool": tool, "callID": "call_1", "state": state}
        )

    def finished_turn(self, sid: str, prompt: str, answer: str, at: int | None = None) -> str:
        """A whole user + assistant exchange that ended normally."""
        at = at or now_ms()
        self.user(sid, prompt, at)
        mid = self.assistant(sid, at=at + 10, completed=at + 900, finish="stop", tokens_output=12)
        self.part(mid, sid, {"type": "step-start"}, at + 20)
        self.part(
            mid,
            sid,
            {"type": "text", "text": answer, "time": {"start": at + 30, "end": at + 800}},
            at + 30,
        )
        self.part(mid, sid, {"type": "step-finish", "reason": "stop"}, at + 850)
        return mid
