"""Keys typed all at once, or before the first rows, act as if typed one by one after: the app
driven headless with every key of a burst queued before any is handled."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled

from otop.core.model import Scan
from otop.ui.app import OtopApp
from otop.ui.screens import DetailScreen, PanelScreen
from tests.ui_world import AGENTS, FixtureBackend, settled

pytestmark = pytest.mark.ui

# Textual key names as typed: a character stands for itself.
NAMES = {"/": "slash", "?": "question_mark", "\r": "enter", "\n": "ctrl+j", "\x1b": "escape"}


def burst(app: OtopApp, keys: str | list[str]) -> None:
    """Queue every key before the app handles any of them, as one read of a terminal does."""
    for k in keys:
        name = NAMES.get(k, k)
        char = k if len(k) == 1 else None
        app.post_message(events.Key(name, char))


class SlowBackend(FixtureBackend):
    """A backend whose first scan waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def scan(self) -> Scan:
        self.release.wait(10)
        return super().scan()


def run(
    backend: FixtureBackend,
    body: Callable[[OtopApp, Pilot[None]], Awaitable[None]],
    *,
    popup: bool = True,
    settle: bool = True,
) -> OtopApp:
    app = OtopApp(backend, popup=popup, interval=60)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            if settle:
                await settled(pilot)
            await body(app, pilot)
            # The app may close (a jump) while its workers are waited for.
            with contextlib.suppress(WorkerCancelled):
                await settled(pilot)

    asyncio.run(main())
    return app


TITLE_TYPED = [
    ("enter", "/busy\r"),
    ("a line feed from a cooked terminal", "/busy\n"),
    ("letters that are table keys", "/ast\x1b/busy\r"),
]


@pytest.mark.parametrize("keys", [c[1] for c in TITLE_TYPED], ids=[c[0] for c in TITLE_TYPED])
def test_a_filter_and_enter_in_one_burst_jump(keys: str) -> None:
    """`/`, letters (some of them table keys: a, s, t) and ONE Enter in a single burst filter
    and jump to the match; none of the letters acts as a table key."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, keys)

    app = run(backend, body)
    assert backend.jumps == ["pid:4003"] and not app.is_running
    assert not app.show_all and app.sort == "urgency" and not app.flipped


def test_keys_before_the_first_rows_wait_for_them() -> None:
    """Keys typed before any scan has shown rows act on the rows once they show."""
    backend = SlowBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "/idle\r")
        await asyncio.sleep(0.3)
        assert backend.jumps == [] and app.is_running and app.scan is None
        backend.release.set()

    app = run(backend, body, settle=False)
    assert backend.jumps == [AGENTS[0].key] and not app.is_running


def test_moves_then_enter_select_the_moved_row() -> None:
    """j j k in one burst with Enter select the row they moved to, in order."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, ["j", "j", "k", "down", "enter"])

    run(backend, body)
    assert backend.jumps == ["pid:4004"]


def test_down_in_the_filter_goes_to_the_matches() -> None:
    """In the filter, down leaves the line at the top match (the filter kept), the next down
    moves to the second match, and Enter takes it: one burst, in order."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, ["/", "o", "n", "e", "down", "down", "enter"])

    app = run(backend, body)
    assert [r.agent.key for r in app.rows] == ["pid:4001", "pid:4006"]
    assert backend.jumps == ["pid:4006"]


def test_enter_with_no_match_does_nothing_and_says_so() -> None:
    """Enter in a filter that matches nothing keeps the popup open and says why."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "/zzz\r")
        await settled(pilot)
        assert app.is_running and backend.jumps == []
        assert app.query_one("#filter", Input).display
        assert "No agent matches" in str(app.query_one("#message").render())
        burst(app, "\x1b")
        await settled(pilot)
        assert not app.query_one("#filter", Input).display and len(app.rows) == 6

    run(backend, body)


def test_escape_in_a_burst_closes_the_popup() -> None:
    """Esc typed at once closes the popup, jumping nowhere."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "\x1b")

    app = run(backend, body)
    assert not app.is_running and backend.jumps == []


def test_full_screen_enter_in_the_filter_opens_the_detail() -> None:
    """Full screen, Enter in the filter opens the detail view of the match, as Enter does."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "/busy\r")
        await settled(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.agent.key == "pid:4003"

    run(FixtureBackend(), body, popup=False)


def test_reply_typed_at_once() -> None:
    """`i`, a prompt and Enter in one burst send that prompt to the selected agent."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "iship it now\r")
        await settled(pilot)

    run(backend, body)
    assert backend.replies == [(AGENTS[1].key, "ship it now")]


def test_a_panel_opened_in_a_burst_gets_the_next_keys() -> None:
    """`?` then `q` at once: the help opens and the next key closes it, the app stays."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, "?")
        await settled(pilot)
        assert isinstance(app.screen, PanelScreen)
        burst(app, "q")
        await settled(pilot)
        assert not isinstance(app.screen, PanelScreen) and app.is_running

    run(FixtureBackend(), body)


def test_filter_tab_then_answer_typed_at_once() -> None:
    """`/`, letters, Tab and `3` in one burst (as typed at once after prefix+O): the filter's
    top match is answered, and the `3` never lands in the filter line."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        burst(app, ["/", "n", "e", "e", "d", "s", "tab", "3"])

    app = run(backend, body)
    assert [choice for _, choice in backend.answered] == [2]
    assert backend.answered[0][0] == app.rows[0].agent.key and app.needle == "needs"
