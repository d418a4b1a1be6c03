"""The tmux plugin's work: bind keys, wire status line and badges, start the watcher (its
options read through otop/plugin/options.py); and undo all of it."""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

from otop.outputs.render import (
    message_text,
    tmux_escape,
)
from otop.plugin import picker, typeahead
from otop.plugin.options import Config, read_config
from otop.sources.tmux import Tmux, TmuxError
from otop.watcher.runtime import RuntimeDirError, start_watcher, stop_watcher
from otop.watcher.watch import BADGE_OPTION, PID_OPTION, STATUS_OPTION

PLACEHOLDER = "#{otop_status}"
INTERPOLATED = "#{" + STATUS_OPTION + "}"
BADGE = "#{" + BADGE_OPTION + "}"
STATUS_OPTIONS = ("status-left", "status-right")
FORMAT_OPTIONS = ("window-status-format", "window-status-current-format")
BOUND_OPTION = "@otop_bound_keys"
WARNED_OPTION = "@otop_warned"
# Every binding otop makes carries this word, so it can tell its own from the user's.
MARK = "otop"


def tmux_version(text: str) -> tuple[int, int]:
    """`tmux 3.3a` -> (3, 3); unparsable (e.g. `next-3.5`, `openbsd-7.4`) counts as new."""
    m = re.search(r"(\d+)\.(\d+)", text)
    if text.startswith("tmux ") and m and "next" not in text:
        return int(m.group(1)), int(m.group(2))
    return (99, 0)


def installed_version() -> tuple[int, int]:
    try:
        out = subprocess.run(["tmux", "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    return tmux_version(out.strip())


def otop_command() -> str:
    """This otop, as a shell word list safe inside a tmux format."""
    return tmux_escape(shlex.join(otop_words()))


def otop_words() -> list[str]:
    return [sys.executable, "-m", "otop"]


def popup_binding(cfg: Config, version: tuple[int, int]) -> list[str]:
    """The bind-key arguments after the key: the popup (tmux >= 3.2), else the picker in a
    session of its own (otop/plugin/picker.py).

    No shell ever sees the pane's directory: it goes to tmux's own -d/-c (a directory name may
    hold a newline or a tab, which `#{q:...}` does not quote). The command the popup or the
    session runs is otop alone, in words any shell reads (tmux 3.5 runs popups with the
    user's default-shell); otop shows the watcher's first frame itself (otop/cli/entry.py)."""
    args = [*otop_words(), "popup", "--interval", f"{cfg.interval:g}"]
    if version < (3, 2):
        # new-session expands formats in the name and directory, never in the command.
        command = shlex.join([*args, picker.OWN_SESSION_FLAG])
        return ["new-session", "-s", picker.SESSION, "-c", "#{pane_current_path}", command]
    # run-shell expands formats once (client, pane, session; `##` for what must stay a
    # format) and display-popup once more: the popup's command is escaped for both.
    command = tmux_escape(tmux_escape(shlex.join(args))) + " --client #{q:client_name}"
    client, pane, session = "#{q:client_name}", "#{q:pane_id}", "#{q:session_id}"
    launch = (
        f"tmux display-popup -c {client} -t {pane} -d '##{{pane_current_path}}'"
        f" -w {cfg.popup_width} -h {cfg.popup_height} -E {shlex.quote(command)};"
        f" {typeahead.disarm_shell(client, session)}"
    )
    return [*typeahead.arm(), "run-shell", "-b", launch]


def next_binding() -> list[str]:
    return [
        "run-shell",
        "-b",
        f"OTOP_CLIENT=#{{q:client_name}} {otop_command()} jump --next --notify",
    ]


def _binding(tmux: Tmux, key: str) -> str | None:
    """What a prefix key runs now, or None when it is free.

    Read from the whole table: tmux 3.7c prints nothing for `list-keys -T prefix KEY`
    (measured), so a user's own binding would look free there and be overwritten."""
    try:
        out = tmux.cmd("list-keys", "-T", "prefix")
    except TmuxError:
        return None
    return next((line for line in out if bound_key(line) == key), None)


def bound_key(line: str) -> str | None:
    """The key a `list-keys` line binds (`bind-key [-r] -T TABLE KEY COMMAND...`), unquoted as
    tmux quotes it (`\\;`, `'"'`, `"'"`)."""
    words = line.split()
    if "-T" not in words or words.index("-T") + 2 >= len(words):
        return None
    key = words[words.index("-T") + 2]
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return key[1:] if key.startswith("\\") and len(key) > 1 else key


def _ours(binding: str | None) -> bool:
    return (
        binding is not None
        and MARK in binding
        and any(c in binding for c in ("run-shell", "display-popup", "new-session", "new-window"))
    )


@dataclass
class Report:
    """What setup did, in words: shown by the plugin with display-message."""

    bound: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    watcher: str = ""


def setup(tmux: Tmux, version: tuple[int, int] | None = None, start: bool = True) -> Report:
    """Load the plugin into a tmux server; safe to run again (reloads change nothing twice)."""
    report = Report()
    version = version or installed_version()
    cfg = read_config(tmux)
    report.messages += cfg.errors
    _unbind(tmux)
    warned = _bind_keys(tmux, cfg, version, report)
    if version >= (3, 2) and cfg.key and cfg.key in report.bound:
        _typeahead(tmux, report, cfg.key)
    tmux.cmd("set-option", "-gq", BOUND_OPTION, " ".join(report.bound))
    if warned:
        tmux.cmd("set-option", "-gq", WARNED_OPTION, " ".join(sorted(warned)))
    _interpolate(tmux, PLACEHOLDER, INTERPOLATED)
    _badges(tmux, cfg.badges)
    if not cfg.badges:
        _clear_badges(tmux)
    if start:
        report.watcher = _start_watcher(tmux)
    return report


def _bind_keys(tmux: Tmux, cfg: Config, version: tuple[int, int], report: Report) -> set[str]:
    """Bind the popup and next keys where the user has no binding of their own; the keys
    ever warned about (each is warned about once)."""
    warned = set(tmux.option(WARNED_OPTION).split())
    for key, args in (
        (cfg.key, popup_binding(cfg, version)),
        (cfg.next_key, next_binding()),
    ):
        if not key:
            continue
        current = _binding(tmux, key)
        if current is not None and not _ours(current):
            if key not in warned:
                report.messages.append(
                    f"prefix+{key} is already bound ({current.split(key, 1)[-1].strip()[:60]});"
                    " set @otop-key / @otop-next-key to another key"
                )
                warned.add(key)
            continue
        try:
            tmux.cmd("bind-key", "-T", "prefix", key, *args)
        except TmuxError as exc:
            report.messages.append(f"cannot bind prefix+{key}: {exc}")
            continue
        report.bound.append(key)
    return warned


def _start_watcher(tmux: Tmux) -> str:
    """Start the watcher; what became of it, told on the status line too when it failed."""
    try:
        return start_watcher(tmux)
    except (RuntimeDirError, OSError) as exc:
        tmux.cmd("display-message", message_text(f"otop: {exc}"))
        return f"no watcher: {exc}"


def _typeahead(tmux: Tmux, report: Report, key: str) -> None:
    """The key table that keeps what is typed with prefix+O for the popup
    (otop/plugin/typeahead.py), made anew: a table of otop's own, which no key of the user's
    is in."""
    with contextlib.suppress(TmuxError):  # tmux says so when the table is not there yet
        tmux.cmd("unbind-key", "-a", "-T", typeahead.TABLE)
    try:
        tmux.chain(typeahead.bindings())
    except TmuxError as exc:
        report.messages.append(f"keys typed with prefix+{key} may be lost: {exc}")


def uninstall(tmux: Tmux) -> list[str]:
    """Remove bindings, badges, the status interpolation, otop's own options and the watcher."""
    done = []
    pid = stop_watcher(tmux)
    if pid:
        done.append(f"stopped watcher {pid}")
    keys = _unbind(tmux)
    if keys:
        done.append("unbound prefix+" + ", prefix+".join(keys))
    with contextlib.suppress(TmuxError):
        tmux.cmd("unbind-key", "-a", "-T", typeahead.TABLE)
    _interpolate(tmux, INTERPOLATED, PLACEHOLDER)
    _badges(tmux, False)
    _clear_badges(tmux)
    for name in (STATUS_OPTION, BOUND_OPTION, WARNED_OPTION, PID_OPTION):
        tmux.cmd("set-option", "-gqu", name)
    done.append("removed badges, status counts and otop's options")
    return done


def _unbind(tmux: Tmux) -> list[str]:
    """Unbind the keys otop bound last time, if they still run otop."""
    removed = []
    for key in tmux.option(BOUND_OPTION).split():
        if not _ours(_binding(tmux, key)):
            continue
        try:
            tmux.cmd("unbind-key", "-T", "prefix", key)
            removed.append(key)
        except TmuxError:
            continue
    return removed


def _interpolate(tmux: Tmux, old: str, new: str) -> None:
    for name in STATUS_OPTIONS:
        value = tmux.option(name)
        if old in value:
            tmux.cmd("set-option", "-gq", name, value.replace(old, new))


def _badges(tmux: Tmux, on: bool) -> None:
    """Append the badge to both window-status formats once, or take it out again."""
    for name in FORMAT_OPTIONS:
        value = tmux.option(name)
        if on and BADGE not in value:
            tmux.cmd("set-option", "-gq", name, value + BADGE)
        elif not on and BADGE in value:
            tmux.cmd("set-option", "-gq", name, value.replace(BADGE, ""))


def _clear_badges(tmux: Tmux) -> None:
    try:
        windows = tmux.cmd("list-windows", "-a", "-F", "#{window_id}")
    except TmuxError:
        return
    cmds = [["set-option", "-wqu", "-t", w, BADGE_OPTION] for w in windows if w]
    if cmds:
        tmux.chain(cmds)
