"""Sending an email through Django's email backend (SMTP, files, any anymail ESP), once.

An automation's email has its RunAction row as its ledger, an invoice's email its InvoiceEmail row
(automations.delivery); both go through `send_recorded`: `pending → sending` is committed before
the backend is called, and `sending → succeeded` after it returns. A later attempt that finds
`sending` cannot know whether the backend accepted the message before the process died, so it
records `unknown` and does not send again; a person decides (the run's Retry button, the invoice's
Resend). Each message has a Message-ID fixed per record and the ESPs' idempotency key.
"""

from __future__ import annotations

import smtplib
from typing import Any
import socket
from collections.abc import Callable, Mapping
from email.utils import formataddr, make_msgid

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import placeholders

from .errors import ActionError, ActionSkipped
from .models import EmailEvent, InvoiceEmail, RunAction, RunActionStatus
from .tracking import refresh_email_status


def _classify(exc: Exception):
    """The ActionError for an exception raised while handing the message to the backend (None for
    one that is not about sending: a bug, raised as it is)."""
    if isinstance(exc, (AnymailRecipientsRefused, AnymailInvalidAddress, smtplib.SMTPRecipientsRefused)):
        return ActionError(_("The email address was refused: %(error)s") % {"error": exc}, permanent=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            return ActionError(_("The email service refused the message (%(status)s): %(error)s") % {
                "status": status, "error": exc}, permanent=True)
        return ActionError(_("The email service is not available: %(error)s") % {"error": exc})
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        return ActionError(_("The mail server refused the message: %(error)s") % {"error": exc}, permanent=True)
    if isinstance(exc, (smtplib.SMTPException, socket.error, TimeoutError, OSError)):
        return ActionError(_("The mail server is not reachable: %(error)s") % {"error": exc})
    if isinstance(exc, (AnymailError, ImproperlyConfigured)):
        # Raised before anything was handed over (missing API key, unsupported feature, …).
        return ActionError(_("Email is not set up correctly: %(error)s") % {"error": exc}, permanent=True)
    return None


def message_id_for(key: str, created_at) -> str:
    """A Message-ID fixed per run and action: a message handed over twice (a person's retry after
    an uncertain send) carries the same id, which mail systems use to drop the duplicate."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<{key}.{int(created_at.timestamp())}@{domain}>"


# ESPs that drop a second message carrying the same key (within their window: Brevo 15 minutes,
# Resend 24 hours), by the email header anymail passes on to them. Others rely on the Message-ID.
IDEMPOTENCY_HEADERS = {
    "anymail.backends.brevo.EmailBackend": "idempotencyKey",
    "anymail.backends.sendinblue.EmailBackend": "idempotencyKey",
    "anymail.backends.resend.EmailBackend": "Resend-Idempotency-Key",
}


def idempotency_headers(key: str) -> dict[str, str]:
    header = IDEMPOTENCY_HEADERS.get(settings.EMAIL_BACKEND)
    return {header: key} if header else {}


def action_texts(action: Any, language: str) -> tuple[str, str]:
    """An email action's (subject, body) in the contact's language: the German text for a German
    contact when the action has one, else the English (default) text."""
    if language == "de" and action.subject_de and action.body_de:
        return action.subject_de, action.body_de
    return action.subject, action.body


def compose(*, subject: str, body: str, context: Mapping[str, str], language: str, from_email: str, to: str,
            key: str, message_id: str, reply_to: str = "", metadata: dict[str, str], tags: list[str]) -> AnymailMessage:
    """A message from a subject and a body with placeholders, filled in from `context` in
    `language`: the text part, and the HTML part with every value escaped (and the invoice's link
    a real link). Its Message-ID and the ESPs' idempotency key come from `key`."""
    with translation.override(language):
        subject = placeholders.single_line(placeholders.render_text(subject, context))
        text = placeholders.render_text(body, context)
        html = placeholders.render_html(body, context)
    message = AnymailMessage(
        subject=subject, body=text, from_email=from_email, to=[to], reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id, "X-Automation-Key": key, **idempotency_headers(key)},
        # anymail: the metadata comes back with the ESP's tracking events; other backends ignore it and the tags.
        metadata=metadata, tags=tags,
    )
    message.attach_alternative(html, "text/html")
    return message


def from_address(name: str, address: str) -> str:
    """The From header: the name on one line (formataddr quotes or encodes what a header needs)."""
    name = placeholders.single_line(name)
    return formataddr((name, address)) if name else address


def build_message(*, action, contact, context: dict[str, str], language: str, run_id: int | None, key: str, to: str,
                  message_id: str | None = None) -> EmailMultiAlternatives:
    """An automation's email (a send_email action) for one contact."""
    with translation.override(language):
        # Filled in like the subject, and one line like it (a value never brings a line break into
        # the From header). Empty after filling in (say, "{{ contact.company }}" of a contact
        # without one): the business name.
        sender_name = placeholders.single_line(placeholders.render_text(action.sender_name or "", context))
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    subject, body = action_texts(action, language)
    return compose(
        subject=subject, body=body, context=context, language=language,
        from_email=from_address(sender_name or settings.BUSINESS_NAME, settings.DEFAULT_FROM_EMAIL), to=to,
        reply_to=action.reply_to, key=key, message_id=message_id or make_msgid(idstring=key, domain=domain),
        metadata={"run_id": str(run_id or ""), "key": key}, tags=["automation"],
    )


def send_for_run(*, run, action, result: RunAction, context: dict[str, str]) -> None:
    contact = run.contact
    to = (contact.email or "").strip()
    if not to:
        raise ActionSkipped(_("no email address"))
    send_recorded(
        result, to=to, count_attempt=True,
        build=lambda: build_message(action=action, contact=contact, context=context, language=contact.language,
                                    run_id=run.pk, key=result.idempotency_key, to=to,
                                    message_id=message_id_for(result.idempotency_key, run.created_at)),
        done={"detail": _("Sent to %(to)s") % {"to": to}},
    )


def send_recorded(record: RunAction | InvoiceEmail, *, to: str, build: Callable[[], EmailMessage],
                  count_attempt: bool = False, done: dict[str, Any] | None = None) -> None:
    """Hand one email over to the backend, once, with `record` as its ledger (a RunAction or an
    InvoiceEmail: `status`, `email_to`, `attempts`, `error`, `message_id`, `email_status`).

    `pending → sending` commits before the backend is called (`build` makes the message under the
    record's lock first: an error or a crash while rendering leaves it pending), `sending →
    succeeded` (with `done`'s fields) after it returns. A record found `sending` (or `unknown`)
    cannot tell whether the backend took the message before a process died: it becomes `unknown`
    and a permanent ActionError is raised, never a second send. A backend error is classified:
    temporary ones leave the record pending, permanent ones make it failed; both are raised as
    ActionError. Returns quietly when the record has succeeded before.
    """
    model = type(record)
    rows = model._default_manager.filter(pk=record.pk)
    with transaction.atomic():
        current = model._default_manager.select_for_update().get(pk=record.pk)
        if current.status == RunActionStatus.SUCCEEDED:
            return
        uncertain = current.status in (RunActionStatus.SENDING, RunActionStatus.UNKNOWN)
        if uncertain:
            error = _("The email to %(to)s may have been sent before the worker stopped; it was not sent again. "
                      "Check the mailbox or the email service before sending it again.") % {
                "to": current.email_to or to}
            rows.update(updated_at=timezone.now(), status=RunActionStatus.UNKNOWN, error=error)
        else:
            message = build()
            counted = {"attempts": F("attempts") + 1} if count_attempt else {}
            rows.update(updated_at=timezone.now(), status=RunActionStatus.SENDING, email_to=to, error="", **counted)
    if uncertain:
        raise ActionError(error, permanent=True)
    try:
        get_connection(fail_silently=False).send_messages([message])
    except Exception as exc:
        classified = _classify(exc)
        if classified is None:
            raise
        # The backend raised before accepting: the message was not sent, so trying again is safe.
        rows.update(updated_at=timezone.now(), error=classified.message,
                    status=RunActionStatus.FAILED if classified.permanent else RunActionStatus.PENDING)
        raise classified from exc
    # The ESP's id when anymail reports one (it may be falsy, e.g. 0), else our Message-ID header.
    esp_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
    message_id = str(esp_id if esp_id is not None else message.extra_headers["Message-ID"])[:300]
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=record.pk)
        locked.message_id = message_id
        rows.update(updated_at=timezone.now(), status=RunActionStatus.SUCCEEDED, message_id=message_id,
                    email_status="sent", **(done or {}))
        # A fast ESP's webhook may have arrived before the id was saved here.
        if EmailEvent.objects.filter(message_id=message_id).exists():
            refresh_email_status(locked)
