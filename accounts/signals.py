from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .middleware import SESSION_KEY
from .models import Preference


@receiver(user_logged_in, dispatch_uid="accounts.language_on_login")
def remember_language(sender, request, user, **kwargs) -> None:
    """A person who chose a language gets it on every browser they log in from."""
    language = Preference.objects.filter(user=user).values_list("language", flat=True).first()
    if language and request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = language
