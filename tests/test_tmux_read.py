"""What otop reads from tmux is the same on every version: records decoded from tmux's output,
as 3.1c and 3.3a print it (raw) and as 3.5a does (vis(3)-escaped), and from real servers."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from otop.decide.screen import held_by_new_tmux
from otop.sources.tmux import (
    FIELD_END,
    RECORD_END,
    Target,
    Tmux,
    TmuxError,
    field,
    parse_pane,
    record,
    records,
)
from otop.sources.tmux_args import chained
from tests.conftest import Client, TmuxServer, tmux_version, wait_for

# (case, output lines as the command printed them, records expected)
DECODED = [
    ("plain", ["a\\|b\\|\\$"], [["a", "b"]]),
    ("two records", ["a\\|\\$", "b\\|\\$"], [["a"], ["b"]]),
    ("doubled backslash", ["x\\\\037y\\|\\$"], [["x\\037y"]]),
    ("backslash before a separator", ["x\\\\\\|y\\|\\$"], [["x\\", "y"]]),
    ("octal escape (3.5a)", ["a\\037b\\033c\\|\\$"], [["a\x1fb\x1bc"]]),
    ("c-style escapes (3.5a)", ["\\r\\a\\b\\v\\f\\0z\\|\\$"], [["\r\a\b\v\f\0z"]]),
    ("nul before a digit (3.5a)", ["\\0001\\|\\$"], [["\x001"]]),
    ("raw control bytes (3.3a)", ["a\x1fb\x1bc\\|\\$"], [["a\x1fb\x1bc"]]),
    ("bytes not utf-8, as vis prints them", ["\\303\\251\\377\\|\\$"], [["é\ufffd"]]),
    ("bytes not utf-8, as decoding replaced them", ["\\xc3\\xa9\\xff\\|\\$"], [["é\ufffd"]]),
    ("utf-8 text", ["é ✓ 漢\\|\\$"], [["é ✓ 漢"]]),
    ("a newline inside a field", ["a", "b\\|\\$"], [["a\nb"]]),
    ("a field starting with a newline", ["x\\|\\$", "", "y\\|\\$"], [["x"], ["\ny"]]),
    ("unfinished record dropped", ["a\\|\\$", "b\\|c"], [["a"]]),
    ("lone backslash kept", ["a\\qb\\|\\$"], [["a\\qb"]]),
    ("empty fields", ["\\|\\|\\$"], [["", ""]]),
]


@pytest.mark.parametrize(
    ("lines", "expected"), [c[1:] for c in DECODED], ids=[c[0] for c in DECODED]
)
def test_records_decode(lines: list[str], expected: list[list[str]]) -> None:
    """Output lines decode to the same fields whether tmux escaped them or printed them raw."""
    assert records(lines) == expected


def test_format_shape() -> None:
    """A record's format doubles each value's backslashes in tmux and ends with the separators
    that no value can print."""
    assert field("pane_title") == "#{s/\\\\/\\\\\\\\/:pane_title}"
    assert record(["a", "b"], "K") == (
        "K" + FIELD_END + field("a") + FIELD_END + field("b") + FIELD_END + RECORD_END
    )


TITLE_WRITER = r"""
import os, sys, time
os.write(1, b"\x1b]2;" + bytes.fromhex(sys.argv[1]) + b"\x07")
time.sleep(600)
"""

# (case, the title a program in the pane writes, the title tmux keeps): tmux drops control
# characters inside the title sequence, and ESC ends it.
TITLES = [
    ("format characters", b"OC | #(touch /tmp/x) #[fg=red] #{pane_id}", None),
    ("literal escape text", b"OC | a\\037b \\x1f c\\\\d\\", None),
    ("separator-like text", b"OC | a|b\\|c\\$d;e", None),
    ("non-ascii", "OC | café ✓ 漢字 Ünïcödé".encode(), None),
    ("control characters dropped", b"OC | a\x1fb\tc\x01d", b"OC | abcd"),
    ("escape ends the title", b"OC | before\x1b[31mafter", b"OC | before"),
    ("strftime-like", b"OC | 100% %H:%M %10 %%", None),
]


def title_pane(tmux: TmuxServer, cwd: Path, title: bytes) -> str:
    code = shlex.quote(TITLE_WRITER)
    return tmux.new_window(cwd, f"{sys.executable} -c {code} {title.hex()}", "t")


def test_pane_records_survive_hostile_titles(tmux: TmuxServer, tmp_path: Path) -> None:
    """Titles full of format characters, backslash escapes, separators and non-ASCII text
    come back exactly as tmux holds them, at pane ids past %10, whatever the tmux version."""
    for _ in range(10):
        tmux.new_window(tmp_path, "sleep 600", "filler")
    panes = {title_pane(tmux, tmp_path, t): (case, kept or t) for case, t, kept in TITLES}
    assert all(int(p[1:]) >= 10 for p in panes), panes
    t = Tmux(Target(socket_name=tmux.socket))

    def titles() -> dict[str, str]:
        return {p.id: p.title for p in t.panes() if p.id in panes}

    # tmux 3.7 and newer keep a title's backslashes doubled and its `#(` as `_(`.
    held = held_by_new_tmux if tmux_version() >= (3, 7) else str
    want = {p: held(kept.decode()) for p, (_, kept) in panes.items()}
    wait_for(lambda: titles() == want, what="every title", timeout=10)
    listed = {p.id: p for p in t.panes()}
    assert len(listed) == 10 + len(TITLES)
    for pane_id in panes:
        p = listed[pane_id]
        assert p.window_name == "t" and p.session == "s" and p.tty.startswith("/dev/")
        assert p.id == pane_id and p.pid > 0


def test_names_and_values_are_exact(tmux: TmuxServer, tmp_path: Path) -> None:
    """Session and window names and option values holding backslashes, `%`, control
    characters and non-ASCII read back exactly as tmux holds them (tmux keeps names escaped:
    window names on every version, session names from 3.2 on)."""
    pane_id = tmux.new_window(tmp_path, "sleep 600", "plain")
    window = tmux("display", "-p", "-t", pane_id, "#{window_id}").strip()
    tmux("rename-session", "-t", "s", "sess \\037 é|x")
    name = "win \\ \\033 ✓\x1b"
    if tmux_version() >= (3, 7):
        # tmux 3.7 and newer refuse a window name holding a control character.
        with pytest.raises(RuntimeError, match="invalid window name"):
            tmux("rename-window", "-t", window, name)
        name = name.replace("\x1b", "\\033")
    tmux("rename-window", "-t", window, name)
    hostile = "a\\037b %H 100% \x1b[31m\tx\\$y \\|z é\\"
    tmux("set-option", "-g", "@probe", hostile)
    t = Tmux(Target(socket_name=tmux.socket))
    pane = t.panes()[0]

    def held(name: str) -> str:
        # What tmux holds, printed raw: names hold no control characters once tmux stored them.
        return tmux("display", "-p", "-t", pane_id, "#{" + name + "}").rstrip("\n")

    assert pane.session == held("session_name") and "é|x" in pane.session
    # Kept escaped: ESC as the text `\033`, and from 3.7 on every backslash doubled too.
    end = "✓\\\\033" if tmux_version() >= (3, 7) else "✓\\033"
    assert pane.window_name == held("window_name") and pane.window_name.endswith(end)
    assert t.values("@probe", "@unset", "window_name") == [hostile, "", pane.window_name]


def test_first_look_reads_options_and_panes_in_one_command(
    tmux: TmuxServer, tmp_path: Path
) -> None:
    """`first_look` reads options exactly and lists the panes in the same tmux process; the
    next `panes()` takes that answer, and the one after asks tmux again."""
    pane_id = tmux.new_window(tmp_path, "sleep 600", "plain")
    hostile = "a\\037b %H\x1b[31m\tx\\$y \\|z é\\"
    tmux("set-option", "-g", "@probe", hostile)
    t = Tmux(Target(socket_name=tmux.socket))
    assert t.first_look("@probe", "@unset") == [hostile, ""] and t.commands == 1
    assert [p.id for p in t.panes()] == [pane_id] and t.commands == 1
    second = tmux.new_window(tmp_path, "sleep 600", "later")
    assert [p.id for p in t.panes()] == [pane_id, second] and t.commands == 2
    none = Tmux(Target(socket_name=f"otop-none-{tmp_path.name}"))
    assert none.first_look("@probe") == [""] and none.panes() == []


def test_utf8_without_a_utf8_locale(tmux: TmuxServer, tmp_path: Path) -> None:
    """otop reads non-ASCII titles even when its own environment has no UTF-8 locale (tmux
    would print them as `_` to such a client)."""
    pane = title_pane(tmux, tmp_path, "OC | café ✓".encode())
    code = (
        "from otop.sources.tmux import Target, Tmux; import sys;"
        f"print([p.title for p in Tmux(Target(socket_name={tmux.socket!r})).panes()"
        f" if p.id == {pane!r}][0].encode())"
    )
    env = {**tmux.env, "LANG": "C", "LC_ALL": "C"}
    env.pop("LC_CTYPE", None)

    def title() -> str:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        return out.stdout.strip()

    wait_for(lambda: title() == repr("OC | café ✓".encode()), what="the title in UTF-8")


def test_clients_are_read(tmux: TmuxServer, tmp_path: Path) -> None:
    """A real attached client is listed with the pane it shows and its size."""
    tmux.new_window(tmp_path, "sleep 600", "one")
    shown = tmux.new_window(tmp_path, "sleep 600", "two")
    client = Client(tmux, cols=100, rows=30)
    try:
        tmux("select-window", "-t", shown)
        t = Tmux(Target(socket_name=tmux.socket))
        wait_for(lambda: t.clients() == [(client.name, shown)], what="the client's pane")
        assert t.sizes == [(100, 30)]
        t.panes()
        assert t.looking == [(client.name, shown)]
    finally:
        client.close()


def test_capture_keeps_screen_text(tmux: TmuxServer, tmp_path: Path) -> None:
    """A pane's screen holding backslashes, escape-like text and non-ASCII is captured as it
    shows, under its own id."""
    text = "scr \\037 \\$ \\| 100% é ✓"
    cmd = f"printf '%s\\n' {shlex.quote(text)}; sleep 600"
    pane = tmux.new_window(tmp_path, f"bash --norc --noprofile -c {shlex.quote(cmd)}")
    t = Tmux(Target(socket_name=tmux.socket))
    wait_for(lambda: text in t.capture([pane]).get(pane, ""), what="the screen text")


def test_parse_pane_needs_its_kind_and_fields() -> None:
    """A record of another kind, or with a field missing, is no pane."""
    fields = ["%12", "s", "0", "@1", "w", "0", "/dev/pts/1", "42", "opencode", "1", "1", "T"]
    pane = parse_pane(["P", *fields])
    assert pane is not None and pane.id == "%12" and pane.title == "T" and pane.active
    assert parse_pane(["C", *fields]) is None
    assert parse_pane(["P", *fields[:-1]]) is None
    assert parse_pane(["P", *fields[:2], "x", *fields[3:]]) is None


def test_no_tmux_on_path_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without tmux on PATH every command fails in those words."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TmuxError, match=r"^tmux is not installed \(not on PATH\)$"):
        Tmux(Target(socket_name="otop-none")).cmd("list-panes")


def test_a_long_chain_runs_whole_on_every_version(tmux: TmuxServer, tmp_path: Path) -> None:
    """A chain of 2,400 arguments (the typeahead table is 1,300) runs every command: tmux 3.7c
    and 3.8 refuse more than 1,000 arguments in one invocation ("command too long")."""
    tmux.new_window(tmp_path, "sleep 60")
    server = Tmux(Target(socket_name=tmux.socket))
    server.chain(["set-option", "-gq", f"@otop_chain_{i}", f"value {i};"] for i in range(480))
    assert tmux("show-options", "-gqv", "@otop_chain_0").strip() == "value 0;"
    assert tmux("show-options", "-gqv", "@otop_chain_479").strip() == "value 479;"


@pytest.mark.parametrize(
    ("commands", "cut"),
    [
        pytest.param([["set-option", "-gq", f"@o{i}", "v"] for i in range(500)], True, id="many"),
        pytest.param(
            [["set-option", "-gq", f"@o{i}", "v" * 3000] for i in range(9)], True, id="long"
        ),
        pytest.param([["display-message", "-p", "a"], ["list-keys"]], False, id="short"),
    ],
)
def test_chained_cuts_within_what_one_invocation_may_send(
    commands: list[list[str]], cut: bool
) -> None:
    """Each invocation of a chain holds fewer than 1,000 arguments and 16 KiB, and together
    they hold every command once, in order, separated by `;`."""
    batches = chained(commands)
    assert all(len(b) < 1000 and sum(len(w) + 1 for w in b) < 16_000 for b in batches)
    words = [w for b in batches for w in [*b, ";"]][:-1]
    assert words == [w for c in commands for w in [*c, ";"]][:-1]
    assert (len(batches) > 1) == cut
