"""Which opencode servers to list: `name=url` entries from tmux, the environment or a file.

Kept apart from the HTTP client (otop/sources/opencode/remote.py), so that reading the configuration
costs no network module imports when no server is configured.
"""

import contextlib
import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from otop.core.xdg import xdg_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class ServerConfig(NamedTuple):
    """One configured server: `name=url`, and a basic-auth password from the environment."""

    name: str
    url: str
    password: str | None = None


def parse_servers(text: str, env: Mapping[str, str]) -> tuple[list[ServerConfig], list[str]]:
    """`name=url` entries separated by commas, spaces or lines; errors in plain words."""
    out: list[ServerConfig] = []
    errors: list[str] = []
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # comments
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        name, sep, url = entry.partition("=")
        if not sep or not _NAME.match(name):
            errors.append(f"server entry {entry!r} is not name=http://host:port")
            continue
        if not url.startswith(("http://", "https://")):
            errors.append(f"server {name}: {url!r} is not an http:// or https:// URL")
            continue
        key = "OTOP_SERVER_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
        password = env.get(key) or env.get("OTOP_SERVER_PASSWORD") or None
        out.append(ServerConfig(name, url.rstrip("/"), password))
    return out, errors


def load_servers(
    env: Mapping[str, str], tmux_option: str = ""
) -> tuple[list[ServerConfig], list[str]]:
    """Servers from `@otop-servers`, `$OTOP_SERVERS` and `$XDG_CONFIG_HOME/otop/servers`."""
    texts = [tmux_option, env.get("OTOP_SERVERS", "")]
    path = os.path.join(xdg_dir(env, "XDG_CONFIG_HOME", ".config"), "otop", "servers")
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as f:
        texts.append(f.read())  # no config file is the common case
    configs: dict[str, ServerConfig] = {}
    errors: list[str] = []
    for text in texts:
        found, bad = parse_servers(text, env)
        errors += bad
        for c in found:
            configs.setdefault(c.name, c)
    return list(configs.values()), errors
