"""End to end, on the real opencode (each version): replying from the popup's input, and the
watcher's notifications and unseen marks, with a real attached client.

Two TUIs in windows behind ten fillers (panes past %10): `ask` takes replies from the popup,
`work` runs turns while the client looks elsewhere. The plugin is loaded as TPM loads it, with
`@otop-notify-command` set to a script that writes each event it gets on stdin to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.widgets import DataTable, Static

from devtools import flaps
from devtools.lab import OPENCODE_VERSIONS, Lab, wait_until
from devtools.terminal import attach
from otop.core.model import Agent, State
from otop.decide.attention import DEFAULT_SETTLE, FINISHED, WAITING
from otop.scan.scanner import Options, Scanner
from otop.ui.app import OtopApp
from otop.ui.backend import LiveBackend
from otop.watcher.runtime import beats, lock_path
from tests.e2e import burn, opencode_binary

pytestmark = [pytest.mark.e2e, pytest.mark.ui]
ROOT = Path(__file__).resolve().parents[2]
NOTIFIER = "import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n"
QUESTION = (
    '{"questions":[{"question":"Pick one?","header":"Pick","options":'
    '[{"label":"red","description":"r"},{"label":"blue","description":"b"}]}]}'
)
PERMISSION = '[[call:read:{"filePath":"/etc/hostname"}]] read that file'


def drain(fd: int, into: bytearray) -> None:
    """Read a terminal's output until it closes, keeping its last 64 KiB (a failure shows it)."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            into += chunk
            del into[: max(0, len(into) - 65536)]


class World:
    """The lab, its two TUIs, a real client, the plugin's watcher and the notifier's file."""

    def __init__(self, lab: Lab, tmp: Path) -> None:
        self.lab = lab
        self.events = tmp / "events.jsonl"
        script = tmp / "notifier.py"
        script.write_text(NOTIFIER)
        lab.fillers()
        self.ask = lab.window("ask", lab.project("ask"))
        self.work = lab.window("work", lab.project("work"))
        # One after the other: opencode itself now and then never draws when started beside
        # another (seen in CI on 1.14.48 and 1.18.33: one pane blank after 120 s). Starting
        # together is tests/e2e/test_simultaneous.py's subject, with its retries.
        lab.start(self.ask)
        lab.start(self.work)
        command = shlex.join([sys.executable, str(script), str(self.events)])
        lab.tmux("set-option", "-g", "@otop-notify-command", command)
        lab.tmux("set-option", "-g", "@otop-command", f"{sys.executable} -m otop")
        self.client, self.master = attach(lab.socket, lab.env, 160, 45, "lab:0")
        # A terminal reads what its client draws: unread, the pty fills and the client stalls.
        self.drawn = bytearray()
        threading.Thread(target=drain, args=(self.master, self.drawn), daemon=True).start()
        wait_until(lambda: lab.tmux("list-clients", "-F", "#{client_name}").strip(), 5)
        lab.tmux("run-shell", str(ROOT / "otop.tmux"))
        wait_until(lambda: "·" in lab.tmux("show", "-gqv", "@otop_status") or None, 30)
        self.scanner = Scanner(Options(socket_name=lab.socket), env=lab.env)

    def agent(self, pane: str) -> Agent | None:
        return next((a for a in self.scanner.scan().agents if a.pane and a.pane.id == pane), None)

    def wait(self, pane: str, state: State, timeout: float = 40) -> Agent:
        def check() -> Agent | None:
            a = self.agent(pane)
            return a if a is not None and a.state == state else None

        return wait_until(check, timeout, 0.25)

    def told(self, pane: str | None = None) -> list[dict[str, Any]]:
        """The events the notifier command got (of one pane's agent, if given)."""
        if not self.events.exists():
            return []
        got = [json.loads(x) for x in self.events.read_text().splitlines() if x.strip()]
        return [e for e in got if pane is None or (e["pane"] and e["pane"]["id"] == pane)]

    def shown(self) -> str:
        """The pane the client shows."""
        return self.lab.tmux("list-clients", "-F", "#{pane_id}").strip()

    def look_at(self, pane: str | None) -> None:
        """The client selects a pane's window (None: the first filler)."""
        target = pane or "lab:0"
        self.lab.tmux("select-window", "-t", target)
        wait_until(lambda: self.shown() == (pane or self.shown()) or None, 5)

    def option(self, name: str, pane: str | None = None) -> str:
        if pane is None:
            return self.lab.tmux("show", "-gqv", name).strip()
        win = self.lab.tmux("display", "-p", "-t", pane, "#{window_id}").strip()
        return self.lab.tmux("show", "-wqv", "-t", win, name).strip()

    def agent_json(self, pane: str) -> dict[str, Any]:
        """The pane's agent as `otop list --json` prints it (the watcher's marks included)."""
        out = subprocess.run(
            [sys.executable, "-m", "otop", "-L", self.lab.socket, "list", "--json"],
            capture_output=True,
            text=True,
            env=self.lab.env,
            check=True,
        )
        doc = json.loads(out.stdout)
        (a,) = [a for a in doc["agents"] if a["pane"] and a["pane"]["id"] == pane]
        return {**a, "generated_at": doc["generated_at"]}

    def wait_beats(self, n: int) -> None:
        """Wait for n more beats of the watcher: time enough for it to have told anything."""
        lock = lock_path(self.lab.tmux("display", "-p", "#{socket_path}").strip())

        def count() -> int:
            counted = beats(lock)
            return counted[0] if counted else 0

        start = count()
        wait_until(lambda: count() >= start + n or None, 30, 0.1)

    def text(self) -> str:
        """The client's newest output, its escape sequences left out."""
        raw = bytes(self.drawn)[-20000:].decode(errors="replace")
        return " ".join(re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|\(B)", " ", raw).split())

    def press(self, keys: bytes) -> None:
        """Keys typed into the real client, as a person's terminal sends them."""
        os.write(self.master, keys)

    def close(self) -> None:
        self.client.kill()
        self.client.wait(5)
        os.close(self.master)
        self.scanner.close()


@pytest.fixture(scope="module", params=OPENCODE_VERSIONS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    version = str(request.param)
    binary = opencode_binary(version)
    lab = Lab(tmp_path_factory.mktemp(f"attn-{version}"), binary, version)
    try:
        w = World(lab, tmp_path_factory.mktemp(f"notes-{version}"))
        try:
            yield w
        finally:
            w.close()
    finally:
        lab.close()


def db(lab: Lab) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{lab.data}/opencode/opencode.db?mode=ro", uri=True)


def newest_tool(lab: Lab, session_id: str, tool: str) -> dict[str, Any] | None:
    """The session's newest part that calls `tool`, as opencode wrote it."""
    con = db(lab)
    try:
        rows = con.execute(
            "SELECT data FROM part WHERE session_id = ? ORDER BY id DESC", [session_id]
        ).fetchall()
    finally:
        con.close()
    for (raw,) in rows:
        data = json.loads(raw)
        if data.get("type") == "tool" and data.get("tool") == tool:
            return dict(data)
    return None


def question_output(lab: Lab, session_id: str) -> str | None:
    """The output of the session's newest question tool, once it completed."""
    state = (newest_tool(lab, session_id, "question") or {}).get("state", {})
    return str(state.get("output")) if state.get("status") == "completed" else None


def newest_prompt(lab: Lab, session_id: str) -> str | None:
    """The text of the session's newest user message."""
    con = db(lab)
    try:
        row = con.execute(
            "SELECT p.data FROM message m JOIN part p ON p.message_id = m.id"
            " WHERE m.session_id = ? AND json_extract(m.data, '$.role') = 'user'"
            " ORDER BY m.time_created DESC, p.id LIMIT 1",
            [session_id],
        ).fetchone()
    finally:
        con.close()
    return str(json.loads(row[0]).get("text")) if row else None


def reply_from_popup(w: World, pane: str, text: str) -> str:
    """Open the app on the lab, select the pane's row, press `i`, type the text, Enter; the
    message the app shows once it is done."""
    app = OtopApp(
        LiveBackend(Scanner(Options(socket_name=w.lab.socket), env=w.lab.env)),
        popup=True,
        interval=60,
    )

    async def run() -> str:
        async with app.run_test(size=(160, 40)) as pilot:
            for _ in range(100):
                await pilot.pause(0.1)
                rows = [
                    i for i, r in enumerate(app.rows) if r.agent.pane and r.agent.pane.id == pane
                ]
                if rows:
                    break
            assert rows, "the pane's row never showed"
            app.query_one(DataTable).move_cursor(row=rows[0])
            await pilot.press("i")
            await pilot.press(*["space" if c == " " else c for c in text])
            await pilot.press("enter")
            for _ in range(150):
                await pilot.pause(0.1)
                said = str(app.query_one("#message", Static).render())
                if said and not said.startswith("Sending"):
                    return said
            return "(nothing said)"

    return asyncio.run(run())


def test_a_question_answered_from_the_popup(world: World) -> None:
    """`i` in the popup on a question: typed words answer it through the dialog's own line (the
    question tool completes with them); a number picks that choice."""
    w = world
    w.lab.type(w.ask, f"[[call:question:{QUESTION}]] ask me")
    a = w.wait(w.ask, State.QUESTION)
    said = reply_from_popup(w, w.ask, "green and gold")
    assert said == "answered 'green and gold'", said
    assert a.session_id is not None
    out = wait_until(lambda: question_output(w.lab, a.session_id or ""), 20)
    assert '"Pick one?"="green and gold"' in out
    w.wait(w.ask, State.IDLE)
    w.lab.type(w.ask, f"[[call:question:{QUESTION}]] ask me again")
    w.wait(w.ask, State.QUESTION)
    assert reply_from_popup(w, w.ask, "2") == "answered 'blue'"
    sid = a.session_id or ""
    picked = wait_until(lambda: "blue" in (question_output(w.lab, sid) or "") or None, 20)
    assert picked
    w.wait(w.ask, State.IDLE)


def test_the_next_prompt_sent_from_the_popup(world: World) -> None:
    """`i` on an idle TUI types the next prompt into its input and sends it: a new turn starts
    with exactly that text; a draft in the input is never added to."""
    w = world
    a = w.wait(w.ask, State.IDLE)
    text = "[[stream:2:0.1]] a follow-up; with #(touch x) and $HOME"
    assert reply_from_popup(w, w.ask, text).startswith("sent to lab:")
    wait_until(lambda: newest_prompt(w.lab, a.session_id or "") == text or None, 20)
    w.wait(w.ask, State.IDLE)
    w.lab.tmux("send-keys", "-t", w.ask, "-l", "half a thought")
    wait_until(lambda: "half a thought" in w.lab.screen(w.ask) or None, 5)
    said = reply_from_popup(w, w.ask, "[[stream:1:0.1]] not me")
    assert said.startswith("not sent: the prompt input already holds text"), said
    assert newest_prompt(w.lab, a.session_id or "") == text
    w.lab.keys(w.ask, "C-u")


def test_a_permission_is_told_once_and_never_to_the_pane_looked_at(world: World) -> None:
    """A permission prompt in a window the client does not show: one `waiting` event, however
    long it waits; the same prompt while the client shows that pane: none at all."""
    w = world
    w.look_at(None)
    before = len(w.told(w.work))
    w.lab.type(w.work, PERMISSION)
    w.wait(w.work, State.PERMISSION)
    wait_until(lambda: len(w.told(w.work)) > before or None, 10)
    w.wait_beats(4)  # it keeps waiting: nothing more is told
    new = w.told(w.work)[before:]
    assert [(e["event"], e["state"]) for e in new] == [(WAITING, "permission")], new
    assert new[0]["pane"]["id"] == w.work
    w.lab.keys(w.work, "Enter")
    w.wait(w.work, State.IDLE)
    w.wait_beats(3)  # the finished turn is told too (past the settle time); then look at it
    w.look_at(w.work)
    before = len(w.told(w.work))
    w.lab.type(w.work, PERMISSION)
    w.wait(w.work, State.PERMISSION)
    w.wait_beats(5)
    w.lab.keys(w.work, "Enter")
    w.wait(w.work, State.IDLE)
    w.wait_beats(3)
    assert w.told(w.work)[before:] == []


DELAYS = (0.0, 0.1, 0.3, 0.6, 1.0)


def popup_closed(w: World) -> bool:
    return not any(
        "popup" in (p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
    ) and "otop-picker" not in w.lab.tmux("list-sessions")


def test_keys_typed_with_prefix_o_under_load(world: World) -> None:
    """On a loaded machine (two busy loops beside the TUIs, Python and Textual a second or
    more to start): `/`, the end of a session id and ONE Enter sent in the same write as
    prefix+O, then 0.1, 0.3, 0.6 and 1.0 s after it, each land the client on that agent's
    pane; Esc at each of those moments closes the picker where the client was. The TUI below
    never gets a key: its prompt stays as it was."""
    w = world

    def session() -> str | None:
        a = w.agent(w.ask)
        return a.session_id if a else None

    if session() is None:  # run alone: give it a session first
        w.lab.type(w.ask, "hello there")
    needle = wait_until(session, 40, 0.25)[-8:].encode()
    loops = burn()
    try:
        for delay in DELAYS:
            w.look_at(w.work)
            w.press(b"\x02O")
            if delay:
                time.sleep(delay)
            w.press(b"/" + needle + b"\r")
            wait_until(lambda: w.shown() == w.ask or None, 30, 0.05)
            wait_until(lambda: popup_closed(w) or None, 15, 0.1)
        for delay in DELAYS:
            w.look_at(w.work)
            w.press(b"\x02O")
            if delay:
                time.sleep(delay)
            w.press(b"\x1b")
            wait_until(lambda: popup_closed(w) or None, 30, 0.1)
            assert w.shown() == w.work
    finally:
        for p in loops:
            p.kill()
            p.wait()
    for pane in (w.ask, w.work):
        screen = w.lab.tmux("capture-pane", "-p", "-t", pane)
        assert needle.decode() not in screen, screen


def read_status(lab: Lab, session_id: str) -> str | None:
    """The status of the session's newest read tool."""
    part = newest_tool(lab, session_id, "read")
    return str(part.get("state", {}).get("status")) if part else None


def test_a_permission_answered_by_filter_then_act(world: World) -> None:
    """From the real client: prefix+O, `/`, the end of the session id, Tab (the filter kept,
    its top match selected), `1`: the permission is allowed once and the tool completes, in
    opencode's own database. Typed at a person's speed, then all in the write of prefix+O."""
    w = world
    if (w.agent(w.ask) or w.wait(w.ask, State.NEW)).session_id is None:  # run alone
        w.lab.type(w.ask, "hello there")
    a = w.wait(w.ask, State.IDLE)
    sid = a.session_id or ""
    needle = sid[-8:].encode()
    for keys in (
        [b"\x02O", b"/", *(bytes([c]) for c in needle), b"\t", b"1"],
        [b"\x02O/" + needle + b"\t1"],
    ):
        w.look_at(w.work)
        w.lab.type(w.ask, PERMISSION)
        w.wait(w.ask, State.PERMISSION)
        for key in keys:
            w.press(key)
            time.sleep(0.15 if len(keys) > 1 else 0)
        try:
            wait_until(lambda: read_status(w.lab, sid) == "completed" or None, 30, 0.2)
        except TimeoutError:
            raise AssertionError(f"not answered ({keys}); the client drew: {w.text()}") from None
        w.wait(w.ask, State.IDLE)
        w.press(b"q")  # (Esc would clear the filter first)
        wait_until(lambda: popup_closed(w) or None, 30, 0.1)
        assert w.shown() == w.work  # answered from where the person was


def sample_until_idle(w: World) -> tuple[list[str], float | None, float]:
    """Sample the agent every 0.2 s until it has been idle for 4 s (at most 60 s): the states
    seen, and when idle was first seen (monotonic and wall clock)."""
    started = time.monotonic()
    idle_since: float | None = None
    idle_wall = 0.0
    seen: list[str] = []
    while time.monotonic() - started < 60:
        a = w.agent(w.work)
        assert a is not None
        if not seen or seen[-1] != a.state.value:
            seen.append(a.state.value)
        # Idle counts once the turn was seen leaving idle: on a loaded machine a turn may start
        # late (one that came and went between two samples is waited for 15 s at most).
        began = len(seen) > 1 or time.monotonic() - started > 15
        if a.state == State.IDLE and began:
            if idle_since is None:
                idle_since, idle_wall = time.monotonic(), time.time()
            if time.monotonic() - idle_since > 4:
                break
        else:
            idle_since = None
        time.sleep(0.2)
    return seen, idle_since, idle_wall


def wait_for_an_event(w: World, before: int, seen: list[str]) -> None:
    """Wait for the watcher to tell the work pane's agent one more event; when it does not,
    fail with the states seen, the events told and the watcher's log."""
    try:
        wait_until(lambda: len(w.told(w.work)) > before or None, 30)
    except TimeoutError:
        log = Path(f"/tmp/otop-{os.getuid()}/watch.log")
        tail = log.read_text()[-1500:] if log.exists() else ""
        raise AssertionError(f"no event; states {seen}; told {w.told(w.work)}; {tail}") from None


def test_a_turn_of_several_tool_calls_is_one_finish_and_an_unseen_mark(world: World) -> None:
    """Three tool calls in one turn, the client elsewhere: exactly one `finished` event, the
    unseen mark on the status line and the badge; selecting the window in the client clears
    it."""
    w = world
    w.look_at(None)
    for turn in range(2):
        before = len(w.told(w.work))
        w.lab.type(w.work, f"[[sh:echo one]] [[sh:sleep 1]] [[sh:echo three]] turn {turn}")
        seen, idle_since, idle_wall = sample_until_idle(w)
        wait_for_an_event(w, before, seen)
        time.sleep(2)
        new = w.told(w.work)[before:]
        assert [e["event"] for e in new] == [FINISHED], new
        assert idle_since is not None
        print(f"finished told {new[0]['at'] / 1000 - idle_wall:.1f} s after idle was first seen")
        print(f"turn {turn}: states sampled {seen}")
    assert "●" in w.option("@otop_status") and "●" in w.option("@otop_badge", w.work)
    marked = w.agent_json(w.work)
    assert marked["unseen"] is True
    w.look_at(w.work)
    wait_until(lambda: "●" not in w.option("@otop_badge", w.work) or None, 5)
    cleared = w.agent_json(w.work)
    assert cleared["unseen"] is False and cleared["seen_at"] >= marked["generated_at"]


def test_flap_rate_measured(world: World) -> None:
    """Turns of three tool calls, sampled every 0.1 s through otop's scan and replayed through
    the attention rules at several settle times (devtools/flaps.py), are one `finished` event
    each and never `waiting` at the default settle time; the table printed says how often the
    shorter ones would flap."""
    w = world
    turn, rounds = "three tools", 2
    measured = flaps.measure(w.lab, w.scanner, w.work, turn, rounds)
    print(f"\nopencode {w.lab.version}, {rounds} turns, sampled every 0.1 s")
    print("\n".join(flaps.table({turn: measured}, rounds)))
    assert measured[DEFAULT_SETTLE] == (rounds, flaps.TURNS[turn][2] * rounds), measured
