"""The plugin's `@otop-*` options in one table (name, default, kind, what it does), how a
value of each kind is checked, and how tmux's values become a Config. The plugin's setup, the
watcher and `otop doctor` read options through it; tests check the README's option table,
otop.tmux, scripts/ and every `@otop-` named in otop/ against it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from otop.core.model import Group
from otop.outputs.render import (
    DEFAULT_COLOURS,
    DEFAULT_ICONS,
    DEFAULT_STYLE,
    DEFAULT_TEMPLATE,
    PLACEHOLDERS,
    UNSEEN_COLOUR,
    UNSEEN_ICON,
    StatusStyle,
)
from otop.sources.tmux import Tmux, TmuxError
from otop.watcher.notify import NOTIFY_LEVELS, NotifySettings

PREFIX = "@otop-"
# The scan interval's bounds, for `--interval` too (otop/cli/commands.py).
INTERVAL_BOUNDS = (0.2, 3600.0)
# How a value is checked (CHECKS); keys, glyphs, colours and text take any value.
Kind = Literal[
    "key", "size", "seconds", "flag", "template", "glyph", "colour", "level", "argv", "text"
]


@dataclass(frozen=True)
class Option:
    """One `@otop-*` option: its name after `@otop-`, its default as tmux would hold it ("":
    none), its kind (how a value is checked: CHECKS), and what it does in the README's words.
    `shown` is the README's default when it is not the value itself; `bounds` are a number
    of seconds' least and most."""

    name: str
    default: str
    kind: Kind
    help: str
    shown: str = ""
    bounds: tuple[float, float] = (0.0, 0.0)


_GLYPH_HELP = "glyph per group, and for agents unseen since they finished or began waiting"
OPTIONS: tuple[Option, ...] = (
    Option("key", "O", "key", "`prefix + key` opens the popup; empty or `off` binds nothing"),
    Option(
        "next-key",
        "N",
        "key",
        "`prefix + key` jumps to the agent that has waited longest, else to the one finished"
        " unseen longest",
    ),
    Option("popup-width", "80%", "size", "popup size (cells or %)"),
    Option("popup-height", "70%", "size", "popup size (cells or %)"),
    Option(
        "interval",
        "2",
        "seconds",
        "seconds between scans in the popup and `otop`",
        bounds=INTERVAL_BOUNDS,
    ),
    Option(
        "watch-interval",
        "1",
        "seconds",
        "seconds between the watcher's looks (status line, badges)",
        bounds=INTERVAL_BOUNDS,
    ),
    Option(
        "badges",
        "on",
        "flag",
        "badges on window names (appended to `window-status-format` and"
        " `window-status-current-format`)",
    ),
    Option(
        "status-format",
        DEFAULT_TEMPLATE,
        "template",
        "what `#{otop_status}` shows; empty counts vanish",
    ),
    *(Option(f"icon-{g.value}", DEFAULT_ICONS[g], "glyph", _GLYPH_HELP) for g in Group),
    Option("icon-unseen", UNSEEN_ICON, "glyph", _GLYPH_HELP),
    *(
        Option(f"color-{g.value}", DEFAULT_COLOURS[g], "colour", "tmux colour of each")
        for g in Group
    ),
    Option("color-unseen", UNSEEN_COLOUR, "colour", "tmux colour of each"),
    Option(
        "notify-settle",
        "2",
        "seconds",
        "seconds a new state must hold before it is told (see Attention)",
        bounds=(0.0, 600.0),
    ),
    Option(
        "bell",
        "off",
        "flag",
        "`on`: ring the bell in the agent's window when it needs you or finished",
    ),
    Option(
        "notify",
        "off",
        "level",
        "desktop notifications: `off`, `waiting` (needs you), `all` (also finished turns);"
        " `notify-send` on Linux, `osascript` on macOS, when installed",
        shown="`off` (`all` when a command is set)",
    ),
    Option(
        "notify-command",
        "",
        "argv",
        "your own notifier instead, e.g. `~/bin/push`: run without a shell, the event as JSON"
        " on stdin",
    ),
    # Read by otop.tmux itself, before any Python runs: without it, otop is looked for.
    Option(
        "command",
        "",
        "text",
        "the otop command to run (e.g. `python3 -m otop`)",
        shown="found",
    ),
    # Read by `otop list` and the app (otop/cli/listing.py), checked by parse_servers.
    Option(
        "servers",
        "",
        "text",
        "opencode servers to list too: `name=url` entries (see below)",
    ),
)
DEFAULTS: dict[str, str] = {o.name: o.default for o in OPTIONS}
_TRUE = {"on", "yes", "true", "1"}
_FALSE = {"off", "no", "false", "0"}
_SIZE = re.compile(r"^[1-9][0-9]{0,3}%?$")


def _size(o: Option, value: str) -> str | None:
    return None if _SIZE.match(value) else "is not a size like 80% or 100"


def _seconds(o: Option, value: str) -> str | None:
    least, most = o.bounds
    try:
        if least <= float(value) <= most:  # NaN is never in bounds
            return None
    except ValueError:
        pass
    return f"is not a number of seconds ({least:g} to {most:g})"


def _flag(o: Option, value: str) -> str | None:
    return None if value.lower() in _TRUE | _FALSE else "is neither on nor off"


def _template(o: Option, value: str) -> str | None:
    try:
        value.format_map(dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, ValueError, IndexError):
        return "use " + " ".join(f"{{{n}}}" for n in PLACEHOLDERS)
    return None


def _level(o: Option, value: str) -> str | None:
    return None if value.lower() in NOTIFY_LEVELS else "use " + ", ".join(NOTIFY_LEVELS)


def _argv(o: Option, value: str) -> str | None:
    try:
        shlex.split(value)
    except ValueError as exc:
        return str(exc)
    return None


# How a value of each kind is checked: None when it is good, else why not. Keys, glyphs,
# colours and text take any value (tmux itself says when a key or colour is unknown).
CHECKS: dict[Kind, Callable[[Option, str], str | None]] = {
    "size": _size,
    "seconds": _seconds,
    "flag": _flag,
    "template": _template,
    "level": _level,
    "argv": _argv,
}


def problem(o: Option, value: str) -> str | None:
    """Why a value does not fit its option (`@otop-NAME 'VALUE' is not ...` or
    `@otop-NAME 'VALUE': use ...`), or None."""
    check = CHECKS.get(o.kind)
    why = check(o, value) if check else None
    if why is None:
        return None
    return f"{PREFIX}{o.name} {value!r}" + (f" {why}" if why.startswith("is ") else f": {why}")


@dataclass
class Config:
    """The plugin's options, validated; `errors` says which values were refused and why.
    Every default comes from OPTIONS."""

    key: str | None = DEFAULTS["key"]
    next_key: str | None = DEFAULTS["next-key"]
    popup_width: str = DEFAULTS["popup-width"]
    popup_height: str = DEFAULTS["popup-height"]
    interval: float = float(DEFAULTS["interval"])
    watch_interval: float = float(DEFAULTS["watch-interval"])
    badges: bool = DEFAULTS["badges"] == "on"
    style: StatusStyle = field(default_factory=lambda: DEFAULT_STYLE)
    settle: float = float(DEFAULTS["notify-settle"])
    notify: NotifySettings = field(default_factory=NotifySettings)
    errors: list[str] = field(default_factory=list)


def _given(o: Option, raw: dict[str, str]) -> str:
    """An option's value as set, or its default when unset; set empty, a key binds nothing
    and a glyph shows nothing, while any other option takes its default."""
    if o.kind in ("key", "glyph"):
        return raw.get(o.name, o.default)
    return raw.get(o.name, "") or o.default


def checked(raw: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Every option's value (a refused one replaced by its default), and the refusals."""
    values: dict[str, str] = {}
    errors: list[str] = []
    for o in OPTIONS:
        value = _given(o, raw)
        why = problem(o, value)
        if why:
            errors.append(why)
            value = o.default
        values[o.name] = value
    return values, errors


def parse_config(raw: dict[str, str]) -> Config:
    """Options as tmux holds them (missing = default) to a Config; bad values fall back."""
    v, errors = checked(raw)
    return Config(
        key=_key(v["key"]),
        next_key=_key(v["next-key"]),
        popup_width=v["popup-width"],
        popup_height=v["popup-height"],
        interval=float(v["interval"]),
        watch_interval=float(v["watch-interval"]),
        badges=v["badges"].lower() in _TRUE,
        style=StatusStyle(
            {g: v[f"icon-{g.value}"] for g in Group},
            {g: v[f"color-{g.value}"] for g in Group},
            v["status-format"],
            v["icon-unseen"],
            v["color-unseen"],
        ),
        settle=float(v["notify-settle"]),
        notify=_notify_settings(raw, v),
        errors=errors,
    )


def _key(value: str) -> str | None:
    """A key to bind, or None for empty or `off`."""
    key = value.strip()
    return None if key == "" or key.lower() in _FALSE else key


def _notify_settings(raw: dict[str, str], v: dict[str, str]) -> NotifySettings:
    """`@otop-bell`, `@otop-notify` (off unless set, or all when a command is given) and
    `@otop-notify-command` (split as a shell would split words, but never run by one)."""
    command = tuple(shlex.split(v["notify-command"]))
    level = v["notify"].lower() if raw.get("notify") else ("all" if command else "off")
    return NotifySettings(v["bell"].lower() in _TRUE, level, command)


def read_config(tmux: Tmux) -> Config:
    """All `@otop-*` options: which are set (even to "") from one command, values from another."""
    names = list(DEFAULTS)
    try:
        listed = tmux.cmd("show-options", "-g")
    except TmuxError:
        listed = []
    present = {line.split(" ", 1)[0][len(PREFIX) :] for line in listed if line.startswith(PREFIX)}
    values = tmux.values(*(PREFIX + n for n in names))
    raw = {n: v for n, v in zip(names, values, strict=False) if n in present}
    return parse_config(raw)
