"""opencode's config files as otop reads them (MCP servers), and the yank fallback to tmux."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from otop.actions.act import yank
from otop.sources.opencode.config import mcp_servers, strip_jsonc
from otop.sources.tmux import Target, Tmux
from tests.conftest import TmuxServer


def test_jsonc_comments_and_trailing_commas() -> None:
    """Comments and trailing commas go; the same characters inside strings stay."""
    text = '{\n  // a comment\n  "url": "http://x//y", /* block */ "a": [1, 2,],\n}'
    assert strip_jsonc(text) == '{\n  \n  "url": "http://x//y",  "a": [1, 2]\n}'
    assert strip_jsonc('{"q": "say \\"hi\\", // not a comment"}') == (
        '{"q": "say \\"hi\\", // not a comment"}'
    )


def test_global_and_project_servers_merge(tmp_path: Path) -> None:
    """A project's opencode.jsonc adds servers and can switch a global one off."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "opencode.json").write_text(
        '{"mcp": {"docs": {"type": "remote", "url": "https://d/mcp", "headers": {"k": "SECRET"}},'
        ' "fs": {"type": "local", "command": ["mcp-fs"], "environment": {"TOKEN": "SECRET"}}}}'
    )
    project = tmp_path / "repo" / "sub"
    project.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    (tmp_path / "repo" / "opencode.jsonc").write_text(
        '{\n // project servers\n "mcp": {"docs": {"enabled": false},\n'
        ' "db": {"type": "local", "command": ["mcp-db", "--ro"], "enabled": false,},},\n}'
    )
    servers, problems = mcp_servers(cfg, str(project))
    assert problems == []
    got = {s.name: (s.kind, s.target, s.enabled) for s in servers}
    assert got == {
        "db": ("local", "mcp-db --ro", False),
        "docs": ("remote", "https://d/mcp", False),
        "fs": ("local", "mcp-fs", True),
    }
    assert "SECRET" not in repr(servers)
    assert mcp_servers(cfg, None)[0][0].enabled  # docs, globally


def test_broken_config_is_named(tmp_path: Path) -> None:
    """A config that is not JSON is reported with its path and line, the others still read."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "opencode.json").write_text('{"mcp": {"a": {"type": "remote", "url": "u"}}}')
    (cfg / "opencode.jsonc").write_text('{"mcp": \n {oops}')
    servers, problems = mcp_servers(cfg, None)
    assert [s.name for s in servers] == ["a"]
    assert len(problems) == 1 and "opencode.jsonc is not valid JSON (line 2" in problems[0]


def test_yank_falls_back_to_the_tmux_buffer(
    tmux: TmuxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a clipboard tool, `y` puts the id in tmux's paste buffer and says so."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("tmux")
    assert real
    (bin_dir / "tmux").symlink_to(real)
    monkeypatch.setenv("PATH", str(bin_dir))  # tmux, but no xclip, xsel or wl-copy
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    tmux.new_window(tmp_path, "sleep 60")
    server = Tmux(Target(socket_name=tmux.socket))
    said = yank("ses_0123", server)
    assert "tmux buffer" in said
    assert tmux("show-buffer") == "ses_0123"


def test_servers_from_option_env_and_file(tmp_path: Path) -> None:
    """Servers come from @otop-servers, $OTOP_SERVERS and a config file; bad entries are named;
    passwords come from the environment only."""
    from otop.sources.opencode.servers import load_servers

    cfg = tmp_path / "otop"
    cfg.mkdir()
    (cfg / "servers").write_text("# mine\nbox=http://10.0.0.2:4096\nbad-entry\n")
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "OTOP_SERVERS": "lap=https://lap:4096/ x=ftp://h",
        "OTOP_SERVER_PASSWORD_LAP": "pw",
    }
    servers, errors = load_servers(env, "desk=http://desk:4096, lap=http://other")
    assert [(s.name, s.url, s.password) for s in servers] == [
        ("desk", "http://desk:4096", None),
        ("lap", "http://other", "pw"),  # the tmux option comes first
        ("box", "http://10.0.0.2:4096", None),
    ]
    assert errors == [
        "server x: 'ftp://h' is not an http:// or https:// URL",
        "server entry 'bad-entry' is not name=http://host:port",
    ]
