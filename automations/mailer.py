"""Sending an automation's email through Django's email backend (SMTP, files, any anymail ESP).

The RunAction row is the email's ledger: `pending → sending` is committed before the backend is
called, and `sending → succeeded` after it returns. A later attempt that finds `sending` cannot
know whether the backend accepted the message before the process died, so it records `unknown`
and does not send again; a person decides (the run's Retry button).
"""

from __future__ import annotations

import smtplib
from typing import Any
import socket
from email.utils import formataddr, make_msgid

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import placeholders
from .errors import ActionError, ActionSkipped
from .models import EmailEvent, RunAction, RunActionStatus
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


def email_texts(action: Any, language: str) -> tuple[str, str]:
    """(subject, body) in the contact's language: the German text for a German contact when the
    action has one, else the English (default) text."""
    if language == "de" and action.subject_de and action.body_de:
        return action.subject_de, action.body_de
    return action.subject, action.body


def build_message(*, action, contact, context: dict[str, str], language: str, run_id: int | None, key: str, to: str,
                  message_id: str | None = None) -> EmailMultiAlternatives:
    subject_text, body_text = email_texts(action, language)
    with translation.override(language):
        subject = placeholders.single_line(placeholders.render_text(subject_text, context))
        text = placeholders.render_text(body_text, context)
        html = placeholders.render_html(body_text, context)
        # Filled in like the subject, and one line like it (a value never brings a line break into
        # the From header); formataddr quotes or encodes what a header needs. Empty after filling
        # in (say, "{{ contact.company }}" of a contact without one): the business name.
        sender_name = placeholders.single_line(placeholders.render_text(action.sender_name or "", context))
    sender_name = sender_name or placeholders.single_line(settings.BUSINESS_NAME)
    from_email = formataddr((sender_name, settings.DEFAULT_FROM_EMAIL)) if sender_name else settings.DEFAULT_FROM_EMAIL
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    message = AnymailMessage(
        subject=subject, body=text, from_email=from_email, to=[to],
        reply_to=[action.reply_to] if action.reply_to else None,
        headers={"Message-ID": message_id or make_msgid(idstring=key, domain=domain), "X-Automation-Key": key,
                 **idempotency_headers(key)},
        # anymail: the run id comes back with the ESP's tracking events; other backends ignore both.
        metadata={"run_id": str(run_id or ""), "key": key}, tags=["automation"],
    )
    message.attach_alternative(html, "text/html")
    return message


def send_for_run(*, run, action, result: RunAction, context: dict[str, str]) -> None:
    contact = run.contact
    to = (contact.email or "").strip()
    if not to:
        raise ActionSkipped(_("no email address"))
    with transaction.atomic():
        current = RunAction.objects.select_for_update().get(pk=result.pk)
        if current.status == RunActionStatus.SUCCEEDED:
            return
        uncertain = current.status in (RunActionStatus.SENDING, RunActionStatus.UNKNOWN)
        if uncertain:
            RunAction.objects.filter(pk=result.pk).update(updated_at=timezone.now(), status=RunActionStatus.UNKNOWN)
        else:
            RunAction.objects.filter(pk=result.pk).update(updated_at=timezone.now(), 
                status=RunActionStatus.SENDING, email_to=to, attempts=current.attempts + 1, error=""
            )
    if uncertain:
        raise ActionError(
            _("The email to %(to)s may have been sent before the worker stopped; it was not sent again. "
              "Check the mailbox or the email service, then retry the run if it did not arrive.") % {"to": current.email_to},
            permanent=True,
        )
    message = build_message(action=action, contact=contact, context=context, language=contact.language,
                            run_id=run.pk, key=result.idempotency_key, to=to,
                            message_id=message_id_for(result.idempotency_key, run.created_at))
    try:
        get_connection(fail_silently=False).send_messages([message])
    except Exception as exc:
        error = _classify(exc)
        if error is None:
            raise
        # The backend raised before accepting: the message was not sent, so trying again is safe.
        RunAction.objects.filter(pk=result.pk).update(updated_at=timezone.now(), 
            status=RunActionStatus.FAILED if error.permanent else RunActionStatus.PENDING, error=error.message)
        raise error from exc
    # The ESP's id when anymail reports one (it may be falsy, e.g. 0), else our Message-ID header.
    esp_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
    message_id = esp_id if esp_id is not None else message.extra_headers["Message-ID"]
    with transaction.atomic():
        locked = RunAction.objects.select_for_update().get(pk=result.pk)
        locked.message_id = str(message_id)[:300]
        RunAction.objects.filter(pk=result.pk).update(updated_at=timezone.now(), 
            status=RunActionStatus.SUCCEEDED, message_id=locked.message_id, email_status="sent",
            detail=_("Sent to %(to)s") % {"to": to},
        )
        # A fast ESP's webhook may have arrived before the id was saved here.
        if EmailEvent.objects.filter(message_id=locked.message_id).exists():
            refresh_email_status(locked)
