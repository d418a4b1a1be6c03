"""opencode's config files (global and per project, `.json` and `.jsonc`): the MCP servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otop.core.model import McpServer
from otop.core.text import clean

NAMES = ("opencode.json", "opencode.jsonc")


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas made plain JSON (strings left untouched)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ",":
            k = i + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] in "}]":
                i += 1  # a trailing comma
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_config(path: Path) -> dict[str, Any]:
    """One config file as a dict; raises ValueError in plain words when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(strip_jsonc(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def config_files(config_dir: str | Path, project: str | None) -> list[Path]:
    """The files opencode merges, weakest first: global, then the project's up from its root."""
    files = [Path(config_dir, name) for name in ("config.json", *NAMES)]
    if project:
        chain: list[Path] = []
        d = Path(project)
        for parent in (d, *d.parents):
            chain.append(parent)
            if (parent / ".git").exists():
                break
        for parent in reversed(chain):
            files += [parent / name for name in NAMES]
            files += [parent / ".opencode" / name for name in NAMES]
    return [f for f in files if f.is_file()]


def mcp_servers(config_dir: str | Path, project: str | None) -> tuple[list[McpServer], list[str]]:
    """MCP servers as opencode would merge them for a project, and the files it could not read."""
    merged: dict[str, McpServer] = {}
    problems: list[str] = []
    for path in config_files(config_dir, project):
        try:
            data = read_config(path)
        except ValueError as exc:
            problems.append(clean(str(exc)))
            continue
        mcp = data.get("mcp")
        if not isinstance(mcp, dict):
            continue
        for name, entry in mcp.items():
            if not isinstance(entry, dict):
                problems.append(clean(f"{path}: mcp.{name} is not an object"))
                continue
            merged[name] = _server(clean(str(name)), entry, str(path), merged.get(name))
    return sorted(merged.values(), key=lambda s: s.name), problems


def _server(name: str, entry: dict[str, Any], source: str, before: McpServer | None) -> McpServer:
    enabled = entry.get("enabled")
    kind = entry.get("type")
    if kind == "local":
        cmd = entry.get("command")
        target = " ".join(str(c) for c in cmd) if isinstance(cmd, list) else ""
    elif kind == "remote":
        target = str(entry.get("url") or "")
    elif before is not None:
        # `{"enabled": false}` in a project switches off a server defined globally.
        return McpServer(before.name, before.kind, before.target, enabled is not False, source)
    else:
        kind, target = "toggle", ""
    return McpServer(name, clean(str(kind)), clean(target), enabled is not False, clean(source))
