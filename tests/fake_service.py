"""A stand-in for opencode 2's per-user service on 127.0.0.1, answering with the JSON shapes the
real 2.1.2 sends (tests/test_current.py has them), behind its basic auth; and a copy of this
Python laid out as the 2.x executable, for fake TUIs whose version otop reads from the package."""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import SLEEPER


class FakeService:
    """Serves `routes` (a path without its query -> the JSON document) to requests that bring
    the password; records each request's path."""

    def __init__(self, password: str = "s3cret") -> None:
        self.password = password
        self.routes: dict[str, Any] = {}
        self.asked: list[str] = []
        # POSTs: what each was sent, and the answer per path (204 when none), which may change
        # the routes as the real service would (a decided permission leaves its list)
        self.posted: list[tuple[str, Any]] = []
        self.on_post: dict[str, Callable[[Any], tuple[int, Any]]] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self._allowed():
                    return
                doc = service.routes.get(self.path.split("?", 1)[0])
                self._send(404, {"error": "not found"}) if doc is None else self._send(200, doc)

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"null")
                if not self._allowed():
                    return
                service.posted.append((self.path, body))
                act = service.on_post.get(self.path)
                self._send(*(act(body) if act else (204, None)))

            def _allowed(self) -> bool:
                service.asked.append(self.path)
                want = "Basic " + base64.b64encode(f"opencode:{service.password}".encode()).decode()
                if self.headers.get("Authorization") != want:
                    self._send(401, {"error": "unauthorized"})
                    return False
                return True

            def _send(self, status: int, doc: object) -> None:
                if status == 204:
                    self.send_response(204)
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def describe(self, state_dir: Path, mode: int = 0o600) -> Path:
        """Write the service.json a real service leaves in its user's state directory."""
        path = state_dir / "opencode" / "service.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "id": "f6cb",
            "version": "2.1.2",
            "url": self.url,
            "pid": os.getpid(),
            "password": self.password,
        }
        path.write_text(json.dumps(doc))
        path.chmod(mode)
        return path

    def stop(self) -> None:
        """Stop answering (again is nothing)."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()


def opencode_2_executable(root: Path) -> Path:
    """A copy of this Python as `node_modules/@opencode/cli-linux-x64/bin/opencode` (2.1.2)."""
    where = root / "node_modules" / "@opencode" / "cli-linux-x64"
    (where / "bin").mkdir(parents=True, exist_ok=True)
    (where / "package.json").write_text(
        json.dumps({"name": "@opencode/cli-linux-x64", "version": "2.1.2"})
    )
    exe = where / "bin" / "opencode"
    if not exe.exists():
        shutil.copyfile(os.path.realpath(sys.executable), exe)
        exe.chmod(0o755)
    return exe


def tui_command(exe: Path, env: dict[str, str], *args: str, title: str | None = None) -> str:
    """A tmux command: a fake opencode 2 TUI (its pane title set and its footer drawn first, as
    the real one's)."""
    words = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in {**env, "PYTHONHOME": sys.base_prefix}.items()
    )
    pre = f"printf '\\033]2;%s\\007' {shlex.quote(title)}; " if title is not None else ""
    pre += "printf '  ctrl+p commands\\n'; "  # drawn, as a TUI's screen shows
    argv = " ".join(shlex.quote(a) for a in args)
    run = f"{pre}exec env {words} {shlex.quote(str(exe))} - {argv} <<< {shlex.quote(SLEEPER)}"
    return f"bash --norc --noprofile -c {shlex.quote(run)}"
