"""Who is asking: a personal API token (`Authorization: Bearer inv_…`, accounts.ApiToken), acting as
its person with that person's role, read-only unless the token may write; and how often they may
ask (a fixed window per token in the `api` cache: `API_RATE_LIMIT` requests per
`API_RATE_LIMIT_WINDOW` seconds, then 429 with `Retry-After`)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from accounts import services as accounts
from accounts.models import ApiToken

from .errors import ApiError, forbidden

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenAuth(HttpBearer):
    """The token, and the permission ("app.codename") the operation needs, as the page of the same
    change asks for it: checked before the request's body is even read."""

    def __init__(self, perm: str | None = None) -> None:
        super().__init__()
        self.perm = perm

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = accounts.token_for(token.strip())
        if found is None:
            return None
        if request.method not in SAFE_METHODS and not found.can_write:
            raise forbidden(_("The token “%(name)s” may only read. Create a token that may read and write "
                              "to change anything.") % {"name": found.name})
        check_rate(found)
        accounts.note_token_use(token=found)
        request.user = found.user
        if self.perm:
            require(request, self.perm)
        return found


def check_rate(token: ApiToken, *, now: float | None = None) -> None:
    """Count the request in its window; refuse it (429, Retry-After) past the limit."""
    limit = settings.API_RATE_LIMIT
    window = settings.API_RATE_LIMIT_WINDOW
    if limit <= 0:
        return
    now = time.time() if now is None else now
    slot = int(now // window)
    key = f"api-rate:{token.pk}:{slot}"
    cache = caches[settings.API_CACHE]
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        count = 1
    if count > limit:
        retry_after = max(1, int((slot + 1) * window - now + 0.999))
        raise ApiError(429, _("Too many requests: this token may make %(limit)d requests every %(window)d seconds. "
                              "Try again in %(wait)d seconds.") % {"limit": limit, "window": window, "wait": retry_after},
                       headers={"Retry-After": str(retry_after)})


def has_role(user: Any) -> bool:
    return bool(user.is_superuser or user.groups.exists())


def require(request: HttpRequest, perm: str) -> None:
    """The person behind the token must have `perm` ("app.codename"), as the pages ask."""
    user = request.user
    if user.has_perm(perm):
        return
    if not user.is_superuser and not user.groups.exists():
        raise forbidden(_("Your account has no role yet. Ask an owner of this business to give you the role "
                          "“Owner” or “Team member” (Admin → Users)."))
    raise forbidden()
