from __future__ import annotations

from django.utils import translation

SESSION_KEY = "account_language"


class UserLanguageMiddleware:
    """After LocaleMiddleware (browser language, cookie): a signed-in person's own choice wins."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        language = session.get(SESSION_KEY) if session is not None else None
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
