"""A stand-in for a remote chat model: a stdlib HTTP server on 127.0.0.1 speaking chat completions.

Each request takes the next step of a script: a reply text, an HTTP status, or a delay before a
reply. Every request body is kept, so tests can read what the client sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client's timeout makes it give up)."""
    finish: str = "stop"
    """The finish reason: "length" says the reply was cut off."""


@dataclass
class Status:
    code: int
    message: str = "try again later"


class FakeLLM:
    """Serves a script of answers at `url`; use as a context manager."""

    def __init__(self, script: list, default: Reply | None = None):
        self.script = list(script)
        self.default = default
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._lock:
                    owner.requests.append(body)
                    step = owner.script.pop(0) if owner.script else owner.default
                if step is None:
                    step = Status(500, "the script ran out")
                if isinstance(step, Status):
                    self._send(step.code, {"error": {"message": step.message, "type": "server_error"}},
                               {"retry-after-ms": "10"})
                    return
                time.sleep(step.delay)
                answer = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body["model"],
                          "choices": [{"index": 0, "finish_reason": step.finish,
                                       "message": {"role": "assistant", "content": step.content}}]}
                try:
                    self._send(200, answer)
                except OSError:  # the client gave up waiting
                    pass

            def _send(self, code: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FakeLLM:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def user_texts(self, request: int) -> list[str]:
        """Return the user messages of one request, in order."""
        return [m["content"] for m in self.requests[request]["messages"] if m["role"] == "user"]
