"""The README's picture, from a real run: the demo's tmux server, a real client attached
through a pseudo-terminal, prefix+O pressed, and the terminal's screen (emulated by pyte)
saved as SVG with rich. Run it with `scripts/screenshots`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from devtools import ROOT
from devtools.demo import Demo
from devtools.terminal import Terminal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "otop-popup.svg"))
    ap.add_argument("--settle", type=float, default=9.0, help="seconds for agents to spread")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    demo = Demo()
    term: Terminal | None = None
    try:
        demo.start()
        demo.tmux("set", "-g", "status-right", "#{otop_status}")
        demo.tmux("set", "-g", "@otop-popup-width", "92%")
        demo.tmux("set", "-g", "@otop-popup-height", "75%")
        demo.tmux("run-shell", str(ROOT / "otop.tmux"))
        demo.tmux("select-window", "-t", "demo:api")
        term = Terminal(demo.socket, demo.env, 120, 34, target="demo")
        term.pump(args.settle)
        term.press(b"\x02O")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "Add pagination" not in term.text():
            term.pump(0.2)
        term.pump(2.5)
        term.svg(out, "otop popup over a tmux session (scripts/demo)")
        print(f"wrote {out}")
    finally:
        if term is not None:
            term.close()
        demo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
