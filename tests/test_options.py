"""The one option table (otop/plugin/options.py): every value checked by its kind, and the
README's option table, the shell glue, the command line and every `@otop-` named anywhere in
the code checked against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otop.cli.parser import build_parser
from otop.core.model import Group
from otop.plugin import options
from otop.plugin.options import DEFAULTS, OPTIONS, Config, Option, parse_config

ROOT = Path(__file__).resolve().parent.parent


def readme_rows() -> list[str]:
    """The README's option table as the option table renders it: options that share their
    help share a row, the first named in full and the rest by what follows its stem."""
    groups: list[list[Option]] = []
    for o in OPTIONS:
        if groups and groups[-1][0].help == o.help:
            groups[-1].append(o)
        else:
            groups.append([o])
    rows = []
    for group in groups:
        first = group[0].name
        stem = first[: first.rfind("-") + 1]
        names = [f"`@otop-{first}`", *(f"`-{o.name[len(stem) :]}`" for o in group[1:])]
        default = group[0].shown or " ".join(
            f"`{o.default}`" if o.default else "none" for o in group
        )
        rows.append(f"| {', '.join(names)} | {default} | {group[0].help} |")
    return rows


def test_the_readme_option_table_is_the_option_table() -> None:
    """The README's option table has a row for every option of the table, with its default
    and help, and no other (on a failure, the expected table is printed to paste in)."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| option | default | what |\n|---|---|---|\n", 1)[1].split("\n\n")[0]
    expected = readme_rows()
    assert table.splitlines() == expected, "\n" + "\n".join(expected)


def test_every_option_named_anywhere_is_in_the_table() -> None:
    """Every `@otop-NAME` in otop/, devtools/, scripts/, otop.tmux and the README is an option
    of the table (a name mistyped or dropped from the table fails here)."""
    files = [
        *(ROOT / "otop").rglob("*.py"),
        *(ROOT / "devtools").rglob("*.py"),
        *(p for p in (ROOT / "scripts").iterdir() if p.is_file()),
        ROOT / "otop.tmux",
        ROOT / "README.md",
    ]
    named = {
        (str(p.relative_to(ROOT)), name)
        for p in files
        for name in re.findall(r"@otop-([a-z][a-z-]*[a-z])", p.read_text())
    }
    assert {n for _, n in named} >= {"key", "command"}  # the search finds what it looks for
    assert sorted(n for n in named if n[1] not in DEFAULTS) == []


def test_shell_defaults_are_the_tables() -> None:
    """A default the shell glue writes itself (`... @otop-NAME ... || echo DEFAULT`) is the
    table's, and otop.tmux reads @otop-command, the option the table says it reads."""
    shell = [*(p for p in (ROOT / "scripts").iterdir() if p.is_file()), ROOT / "otop.tmux"]
    found = [
        (name, default)
        for p in shell
        for name, default in re.findall(r"@otop-([a-z-]+)[^\n]*\|\| echo ([^\s)]+)", p.read_text())
    ]
    assert found  # scripts/plugin-bootstrap says which key opens the popup
    assert all(DEFAULTS[name] == default for name, default in found), found
    assert "show-option -gqv @otop-command" in (ROOT / "otop.tmux").read_text()


def test_the_command_line_interval_is_the_options() -> None:
    """`otop` and `otop popup` scan as often as `@otop-interval` says by default."""
    parser = build_parser()
    for command in ("ui", "popup"):
        assert parser.parse_args([command]).interval == float(DEFAULTS["interval"])


def test_defaults_parse_to_the_config_defaults() -> None:
    """No option set gives the Config whose defaults come from the table, without errors."""
    assert parse_config({}) == Config()
    assert all(options.problem(o, o.default) is None for o in OPTIONS)


BAD = [
    ("popup-height", "0", "is not a size like 80% or 100"),
    ("interval", "0.1", "is not a number of seconds (0.2 to 3600)"),
    ("interval", "nan", "is not a number of seconds"),
    ("notify-settle", "-1", "is not a number of seconds (0 to 600)"),
    ("bell", "loud", "is neither on nor off"),
    ("status-format", "{", ": use {waiting}"),
    ("notify", "some", ": use off, waiting, all"),
    ("notify-command", "push 'unclosed", ": No closing quotation"),
]


@pytest.mark.parametrize(("name", "value", "why"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_named_and_its_default_used(name: str, value: str, why: str) -> None:
    """A value its kind refuses is named in the errors and the option keeps its default."""
    cfg = parse_config({name: value})
    assert [e for e in cfg.errors if e.startswith(f"@otop-{name} {value!r}")] != []
    assert any(why in e for e in cfg.errors), cfg.errors
    fresh = Config()
    assert (cfg.popup_height, cfg.interval, cfg.settle) == (
        fresh.popup_height,
        fresh.interval,
        fresh.settle,
    )
    assert (cfg.style, cfg.notify) == (fresh.style, fresh.notify)


def test_good_values_and_empty_ones() -> None:
    """Good values are taken; set empty, a key binds nothing and an icon shows nothing, while
    any other option takes its default; a notify command alone turns notifications on."""
    cfg = parse_config(
        {
            "key": "",
            "next-key": "Off",
            "popup-width": "120",
            "interval": "0.5",
            "badges": "no",
            "bell": "YES",
            "icon-idle": "",
            "color-waiting": "",
            "notify-command": "push --to 'my phone'",
        }
    )
    assert cfg.errors == []
    assert (cfg.key, cfg.next_key, cfg.popup_width, cfg.interval) == (None, None, "120", 0.5)
    assert not cfg.badges and cfg.notify.bell
    assert cfg.style.icons[Group.IDLE] == "" and cfg.style.colours[Group.WAITING] == "colour208"
    assert cfg.notify.command == ("push", "--to", "my phone") and cfg.notify.level == "all"
    assert parse_config({"notify": "waiting", "notify-command": "x"}).notify.level == "waiting"
