"""A stand-in for Slack's Web API on 127.0.0.1: answers the calls the bot makes and records each one."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT_USER = "UBOT"


class FakeSlack:
    """Start with `with FakeSlack() as fake:`; `fake.url` is the base URL for a WebClient."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.files: dict[str, bytes] = {}  # served at /files/<name>, as Slack serves attachments
        self._lock = threading.Lock()
        self._next = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                data = fake.files.get(name)
                fake._record(self.path, {"authorization": self.headers.get("Authorization")})
                if data is None or self.headers.get("Authorization") != "Bearer xoxb-test":
                    self.send_response(404)
                    self.end_headers()
                    return
                self._reply(data, "text/plain")

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                kind = self.headers.get("Content-Type", "")
                if self.path.startswith("/upload/"):
                    fake._record(self.path, {"size": len(raw)})
                    self._reply(b"OK", "text/plain")
                    return
                if "json" in kind:
                    args = json.loads(raw or b"{}")
                else:
                    args = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                fake._record(self.path, args)
                self._reply(json.dumps(fake._answer(self.path, args, self.server.server_port)).encode(),
                            "application/json")

            def _reply(self, data: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def _record(self, path: str, args: dict) -> None:
        with self._lock:
            self.calls.append((path, args))

    def _answer(self, path: str, args: dict, port: int) -> dict:
        if path == "/auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1", "user": "shotsmith"}
        if path == "/files.getUploadURLExternal":
            with self._lock:
                self._next += 1
                file_id = f"F{self._next}"
            return {"ok": True, "upload_url": f"http://127.0.0.1:{port}/upload/{file_id}", "file_id": file_id}
        if path == "/files.completeUploadExternal":
            files = json.loads(args.get("files", "[]"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}
        if path == "/chat.postMessage":
            with self._lock:
                self._next += 1
                ts = f"2000.{self._next:04d}"
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"text": args.get("text")}}
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts", "1.0")}

    def named(self, path: str) -> list[dict]:
        """Return the arguments of every recorded call to `path`, such as "/chat.postMessage"."""
        with self._lock:
            return [args for p, args in self.calls if p == path]

    def wait_for(self, check, timeout: float = 30.0) -> None:
        """Wait until `check()` is true, polling the recorded calls; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls so far: {[p for p, _ in self.calls]}")
            time.sleep(0.05)

    def __enter__(self) -> FakeSlack:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
