"""The tmux plugin on real private tmux servers: keys, status counts, badges, the watcher."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from otop.cli import exits
from otop.outputs.render import tmux_escape
from otop.plugin import options, wiring
from otop.sources.tmux_args import literal
from otop.watcher import snapshot as published
from otop.watcher.runtime import holder, lock_path
from tests.conftest import (
    BIN,
    PERMISSION_SCREEN,
    ROOT,
    Client,
    TmuxServer,
    World,
    agent_cmd,
    pid_in,
    tmux_version,
    wait_for,
)


def add_agents(w: World) -> dict[str, str]:
    """Three agents: a tool running, a permission dialog, an idle one. Returns their panes."""
    dirs = {k: w.tmp / k for k in ("tool", "perm", "idle")}
    for d in dirs.values():
        d.mkdir()
    ses = {k: w.db.session(str(d), f"Work {k}") for k, d in dirs.items()}
    w.db.user(ses["tool"], "build")
    m = w.db.assistant(ses["tool"])
    w.db.tool_part(m, ses["tool"], "bash", inp={"command": "make"})
    w.db.user(ses["perm"], "read it")
    m = w.db.assistant(ses["perm"])
    w.db.tool_part(m, ses["perm"], "read", inp={"filePath": "/etc/hostname"})
    w.db.finished_turn(ses["idle"], "hi", "Done.")
    panes = {
        "tool": w.server.new_window(dirs["tool"], agent_cmd("-s", ses["tool"]), "tool"),
        "perm": w.server.new_window(
            dirs["perm"], agent_cmd("-s", ses["perm"], screen=PERMISSION_SCREEN), "perm"
        ),
        "idle": w.server.new_window(dirs["idle"], agent_cmd("-s", ses["idle"]), "idle"),
    }
    for p in panes.values():
        pid_in(w.server, p)
    panes.update({f"ses_{k}": v for k, v in ses.items()})
    return panes


def window_of(w: World, pane: str) -> str:
    return w.server("display", "-p", "-t", pane, "#{window_id}").strip()


def test_tpm_load_binds_keys_and_wires_status_once(world: World) -> None:
    """Loading (twice) binds O and N, interpolates #{otop_status} and appends one badge."""
    world.server("set-option", "-g", "status-right", "[#{otop_status}] %H:%M")
    world.load()
    world.load()
    popup = world.server.binding("O")
    if tmux_version() >= (3, 2):
        assert "display-popup" in popup and "otop popup" in popup and "#{q:client_name}" in popup
    else:
        assert "new-session" in popup and "otop popup" in popup and "--own-session" in popup
    assert "jump --next --notify" in world.server.binding("N")
    assert world.option("status-right") == "[#{@otop_status}] %H:%M"
    for name in wiring.FORMAT_OPTIONS:
        assert world.option(name).count("#{@otop_badge}") == 1
        assert world.option(name).endswith("#{@otop_badge}")
    world.wait_watcher()
    assert world.option("@otop_watcher_pid") == str(world.watcher())


def test_watcher_sets_counts_and_badges(world: World) -> None:
    """The watcher counts agents by group and badges each agent's window by its state."""
    panes = add_agents(world)
    world.load()
    wait_for(lambda: world.option("@otop_status"), what="@otop_status")
    assert world.option("@otop_status") == (
        "#[fg=colour208]⏳1#[fg=default] #[fg=colour2]⚙1#[fg=default] ·1"
    )
    perm = world.option("@otop_badge", window_of(world, panes["perm"]))
    assert perm.startswith(" #[fg=colour208]⏳") and perm.endswith("s#[fg=default]")
    assert world.option("@otop_badge", window_of(world, panes["tool"])) == (
        " #[fg=colour2]⚙#[fg=default]"
    )
    assert world.option("@otop_badge", window_of(world, panes["idle"])) == " ·"
    # The shell window has no agent and no badge.
    assert world.option("@otop_badge", "s:0") == ""


def test_badge_follows_a_state_change_quickly(world: World) -> None:
    """A turn that finishes in the database turns its window's badge idle within 1.5 s."""
    panes = add_agents(world)
    world.load()
    win = window_of(world, panes["tool"])
    wait_for(lambda: "⚙" in world.option("@otop_badge", win), what="working badge")
    ses = panes["ses_tool"]
    t0 = time.monotonic()
    world.db.finished_turn(ses, "next", "Finished.")
    wait_for(lambda: world.option("@otop_badge", win) == " ·", timeout=5, what="idle badge")
    assert time.monotonic() - t0 < 1.5


def test_hostile_titles_never_reach_tmux(world: World) -> None:
    """Titles like `#(touch x)` and `#[fg=red]` never get into options or run a command."""
    pwned = world.tmp / "pwned"
    for title in (f"#(touch {pwned})", "#[fg=red]red", "#{session_name}"):
        d = world.tmp / f"h{len(title)}"
        d.mkdir()
        sid = world.db.session(str(d), title)
        world.db.finished_turn(sid, "x", f"#(touch {pwned})")
        world.server.new_window(d, agent_cmd("-s", sid, title=f"OC | {title}"), "h")
    client = Client(world.server)
    try:
        world.load()
        wait_for(lambda: world.option("@otop_status") == "·3", what="three idle agents")
        wait_for(lambda: "·".encode() in client.seen(), what="the badges drawn on the client")
        opts = "".join(
            line for line in world.server("show-options", "-g").splitlines() if "otop" in line
        )
        windows = world.server("list-windows", "-a", "-F", "#{window_id}").split()
        opts += "".join(world.option("@otop_badge", w) for w in windows)
        assert "touch" not in opts and "fg=red" not in opts
        assert not pwned.exists()
    finally:
        client.close()


@pytest.mark.parametrize("fmt", ["#{@probe}", "#{E:@probe}"], ids=["plain", "expanded"])
def test_tmux_escape_through_a_real_status_line(world: World, fmt: str) -> None:
    """Escaped text is drawn on a real client's status line literally, its commands unrun."""
    pwned = world.tmp / "pwned2"
    hostile = f"#(touch {pwned}) #[fg=red]#{{session_name}} ;"
    world.server("set-option", "-g", "status-right-length", "200")
    world.server("set-option", "-g", "status-right", f"<{fmt}>")
    world.server("set-option", "-g", "@probe", literal(tmux_escape(hostile)))
    client = Client(world.server, cols=200)
    try:
        if tmux_version() >= (3, 2):
            drawn = f"<{hostile}>".encode()
            wait_for(lambda: drawn in client.seen(), timeout=5, what="the status line")
        else:
            # tmux 3.1c draws `##` as two characters and takes `#[` as a style wherever it
            # stands: the text looks different there, but no command runs and no format expands.
            wait_for(lambda: b"(touch " in client.seen(), timeout=5, what="the status line")
            assert b"{session_name}" in client.seen()
        assert not pwned.exists()
    finally:
        client.close()


def test_single_watcher(world: World) -> None:
    """Three watchers started at once leave exactly one running; the others exit 0."""
    env = {**world.server.env}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "otop", "-L", world.server.socket, "watch"],
            env=env,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    wait_for(
        lambda: sum(p.poll() is None for p in procs) == 1 and world.watcher() is not None,
        timeout=10,
        what="two of three watchers to leave",
    )
    alive = [p for p in procs if p.poll() is None]
    assert len(alive) == 1
    for p in procs:
        if p is not alive[0]:
            assert p.returncode == 0
            assert p.stderr is not None and b"already runs" in p.stderr.read()
    assert world.watcher() == alive[0].pid
    world.load()  # the plugin's load (run-shell waits for it) keeps the running watcher
    assert world.watcher() == alive[0].pid and alive[0].poll() is None
    world.server.kill()
    alive[0].wait(5)
    assert alive[0].returncode == 0
    for p in procs:
        assert p.stderr is not None
        p.stderr.close()


def test_watcher_leaves_with_its_server(world: World) -> None:
    """Killing the tmux server ends its watcher within 2 s, although tmux 3.3a leaves the
    socket file behind (the watcher asks the socket, not the file system); its published scan,
    marks and first frame go with it."""
    world.load()
    world.wait_watcher()
    pid = world.watcher()
    assert pid
    sock = world.server("display", "-p", "#{socket_path}").strip()
    files = [f(sock) for f in (published.snapshot_path, published.marks_path, published.frame_path)]
    wait_for(lambda: all(os.path.exists(f) for f in files), what="the watcher's files")
    world.server("kill-server")
    assert os.path.exists(sock)  # the trap: the file stays

    def gone() -> bool:
        # A watcher that has exited may stay a zombie until its new parent reaps it.
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, timeout=2.0, what="the watcher to leave")
    assert not any(os.path.exists(f) for f in files)
    os.unlink(sock)


def snapshot(w: World) -> dict[str, str]:
    windows = w.server("list-windows", "-a", "-F", "#{window_id}").split()
    return {
        "global": w.server("show-options", "-g"),
        "window": w.server("show-options", "-gw"),
        "keys": w.server("list-keys"),
        "per-window": "".join(w.server("show-options", "-w", "-t", x) for x in windows),
    }


def test_uninstall_leaves_tmux_as_it_was(world: World) -> None:
    """After load and uninstall, options, formats, keys and windows are as before."""
    add_agents(world)
    world.server("set-option", "-g", "status-left", "#{otop_status} |")
    world.server("set-option", "-g", "@otop-key", "o")  # the user's own config stays
    before = snapshot(world)
    world.load()
    wait_for(lambda: world.option("@otop_status"), what="counts")
    assert snapshot(world) != before
    out = subprocess.run(
        [sys.executable, "-m", "otop", "-L", world.server.socket, "tmux", "uninstall"],
        capture_output=True,
        text=True,
        env=world.server.env,
    )
    assert out.returncode == 0, out.stderr
    assert "stopped watcher" in out.stdout
    assert world.watcher() is None
    assert snapshot(world) == before


def test_user_key_is_kept_and_reported_once(world: World) -> None:
    """A key the user bound is not overwritten; setup says so the first time only."""
    world.server("bind-key", "-T", "prefix", "O", "display-message", "mine")
    first = wiring.setup(world.tmux, start=False)
    second = wiring.setup(world.tmux, start=False)
    assert "mine" in world.server.binding("O")
    assert first.bound == ["N"] and second.bound == ["N"]
    assert any("prefix+O is already bound" in m for m in first.messages)
    assert not second.messages


def test_options_change_keys_and_bad_values_are_reported(world: World) -> None:
    """@otop-* options rebind keys; bad values fall back to defaults with a message."""
    world.server("set-option", "-g", "@otop-key", "P")
    world.server("set-option", "-g", "@otop-next-key", "")
    world.server("set-option", "-g", "@otop-interval", "soon")
    world.server("set-option", "-g", "@otop-popup-width", "90%")
    report = wiring.setup(world.tmux, start=False)
    assert report.bound == ["P"]
    binding = world.server.binding("P")
    sized = "-w 90%" in binding if tmux_version() >= (3, 2) else "-w" not in binding
    assert sized and "--interval 2" in binding
    assert any("@otop-interval 'soon'" in m for m in report.messages)
    assert world.server.binding("N") == ""
    world.server("set-option", "-g", "@otop-key", "off")
    assert wiring.setup(world.tmux, start=False).bound == []
    assert world.server.binding("P") == ""


def test_badges_off(world: World) -> None:
    """@otop-badges off keeps window formats untouched."""
    before = world.option("window-status-format")
    world.server("set-option", "-g", "@otop-badges", "off")
    wiring.setup(world.tmux, start=False)
    assert world.option("window-status-format") == before


def test_old_tmux_gets_a_session_of_its_own_instead_of_a_popup() -> None:
    """Before tmux 3.2 (no display-popup) the key opens the picker in a session of its own,
    named by the client (formats there are expanded in the name, never in the command)."""
    cfg = options.parse_config({})
    args = wiring.popup_binding(cfg, (3, 1))
    assert args[0] == "new-session" and "display-popup" not in args
    assert args[args.index("-s") + 1] == "otop-picker-#{client_pid}"
    assert "--own-session" in args[-1] and "#{" not in args[-1]
    # No shell between the key and tmux: the pane's directory is tmux's own -c / -d argument.
    assert "run-shell" not in args and args[args.index("-c") + 1] == "#{pane_current_path}"
    popup = wiring.popup_binding(cfg, (3, 2))
    assert popup[popup.index("run-shell") + 2].startswith("tmux display-popup ")
    # The directory is display-popup's own format, left unexpanded by run-shell (`##`).
    assert "-d '##{pane_current_path}'" in popup[-1]
    assert wiring.tmux_version("tmux 3.3a") == (3, 3)
    assert wiring.tmux_version("tmux 2.9") == (2, 9)
    assert wiring.tmux_version("tmux next-3.5") == (99, 0)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"popup-width": "huge"}, "@otop-popup-width 'huge'"),
        ({"watch-interval": "0.01"}, "@otop-watch-interval '0.01'"),
        ({"badges": "maybe"}, "@otop-badges 'maybe'"),
        ({"status-format": "{busy}"}, "@otop-status-format '{busy}'"),
    ],
    ids=["size", "interval", "flag", "template"],
)
def test_bad_option_values(raw: dict[str, str], error: str) -> None:
    """Each bad option value is named in the errors and replaced by its default."""
    cfg = options.parse_config(raw)
    assert any(e.startswith(error) for e in cfg.errors)
    assert cfg.popup_width == "80%" and cfg.watch_interval == 1.0 and cfg.badges
    assert cfg.style.template == options.DEFAULTS["status-format"]


def test_next_key_jumps_to_the_agent_waiting(world: World) -> None:
    """prefix+N in a real client moves it to the pane of the agent waiting for the user."""
    panes = add_agents(world)
    world.load()
    client = Client(world.server)
    try:
        assert client.pane() != panes["perm"]
        client.press(b"\x02N")
        wait_for(lambda: client.pane() == panes["perm"], timeout=8, what="the jump")
    finally:
        client.close()


def test_popup_enter_jumps_to_the_pane(world: World) -> None:
    """prefix+O opens the popup in a real client; Enter jumps to the most urgent agent."""
    panes = add_agents(world)
    world.load()
    wait_for(lambda: "⏳1" in world.option("@otop_status"), what="the watcher's first look")
    client = Client(world.server)
    try:
        start = client.pane()
        assert start != panes["perm"]
        client.press(b"\x02O")
        # The watcher's first frame shows at once (cat, before Python); Enter typed while the
        # app loads still reaches it.
        wait_for(
            lambda: b"loading" in client.seen() and b"Work perm" in client.seen(),
            timeout=15,
            what="the popup's first frame",
        )
        client.press(b"\r")
        wait_for(lambda: client.pane() == panes["perm"], timeout=8, what="the jump")
        wait_for(
            lambda: (
                "otop popup"
                not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            ),
            timeout=5,
            what="the popup to close",
        )
    finally:
        client.close()


def test_popup_key_runs_nothing_named_in_a_directory(world: World) -> None:
    """prefix+O in a pane whose directory name holds a newline and tabs (a cloned repository
    can carry such names) runs no command named in it, and the popup still opens."""
    add_agents(world)
    marker = world.tmp / "marker"
    hostile = world.tmp / "repo" / f"x\n/bin/sh\t-c\ttouch {marker}\t#"
    hostile.mkdir(parents=True)
    pane = world.server.new_window(hostile, "sleep 600", "hostile")
    world.load()
    client = Client(world.server)
    try:
        world.server("select-window", "-t", pane)
        wait_for(lambda: client.pane() == pane, what="the hostile window")
        client.press(b"\x02O")
        wait_for(lambda: b"Work perm" in client.seen(), timeout=15, what="the popup's rows")
        time.sleep(0.5)  # a command split out of the path would have run by now
        assert not marker.exists()
        client.press(b"q")
    finally:
        client.close()
    assert not marker.exists()


def copy_plugin(tmp_path: Path, where: str = "plugins/otop") -> Path:
    """The plugin as TPM would clone it: the repository's tracked files."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    plugin_dir = tmp_path / where
    for f in files:
        if (ROOT / f).is_file():
            dest = plugin_dir / f
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes((ROOT / f).read_bytes())
            dest.chmod((ROOT / f).stat().st_mode)
    return plugin_dir


def server_without_otop(tmp_path: Path) -> TmuxServer:
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != BIN)
    server = TmuxServer()
    server.env.update(PATH=path, XDG_DATA_HOME=str(tmp_path / "data"))
    assert subprocess.run(["sh", "-c", "command -v otop"], env=server.env).returncode != 0
    server.new_window(tmp_path, "sleep 600", "shell")
    return server


@pytest.mark.slow
@pytest.mark.tmux
def test_first_load_without_otop_installs_a_venv(tmp_path: Path) -> None:
    """With no otop on PATH, loading the plugin (from a directory whose path holds spaces)
    installs it into the plugin's .venv in the background with the pinned versions, says so,
    then binds the keys; a reload meanwhile starts no second install."""
    plugin_dir = copy_plugin(tmp_path, "my tmux plugins/otop")
    server = server_without_otop(tmp_path)
    try:
        server("set-option", "-g", "status-right", "#{otop_status}")
        server("run-shell", shlex.quote(str(plugin_dir / "otop.tmux")))
        assert server("show-options", "-gqv", "status-right").strip() == "#{@otop_status}"
        wait_for(lambda: (plugin_dir / ".venv-installing").exists(), what="the install")
        wait_for(
            lambda: "installing" in server("show-options", "-gqv", "@otop_status"),
            what="the status line to say so",
        )
        server(
            "run-shell", shlex.quote(str(plugin_dir / "otop.tmux"))
        )  # a reload while it installs
        wait_for(
            lambda: (
                server.binding("O") or "failed" in server("show-options", "-gqv", "@otop_status")
            ),
            timeout=280,
            what="the plugin to install and bind prefix+O",
        )
        assert "failed" not in server("show-options", "-gqv", "@otop_status")
        assert (plugin_dir / ".venv" / "bin" / "otop").exists()
        assert str(plugin_dir / ".venv") in server.binding("O")
        pins = (plugin_dir / "scripts" / "plugin-constraints.txt").read_text().splitlines()
        frozen = subprocess.run(
            [str(plugin_dir / ".venv" / "bin" / "python"), "-m", "pip", "freeze"],
            capture_output=True,
            text=True,
        ).stdout
        for pin in (p for p in pins if p.startswith(("textual==", "psutil=="))):
            assert pin in frozen
        log = (plugin_dir / ".venv-install.log").read_text()
        assert log.count("== otop install") == 1
        assert not (plugin_dir / ".venv-installing").exists()
    finally:
        sock = server("display", "-p", "#{socket_path}", check=False).strip()
        server.kill()
        if sock:
            wait_for(lambda: holder(lock_path(sock)) is None, timeout=5, what="watcher exit")


@pytest.mark.tmux
def test_failed_install_says_why(tmp_path: Path) -> None:
    """An install that cannot work reports the failure where the counts go and cleans up;
    later loads do not try again until the user runs the bootstrap again."""
    plugin_dir = copy_plugin(tmp_path)
    server = server_without_otop(tmp_path)
    try:
        server("set-environment", "-g", "OTOP_PYTHON", "/bin/false")
        server("set-option", "-g", "status-right", "#{otop_status}")
        server("run-shell", str(plugin_dir / "otop.tmux"))
        wait_for(
            lambda: (
                server("show-options", "-gqv", "@otop_status").strip() == "otop: install failed"
            ),
            what="the failure",
        )
        assert not (plugin_dir / ".venv").exists()
        wait_for(lambda: not (plugin_dir / ".venv-installing").exists(), what="the lock")
        assert not server.binding("O")
        log = plugin_dir / ".venv-install.log"
        tried = log.stat().st_mtime_ns
        # Every later load (an offline machine reloading tmux.conf) tries nothing again...
        server("run-shell", str(plugin_dir / "otop.tmux"))
        server("run-shell", str(plugin_dir / "otop.tmux"))
        time.sleep(1.0)
        assert log.stat().st_mtime_ns == tried
        assert server("show-options", "-gqv", "@otop_status").strip() == "otop: install failed"
        # ...until the user asks again.
        marker = plugin_dir / ".venv-install-failed"
        before = marker.stat().st_mtime_ns
        time.sleep(0.05)
        server("run-shell", str(plugin_dir / "scripts" / "plugin-bootstrap"), check=False)
        wait_for(lambda: marker.exists() and marker.stat().st_mtime_ns > before, what="the new try")
    finally:
        server.kill()


@pytest.mark.tmux
def test_an_update_that_changed_pyproject_installs_again(tmp_path: Path) -> None:
    """The plugin's own .venv is used while pyproject.toml is older than its install; after an
    update that changed pyproject.toml (an old `otop` script names a module that moved), the
    plugin installs again instead of running the old script."""
    plugin_dir = copy_plugin(tmp_path)
    ran = tmp_path / "old otop ran"
    old = plugin_dir / ".venv" / "bin" / "otop"
    old.parent.mkdir(parents=True)
    old.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(ran))}\n')
    old.chmod(0o755)
    stamp = plugin_dir / ".venv" / ".otop-plugin-installed"
    stamp.touch()
    pyproject = plugin_dir / "pyproject.toml"
    os.utime(pyproject, (time.time() - 60, time.time() - 60))
    server = server_without_otop(tmp_path)
    try:
        server("set-environment", "-g", "OTOP_PYTHON", "/bin/false")
        server("run-shell", str(plugin_dir / "otop.tmux"))
        assert ran.read_text().split() == ["tmux", "setup"]  # installed after the update
        pyproject.touch()  # an update changed it
        server("run-shell", str(plugin_dir / "otop.tmux"))
        wait_for(
            lambda: "install failed" in server("show-options", "-gqv", "@otop_status"),
            what="the install tried again",
        )
        assert ran.read_text().split() == ["tmux", "setup"], "the old script ran again"
    finally:
        server.kill()


def python_stub(where: Path, name: str, version: str) -> None:
    """An interpreter that says its version and exits 0 only when asked if it is new enough."""
    new = tuple(int(x) for x in version.split(".")[:2]) >= (3, 10)
    body = f"""#!/bin/sh
case "$*" in --version) echo "Python {version}";; *version_info*) exit {0 if new else 1};; esac
"""
    (where / name).write_text(body)
    (where / name).chmod(0o755)


def test_a_python_new_enough_is_found(tmp_path: Path) -> None:
    """The first load finds a Python 3.10+ beside an older python3 (macOS's own is 3.9); with
    only the old one it says in one line what to install."""
    finder = [str(ROOT / "scripts" / "find-python")]
    bash = shutil.which("bash") or "/bin/bash"
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    python_stub(tmp_path, "python3", "3.9.6")
    python_stub(tmp_path, "python3.12", "3.12.4")
    only_old = {**env, "PATH": str(tmp_path)}
    found = subprocess.run([bash, *finder], env=only_old, capture_output=True, text=True)
    assert found.returncode == 0 and found.stdout.strip() == str(tmp_path / "python3.12")
    (tmp_path / "python3.12").unlink()
    none = subprocess.run([bash, *finder], env=only_old, capture_output=True, text=True)
    assert none.returncode == 1 and none.stdout == ""
    assert "needs Python 3.10 or newer (Python 3.9.6 here)" in none.stderr
    assert "brew install python@3.12" in none.stderr
    given = {**env, "OTOP_PYTHON": "/opt/py/bin/python3"}
    chosen = subprocess.run([bash, *finder], env=given, capture_output=True, text=True)
    assert chosen.stdout.strip() == "/opt/py/bin/python3"


def test_popup_outside_tmux_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`otop popup` outside tmux explains that it needs tmux and exits non-zero."""
    from otop.cli.parser import main

    monkeypatch.delenv("TMUX", raising=False)
    assert main(["popup"]) == 2
    assert "runs inside tmux" in capsys.readouterr().err


def test_reload_restyles_through_the_running_watcher(world: World) -> None:
    """Changing an icon option and reloading repaints the counts via the same watcher."""
    add_agents(world)
    world.load()
    wait_for(lambda: "⏳1" in world.option("@otop_status"), what="the counts")
    pid = world.watcher()
    world.server("set-option", "-g", "@otop-icon-waiting", "W")
    world.load()
    wait_for(lambda: "W1" in world.option("@otop_status"), what="the new icon")
    assert world.watcher() == pid


def test_list_answers_from_the_watchers_snapshot(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the watcher running, `otop list --json` answers from its published scan (saying
    how old it is, CPU included), the same agents a scan finds; without it, it scans itself."""
    from otop.cli.parser import main

    panes = add_agents(world)
    world.load()
    world.wait_watcher()
    sock = world.server("display", "-p", "#{socket_path}").strip()
    wait_for(lambda: os.path.exists(published.snapshot_path(sock)), what="the snapshot")
    assert oct(os.stat(published.snapshot_path(sock)).st_mode & 0o777) == "0o600"
    wait_for(
        lambda: (
            main(["-L", world.server.socket, "list", "--json"]) == 0
            and "snapshot" in json.loads(capsys.readouterr().out)
        ),
        what="a fresh one",
    )
    assert main(["-L", world.server.socket, "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["snapshot"]["watcher_pid"] == world.watcher()
    assert 0 <= doc["snapshot"]["age_ms"] <= 2500
    assert {a["session_id"] for a in doc["agents"]} == {
        panes[f"ses_{k}"] for k in ("tool", "perm", "idle")
    }
    assert main(["-L", world.server.socket, "list", "--json", "--cpu"]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert "snapshot" not in fresh
    assert [a["session_id"] for a in fresh["agents"]] == [a["session_id"] for a in doc["agents"]]
    world.server.kill()
    assert main(["-L", world.server.socket, "list", "--json"]) == exits.NO_TMUX  # it is gone
    assert "snapshot" not in json.loads(capsys.readouterr().out)
