"""The demo and test harness, run by scripts/ and the tests, never installed: stand-ins for
opencode's surroundings (a scripted model server, a writer of opencode's real database schema,
a real-opencode lab, a pty terminal) and the benchmarks. Nothing in `otop/` imports it."""

from pathlib import Path

# The repository this harness lives in (its .cache holds opencode binaries and bench venvs).
ROOT = Path(__file__).resolve().parent.parent
