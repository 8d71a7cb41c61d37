"""django-q2 entry point of the failure alerts' schedule (created by a migration)."""

from __future__ import annotations

from .services import send_digests

__all__ = ["send_digests"]
