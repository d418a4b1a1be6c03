"""The figures of otop without its watcher and over a long day, beside the same real TUIs as
`scripts/bench --real` (devtools/bench_real.py): a one-shot `list --json` scanning itself,
with and without a tmux server, the full-screen app's CPU and first rows, and the soak."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from devtools.bench_world import otop_exe
from devtools.lab import Lab, wait_until

LOOK = 30.0  # seconds of CPU measured in one window


def cpu_percent(p: psutil.Process, seconds: float) -> float:
    """A process's CPU over a window, in % of one core."""
    t0 = p.cpu_times()
    time.sleep(seconds)
    t1 = p.cpu_times()
    return 100 * (t1.user + t1.system - t0.user - t0.system) / seconds


def settle() -> None:
    """Before timing answers around the write: what was written is on disk, and the watcher
    has scanned the world it finds (its first scans, or the 10,000 new sessions).
    The kernel writing back the bench's ~370 MB, or a watcher catching up, loads the machine
    while the runs are timed: the write had not settled (1.07-1.21 after/before without this)."""
    os.sync()
    time.sleep(10)


def stop_watcher(lab: Lab) -> None:
    """The plugin's watcher stopped by its pid (the plugin starts it again on a reload)."""
    pid = lab.tmux("show", "-gqv", "@otop_watcher_pid").strip()
    if pid.isdigit() and psutil.pid_exists(int(pid)):
        os.kill(int(pid), signal.SIGTERM)
        wait_until(lambda: not psutil.pid_exists(int(pid)) or None, 10, 0.1)
    lab.tmux("set-option", "-gu", "@otop_watcher_pid")


def start_watcher(lab: Lab, plugin: str) -> psutil.Process:
    lab.tmux("run-shell", plugin)
    wait_until(lambda: lab.tmux("show", "-gqv", "@otop_watcher_pid").strip() or None, 30)
    return psutil.Process(int(lab.tmux("show", "-gqv", "@otop_watcher_pid")))


Command = tuple[list[str], dict[str, str]]


def interleaved(commands: dict[str, Command], runs: int) -> dict[str, list[float]]:
    """Seconds of whole runs of several commands, one of each in turn (the order turning each
    round), so that commands compared share the moment's load; each list sorted. Beside each
    command's wall times, what the load changes less: its CPU times (user and system, its
    children's included) under `NAME cpu`, and under `NAME own` its wall time less the time it
    waited, runnable, for a core (on CPU or blocked, on a pipe, a lock or a disk)."""
    names = list(commands)
    out: dict[str, list[float]] = {f"{n}{kind}": [] for n in names for kind in ("", " cpu", " own")}
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            wall, cpu, waited = one_run(*commands[name])
            out[name].append(wall)
            out[f"{name} cpu"].append(cpu)
            out[f"{name} own"].append(wall - waited)
    return {n: sorted(xs) for n, xs in out.items()}


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """One whole run: its wall seconds, CPU seconds (children's included), and the seconds its
    main thread waited for a core (Linux's schedstat, read from the ended process before it is
    reaped; 0 where there is none: the wall time is then its own)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.perf_counter() - t0
    waited = run_queue_wait(proc.pid)
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, waited


def run_queue_wait(pid: int) -> float:
    """Seconds a process's main thread spent runnable but waiting for a core (the second of
    /proc/PID/schedstat's three numbers, in ns), or 0.0 without that file."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def no_watcher_list(lab: Lab, runs: int, peer: Command | None) -> dict[str, list[float]]:
    """`otop list --json` scanning itself (no watcher): in the TUIs' tmux server ("cold"),
    with nothing kept from the run before ("fresh": no runtime directory to keep it in, so
    every run reads the session table and the log as the first one-shot of a day does), and
    with no tmux server at all ("outside": a socket nobody serves); each run beside one of
    the peer's ("peer"), when there is one."""
    exe = otop_exe()
    env = {k: v for k, v in lab.env.items() if k != "TMUX"}
    nowhere = {**lab.env, "XDG_RUNTIME_DIR": os.path.join(lab.root, "no-such-directory")}
    commands = {
        "cold": ([exe, "-L", lab.socket, "list", "--json"], lab.env),
        "fresh": ([exe, "-L", lab.socket, "list", "--json"], nowhere),
        "outside": ([exe, "-L", f"{lab.socket}-none", "list", "--json"], env),
    }
    if peer is not None:
        commands["peer"] = peer
    return interleaved(commands, runs)


@dataclass
class App:
    """`otop` full screen in a window of the lab, on a terminal of its own."""

    lab: Lab
    pane: str = ""
    proc: psutil.Process | None = None
    first_rows: float = float("nan")

    def start(self) -> None:
        self.pane = self.lab.window("app", self.lab.root)
        t0 = time.monotonic()
        self.lab.tmux("send-keys", "-t", self.pane, "-l", f"exec {otop_exe()}")
        self.lab.tmux("send-keys", "-t", self.pane, "Enter")
        wait_until(lambda: self.rows_shown() or None, 60, 0.02)
        self.first_rows = time.monotonic() - t0
        shell = int(self.lab.tmux("display", "-p", "-t", self.pane, "#{pane_pid}").strip())
        self.proc = psutil.Process(shell)

    def screen(self) -> str:
        return self.lab.screen(self.pane)

    def rows_shown(self) -> bool:
        """The table shows agents: its header counts and a state in a row."""
        text = self.screen()
        return "sort: urgency" in text and any(s in text for s in (" idle ", " generating "))

    def close(self) -> None:
        if self.pane:
            self.lab.tmux("kill-pane", "-t", self.pane, check=False)


def app_figures(lab: Lab) -> tuple[float, float]:
    """The full-screen app's first rows (seconds) and its steady CPU (% of a core)."""
    app = App(lab)
    try:
        app.start()
        time.sleep(5)
        assert app.proc is not None
        return app.first_rows, cpu_percent(app.proc, LOOK)
    finally:
        app.close()


@dataclass
class Sample:
    """RSS (MB), open files and CPU (% of a core) of a process at one moment of the soak."""

    at: float
    rss: float
    fds: int
    cpu: float
    held: Counter[str] = field(default_factory=Counter)  # what the fds are (Linux)


@dataclass
class Soak:
    """The watcher and the app sampled while real turns run for minutes."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def sample(self, name: str, p: psutil.Process, at: float, window: float) -> None:
        cpu = cpu_percent(p, window)
        rss = p.memory_info().rss / 1e6
        self.samples.setdefault(name, []).append(Sample(at, rss, p.num_fds(), cpu, held(p.pid)))

    def report(self, warm: float) -> list[str]:
        lines = [
            "| process | RSS after warm-up | RSS at end | growth | fds after / end | CPU |",
            "|---|---|---|---|---|---|",
        ]
        for name, xs in self.samples.items():
            after = next((s for s in xs if s.at >= warm), xs[0])
            end = xs[-1]
            cpu = statistics.mean(s.cpu for s in xs if s.at >= warm)
            lines.append(
                f"| {name} | {after.rss:.1f} MB | {end.rss:.1f} MB |"
                f" {end.rss - after.rss:+.1f} MB | {after.fds} / {end.fds} |"
                f" {cpu:.2f} % |"
            )
        for name, xs in self.samples.items():
            after = next((s for s in xs if s.at >= warm), xs[0])
            grown = xs[-1].held - after.held
            if grown:
                kinds = ", ".join(f"{n} x {what}" for what, n in grown.most_common(5))
                lines.append(f"\n{name}: files held at the end and not after the warm-up: {kinds}")
        return lines


def held(pid: int) -> Counter[str]:
    """What a process's open file descriptors are (a file's name, or pipe, socket...), from
    /proc where there is one: a soak that finds fds growing says what grows."""
    out: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                out[
                    os.path.basename(target) if target.startswith("/") else target.split(":")[0]
                ] += 1
    return out


def soak(
    procs: dict[str, psutil.Process], minutes: float, drive: Callable[[], None], warm: float = 60
) -> Soak:
    """Drive real turns for `minutes` (after a warm-up), sampling each process every 30 s."""
    out = Soak()
    start = time.monotonic()
    while (at := time.monotonic() - start) < warm + minutes * 60:
        drive()
        for name, p in procs.items():
            out.sample(name, p, at, 5.0)
        time.sleep(max(0.0, 30 - 5 * len(procs)))
    return out


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


Times = dict[str, list[float]]


# (label, samples) rows, then (label, numerator, denominator, target) ratios of medians
TIMED = [
    ("otop list --json from the running watcher", "snap", ""),
    ("agent-ps list --json, same TUIs, beside the watcher's answers", "peer", ""),
    ("the same, just before 10,000 old sessions are written", "snap before", ""),
    ("the same, just after (once the write settled)", "snap old", ""),
    ("otop list --json with no watcher (it scans)", "cold", ""),
    ("agent-ps beside those runs", "peer cold", ""),
    ("the same just before 10,000 old sessions are written", "cold before", ""),
    ("the same after them", "cold old", ""),
    ("agent-ps after them", "peer old", ""),
    ("otop list --json with no watcher and nothing kept", "fresh", ""),
    ("the same just before the 10,000 sessions", "fresh before", ""),
    ("the same after them", "fresh old", ""),
    ("otop list --json with no tmux server at all", "outside", ""),
    ("the same after the 10,000 sessions", "outside old", ""),
    ("prefix+O to the popup's first rows, real client", "popup", "450 ms"),
    ("prefix+O to tmux drawing the popup's frame", "frame", ""),
    ("prefix+O to the app taking keys (its footer)", "keys", ""),
    ("Enter in a TUI to its /events working event", "sse", "p95 under 1 s"),
    ("Enter in a TUI to opencode's row of the prompt", "sse db", ""),
    ("that row to the /events event (otop's own part)", "sse otop", ""),
]
# After/before the 10,000 sessions is judged in CPU time: what a growing history would cost the
# command. On a machine this loaded, most of a run's wall time is waiting for a core (about
# 100 of 150 ms, from schedstat), and that wait drifts by a third over minutes, before and after
# alike: the wall and own-time ratios are printed, not judged.
RATIOS = [
    ("otop/agent-ps, from the watcher", "snap", "peer", "<= 0.35"),
    ("after/before the 10,000 sessions, from the watcher", "snap old", "snap before", ""),
    ("the same, less its wait for a core", "snap own old", "snap own before", ""),
    ("the same in CPU time", "snap cpu old", "snap cpu before", "<= 1.1"),
    ("otop/agent-ps, no watcher", "cold", "peer cold", "<= 1.0"),
    ("otop/agent-ps after them, no watcher", "cold old", "peer old", "<= 1.0"),
    ("after/before the 10,000 sessions, no watcher", "cold old", "cold before", ""),
    ("the same, less its wait for a core", "cold own old", "cold own before", ""),
    ("the same in CPU time", "cold cpu old", "cold cpu before", "<= 1.1"),
    ("otop/agent-ps, no watcher, nothing kept", "fresh", "peer cold", "<= 1.0"),
    ("after/before the 10,000 sessions, no watcher, nothing kept", "fresh old", "fresh before", ""),
    ("the same, less its wait for a core", "fresh own old", "fresh own before", ""),
    ("the same in CPU time", "fresh cpu old", "fresh cpu before", ""),
    ("otop/agent-ps, no tmux server", "outside", "peer cold", "<= 1.0"),
    ("otop/agent-ps after them, no tmux server", "outside old", "peer old", "<= 1.0"),
    ("after/before the 10,000 sessions, no tmux server", "outside old", "outside before", ""),
    ("the same, less its wait for a core", "outside own old", "outside own before", ""),
    ("the same in CPU time", "outside cpu old", "outside cpu before", "<= 1.1"),
]
SINGLE = [
    ("otop full screen, steady CPU, with a watcher", "cpu with", "%", "< 1.5 %"),
    ("otop full screen, steady CPU, without one", "cpu alone", "%", "< 1.5 %"),
    ("otop full screen, first rows, with a watcher", "first with", "s", ""),
    ("otop full screen, first rows, without one", "first alone", "s", "< 1 s"),
    (f"the watcher's CPU, {LOOK:.0f} s window 1", "watcher 1", "%", "< 1 %"),
    (f"the watcher's CPU, {LOOK:.0f} s window 2", "watcher 2", "%", "< 1 %"),
]


def table(t: Times, one: dict[str, float]) -> list[str]:
    """The figures as a Markdown table: what, median, p95, target."""
    m = statistics.median
    out = ["| what | median | p95 | target |", "|---|---|---|---|"]
    for label, key, target in TIMED:
        out.append(
            f"| {label} | {m(t[key]) * 1000:.0f} ms | {_p95(t[key]) * 1000:.0f} ms | {target} |"
        )
    for label, top, bottom, target in RATIOS:
        out.append(f"| {label} | **{m(t[top]) / m(t[bottom]):.2f}** | | {target} |")
    for label, key, unit, target in SINGLE:
        value = f"{one[key]:.2f} % of a core" if unit == "%" else f"{one[key] * 1000:.0f} ms"
        out.append(f"| {label} | {value} | | {target} |")
    return out


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
