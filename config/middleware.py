from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

# Authenticated their own way (anymail checks ANYMAIL_WEBHOOK_SECRET and the ESP's signature);
# the admin has its own login page.
EXEMPT_PREFIXES = ("/anymail/", "/admin/", "/i18n/")


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(EXEMPT_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
