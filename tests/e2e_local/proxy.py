"""A recording pass-through proxy: kimicode talks to the real local server through it, and tests
read exactly what was sent (max_tokens, stream, messages) and what came back (status, bytes)."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Exchange:
    method: str
    path: str
    body: Any  # parsed JSON, or None
    status: int = 0
    response: bytes = b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        exchange = Exchange(self.command, self.path, body)
        self.server.owner.exchanges.append(exchange)
        upstream = http.client.HTTPConnection(self.server.owner.host, self.server.owner.port, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization", "accept")}
        upstream.request(self.command, self.path, body=raw or None, headers=headers)
        reply = upstream.getresponse()
        exchange.status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.getheader("Content-Type") or "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            data = reply.read1(65536)  # as it arrives: a streamed answer stays streamed
            if not data:
                break
            exchange.response += data
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: RecordingProxy) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class RecordingProxy:
    def __init__(self, upstream_base_url: str) -> None:
        parts = urlsplit(upstream_base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.exchanges: list[Exchange] = []
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def chats(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.startswith("/v1/chat/completions")]
