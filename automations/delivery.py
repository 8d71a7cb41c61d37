"""Invoices by email: the outbox row, the worker that sends it once, and the email's text.

Sending an invoice with `deliver=True` (invoices.services.send_invoice; also voiding a sent
invoice, for its credit note, and a recurring plan's invoice to a contact with an address) makes
the automations' receiver write an `InvoiceEmail` row in the same transaction (`queue_email`) and
queue a task after the commit. "Resend" (automations.services.resend_invoice_email) writes another.

The task (`deliver`, in a django-q2 worker, never in the web request) carries each row out the way
the engine carries out a run (automations.dispatch): a lease and a counted attempt first
(`dispatch.claim`), a poisoned row stops at the attempt cap, temporary errors wait 1, 2, 4, 8
minutes, permanent ones fail at once. The email itself — its text from the business profile in the
contact's language, its PDF and e-invoice from documents.services — is made under the row's lock and
handed over through the same ledger as an automation's email (automations.mailer.send_recorded):
`pending → sending → succeeded`, and a `sending` found later is `unknown`, never sent again by
itself. The sweeper (automations.jobs.sweep) queues what a lost task or a dead worker left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from functools import partial

from anymail.message import AnymailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from business import services as business
from business.models import BusinessProfile
from core import placeholders
from core.dates import business_today
from documents import services as documents
from invoices.models import Contact, Invoice
from invoices.public import public_url

from . import dispatch, mailer
from .errors import ActionError
from .models import InvoiceEmail, InvoiceEmailKind, InvoiceEmailStatus

log = logging.getLogger(__name__)

# Statuses a worker may still act on: pending (first attempt, or a retry after a temporary error)
# and sending (a worker died handing it over: the ledger turns it into `unknown`).
OPEN = (InvoiceEmailStatus.PENDING, InvoiceEmailStatus.SENDING)
# Emails per queue task: each one renders its PDF (a few hundred milliseconds).
CHUNK = 20
TASK = "automations.delivery.deliver"


# --- Asking for an email (in the transaction of the state change) -----------------------------


def queue_email(*, invoice: Invoice, kind: str, by=None, key: str | None = None) -> InvoiceEmail:
    """Write the invoice's email into the outbox, in the caller's transaction; after the commit a
    worker is woken to send it. `key` (unique) makes it once: by default one email per invoice."""
    to = Contact.objects.filter(pk=invoice.contact_id).values_list("email", flat=True).first() or ""
    email, _created = InvoiceEmail.objects.get_or_create(
        idempotency_key=key or f"invoice-{invoice.pk}-email",
        defaults={"invoice": invoice, "kind": kind, "email_to": to.strip(), "created_by": by},
    )
    # robust: the invoice is sent whatever happens to the wake-up (a broker that is down); the
    # sweeper queues the email later.
    transaction.on_commit(partial(enqueue, [email.pk]), robust=True)
    return email


def enqueue(email_ids: list[int]) -> None:
    dispatch.enqueue(TASK, email_ids, chunk=CHUNK)


# --- Sending (in the worker) ------------------------------------------------------------------


def deliver(email_ids: list[int]) -> int:
    """A queue task: send these invoice emails (each claims its own lease), handing over what is
    left when the time budget is spent. Returns how many it carried out."""
    from django_q.conf import Conf

    deadline = None if Conf.SYNC else time.monotonic() + dispatch.TASK_BUDGET_SECONDS
    done = 0
    for index, email_id in enumerate(email_ids):
        if deadline is not None and time.monotonic() > deadline:
            enqueue(email_ids[index:])
            break
        done += execute_email(email_id) is not None
    return done


def execute_email(email_id: int, *, now: dt.datetime | None = None) -> str | None:
    """Send one invoice email if it is due and nobody else holds it. Returns its new status
    (None when it was not this worker's to send)."""
    now = now or timezone.now()
    if not dispatch.claim(InvoiceEmail, [email_id], now, statuses=OPEN):
        return None
    email = InvoiceEmail.objects.select_related("invoice__contact", "invoice__recurring", "invoice__credit_for").get(
        pk=email_id)
    if dispatch.gave_up(email, now=now):
        return email.status
    if not email.email_to:
        dispatch.finish(email, InvoiceEmailStatus.SKIPPED, reason=_("no email address"), now=now)
        return email.status
    try:
        mailer.send_recorded(email, to=email.email_to, build=lambda: build_email(email, now=now))
    except ActionError as exc:
        if exc.permanent:
            # `unknown` (the ledger's) stays: it says more than "failed".
            status = InvoiceEmail.objects.values_list("status", flat=True).get(pk=email.pk)
            dispatch.finish(email, InvoiceEmailStatus.UNKNOWN if status == InvoiceEmailStatus.UNKNOWN
                            else InvoiceEmailStatus.FAILED, error=exc.message, now=now)
        else:
            dispatch.retry_later(email, exc.message, now=now)
    except Exception as exc:
        # An unexpected bug or outage: retried, then failed. Raised while the email was made, it
        # left the row pending (the ledger's transaction rolled back); raised while it was handed
        # over, it left it `sending`, and the next attempt makes that `unknown`.
        log.exception("Invoice email %s failed", email.pk)
        dispatch.retry_later(email, f"{type(exc).__name__}: {exc}", now=now)
    else:
        dispatch.finish(email, InvoiceEmailStatus.SUCCEEDED, now=now, sent_at=max(now, timezone.now()))
    return InvoiceEmail.objects.values_list("status", flat=True).get(pk=email.pk)


# --- The email --------------------------------------------------------------------------------


# The standard texts (the business profile's own, per language, replace the invoice's). They go to
# customers: German says "Sie".
INVOICE_SUBJECT = gettext_lazy("Invoice {{ invoice.number }} from {{ business.name }}")
INVOICE_BODY = gettext_lazy(
    "Hello {{ contact.name }},\n\n"
    "please find attached our invoice {{ invoice.number }} of {{ invoice.issue_date }} for {{ invoice.total }}, "
    "due on {{ invoice.due_date }}.\n\n"
    "You can also view it online: {{ invoice.link }}\n\n"
    "Thank you for your business.\n\n"
    "Kind regards\n{{ business.name }}")
CREDIT_NOTE_SUBJECT = gettext_lazy("Credit note {{ invoice.number }} from {{ business.name }}")
CREDIT_NOTE_BODY = gettext_lazy(
    "Hello {{ contact.name }},\n\n"
    "please find attached our credit note {{ invoice.number }} of {{ invoice.issue_date }} for "
    "{{ invoice.total }}. It cancels invoice %(original)s: you do not need to pay that invoice.\n\n"
    "You can also view the credit note online: {{ invoice.link }}\n\n"
    "Kind regards\n{{ business.name }}")
STANDARD_TEXTS = (INVOICE_SUBJECT, INVOICE_BODY, CREDIT_NOTE_SUBJECT, CREDIT_NOTE_BODY)


def email_texts(invoice: Invoice, profile: BusinessProfile) -> tuple[str, str, str]:
    """(language, subject, text) of the invoice's email, with placeholders: the business profile's
    texts in the contact's language, else the standard ones. A credit note has its own."""
    language = invoice.contact.language if invoice.contact.language in ("en", "de") else "en"
    with translation.override(language):
        if invoice.is_credit_note:
            original = invoice.credit_for.number if invoice.credit_for else ""
            return language, str(CREDIT_NOTE_SUBJECT), str(CREDIT_NOTE_BODY) % {"original": original}
        subject, body = str(INVOICE_SUBJECT), str(INVOICE_BODY)
    return (language, getattr(profile, f"email_subject_{language}") or subject,
            getattr(profile, f"email_body_{language}") or body)


def wants_xml(invoice: Invoice, profile: BusinessProfile) -> bool:
    """The e-invoice goes with the email to business customers (as the invoice was sent to them)
    when the profile says so; the PDF always goes."""
    return profile.attach_xml and bool(invoice.buyer.get("is_business", invoice.contact.is_business))


def _is_xml(filename: str, mimetype: str) -> bool:
    return mimetype in ("application/xml", "text/xml") or filename.lower().endswith(".xml")


def build_email(email: InvoiceEmail, *, now: dt.datetime) -> AnymailMessage:
    """The message of one invoice email, with its files (rendered here, in the worker)."""
    invoice = email.invoice
    profile = business.get_profile()
    language, subject, body = email_texts(invoice, profile)
    context = placeholders.context_for(
        contact=invoice.contact, invoice=invoice, plan=invoice.recurring, today=business_today(now),
        link=lambda: public_url(invoice), language=language, names=placeholders.names_in(subject, body),
        business_name=business.seller_name(profile),
    )
    name, address = business.sender(profile)
    message = mailer.compose(
        subject=subject, body=body, context=context, language=language, from_email=mailer.from_address(name, address),
        to=email.email_to, reply_to=profile.email if profile.email and profile.email != address else "",
        key=email.idempotency_key, message_id=mailer.message_id_for(email.idempotency_key, email.created_at),
        metadata={"invoice_email_id": str(email.pk), "invoice": invoice.number, "key": email.idempotency_key},
        tags=["invoice"],
    )
    xml = wants_xml(invoice, profile)
    for filename, content, mimetype in documents.invoice_files(invoice):
        if xml or not _is_xml(filename, mimetype):
            message.attach(filename, content, mimetype)
    return message


@dataclass(frozen=True)
class Preview:
    """What the confirm pages show before an invoice is emailed (nothing is rendered)."""

    to: str
    sender: str
    subject: str
    attachments: list[str]


def preview(invoice: Invoice) -> Preview:
    profile = business.get_profile()
    language, subject, _body = email_texts(invoice, profile)
    context = placeholders.context_for(contact=invoice.contact, invoice=invoice, today=business_today(),
                                       language=language, names=placeholders.names_in(subject),
                                       business_name=business.seller_name(profile))
    with translation.override(language):
        subject = placeholders.single_line(placeholders.render_text(subject, context))
    attachments = [(_("Credit note %(number)s (PDF)") if invoice.is_credit_note else _("Invoice %(number)s (PDF)"))
                   % {"number": invoice.number}]
    if wants_xml(invoice, profile):
        attachments.append(_("E-invoice %(number)s (XML)") % {"number": invoice.number})
    name, address = business.sender(profile)
    return Preview(to=(invoice.contact.email or "").strip(), sender=mailer.from_address(name, address),
                   subject=subject, attachments=attachments)


__all__ = ["InvoiceEmailKind", "build_email", "deliver", "enqueue", "execute_email", "preview", "queue_email"]
