"""One place for each version: the opencode and tmux versions tested in otop/core/versions.txt
(the README checked against it), the package's in otop/__init__.py (pyproject.toml reads it)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import otop
from otop.core.versions import opencode_versions, tmux_versions
from otop.plugin.wiring import tmux_version

ROOT = Path(__file__).resolve().parent.parent


def listed(words: list[str]) -> str:
    """`a, b and c`, as the README lists versions."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def test_the_readme_names_the_versions_tested() -> None:
    """Where the README lists the opencode and tmux versions tested, it lists those of
    versions.txt, and it names no other opencode or tmux version anywhere."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    opencode = [v for v in opencode_versions() if not v.startswith("2.")]
    current = [v for v in opencode_versions() if v.startswith("2.")]
    tmux = [v.upstream for v in tmux_versions()]
    oldest = min(tmux, key=lambda v: tmux_version(f"tmux {v}"))
    built = [v.upstream for v in tmux_versions() if "binary" not in v.roles]
    unpacked = [v.upstream for v in tmux_versions() if "binary" in v.roles]
    phrases = [
        f"tmux {oldest} or newer",
        f"build tmux {listed(built)} from Debian's sources and run {listed(unpacked)} from"
        " Debian's binary packages",
        f"`opencode-linux-x64` {listed(opencode)} and `@opencode/cli-linux-x64` {listed(current)}"
        " from npm",
        f"`test_current_real.py` does the same on opencode {listed(current)}",
        f"({', '.join(v.package for v in tmux_versions())}, into `.cache/tmux/`",
        f"on opencode {listed(opencode)}, in a tmux server",
        f"the same records on {listed(tmux)};",
        f"every test on both sources, tmux {', '.join(tmux)} |",
    ]
    assert [p for p in phrases if p not in readme] == []
    assert set(re.findall(r"(?<![\w.])[12]\.\d+\.\d+(?![\w.])", readme)) <= {*opencode, *current}
    assert set(re.findall(r"(?<![\w.])\d\.\d[a-z](?!\w)", readme)) <= set(tmux)


def test_the_scripts_read_versions_txt() -> None:
    """scripts/test, scripts/install-opencode and scripts/build-tmux take the versions from
    versions.txt and write none of their own."""
    for name in ("test", "install-opencode", "build-tmux"):
        text = (ROOT / "scripts" / name).read_text()
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "otop/core/versions.txt" in code, name
        assert not re.search(r"\b1\.\d+\.\d+\b|\b\d\.\d[a-z]\b", code), name


def test_the_package_version_is_written_once() -> None:
    """pyproject.toml names no version of its own but reads `otop.__version__`, and the
    installed package says that version."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project and not re.search(r"^version\s*=", project, re.M)
    assert 'version = {attr = "otop.__version__"}' in pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+", otop.__version__)
    assert metadata.version("otop") == otop.__version__
