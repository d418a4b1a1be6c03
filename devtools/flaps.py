"""How often real opencode turns would flap a notification without settling: states sampled
every 0.1 s through otop's own scan while a real TUI runs scripted turns (tool calls, thinking,
a subagent, a permission and a question answered), replayed through the attention rules with
several settle times. `scripts/bench --flaps` runs it; the README's attention section quotes it;
the end-to-end tests measure one kind of turn with it (`measure`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devtools.lab import OPENCODE_VERSION, Lab, find_binary, wait_until
from otop.core.model import Agent
from otop.decide.attention import FINISHED, Attention
from otop.scan.scanner import Options, Scanner

QUESTION = (
    '{"questions":[{"question":"Pick one?","header":"Pick","options":'
    '[{"label":"red","description":"r"},{"label":"blue","description":"b"}]}]}'
)
# name -> (prompt, keys pressed once the turn waits, expected waiting events)
TURNS: dict[str, tuple[str, str | None, int]] = {
    "three tools": ("[[sh:echo one]] [[sh:sleep 1]] [[sh:echo three]] go", None, 0),
    "think, tool": ("[[think:6:0.2]] [[sh:ls]] look", None, 0),
    "subagent": ("[[sub:<<sh:echo inside>> <<stream:4:0.2>> dig]] delegate", None, 0),
    "stream": ("[[stream:10:0.2]] tell me", None, 0),
    "permission": ('[[call:read:{"filePath":"/etc/hostname"}]] [[sh:echo after]] read', "Enter", 1),
    "question": (f"[[call:question:{QUESTION}]] [[sh:echo after]] ask", "1", 1),
}
SETTLES = (0.0, 0.5, 1.0, 2.0, 3.0)


def sample(scanner: Scanner, pane: str) -> Agent | None:
    return next((a for a in scanner.scan().agents if a.pane and a.pane.id == pane), None)


def run(version: str, rounds: int) -> dict[str, dict[float, tuple[int, int]]]:
    """Per turn kind and settle time: (finished events, waiting events) over all rounds."""
    binary = find_binary(version)
    if binary is None:
        raise SystemExit(f"opencode {version} is not installed (scripts/install-opencode)")
    with tempfile.TemporaryDirectory(prefix="otop-flaps-") as tmp:
        lab = Lab(Path(tmp), binary, version)
        try:
            lab.fillers()
            pane = lab.window("work", lab.project("work"))
            lab.start(pane)
            scanner = Scanner(Options(socket_name=lab.socket), env=lab.env)
            out = {name: measure(lab, scanner, pane, name, rounds) for name in TURNS}
            scanner.close()
        finally:
            lab.close()
    return out


def measure(
    lab: Lab, scanner: Scanner, pane: str, turn: str, rounds: int
) -> dict[float, tuple[int, int]]:
    """One kind of turn (a key of TURNS), `rounds` times in an idle TUI's pane: per settle
    time, the (finished, waiting) events the attention rules would have told."""
    prompt, keys, _ = TURNS[turn]
    counts = {s: [0, 0] for s in SETTLES}
    for _ in range(rounds):
        atts = {s: Attention(settle=s) for s in SETTLES}
        first = wait_until(lambda: sample(scanner, pane), 10)
        for att in atts.values():
            att.update([first], set(), time.time())
        lab.type(pane, prompt)
        _watch(scanner, pane, atts, counts, lab, keys)
    return {s: (c[0], c[1]) for s, c in counts.items()}


def _watch(
    scanner: Scanner,
    pane: str,
    atts: dict[float, Attention],
    counts: dict[float, list[int]],
    lab: Lab,
    keys: str | None,
) -> None:
    """Sample one turn until idle has held 5 s, pressing `keys` once it waits."""
    started = time.monotonic()
    idle_since: float | None = None
    waiting_since: float | None = None
    pressed = False
    while time.monotonic() - started < 90:
        a = sample(scanner, pane)
        if a is None:
            time.sleep(0.1)
            continue
        now = time.time()
        for s, att in atts.items():
            for e in att.update([a], set(), now):
                counts[s][0 if e.kind == FINISHED else 1] += 1
        if a.group.value == "waiting":
            waiting_since = waiting_since or time.monotonic()
            # a person reads the dialog first: longer than the longest settle time tried
            if keys and not pressed and time.monotonic() - waiting_since > max(SETTLES) + 0.5:
                lab.keys(pane, keys)
                pressed = True
        if a.group.value == "idle" and time.monotonic() - started > 3:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 5:
                return
        else:
            idle_since = None
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default=OPENCODE_VERSION)
    ap.add_argument("--rounds", type=int, default=3, help="turns of each kind")
    ap.add_argument("--load", type=int, default=0, help="busy loops beside opencode (nice 5)")
    args = ap.parse_args()
    loops = [
        subprocess.Popen(["nice", "-n", "5", sys.executable, "-c", "while True: pass"])
        for _ in range(args.load)
    ]
    try:
        result = run(args.version, args.rounds)
    finally:
        for p in loops:
            p.kill()
            p.wait()
    load = f", {args.load} busy loops beside it" if args.load else ""
    print(f"opencode {args.version}, {args.rounds} turns of each kind, sampled every 0.1 s{load}")
    print("\n".join(table(result, args.rounds)))


def table(result: dict[str, dict[float, tuple[int, int]]], rounds: int) -> list[str]:
    """The events per turn by settle time, as a Markdown table (the README quotes one)."""
    lines = [
        "events per turn (finished / waiting) by settle time; right is 1 / 0, or 1 / 1",
        "| turn | " + " | ".join(f"settle {s:g} s" for s in SETTLES) + " |",
        "|---|" + "---|" * len(SETTLES),
    ]
    for name, by in result.items():
        cells = [f"{f / rounds:.2f} / {w / rounds:.2f}" for f, w in by.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
