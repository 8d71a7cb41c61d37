"""Every page of the product names the permission it needs, in the app's urls.py.

The login itself is checked earlier, by `config.middleware.LoginRequiredMiddleware`; here a signed-in
person without the permission (no role, or a Team member on an owner's page) gets the 403 page.
`tests/accounts/test_url_walk.py` walks the URL configuration and fails for a page that forgot.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import permission_required


def requires(perm: str, view: Callable) -> Callable:
    """`view`, answered with 403 for a signed-in person who lacks `perm` ("app.codename")."""
    return permission_required(perm, raise_exception=True)(view)
