"""`Idempotency-Key` on the API's POSTs, as Stripe does it: the first answer to a key is stored (per
token, 24 hours) and replayed for every repeat, so a client that lost the answer (a timeout, a
dropped connection) can send the same request again without paying, sending or creating twice.

* The key is taken first, in a row of its own that is committed at once (`IdempotencyKey`, unique per
  token and key): of two requests with the same key at the same moment the database lets one in;
  the other gets 409 and may retry later.
* The request then runs in one transaction together with the storing of its answer: the change and
  the answer are committed together, or neither. A request that dies halfway leaves no change, and
  its key is free again after `LEASE`.
* A repeat with a different method, path or body gets 422: the key was used for something else.
* Answers of 5xx, 401, 403, 409 and 429 are not kept (nothing was done; the request may be retried).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as accounts

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A key whose request has been running this long is taken to be left by a request that died.
LEASE = dt.timedelta(minutes=5)
NOT_KEPT = {401, 403, 409, 429}
PREFIX = "/api/"


def _error(status: int, detail: str, field: str = HEADER) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": {field: [detail]}}, status=status)


def request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status_code, content_type=row.content_type or None)
    for name, value in (row.headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def expired_before(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
            return _error(400, _("The Idempotency-Key must be 1 to %(max)d characters.") % {"max": MAX_KEY_LENGTH})
        header = request.headers.get("Authorization", "")
        token = accounts.token_for(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if token is None:
            return self.get_response(request)  # the API itself refuses it (401)
        return self.once(request, token, key)

    def once(self, request: HttpRequest, token, key: str) -> HttpResponse:
        now = timezone.now()
        fingerprint = request_hash(request)
        IdempotencyKey.objects.filter(token=token, key=key, created_at__lt=expired_before(now)).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(token=token, key=key, request_hash=fingerprint, created_at=now,
                                                    started_at=now)
        except IntegrityError:
            found = IdempotencyKey.objects.filter(token=token, key=key).first()
            if found is None:  # deleted (expired) in between: a fresh start next time
                return _error(409, _("A request with this Idempotency-Key is being processed; try again shortly."))
            row = found
            if row.request_hash != fingerprint:
                return _error(422, _("This Idempotency-Key was used for a different request (another path or "
                                     "body); use a new key for a new request."))
            if row.status_code is not None:
                return replay(row)
            # Still running, or left by a request that died (its change was rolled back): take it over
            # only once the lease has run out, and only one request may.
            taken = IdempotencyKey.objects.filter(pk=row.pk, status_code__isnull=True,
                                                  started_at__lt=now - LEASE).update(started_at=now)
            if taken != 1:
                return _error(409, _("A request with this Idempotency-Key is being processed; try again shortly."))
        return self.run(request, row)

    def run(self, request: HttpRequest, row: IdempotencyKey) -> HttpResponse:
        keep = False
        with transaction.atomic():
            response = self.get_response(request)
            status = response.status_code
            if status < 500 and status not in NOT_KEPT and not getattr(response, "streaming", False):
                headers = {name: value for name, value in response.items()
                           if name.lower() in ("location", "content-language")}
                IdempotencyKey.objects.filter(pk=row.pk).update(
                    status_code=status, content_type=response.get("Content-Type", ""), body=response.content,
                    headers=headers)
                keep = True
            else:
                # Not kept: the answer was that nothing happened. Leave the request's own changes
                # to it (none were made, or an error rolled them back) and free the key.
                transaction.set_rollback(True)
        if not keep:
            IdempotencyKey.objects.filter(pk=row.pk, status_code__isnull=True).delete()
        return response
