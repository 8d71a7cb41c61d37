"""The bell in the navigation bar: how many of the person's notifications are unread."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .services import unread_count


def bell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("notifications.view_notification"):
        return {}
    return {"NOTIFICATIONS_UNREAD": unread_count(user), "NOTIFICATIONS_BELL": True}
