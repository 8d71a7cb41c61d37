"""The address a login attempt comes from, as the login throttling (django-axes) counts it.

Behind a proxy every request arrives from the proxy's address, so counting failures by
`REMOTE_ADDR` would let anyone lock a user name out for everybody behind that proxy. Each trusted
proxy appends the address it received the request from to `X-Forwarded-For`; with
`TRUSTED_PROXY_COUNT` = N the last N entries were written by our proxies, and the N-th from the
right is the client as the outermost proxy saw it. Whatever the client itself put in the header
stands further left and is ignored, so a spoofed entry cannot pick the address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address: from `X-Forwarded-For` as the trusted proxies wrote it, else the
    connection's own (`REMOTE_ADDR`) — also when the header has fewer entries than there are
    proxies (a request that did not come through all of them) or an entry that is no address."""
    meta = getattr(request, "META", {}) or {}
    remote = meta.get("REMOTE_ADDR")
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count <= 0:
        return remote
    entries = [e for e in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(entries) < count:
        return remote
    return _address(entries[-count]) or remote
