"""A private tmux server: its own -L socket, no config file, its own environment, killed with
its socket file. The tests, the lab, the demo and the bench all start theirs through it.

Standard library only: the demo's simulated agents import the demo under argv[0] `opencode`,
where Python cannot see the virtualenv's packages."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid


class PrivateTmux:
    """A tmux server on a socket of its own, started by its first window.

    `env` is the environment every tmux command runs with, kept (not copied): what a caller
    adds to it later reaches the commands after. By default, this process's environment
    without TMUX (inside tmux, a client would otherwise talk to the caller's server)."""

    def __init__(self, prefix: str, env: dict[str, str] | None = None) -> None:
        self.socket = f"{prefix}-{uuid.uuid4().hex[:10]}"
        if env is None:
            env = dict(os.environ)
            env.pop("TMUX", None)
        self.env = env
        self.started = False

    def __call__(self, *args: str, check: bool = True) -> str:
        """Run `tmux -L SOCKET ARGS`; its standard output (an error raises, unless not `check`)."""
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def binding(self, key: str, table: str = "prefix") -> str:
        """What a key runs in a key table, as `list-keys` prints it ("" when unbound): read
        from the whole table, since tmux 3.7c prints nothing for `list-keys -T TABLE KEY`."""
        from otop.plugin.wiring import bound_key

        lines = self("list-keys", "-T", table, check=False).splitlines()
        return next((line for line in lines if bound_key(line) == key), "")

    def window(self, session: str, *args: str, size: tuple[int, int] | None = None) -> str:
        """A new window in `session` (`args`: new-window's, e.g. -n NAME -c DIR COMMAND); the
        first makes the server (with no config file) and the session, `size` columns by rows.
        Returns the window's pane id."""
        out = ["-P", "-F", "#{pane_id}", *args]
        if self.started:
            return self("new-window", "-d", "-t", f"{session}:", *out).strip()
        self.started = True  # even if it fails: kill() then cleans up what may have started
        dims = ["-x", str(size[0]), "-y", str(size[1])] if size else []
        return self("-f", "/dev/null", "new-session", "-d", "-s", session, *dims, *out).strip()

    def kill(self) -> None:
        """Kill the server, if it started, and remove its socket file (tmux may leave it)."""
        if not self.started:
            return
        path = self("display", "-p", "#{socket_path}", check=False).strip()
        self("kill-server", check=False)
        if path and os.path.basename(path) == self.socket:
            with contextlib.suppress(OSError):
                os.unlink(path)
