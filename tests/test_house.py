"""The house rules, checked: the core without Textual, an installed package without test-only
packages, small modules, no repeated code, one key table everywhere, the layers' arrows
pointing one way and no import circle. How big a function may grow is not counted in lines
here: ruff's complexity rule (C901 at 10, in pyproject.toml) measures it, and a function is
split when it does two things."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import venv
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from rich.console import Console

from otop.ui.keys import APP_KEYS, DETAIL_KEYS, TABLE_KEYS
from otop.ui.screens import help_text

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "otop").rglob("*.py")) + sorted((ROOT / "devtools").rglob("*.py"))

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
"""
IMPORT_ALL = """
import importlib, pkgutil, otop
skip = SKIP
for m in pkgutil.walk_packages(otop.__path__, "otop."):
    if not any(m.name.startswith(s) for s in skip) and m.name != "otop.__main__":
        importlib.import_module(m.name)
print("imported", len(sys.modules))
"""


def run_python(python: str, blocked: set[str], skip: tuple[str, ...], path: str = "") -> str:
    code = f"BLOCKED = {blocked!r}\nSKIP = {skip!r}\n" + BLOCK + IMPORT_ALL
    if path:
        code = f"import sys\nsys.path.insert(0, {path!r})\n" + code
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_the_core_imports_without_textual() -> None:
    """Every module but otop/ui/ imports with Textual (and Rich) unavailable."""
    assert "imported" in run_python(sys.executable, {"textual", "rich"}, ("otop.ui",))


@pytest.mark.slow
def test_the_wheel_installs_nothing_test_only(tmp_path: Path) -> None:
    """The wheel holds only `otop/` (no demo or test harness), and in a clean venv with only
    otop's own dependencies every module of it imports, with test-only packages blocked."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("otop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("otop/", "otop-")) for n in names), names
    assert not any("devtools" in n or "/sim/" in n for n in names)
    env = tmp_path / "clean"
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr[-2000:]
    test_only = {"pytest", "_pytest", "pyte", "syrupy", "pytest_textual_snapshot", "mypy"}
    assert "imported" in run_python(python, test_only, ())


def test_no_module_over_400_lines() -> None:
    """No module of otop/ or devtools/ passes 400 lines."""
    big = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in SOURCES
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert big == []


def test_a_module_of_named_tuples_does_not_postpone_annotations() -> None:
    """typing.NamedTuple compiles every string annotation at import: a module of otop that
    defines one keeps its annotations evaluated (see otop/core/model.py), which a one-shot
    `list --json` pays for in every such module it loads."""
    postponed = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "otop").rglob("*.py")
        if "(NamedTuple):" in (text := p.read_text())
        and "from __future__ import annotations" in text.splitlines()
    ]
    assert postponed == []


def test_no_six_line_repeat_in_otop() -> None:
    """No six consecutive lines of code appear twice in otop/ (blank lines, comments, imports,
    docstring-only and bracket-only lines aside)."""
    seen: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for p in sorted((ROOT / "otop").rglob("*.py")):
        text = p.read_text()
        imports = {
            n
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        }
        lines = [
            (i + 1, line.strip())
            for i, line in enumerate(text.splitlines())
            if line.strip()
            and i + 1 not in imports
            and not line.strip().startswith(("#", '"""'))
            and not re.fullmatch(r"[\])}]+,?|\.\.\.", line.strip())
        ]
        for k in range(len(lines) - 5):
            window = tuple(text for _, text in lines[k : k + 6])
            seen[window].append(f"{p.relative_to(ROOT)}:{lines[k][0]}")
    repeats = {w: where for w, where in seen.items() if len(where) > 1}
    assert repeats == {}, "\n".join(", ".join(w) for w in repeats.values())


KEY_NAMES = {
    "slash": "/",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "question_mark": "?",
    "escape": "esc",
}


def typed(keys: str) -> set[str]:
    return {KEY_NAMES.get(k, k) for k in keys.split(",")}


def test_help_and_readme_name_every_key() -> None:
    """Every key bound in the table is explained on the help screen and in the README's key
    table, and the README names no key that is not bound."""
    bound = set().union(*(typed(k.keys) for k in TABLE_KEYS + APP_KEYS))
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Keys in the table", 1)[1].split("\n\n", 2)[1]
    named: set[str] = set()
    for row in section.splitlines()[2:]:
        first = row.split("|")[1]
        named |= set(re.findall(r"`([^`]+)`", first))
    assert named == bound, named ^ bound
    shown = " ".join(k.shown for k in TABLE_KEYS + APP_KEYS).split()
    assert bound <= set(shown), bound - set(shown)
    help_screen = Console(record=True, width=200, file=io.StringIO())
    help_screen.print(help_text(popup=True))
    text = help_screen.export_text()
    assert all(k.help in " ".join(text.split()) for k in TABLE_KEYS + DETAIL_KEYS if k.help)


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in SOURCES}


def imports_of(path: Path) -> set[str]:
    """Every module of otop/ or devtools/ a file imports, wherever the import stands: at the
    top, inside a function, or under `if TYPE_CHECKING:` (`from pkg import mod` names mod)."""
    here = module_of(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
                break
    return found


GRAPH = {m: imports_of(p) for m, p in MODULES.items()}
LAYERS = (
    "core",
    "sources",
    "decide",
    "scan",
    "outputs",
    "actions",
    "watcher",
    "serve",
    "plugin",
    "cli",
    "ui",
)
# Which layers each layer may import, beside itself (the arrows of STYLE.md's shape).
MAY_IMPORT = {
    "core": (),
    "sources": ("core",),
    "decide": ("core",),
    "outputs": ("core",),
}
# Imports that break an arrow on purpose, each with the reason: none today.
EXCEPTIONS: set[tuple[str, str]] = set()


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "otop" and len(parts) > 1 and parts[1] in LAYERS else None


def test_the_arrows_point_one_way() -> None:
    """`core` imports nothing of otop; `sources` import only `core` (never `decide`, `scan`,
    the outputs, actions, long-running processes or entry points); `decide` and `outputs`
    import only `core` and themselves. Function-local and type-only imports count."""
    wrong = [
        f"{m} imports {n}"
        for m, found in GRAPH.items()
        if (mine := layer(m)) in MAY_IMPORT
        for n in sorted(found)
        if n.startswith("otop")
        and layer(n) not in (mine, *MAY_IMPORT[mine])
        and (m, n) not in EXCEPTIONS
    ]
    assert wrong == []
    assert {layer(m) for m in MODULES} >= set(LAYERS)  # every layer is there to be checked


def reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += graph.get(n, ())
    return seen


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The import circles of a graph: each set of modules that reach one another."""
    reach = {m: reached(graph, m) for m in graph}
    return sorted(
        {
            tuple(sorted(n for n in reach[m] if m in reach.get(n, ())))
            for m in graph
            if m in reach[m]
        }
    )


def test_no_import_circle() -> None:
    """No module of otop/ or devtools/ reaches itself through imports, function-local and
    type-only ones included (a circle says a name lives in the wrong module)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]
    assert cycles(GRAPH) == []


def test_the_decide_layer_reads_no_clock_and_does_no_io() -> None:
    """otop/decide/ imports no clock-reading or I/O module (time, os, subprocess, sqlite3)."""
    for p in sorted((ROOT / "otop" / "decide").glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            assert not any(n in ("time", "os", "subprocess", "sqlite3") for n in names), p


def test_the_readme_layout_names_every_folder_and_module() -> None:
    """README's layout has an entry for every package of otop/ and none that is gone, and each
    entry names every module of its package."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    for line in block.splitlines():
        if line.startswith("otop/"):
            name, _, text = line.partition(" ")
            entries[name] = text
            current = name
        elif line.startswith(" ") and entries:
            entries[current] += " " + line.strip()
    packages = {
        str(p.parent.relative_to(ROOT)) + "/"
        for p in (ROOT / "otop").rglob("__init__.py")
        if p.parent != ROOT / "otop"
    }
    assert set(entries) == packages
    missing = [
        f"{package}{p.stem}"
        for package in packages
        for p in (ROOT / package).iterdir()
        if p.suffix in (".py", ".tcss", ".txt")
        and p.stem != "__init__"
        and not re.search(rf"\b{re.escape(p.stem)}\b", entries[package])
    ]
    assert missing == []


def test_no_test_report_is_committed() -> None:
    """No pytest-textual-snapshot failure report is in git, and git ignores one."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [f for f in tracked if f.endswith("snapshot_report.html")] == []
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "snapshot_report.html"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
