"""One HTTP POST of a webhook: to the address that was checked (safety.resolve), with a short
timeout, without following redirects, keeping only the start of the answer."""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings

from .safety import resolve

# What stays as it is in the request's path and query: printable ASCII (a URL has no spaces).
ASCII_PRINTABLE = "".join(chr(code) for code in range(33, 127))

# The log keeps this much of a receiver's answer.
MAX_BODY = 1000


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    duration_ms: int


def timeout() -> float:
    return float(getattr(settings, "WEBHOOKS_TIMEOUT_SECONDS", 5))


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST `body`; raises safety.UnsafeAddress for a refused address and OSError (timeouts,
    refused connections, TLS errors) or http.client.HTTPException when there is no answer."""
    scheme, host, port, ip = resolve(url)
    started = time.monotonic()
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = connection_class(host, port, timeout=timeout())
    # Connect to the address that was checked, not to whatever the name resolves to now (DNS
    # rebinding); TLS still verifies the certificate for the host name.
    conn._create_connection = lambda address, timeout_, source=None: socket.create_connection(  # type: ignore[attr-defined]
        (ip, port), timeout_, source)
    try:
        split = urlsplit(url)
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        # http.client sends the request line as ASCII: other letters (a valid address such as
        # …/rechnungen/größe) go out percent-encoded as UTF-8, as a browser sends them.
        path = quote(path, safe=ASCII_PRINTABLE)
        conn.request("POST", path, body=body, headers={**headers, "Content-Type": "application/json",
                                                       "User-Agent": "invoices-webhooks/1"})
        answer = conn.getresponse()
        text = answer.read(MAX_BODY).decode("utf-8", "replace")
        return Response(status=answer.status, body=text, duration_ms=int((time.monotonic() - started) * 1000))
    finally:
        conn.close()
