"""Where a webhook may be sent: http(s) only, and never to this machine or its network (SSRF).

An address is checked when a subscription is saved AND again right before each request, after the
host name is resolved: the request then goes to the very address that was checked (a DNS answer
that changes in between cannot send it elsewhere), and redirects are never followed. Private,
loopback, link-local, multicast and reserved addresses are refused unless the setting
WEBHOOKS_ALLOW_PRIVATE is on (a receiver on the same machine or network, and the tests).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

MAX_URL_LENGTH = 2000


class UnsafeAddress(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE", False))


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


def parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed http(s) URL; UnsafeAddress otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeAddress(_("The address is too long (at most %(max)d characters).") % {"max": MAX_URL_LENGTH})
    try:
        URLValidator(schemes=["http", "https"])(url)
        split = urlsplit(url)
        port = split.port or (443 if split.scheme == "https" else 80)
    except (ValidationError, ValueError):
        raise UnsafeAddress(_("Enter a full web address that starts with https:// or http://.")) from None
    if split.username or split.password:
        raise UnsafeAddress(_("The address cannot contain a user name or password."))
    return split.scheme, split.hostname or "", port


def resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the IP address to connect to) for a webhook URL, checked.

    Raises UnsafeAddress with a message a person understands."""
    scheme, host, port = parts(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise UnsafeAddress(_("The host name %(host)s could not be found.") % {"host": host}) from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeAddress(_("The host name %(host)s could not be found.") % {"host": host})
    if not allow_private():
        for address in addresses:
            # Every address the name resolves to: a name with one public and one private address
            # would otherwise reach the private one on a later attempt.
            if _refused(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeAddress(_(
                    "The address %(host)s leads to a private or local network (%(ip)s); webhooks are only "
                    "sent to public addresses.") % {"host": host, "ip": address})
    return scheme, host, port, addresses[0]


def validate_webhook_url(url: str) -> None:
    """The form/model validator: the same checks as at sending time."""
    try:
        resolve(url)
    except UnsafeAddress as exc:
        raise ValidationError(exc.message, code="unsafe_url") from None


def is_valid_secret(secret: str) -> bool:
    """A Standard Webhooks secret: `whsec_` and base64 of 24 to 64 random bytes."""
    if not secret.startswith("whsec_"):
        return False
    try:
        raw = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(raw) <= 64
