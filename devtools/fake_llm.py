"""A scripted OpenAI-compatible model server on loopback, so a real opencode runs offline.

Directives in the newest user message steer it:
  [[stream:N:SECS]]   answer with N text chunks, SECS apart (default 3 chunks, 0.1 s)
  [[think:N:SECS]]    first stream N reasoning chunks
  [[call:TOOL:JSON]]  call a tool with JSON arguments (repeatable: one call per round trip;
                      write <<...>> in JSON for [[...]])
  [[sh:COMMAND]]      shorthand for a bash tool call
  [[sub:PROMPT]]      shorthand for a task (subagent) call; write <<...>> in PROMPT for [[...]]
  [[fail:CODE]]       answer with that HTTP status
  [[title:TEXT]]      the title the title request gets (default "Session N")
  [[say:TEXT]]        text the model writes before its tool calls
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DIRECTIVE = re.compile(r"\[\[(\w+)(?::(.*?))?\]\]", re.S)
MODEL = "fake-model"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(c.get("text", ""))
            for c in content
            if isinstance(c, dict) and c.get("type") == "text"
        )
    return ""


class Script:
    """What the newest user message asks the model to do."""

    def __init__(self, text: str) -> None:
        self.chunks, self.delay = 3, 0.1
        self.think: tuple[int, float] | None = None
        self.calls: list[tuple[str, str]] = []
        self.fail: int | None = None
        self.title: str | None = None
        self.say = ""
        for m in _DIRECTIVE.finditer(text):
            name, arg = m.group(1), m.group(2) or ""
            head, _, tail = arg.partition(":")
            if name == "stream":
                self.chunks, self.delay = int(head or 3), float(tail or 0.1)
            elif name == "think":
                self.think = (int(head or 3), float(tail or 0.3))
            elif name == "call":  # <<...>> in its JSON is [[...]] (a subagent's own script)
                self.calls.append((head, (tail or "{}").replace("<<", "[[").replace(">>", "]]")))
            elif name == "sh":
                self.calls.append(("bash", json.dumps({"command": arg, "description": "run it"})))
            elif name == "sub":
                prompt = arg.replace("<<", "[[").replace(">>", "]]")
                args = {"description": "helper", "prompt": prompt, "subagent_type": "general"}
                self.calls.append(("task", json.dumps(args)))
            elif name == "fail":
                self.fail = int(arg or 500)
            elif name == "title":
                self.title = arg
            elif name == "say":
                self.say = arg


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(self, code: int, obj: object) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "bad json"}})
            return
        n = self.server.count()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found"}})
            return
        msgs = req.get("messages") or []
        system = " ".join(_text(m.get("content")) for m in msgs if m.get("role") == "system")
        users = [i for i, m in enumerate(msgs) if m.get("role") == "user"]
        last = users[-1] if users else -1
        script = Script(_text(msgs[last].get("content")) if last >= 0 else "")
        done = [m for m in msgs[last + 1 :] if m.get("role") == "tool"]
        stream = bool(req.get("stream"))
        if "title generator" in system.lower():
            title = script.title or f"Session {n}"
            self._answer(stream, n, [("text", title, 0.0)], "stop")
            return
        if script.fail:
            self._send_json(script.fail, {"error": {"message": f"scripted failure {script.fail}"}})
            return
        plan: list[tuple[str, Any, float]] = []
        if script.think and not done:
            k, d = script.think
            plan += [("reasoning", f"pondering {i + 1}/{k}. ", d) for i in range(k)]
        if len(done) < len(script.calls):
            tool, args = script.calls[len(done)]
            said = f"{script.say}\n\n" if script.say and not done else ""
            plan += [("text", f"{said}Using {tool}. ", 0.05), ("tool", (tool, args), 0.05)]
            self._answer(stream, n, plan, "tool_calls")
            return
        if done:
            result = _text(done[-1].get("content")).replace("\n", " ")[:60]
            plan.append(("text", f"The tool said: {result}\n", script.delay))
        plan += [
            ("text", f"part {i + 1} of {script.chunks}. ", script.delay)
            for i in range(script.chunks)
        ]
        plan.append(("text", "\nAll done here.", 0.0))
        self._answer(stream, n, plan, "stop")

    def _answer(
        self, stream: bool, n: int, plan: list[tuple[str, Any, float]], finish: str
    ) -> None:
        cid = f"chatcmpl-{n}"
        if not stream:
            text = "".join(str(p[1]) for p in plan if p[0] == "text")
            message: dict[str, Any] = {"role": "assistant", "content": text}
            calls = [p[1] for p in plan if p[0] == "tool"]
            if calls:
                message["tool_calls"] = [
                    {
                        "id": f"call_{n}_{i}",
                        "type": "function",
                        "function": {"name": c[0], "arguments": c[1]},
                    }
                    for i, c in enumerate(calls)
                ]
            self._send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "model": MODEL,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for event in _events(cid, plan, finish):
                self.wfile.write(b"data: " + event.encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


def _events(cid: str, plan: list[tuple[str, Any, float]], finish: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any] | None, reason: str | None = None, usage: Any = None) -> str:
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "model": MODEL}
        obj["choices"] = (
            [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": reason}]
        )
        if usage:
            obj["usage"] = usage
        return json.dumps(obj)

    yield chunk({"role": "assistant", "content": ""})
    out = 0
    index = 0
    for kind, payload, delay in plan:
        if delay:
            time.sleep(delay)
        if kind == "text":
            yield chunk({"content": payload})
        elif kind == "reasoning":
            yield chunk({"reasoning_content": payload})
        elif kind == "tool":
            name, args = payload
            call = {"index": index, "id": f"{cid}-{index}", "type": "function"}
            yield chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]})
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": args}}]})
            index += 1
        out += 4
    yield chunk({}, finish)
    yield chunk(
        None, usage={"prompt_tokens": 120, "completion_tokens": out, "total_tokens": 120 + out}
    )


class Server(ThreadingHTTPServer):
    """The fake model server; counts requests."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self._n = 0
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> Server:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    args = ap.parse_args()
    srv = Server(args.port)
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(srv.port))
    srv.serve_forever()


if __name__ == "__main__":
    main()
