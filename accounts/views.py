from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from accounts.submissions import save_form_once
from core.views import flash_service

from . import services
from .forms import ApiTokenForm
from .middleware import SESSION_KEY
from .models import ApiToken, Preference

# The session key under which a new token waits to be shown, once, on the next page.
NEW_TOKEN_KEY = "api_token_created"


@login_not_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch (cookie), and for a signed-in person also their account's choice."""
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES):
        if request.user.is_authenticated:
            Preference.objects.update_or_create(user=request.user, defaults={"language": language})
        request.session[SESSION_KEY] = language
    return django_set_language(request)


@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """A person's own API tokens: the list, a form for a new one, and the new token shown once."""
    if request.method == "POST":
        if not request.user.has_perm("accounts.add_apitoken"):
            return render(request, "403.html", status=403)
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data

            def save() -> str:
                token, raw = services.create_api_token(user=request.user, name=data["name"], scope=data["scope"])
                request.session[NEW_TOKEN_KEY] = {"id": token.pk, "token": raw}
                return reverse("api-tokens")

            saved = save_form_once(request, form, save, already=_("This token has already been created."))
            if saved is not None:
                return saved
    else:
        form = ApiTokenForm()
    created = request.session.pop(NEW_TOKEN_KEY, None)
    tokens = list(ApiToken.objects.filter(user=request.user))
    new = next((t for t in tokens if created and t.pk == created.get("id")), None)
    return render(request, "accounts/api_tokens.html", {
        "form": form, "tokens": tokens, "new_token": created["token"] if new else "", "new": new,
    })


@require_http_methods(["GET", "POST"])
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes. Only one's own tokens (another's is a 404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if request.method == "POST":
        flash_service(request, lambda: services.revoke_api_token(token=token, by=request.user),
                      _("The token “%(name)s” is revoked; it no longer works.") % {"name": token.name})
        return redirect("api-tokens")
    if not token.is_active:
        messages.error(request, _("The token “%(name)s” has already been revoked.") % {"name": token.name})
        return redirect("api-tokens")
    return render(request, "accounts/api_token_revoke.html", {"token": token})
