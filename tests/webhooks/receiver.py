"""A real webhook receiver on loopback (http.server in a thread) for the tests: it records what it
gets, verifies the signature with the standardwebhooks library as an integrator would, and answers
with the status codes a test queues (200 when none is queued)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: Any  # the parsed payload, or the verification error


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[tuple[int, str]] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def verify(self, item: Received, secret: str | None = None) -> Any:
        return Webhook(secret or self.secret).verify(item.body, item.headers)


def start() -> tuple[Receiver, ThreadingHTTPServer]:
    state: dict[str, Receiver] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver = state["r"]
            headers = {key.lower(): value for key, value in self.headers.items()}
            verified: Any
            try:
                verified = Webhook(receiver.secret).verify(body, headers) if receiver.secret else None
            except WebhookVerificationError as exc:
                verified = exc
            with lock:
                receiver.received.append(Received(self.path, headers, body, verified))
                status, text = receiver.answers.pop(0) if receiver.answers else (200, "ok")
            if receiver.delay:
                time.sleep(receiver.delay)
            payload = text.encode()
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/invoices?x=1")
    state["r"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
