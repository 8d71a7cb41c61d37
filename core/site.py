"""The site's own address, for links in emails (settings.SITE_URL). Plain Python: the settings
import it before Django is set up."""

from __future__ import annotations


def site_url_from_bind(host: str, port: str, allowed_hosts: list[str]) -> str:
    """The address the site is reached at when it listens on HOST:PORT. Listening on every address
    (0.0.0.0, ::) names no host: the first name of ALLOWED_HOSTS then, else 127.0.0.1."""
    host = host.strip().strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        names = [name for name in allowed_hosts if name and name != "*" and not name.startswith(".")]
        host = names[0].strip("[]") if names else "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = port.strip() or "8000"
    return f"http://{host}" + ("" if port == "80" else f":{port}")
