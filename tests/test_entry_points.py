"""Every way a person starts otop still starts it: the `otop` command full screen (no
subcommand), `python -m otop`, and `otop ui`, each in a real tmux pane over fake agents; the
plugin through `@otop-command 'python3 -m otop'`; and every script of scripts/ that runs a
tool of devtools/ (the demo's own run is tests/test_demo.py's, the first-load install
tests/test_plugin.py's)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from otop.watcher.runtime import holder, lock_path
from tests.conftest import BIN, ROOT, World, wait_for
from tests.test_plugin import add_agents, copy_plugin, server_without_otop

COMMANDS = {
    "otop": f"{BIN}/otop",
    "python -m otop": f"{shlex.quote(sys.executable)} -m otop",
    "otop ui": f"{BIN}/otop ui --interval 1",
}


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_the_full_screen_app_starts_and_quits(world: World, command: str) -> None:
    """The app shows the agents' rows in a pane of its own, then `q` leaves it cleanly."""
    add_agents(world)
    # The shell says how the app ended: tmux's own #{pane_dead_status} is not always there
    # (measured on 3.3a: a pane dead, its process a zombie tmux had not reaped 15 s later).
    shell = f"echo before otop; {command}; echo otop exited $?; sleep 600"
    pane = world.server.new_window(
        world.tmp, f"bash --norc --noprofile -c {shlex.quote(shell)}", "app"
    )

    def screen() -> str:
        return world.server("capture-pane", "-p", "-t", pane)

    wait_for(lambda: "sort: urgency" in screen() and "Work perm" in screen(), 30, what="rows")
    world.server("send-keys", "-t", pane, "q")
    wait_for(lambda: "otop exited" in screen(), 15, what="the app to leave")
    assert "otop exited 0" in screen(), screen()
    # The shell's screen as it was: the app and its first frame drew on the alternate one.
    assert "before otop" in screen() and "sort: urgency" not in screen(), screen()


def test_the_first_rows_come_before_textual(world: World) -> None:
    """Without a watcher, the app's first scan is drawn as plain rows in the alternate screen
    before Textual has loaded (on a busy machine that takes a second or more)."""
    add_agents(world)
    code = (
        "import sys, time\n"
        "from otop.cli.commands import _first_frame\n"
        "from otop.scan.scanner import Scanner, Options\n"
        f"scan = Scanner(Options(socket_name={world.server.socket!r})).scan()\n"
        "assert _first_frame(scan, raw=True)\n"
        f"open({str(world.tmp / 'loaded')!r}, 'w').write(' '.join(sys.modules))\n"
        "time.sleep(600)\n"
    )
    first_rows_drawn_by(world, code)
    wait_for(lambda: (world.tmp / "loaded").exists(), 10, what="its modules")
    assert "textual" not in (world.tmp / "loaded").read_text().split(), "Textual loaded for it"


def test_the_watchers_scan_is_drawn_before_textual(world: World) -> None:
    """With a watcher, the full-screen app draws the watcher's latest scan as plain rows at
    once, as it draws its own first scan without one, while Textual loads (held back here)."""
    add_agents(world)
    world.load()
    world.wait_watcher()
    world.wait_beats(2)
    code = (
        "import sys, time\n"
        "class Slow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'textual':\n"
        "            time.sleep(600)\n"
        "sys.meta_path.insert(0, Slow())\n"
        f"sys.argv = ['otop', '-L', {world.server.socket!r}]\n"
        "from otop.cli.entry import command\n"
        "command()\n"
    )
    first_rows_drawn_by(world, code)


def first_rows_drawn_by(world: World, code: str) -> None:
    """Python code run in a pane of its own draws the fixture agents' first rows as plain text
    (`loading…`, not yet the app) in the alternate screen."""
    pane = world.server.new_window(
        world.tmp, f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    )

    def screen() -> str:
        return world.server("capture-pane", "-p", "-t", pane)

    wait_for(lambda: "Work perm" in screen(), 30, what="the first rows")
    text = screen()
    assert "sort: urgency" in text and "loading…" in text and "permission" in text, text
    assert world.server("display", "-p", "-t", pane, "#{alternate_on}").strip() == "1"


@pytest.mark.tmux
def test_the_plugin_runs_the_command_its_option_names(tmp_path: Path) -> None:
    """With no otop on PATH and `@otop-command` set to `python -m otop`, loading the plugin
    runs that command's setup (prefix+O bound, the watcher started) and installs nothing."""
    plugin_dir = copy_plugin(tmp_path)
    server = server_without_otop(tmp_path)
    try:
        server("set-option", "-g", "@otop-command", f"{sys.executable} -m otop")
        server("run-shell", shlex.quote(str(plugin_dir / "otop.tmux")))
        wait_for(
            lambda: server.binding("O"),
            timeout=30,
            what="prefix+O bound",
        )
        wait_for(
            lambda: server("show-options", "-gqv", "@otop_watcher_pid").strip(),
            timeout=30,
            what="the watcher",
        )
        assert not (plugin_dir / ".venv").exists()
        assert not (plugin_dir / ".venv-installing").exists()
    finally:
        sock = server("display", "-p", "#{socket_path}", check=False).strip()
        server.kill()
        if sock:
            wait_for(lambda: holder(lock_path(sock)) is None, timeout=5, what="watcher exit")


SCRIPTS = {
    "bench": ["scripts/bench", "--help"],
    "bench --real": ["scripts/bench", "--real", "--help"],
    "bench --flaps": ["scripts/bench", "--flaps", "--help"],
    "demo": ["scripts/demo", "--help"],
    "screenshots": ["scripts/screenshots", "--help"],
}


@pytest.mark.parametrize("argv", list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_every_script_starts_its_tool(argv: list[str]) -> None:
    """Each script of scripts/ finds its devtools module and the module parses its command
    line (`--help` exits 0 with its usage)."""
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("usage: "), out.stderr[-2000:]


def test_the_bench_times_compared_commands_side_by_side(tmp_path: Path) -> None:
    """The bench's ratios compare commands timed one run of each in turn (the order turning
    each round), not one block of runs minutes after another."""
    from devtools.bench_steady import interleaved

    log = tmp_path / "order"
    commands = {
        name: (["sh", "-c", f"echo {name} >> {log}"], {"PATH": "/usr/bin:/bin"})
        for name in ("a", "b", "c")
    }
    times = interleaved(commands, 4)
    assert log.read_text().split() == [*"abc", *"bca", *"cab", *"abc"]
    assert {n: len(t) for n, t in times.items()} == {
        f"{n}{kind}": 4 for n in "abc" for kind in ("", " cpu", " own")
    }
    assert all(t == sorted(t) and t[0] >= 0 for t in times.values())
    assert all(times[n][0] > 0 for n in "abc")
    # CPU time is the command's own (its children's included), not the clock's.
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    waits = "import time\ntime.sleep(0.3)"
    times = interleaved(
        {"burn": ([sys.executable, "-c", burn], {}), "waits": ([sys.executable, "-c", waits], {})},
        1,
    )
    assert times["burn cpu"][0] >= 0.25 and times["waits cpu"][0] < 0.2 < times["waits"][0]
    # Its own time leaves out only the wait for a core: sleeping is the command's own.
    assert times["waits own"][0] > 0.25


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="Linux's schedstat")
def test_the_bench_leaves_out_the_wait_for_a_core() -> None:
    """A command sharing its one core with a busy process: its wall time about doubles, its
    own time (the wall less its wait for a core) stays near its CPU time."""
    from devtools.bench_steady import interleaved

    pin = "import os, time\nos.sched_setaffinity(0, {0})\nt = time.process_time()\n"
    burn = pin + "while time.process_time() - t < 0.3: pass"
    rival = subprocess.Popen([sys.executable, "-c", pin + "while True: pass"])
    try:
        times = interleaved({"burn": ([sys.executable, "-c", burn], {})}, 1)
    finally:
        rival.kill()
        rival.wait()
    wall, own, cpu = times["burn"][0], times["burn own"][0], times["burn cpu"][0]
    assert wall > 0.5 and cpu >= 0.25 and own < 0.8 * wall and own < cpu + 0.15, times
