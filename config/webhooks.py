"""The ESP delivery-tracking webhooks: anymail's tracking views, behind two more doors.

anymail's own URL list also routes inbound-mail webhooks we do not use, and answers a post for an
ESP that is not set up here (say, Amazon SES without boto3, or Mailgun without its signing key) with
a 500 page. Here only tracking webhooks are routed, and:

* while ANYMAIL_WEBHOOK_SECRET is unset every webhook is closed (403): anymail would otherwise accept
  anyone's posts, with only a warning;
* an ESP that is not set up on this server answers 404 with a line saying so (and logs why).

anymail then checks the basic-auth secret (and the ESP's signature where it has one): a wrong or
missing one gets 400. A body the ESP's parser cannot read (truncated or empty JSON, invalid UTF-8, a
list where an object belongs, nesting deeper than the parser goes) also gets 400, and a warning in
the log, instead of anymail's 500 (which would make the ESP post it again and again).
"""

from __future__ import annotations

import logging

from anymail import urls as anymail_urls
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.http import (HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden,
                         HttpResponseNotFound)
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

SUFFIX = "_tracking_webhook"

# What anymail's parsers raise on a body that is not what the ESP sends: truncated or empty JSON
# (ValueError, which covers JSONDecodeError and UnicodeDecodeError), a list or a number where an
# object belongs (TypeError, AttributeError), a missing key (KeyError, IndexError), nesting deeper
# than the parser's stack (RecursionError).
MALFORMED = (ValueError, TypeError, LookupError, AttributeError, RecursionError)


class MalformedWebhook(Exception):
    pass


def _guarded(view_class: type) -> type:
    """The ESP's view, whose checks and parsing turn a malformed body into MalformedWebhook. Only
    those two steps: an error while the events are stored stays a 500, so the ESP posts again."""

    class Guarded(view_class):  # type: ignore[valid-type, misc]
        def run_validators(self, request):
            try:
                super().run_validators(request)
            except MALFORMED as exc:
                raise MalformedWebhook(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

        def parse_events(self, request):
            try:
                return list(super().parse_events(request))
            except MALFORMED as exc:
                raise MalformedWebhook(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    Guarded.__name__ = Guarded.__qualname__ = view_class.__name__
    return Guarded


TRACKING_VIEWS = {
    pattern.name.removesuffix(SUFFIX): _guarded(pattern.callback.view_class).as_view(**pattern.callback.view_initkwargs)
    for pattern in anymail_urls.urlpatterns
    if pattern.name and pattern.name.endswith(SUFFIX)
}


def webhook_secret_is_set() -> bool:
    return bool(getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"))


@csrf_exempt
@login_not_required
def tracking_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    view = TRACKING_VIEWS.get(esp)
    if view is None:
        return HttpResponseNotFound(f"No tracking webhook for {esp!r}.", content_type="text/plain; charset=utf-8")
    if not webhook_secret_is_set():
        logger.warning("Refused a %s webhook post: ANYMAIL_WEBHOOK_SECRET is not set.", esp)
        return HttpResponseForbidden(
            "Delivery tracking webhooks are switched off: set ANYMAIL_WEBHOOK_SECRET on the server.",
            content_type="text/plain; charset=utf-8")
    try:
        return view(request)
    except MalformedWebhook as exc:
        logger.warning("Refused a malformed %s webhook post (%d bytes): %s", esp, len(request.body), exc)
        return HttpResponseBadRequest(f"The {esp} webhook post could not be read: it is not what {esp} sends.",
                                      content_type="text/plain; charset=utf-8")
    except ImproperlyConfigured as exc:
        logger.error("The %s tracking webhook is not set up on this server: %s", esp, exc)
        return HttpResponseNotFound(f"The {esp} tracking webhook is not set up on this server.",
                                    content_type="text/plain; charset=utf-8")
