"""The plugin's `@otop-*` options in one table: names, defaults, validation, and how they are
read from tmux into a Config (the watcher, the plugin's setup and `otop doctor` use it)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

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

DEFAULTS: dict[str, str] = {
    "key": "O",
    "next-key": "N",
    "popup-width": "80%",
    "popup-height": "70%",
    "interval": "2",
    "watch-interval": "1",
    "badges": "on",
    "status-format": DEFAULT_TEMPLATE,
    **{f"icon-{g.value}": DEFAULT_ICONS[g] for g in Group},
    **{f"color-{g.value}": DEFAULT_COLOURS[g] for g in Group},
    "icon-unseen": UNSEEN_ICON,
    "color-unseen": UNSEEN_COLOUR,
    "notify-settle": "2",
    "bell": "off",
    "notify": "off",
    "notify-command": "",
}
_TRUE = {"on", "yes", "true", "1"}
_FALSE = {"off", "no", "false", "0"}
_SIZE = re.compile(r"^[1-9][0-9]{0,3}%?$")


@dataclass
class Config:
    """The plugin's options, validated; `errors` says which values were refused and why.
    Every default comes from DEFAULTS (and render's icons and colours)."""

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


def parse_config(raw: dict[str, str]) -> Config:
    """Options as tmux holds them (missing = default) to a Config; bad values fall back."""
    cfg = Config()
    v = {k: raw.get(k, "") or d for k, d in DEFAULTS.items()}

    def key(name: str) -> str | None:
        val = raw.get(name, DEFAULTS[name]).strip()
        if val == "":
            return None
        return None if val.lower() in _FALSE else val

    cfg.key = key("key")
    cfg.next_key = key("next-key")
    for name in ("popup-width", "popup-height"):
        if not _SIZE.match(v[name]):
            cfg.errors.append(f"@otop-{name} {v[name]!r} is not a size like 80% or 100")
            v[name] = DEFAULTS[name]
    cfg.popup_width, cfg.popup_height = v["popup-width"], v["popup-height"]
    _seconds(cfg, v)
    cfg.badges = _flag(cfg, "badges", v["badges"])
    cfg.style = _style(cfg, raw, v)
    cfg.notify = _notify_settings(cfg, raw, v)
    return cfg


def _seconds(cfg: Config, v: dict[str, str]) -> None:
    """The scan and watch intervals and the notify settle time; bad values fall back."""
    for name, least in (("interval", 0.2), ("watch-interval", 0.2)):
        try:
            seconds = float(v[name])
            if not seconds >= least or seconds > 3600:
                raise ValueError
        except ValueError:
            cfg.errors.append(f"@otop-{name} {v[name]!r} is not a number of seconds (>= {least})")
            seconds = float(DEFAULTS[name])
        setattr(cfg, name.replace("-", "_"), seconds)
    try:
        cfg.settle = float(v["notify-settle"])
        if not 0 <= cfg.settle <= 600:
            raise ValueError
    except ValueError:
        cfg.errors.append(
            f"@otop-notify-settle {v['notify-settle']!r} is not a number of seconds (0-600)"
        )
        cfg.settle = float(DEFAULTS["notify-settle"])


def _style(cfg: Config, raw: dict[str, str], v: dict[str, str]) -> StatusStyle:
    """The status line's template, icons and colours; a bad template falls back."""
    template = v["status-format"]
    try:
        template.format_map(dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, ValueError, IndexError):
        names = " ".join(f"{{{n}}}" for n in PLACEHOLDERS)
        cfg.errors.append(f"@otop-status-format {template!r}: use {names}")
        template = DEFAULTS["status-format"]
    icons = {g: raw.get(f"icon-{g.value}", DEFAULT_ICONS[g]) for g in Group}
    colours = {g: v[f"color-{g.value}"] for g in Group}
    return StatusStyle(
        icons, colours, template, raw.get("icon-unseen", UNSEEN_ICON), v["color-unseen"]
    )


def _flag(cfg: Config, name: str, value: str) -> bool:
    flag = value.lower()
    if flag not in _TRUE | _FALSE:
        cfg.errors.append(f"@otop-{name} {value!r} is neither on nor off")
        return DEFAULTS[name] in _TRUE
    return flag in _TRUE


def _notify_settings(cfg: Config, raw: dict[str, str], v: dict[str, str]) -> NotifySettings:
    """`@otop-bell`, `@otop-notify` (off unless set, or all when a command is given) and
    `@otop-notify-command` (split as a shell would split words, but never run by one)."""
    command: tuple[str, ...] = ()
    if v["notify-command"].strip():
        try:
            command = tuple(shlex.split(v["notify-command"]))
        except ValueError as exc:
            cfg.errors.append(f"@otop-notify-command {v['notify-command']!r}: {exc}")
    level = v["notify"].lower() if raw.get("notify") else ("all" if command else "off")
    if level not in NOTIFY_LEVELS:
        cfg.errors.append(f"@otop-notify {v['notify']!r}: use " + ", ".join(NOTIFY_LEVELS))
        level = "off"
    return NotifySettings(_flag(cfg, "bell", v["bell"]), level, command)


def read_config(tmux: Tmux) -> Config:
    """All `@otop-*` options: which are set (even to "") from one command, values from another."""
    names = list(DEFAULTS)
    try:
        listed = tmux.cmd("show-options", "-g")
    except TmuxError:
        listed = []
    prefix = "@otop-"
    present = {line.split(" ", 1)[0][len(prefix) :] for line in listed if line.startswith(prefix)}
    values = tmux.values(*(f"@otop-{n}" for n in names))
    raw = {n: v for n, v in zip(names, values, strict=False) if n in present}
    return parse_config(raw)
