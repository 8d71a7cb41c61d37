from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

# The admin has its own login page. Pages open to everyone say so with @login_not_required
# (the language switch, the public invoice page, the ESP webhooks).
EXEMPT_PREFIXES = ("/admin/",)


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(EXEMPT_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
