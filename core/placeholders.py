"""Email and task texts with placeholders: `Hello {{ contact.first_name }}`.

Not Django's template language: it is not safe for untrusted authors (attribute walks,
`{% include %}`, `{% debug %}`). A text here may contain only `{{ name }}` where `name` is one of
PLACEHOLDERS; anything else that looks like template syntax (`{%`, `{#`, an unclosed `{{`) is a
syntax error when the automation is saved. Rendering substitutes plain strings from a flat dict
built by `context_for` — no model object is ever reachable — and escapes them in the HTML part.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import formats, translation
from django.utils.html import escape, format_html, linebreaks
from django.utils.translation import gettext_lazy as _

from core.money import format_money

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
# Anything that opens template syntax but is not a well-formed {{ name }}.
SUSPICIOUS = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")

PLACEHOLDERS: dict[str, StrOrPromise] = {
    "contact.first_name": _("Contact's first name"),
    "contact.last_name": _("Contact's last name"),
    "contact.name": _("Contact's full name"),
    "contact.email": _("Contact's email address"),
    "contact.company": _("Contact's company"),
    "invoice.number": _("Invoice number"),
    "invoice.issue_date": _("Issue date"),
    "invoice.due_date": _("Due date"),
    "invoice.total": _("Invoice total"),
    "invoice.amount_due": _("Amount due"),
    "invoice.amount_paid": _("Amount paid"),
    "invoice.currency": _("Currency"),
    "invoice.days_overdue": _("Days overdue"),
    "invoice.link": _("Link to view the invoice"),
    "invoices.list": _("All of the customer's invoices in this reminder, one per line"),
    "invoices.count": _("How many invoices this reminder is about"),
    "invoices.total_due": _("The amount due on all of them"),
    "recurring.amount": _("Recurring payment amount"),
    "recurring.interval": _("Recurring payment interval"),
    "recurring.next_date": _("Next payment date"),
    "recurring.description": _("Recurring payment description"),
    "business.name": _("Your business name"),
}


@dataclass(frozen=True)
class PlaceholderError(Exception):
    message: str

    def __str__(self) -> str:
        return self.message


def valid_names_text() -> str:
    return ", ".join("{{ %s }}" % name for name in PLACEHOLDERS)


def check(text: str) -> None:
    """Raise PlaceholderError if `text` uses an unknown placeholder or any other template syntax."""
    unknown = sorted({m.group(1) for m in TOKEN.finditer(text) if m.group(1) not in PLACEHOLDERS})
    if unknown:
        raise PlaceholderError(
            str(_("Unknown placeholder %(names)s. Valid placeholders are: %(valid)s.")) % {
                "names": ", ".join("{{ %s }}" % n for n in unknown), "valid": valid_names_text()}
        )
    rest = TOKEN.sub("", text)
    if SUSPICIOUS.search(rest):
        raise PlaceholderError(
            str(_("Only placeholders like {{ contact.first_name }} are allowed; tags such as {%% … %%}, comments "
                  "and unclosed braces are not. Valid placeholders are: %(valid)s.")) % {"valid": valid_names_text()}
        )


def check_all(texts: Iterable[str]) -> None:
    for text in texts:
        check(text)


def render_text(text: str, context: Mapping[str, str]) -> str:
    return TOKEN.sub(lambda m: context.get(m.group(1), ""), text)


# Placeholders whose value is an address of ours: a real link in the HTML part.
LINKS = frozenset({"invoice.link"})


def render_html(text: str, context: Mapping[str, str]) -> str:
    """The HTML part: the author's text and every value escaped, paragraphs from blank lines; the
    invoice's link is a link."""
    pieces = []
    last = 0
    for match in TOKEN.finditer(text):
        pieces.append(escape(text[last:match.start()]))
        value = context.get(match.group(1), "")
        if match.group(1) in LINKS and value.startswith(("https://", "http://")):
            pieces.append(format_html('<a href="{}">{}</a>', value, value))
        else:
            pieces.append(escape(value))
        last = match.end()
    pieces.append(escape(text[last:]))
    return linebreaks("".join(pieces), autoescape=False)


# Unicode's explicit direction controls (embeddings, overrides, isolates): a name holding U+202E
# turns the rest of a subject around ("Invoice for Eve\u202Efdp.exe" shows as "…exe.pdf").
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def single_line(text: str) -> str:
    """For headers (the subject, the sender's name): CR/LF and other line breaks never reach the
    message, nor do direction controls that would make it read differently from what it says."""
    return " ".join(text.translate(BIDI_CONTROLS).split())


def _money(value: Decimal | None, currency: str) -> str:
    return format_money(value, currency)


def _date(value: dt.date | None) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


def names_in(*texts: str) -> set[str]:
    """The placeholder names the texts use."""
    return {match.group(1) for text in texts if text for match in TOKEN.finditer(text)}


def context_for(
    *, contact, invoice=None, plan=None, today: dt.date, link: str | Callable[[], str] = "", language: str = "en",
    names: Iterable[str] | None = None, invoices: list | None = None, business_name: str | None = None,
) -> dict[str, str]:
    """The flat dict of plain strings a text is rendered from, formatted in `language`.

    `invoices` are all the invoices one email is about (a reminder sent as one email per customer);
    by default the one invoice.

    With `names`, only those values are made (formatting money and signing a link cost more than
    the rest of a task run); `link` may then be a function, called only if `invoice.link` is one.
    `business_name` is the seller's name (the business profile's) where the caller knows it.
    """
    values: dict[str, Callable[[], object]] = {
        "contact.first_name": lambda: contact.first_name,
        "contact.last_name": lambda: contact.last_name,
        "contact.name": lambda: contact.name,
        "contact.email": lambda: contact.email,
        "contact.company": lambda: contact.company,
        "business.name": lambda: settings.BUSINESS_NAME if business_name is None else business_name,
    }
    if invoice is not None:
        values.update({
            "invoice.number": lambda: invoice.number,
            "invoice.issue_date": lambda: _date(invoice.issue_date),
            "invoice.due_date": lambda: _date(invoice.due_date),
            "invoice.total": lambda: _money(invoice.total, invoice.currency),
            "invoice.amount_due": lambda: _money(invoice.balance, invoice.currency),
            "invoice.amount_paid": lambda: _money(invoice.amount_paid, invoice.currency),
            "invoice.currency": lambda: invoice.currency,
            "invoice.days_overdue": lambda: invoice.days_overdue(today),
            "invoice.link": link if callable(link) else lambda: link,
        })
        about = invoices if invoices else [invoice]
        values.update({
            "invoices.list": lambda: "\n".join(
                str(_("%(number)s of %(date)s, due %(due)s: %(amount)s")) % {
                    "number": item.number, "date": _date(item.issue_date), "due": _date(item.due_date),
                    "amount": _money(item.balance, item.currency)} for item in about),
            "invoices.count": lambda: len(about),
            "invoices.total_due": lambda: " + ".join(
                _money(sum((item.balance for item in about if item.currency == code), Decimal("0")), code)
                for code in sorted({item.currency for item in about})),
        })
    if plan is not None:
        values.update({
            "recurring.amount": lambda: _money(plan.amount, plan.currency),
            "recurring.interval": lambda: plan.get_interval_display(),
            "recurring.next_date": lambda: _date(plan.next_date),
            "recurring.description": lambda: plan.description,
        })
    wanted = values if names is None else [name for name in names if name in values]
    with translation.override(language):
        return {key: str(values[key]()) for key in wanted}
