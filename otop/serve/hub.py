"""`otop serve`'s one scanning thread: it scans on a beat (at once when a prompt is sent),
keeps the latest document, and fans state changes out to the event streams' subscribers."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from otop.core.model import Group, Scan
from otop.core.text import clean
from otop.outputs.render import agent_json, document, ordered, visible
from otop.sources.opencode.rows import HistoryEntry

# A client that stops reading its event stream is dropped once this many events wait for it.
QUEUE_LIMIT = 100


class Subscriber:
    """One event-stream client: a bounded queue, a flag once it fell too far behind, and what
    wakes its stream when events were queued (called from the hub's thread)."""

    def __init__(self, wake: Callable[[], None] = lambda: None) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.dropped = threading.Event()
        self.wake = wake


# How often the `turns` probe is looked at between beats (one SQLite query per database).
GLANCE = 0.05


class Hub:
    """Scans on a beat in one thread; keeps the latest document; fans out state changes."""

    def __init__(
        self,
        scan: Callable[[], Scan],
        history: Callable[[str], list[HistoryEntry]],
        interval: float = 2.0,
        changes: Callable[[], object] | None = None,
        beat: float = 0.25,
        turns: Callable[[], object] | None = None,
    ) -> None:
        self._scan = scan
        self.history = history
        self.interval = interval
        # With `changes` (the watcher's cheap probes), a change is scanned within one beat
        # instead of waiting for the interval, which stays as the floor for what no probe
        # sees (screens, CPU).
        self.changes = changes
        self.beat = beat
        # With `turns` (a probe that moves when a prompt is sent), the wait between beats is
        # cut short by a turn starting: an agent is told working as soon as its prompt is written.
        self.turns = turns
        self.scans = 0
        self.lock = threading.Lock()
        self.scan: Scan | None = None
        self.doc: dict[str, Any] = {
            "version": 1,
            "generated_at": None,
            "agents": [],
            "problems": [],
        }
        self.states: dict[str, tuple[str, str | None]] = {}
        self.subscribers: list[Subscriber] = []
        self.stopped = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        last_sig: object = None
        last_scan = 0.0
        turns: object = None
        started = False
        while not self.stopped.is_set():
            sig = self.changes() if self.changes is not None else None
            now = time.monotonic()
            due = sig != last_sig or now - last_scan >= self.interval or self._working()
            if due or started:
                last_sig, last_scan = sig, now
                turns = self.turns() if self.turns is not None else None
                self.step()
            started = self._pause(self.beat if self.changes is not None else self.interval, turns)

    def _pause(self, seconds: float, turns: object) -> bool:
        """Wait for the next look. With a `turns` probe, a glance every GLANCE seconds ends
        the wait when it moved from `turns` (its value before the last scan): True then."""
        if self.turns is None:
            self.stopped.wait(seconds)
            return False
        end = time.monotonic() + seconds
        while not self.stopped.wait(min(GLANCE, max(0.0, end - time.monotonic()))):
            if self.turns() != turns:
                return True
            if time.monotonic() >= end:
                return False
        return False

    def _working(self) -> bool:
        """Working agents change without notice to the probes (a tool's output, a screen)."""
        with self.lock:
            scan = self.scan
        return scan is not None and any(a.group == Group.WORKING for a in scan.agents)

    def step(self) -> None:
        self.scans += 1
        try:
            scan = self._scan()
        except Exception as exc:  # a scan must never take the server down
            with self.lock:
                self.doc = {**self.doc, "problems": [f"scan failed: {exc}"]}
            self.ready.set()
            return
        agents = ordered(a for a in scan.agents if visible(a, False))
        doc = document(scan, agents)
        doc["problems"] = [p.message for p in scan.problems]
        events = []
        now_states: dict[str, tuple[str, str | None]] = {}
        for a, js in zip(agents, doc["agents"], strict=True):  # type: ignore[call-overload]
            key = a.session_id or a.key
            now_states[key] = (a.state.value, a.tool)
            before = self.states.get(key)
            if before != now_states[key]:
                events.append(
                    {"type": "state", "previous": before[0] if before else None, "agent": js}
                )
        for key, (state, _) in self.states.items():
            if key not in now_states:
                events.append({"type": "gone", "previous": state, "key": key})
        with self.lock:
            self.scan, self.doc, self.states = scan, doc, now_states
            subscribers = list(self.subscribers)
        for sub in subscribers:
            for e in events:
                try:
                    sub.queue.put_nowait(e)
                except queue.Full:
                    # Never wait for a slow reader: it would stall every other client.
                    sub.dropped.set()
                    self.unsubscribe(sub)
                    break
            if events:
                sub.wake()
        self.ready.set()

    def subscribe(self, wake: Callable[[], None] = lambda: None) -> Subscriber:
        sub = Subscriber(wake)
        with self.lock:
            self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            if sub in self.subscribers:
                self.subscribers.remove(sub)

    def agent(self, session_id: str) -> dict[str, Any] | None:
        """One agent with its todos and last messages, or None when no agent shows it."""
        with self.lock:
            scan = self.scan
        if scan is None:
            return None
        for a in scan.agents:
            if a.session_id == session_id:
                out = agent_json(a, scan.generated_at)
                out["last_messages"] = [_message(e) for e in self.history(session_id)[-20:]]
                return out
        return None


def _message(e: HistoryEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "role": e.role,
        "created_at": int(e.created_at * 1000),
        "model": clean(e.model) or None,
        "output_tokens": e.tokens_output,
        "error": clean(e.error) or None,
        "parts": [
            {"type": p.kind, "text": p.text, "tool": p.tool or None, "status": p.status or None}
            for p in e.parts
        ],
    }
