from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def business(request: HttpRequest) -> dict[str, str]:
    return {"BUSINESS_NAME": settings.BUSINESS_NAME}
