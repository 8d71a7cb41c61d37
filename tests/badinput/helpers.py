"""The machinery of the bad-input catalogue (no tests here).

A case is one row: the surface it goes through (form / admin / service / import / template /
http / job), the input in words, what to do, and what the person must see. `check_case` runs it
and asserts the three things every row promises:

(a) no server error: an HTTP answer is never a 500 and never shows a traceback; a service, command
    or job refuses only with its own clear exception (DomainError, CommandError), never another;
(b) the clear message, as the person sees it (the page, the field's errors, the refusal, the
    run's skip reason);
(c) nothing half-saved: every row of the tables a case could touch is the same afterwards, except
    the tables the row says it changes (and those by exactly the count it says).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from html.parser import HTMLParser
from typing import Any

from django import forms
from django.contrib.auth.models import Group, User
from django.core.management.base import CommandError
from django.http import HttpResponse

from automations.models import Action, Automation, Event, InvoiceEmail, Run
from banking.models import BankStatement, BankTransaction, CsvMapping
from business.models import BusinessProfile
from core.errors import DomainError
from documents.models import StoredDocument
from invoices.models import Contact, Invoice, LineItem, Payment, RecurringPayment
from tasks.models import Task
from webhooks.models import Subscription
from workflows.models import Card, Step, Workflow

# Every table a bad input could leave something half-saved in, with the columns that matter.
WATCHED: dict[str, tuple[type, tuple[str, ...]]] = {
    "Contact": (Contact, ("name", "email", "phone", "company", "language")),
    "Invoice": (Invoice, ("number", "status", "issue_date", "due_date", "currency", "notes", "total", "amount_paid")),
    "LineItem": (LineItem, ("invoice_id", "description", "quantity", "unit_price", "tax_rate")),
    "Payment": (Payment, ("invoice_id", "amount", "date", "reference")),
    "RecurringPayment": (RecurringPayment, ("status", "amount", "currency", "start_date", "end_date", "next_date")),
    "Automation": (Automation, ("name", "trigger", "frequency", "is_active")),
    "Action": (Action, ("automation_id", "kind", "subject", "body", "title", "step_id", "assignee_id")),
    "Event": (Event, ("kind", "invoice_id", "recurring_id")),
    "Run": (Run, ("automation_id", "event_id", "status", "reason")),
    "InvoiceEmail": (InvoiceEmail, ("invoice_id", "kind", "status", "email_to")),
    "Task": (Task, ("title", "status")),
    "Workflow": (Workflow, ("name",)),
    "Step": (Step, ("workflow_id", "name")),
    "Card": (Card, ("step_id", "contact_id")),
    "User": (User, ("username", "is_active", "is_staff", "is_superuser")),
    "Group": (Group, ("name",)),
    "UserGroup": (User.groups.through, ("user_id", "group_id")),
    "BankStatement": (BankStatement, ("file_name", "status", "lines_new")),
    "BankTransaction": (BankTransaction, ("key", "status", "invoice_id", "payment_id", "error")),
    "CsvMapping": (CsvMapping, ("name", "delimiter", "header_row")),
    "StoredDocument": (StoredDocument, ("invoice_id", "amount_paid")),
    "BusinessProfile": (BusinessProfile, ("legal_name", "iban", "vat_id", "payment_terms_days", "logo", "updated_at")),
    "Subscription": (Subscription, ("url", "event_types", "is_active")),
}


def snapshot() -> dict[str, list[tuple]]:
    return {label: list(model.objects.order_by("pk").values_list("pk", *columns))
            for label, (model, columns) in WATCHED.items()}


@dataclass
class Case:
    id: str
    surface: str  # form / admin / service / import / template / http / job
    input: str  # what was tried, in words
    act: Callable[[Any, dict[str, Any]], Any]  # (ctx, objects from setup) → response or outcome
    expect: str  # the text the person sees
    field: str | None = None  # the form field (as posted: "items-0-unit_price") the message is shown at
    setup: Callable[[Any], dict[str, Any]] | None = None
    changes: dict[str, int] = dataclass_field(default_factory=dict)  # tables the row changes, by how many rows

    def __str__(self) -> str:
        return self.id


@dataclass
class Refused:
    """What a service, command or job said instead of doing it."""

    message: str
    field: str | None = None


def page_text(response: HttpResponse) -> str:
    body = response.content.decode(response.charset or "utf-8", errors="replace")
    return html.unescape(body)


def _forms_in(value: Any) -> list[forms.BaseForm]:
    if isinstance(value, forms.BaseForm):
        return [value]
    if isinstance(value, forms.BaseFormSet):
        return list(value.forms)
    if isinstance(value, dict):
        return [f for v in value.values() for f in _forms_in(v)]
    for attribute in ("form", "formset"):  # the admin's AdminForm and InlineAdminFormSet
        inner = getattr(value, attribute, None)
        if isinstance(inner, (forms.BaseForm, forms.BaseFormSet)):
            return _forms_in(inner)
    if isinstance(value, (list, tuple)):
        return [f for v in value for f in _forms_in(v)]
    return []


def field_errors(response: HttpResponse, name: str) -> list[str]:
    """The errors shown at the field posted as `name` (or "__all__" / "<prefix>-__all__")."""
    found: list[str] = []
    seen: set[int] = set()
    for context in response.context or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else context.values():
            for form in _forms_in(value):
                if id(form) in seen:
                    continue
                seen.add(id(form))
                for key, messages in form.errors.items():
                    posted = form.add_prefix(key) if key != "__all__" else (
                        f"{form.prefix}-__all__" if form.prefix else "__all__")
                    if name in (posted, key if not form.prefix else None):
                        found.extend(str(m) for m in messages)
    return found


CLEAR_REFUSALS = (DomainError, CommandError)


def check_case(case: Case, ctx: Any) -> None:
    objects = case.setup(ctx) if case.setup else {}
    before = snapshot()
    try:
        outcome = case.act(ctx, objects)
    except CLEAR_REFUSALS as exc:
        outcome = Refused(getattr(exc, "message", str(exc)), getattr(exc, "field", None))
    after = snapshot()

    # (a) and (b)
    if isinstance(outcome, HttpResponse):
        assert outcome.status_code != 500, f"{case}: server error"
        assert outcome.status_code < 500, f"{case}: status {outcome.status_code}"
        text = page_text(outcome)
        assert "Traceback" not in text and "Internal Server Error" not in text, f"{case}: traceback shown"
        assert case.expect in text, f"{case}: {case.expect!r} not on the page (status {outcome.status_code})"
        if case.field:
            errors = field_errors(outcome, case.field)
            assert any(case.expect in e for e in errors), f"{case}: {case.expect!r} not at {case.field}: {errors}"
    elif isinstance(outcome, Refused):
        assert case.expect in outcome.message, f"{case}: refused with {outcome.message!r}"
        if case.field:
            assert outcome.field == case.field, f"{case}: refusal at {outcome.field!r}, not {case.field!r}"
    else:
        assert isinstance(outcome, str), f"{case}: act returned {outcome!r}"
        assert case.expect in outcome, f"{case}: {case.expect!r} not in {outcome!r}"

    # (c)
    for label in WATCHED:
        if label in case.changes:
            delta = len(after[label]) - len(before[label])
            assert delta == case.changes[label], f"{case}: {label} rows changed by {delta}, not {case.changes[label]}"
        else:
            assert after[label] == before[label], f"{case}: {label} changed (half-saved)"


# --- Posting the admin's forms as a browser does ----------------------------------------------


class _FormParser(HTMLParser):
    """The values a browser would submit from the form with id `form_id` (or the first POST form)."""

    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.done = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._select_multiple = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done:
            if (self.form_id and a.get("id") == self.form_id) or (
                    not self.form_id and a.get("method", "").lower() == "post"):
                self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.setdefault(name, []).append(a.get("value", "on" if kind in ("checkbox", "radio") else ""))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
            self._select_multiple = "multiple" in a
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.data.setdefault(self._select, []).append(value)
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True
        elif tag == "select" and self._select:
            # A single select sends its first option when none is chosen; a multiple one sends nothing.
            if not self._select_chosen and self._select_first is not None and not self._select_multiple:
                self.data.setdefault(self._select, []).append(self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.setdefault(self._textarea, []).append("".join(self._text).lstrip("\n"))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def browser_form_data(client, url: str, changes: dict[str, Any] | None = None, *, form_id: str | None = None
                      ) -> dict[str, Any]:
    """GET `url` and return what its form posts, with `changes` applied (None removes a field)."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = _FormParser(form_id)
    parser.feed(response.content.decode())
    data: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in parser.data.items()}
    for key, value in (changes or {}).items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data
