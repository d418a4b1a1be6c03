"""Keys served in the order they were typed: each key acts on the app as the keys before it
left it, however fast they came.

Textual hands a key to the focused widget's own queue and resolves its binding as it bubbles
back up, while the app goes on handing the next keys to whatever had focus before. A burst
such as `/`, a title's first letters and Enter (typed while the popup starts, or all at
once) therefore reached the table as bindings (toggles, sorts, panels) instead of the filter.
Here the table's keys and the two line inputs (filter, reply) are served one key at a time,
to completion, before the next one is looked at; keys that come before the first rows are
shown wait for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from textual import events
from textual.binding import Binding, BindingType

# The name Textual's own parser gives a typed character (the keys module has no public one).
from textual.keys import _character_to_key
from textual.screen import Screen
from textual.widgets import DataTable, Input

from otop.core.model import Scan
from otop.ui.rows import Row
from otop.ui.table import AgentTable

# Enter typed before the popup's terminal left cooked mode arrives as a line feed (ctrl+j).
ENTER = ("enter", "ctrl+j")
# Keys that move the table's cursor (also while a line input is open: they move the match).
MOVES = {"up": "cursor_up", "down": "cursor_down", "pageup": "page_up", "pagedown": "page_down"}
# Keys that leave the filter's line with the filter kept and its top match selected, so that
# the table's keys (answer, reply, explain, todos, yank, preview, jump) act on that match.
LEAVE_FILTER = ("tab", "down")


def key_map(bindings: Iterable[BindingType]) -> dict[str, str]:
    """Textual key name -> action, from bindings as the app declares them."""
    out: dict[str, str] = {}
    for b in bindings:
        if isinstance(b, Binding):
            for key in b.key.split(","):
                out.setdefault(key.strip(), b.action)
    return out


# tmux key names (otop/plugin/typeahead.py) as Textual keys: (key, character).
_TMUX_KEYS = {
    "Enter": ("enter", "\r"),
    "C-j": ("ctrl+j", "\n"),
    "Escape": ("escape", "\x1b"),
    "BSpace": ("backspace", "\x7f"),
    "Tab": ("tab", "\t"),
    "Space": ("space", " "),
    "Up": ("up", None),
    "Down": ("down", None),
    "Left": ("left", None),
    "Right": ("right", None),
    "Home": ("home", None),
    "End": ("end", None),
    "PPage": ("pageup", None),
    "NPage": ("pagedown", None),
    "DC": ("delete", None),
    "C-u": ("ctrl+u", None),
    "C-w": ("ctrl+w", None),
}


def key_event(name: str) -> events.Key:
    """A tmux key name as the key event Textual's own parser would have made of it."""
    if name in _TMUX_KEYS:
        return events.Key(*_TMUX_KEYS[name])
    return events.Key(_character_to_key(name), name)


_TABLE_MOVES = key_map(DataTable.BINDINGS)
_INPUT_EDITS = key_map(Input.BINDINGS)


class Keyed(Protocol):
    """What the keyboard drives: the app (otop/ui/app.py) as far as its keys reach."""

    needle: str

    @property
    def scan(self) -> Scan | None: ...
    @property
    def rows(self) -> Sequence[Row]: ...
    @property
    def screen(self) -> Screen[object]: ...
    @property
    def screen_stack(self) -> list[Screen[Any]]: ...
    def query_one(self, selector: str, expect_type: type[Input]) -> Input: ...
    async def run_action(self, action: str) -> bool: ...
    async def default_key(self, event: events.Key) -> None: ...
    def table(self) -> AgentTable: ...
    def redraw(self) -> None: ...
    def say(self, text: str) -> None: ...
    def send_reply(self, text: str) -> None: ...
    def action_select(self) -> None: ...
    def action_close(self) -> None: ...


class Keyboard:
    """The app's keys, served in order (see the module's docstring)."""

    def __init__(
        self, app: Keyed, bindings: Iterable[BindingType], typed: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.actions = key_map(bindings)
        # Typed before the first rows (or while replaying them), and before the popup was
        # open: those are tmux key names.
        self.waiting: list[events.Key] = [key_event(name) for name in typed]

    async def take(self, event: events.Key) -> bool:
        """Serve a key the app's first screen gets; False leaves it to Textual."""
        app = self.app
        if app.screen is not app.screen_stack[0]:
            return False
        if app.scan is None or self.waiting:
            self.waiting.append(event)
            return True
        return await self.serve(event)

    async def replay(self) -> None:
        """The keys that waited for the first rows, in order (more may join meanwhile)."""
        while self.waiting:
            event = self.waiting.pop(0)
            if self.app.screen is not self.app.screen_stack[0] or not await self.serve(event):
                await self.app.default_key(event)

    async def serve(self, event: events.Key) -> bool:
        app = self.app
        box = self.open_input()
        if box is not None:
            await self._line(box, event)
            return True
        key = event.key
        if key in ENTER:
            app.action_select()
            return True
        if key in self.actions:
            await app.run_action(self.actions[key])
            return True
        if key in _TABLE_MOVES:
            await app.table().run_action(_TABLE_MOVES[key])
            return True
        return False

    async def _line(self, box: Input, event: events.Key) -> None:
        """A key for the open line input: Enter and Esc are the app's, arrows move the table's
        cursor, the rest edits the line at once (the app reads its value synchronously)."""
        app, key = self.app, event.key
        if key in ENTER:
            self.submit(box)
        elif key == "escape":
            app.action_close()
        elif box.id == "filter" and key in LEAVE_FILTER:
            self.leave_filter(box)
        elif key in MOVES:
            await app.table().run_action(MOVES[key])
        elif key in _INPUT_EDITS:
            await box.run_action(_INPUT_EDITS[key])
            self.edited(box)
        elif event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
            self.edited(box)

    def open_input(self) -> Input | None:
        """The line input open at the bottom (the reply's, else the filter's), if any."""
        for name in ("#reply", "#filter"):
            box = self.app.query_one(name, Input)
            if box.display:
                return box
        return None

    def edited(self, box: Input) -> None:
        """The filter follows its line at once (the app's own Changed message comes later)."""
        app = self.app
        if box.id == "filter" and box.value.strip() != app.needle:
            app.needle = box.value.strip()
            app.redraw()

    def leave_filter(self, box: Input) -> None:
        """Tab or Down in the filter: the line closes, the filter stays (esc clears it, `/`
        opens it again as it was), and the table has the top match selected."""
        app = self.app
        self.edited(box)
        box.display = False
        app.screen.set_focus(app.table())
        if app.rows:
            app.table().move_cursor(row=0)
        else:
            app.say("No agent matches the filter (esc clears it).")

    def submit(self, box: Input) -> None:
        """Enter in a line input: the reply is sent; in the filter, Enter selects the match
        highlighted (the top one unless moved), as Enter in the table does."""
        app = self.app
        if box.id == "reply":
            app.send_reply(box.value)
            return
        self.edited(box)
        if not app.rows:
            app.say("No agent matches the filter: nothing to select (esc clears it).")
            return
        box.display = False
        app.screen.set_focus(app.table())
        app.action_select()
