"""Ready-made automations to start the builder from (the chooser's "or start from a template").

A template only fills the builder in: the person still goes through every step, can change
anything, and saves with Activate as usual. Its texts are translated into the language of the
person who picks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from workflows.models import Step

from .models import ActionKind
from .triggers import Frequency, Trigger


@dataclass(frozen=True)
class AutomationTemplate:
    slug: str
    title: Any  # lazy text
    description: Any
    icon: str
    build: Callable[[], dict[str, Any]]  # → {"name", "trigger", "frequency", "actions": [form values]}


def _overdue_reminder() -> dict[str, Any]:
    return {
        "name": _("Overdue reminder email"),
        "trigger": Trigger.INVOICE_OVERDUE,
        "frequency": Frequency.ONCE_PER_CONTACT_24H,
        "actions": [{
            "kind": ActionKind.SEND_EMAIL,
            "subject": _("Reminder: invoice {{ invoice.number }} is overdue"),
            "body": _(
                "Hello {{ contact.first_name }},\n\n"
                "our invoice {{ invoice.number }} of {{ invoice.issue_date }} was due on {{ invoice.due_date }}. "
                "{{ invoice.amount_due }} is still open.\n\n"
                "You can view the invoice here: {{ invoice.link }}\n\n"
                "If you have already paid, please ignore this email.\n\n"
                "Kind regards\n{{ business.name }}"
            ),
            "sender_name": "",
            "reply_to": "",
        }],
    }


def _thank_you() -> dict[str, Any]:
    return {
        "name": _("Thank-you email on payment"),
        "trigger": Trigger.INVOICE_PAID,
        "frequency": Frequency.UNLIMITED,
        "actions": [{
            "kind": ActionKind.SEND_EMAIL,
            "subject": _("Thank you for your payment of invoice {{ invoice.number }}"),
            "body": _(
                "Hello {{ contact.first_name }},\n\n"
                "thank you: we have received {{ invoice.amount_paid }} for invoice {{ invoice.number }}.\n\n"
                "Kind regards\n{{ business.name }}"
            ),
            "sender_name": "",
            "reply_to": "",
        }],
    }


def _overdue_task() -> dict[str, Any]:
    return {
        "name": _("Follow-up task when overdue"),
        "trigger": Trigger.INVOICE_OVERDUE,
        "frequency": Frequency.UNLIMITED,
        "actions": [{
            "kind": ActionKind.CREATE_TASK,
            "title": _("Call {{ contact.name }} about invoice {{ invoice.number }}"),
            "description": _("{{ invoice.amount_due }} has been open since {{ invoice.due_date }}."),
            "due_in_days": 2,
            "assignee": None,
        }],
    }


def paid_step() -> Step | None:
    """The workflow step named "Paid" (in the person's language or in English), if there is one."""
    names = {_("Paid"), "Paid"}
    return (Step.objects.select_related("workflow").filter(name__in=names)
            .order_by("workflow__name", "position", "pk").first())


def _paid_move_card() -> dict[str, Any]:
    step = paid_step()
    return {
        "name": _("Move card to “Paid” when paid"),
        "trigger": Trigger.INVOICE_PAID,
        "frequency": Frequency.UNLIMITED,
        "actions": [{
            "kind": ActionKind.MOVE_CARD,
            "workflow": step.workflow_id if step else None,
            "step": step.pk if step else None,
        }],
    }


def _welcome_recurring() -> dict[str, Any]:
    return {
        "name": _("Welcome email when a recurring payment starts"),
        "trigger": Trigger.RECURRING_STARTED,
        "frequency": Frequency.UNLIMITED,
        "actions": [{
            "kind": ActionKind.SEND_EMAIL,
            "subject": _("Your recurring payment has started"),
            "body": _(
                "Hello {{ contact.first_name }},\n\n"
                "your recurring payment “{{ recurring.description }}” of {{ recurring.amount }} "
                "({{ recurring.interval }}) has started. The next payment is due on {{ recurring.next_date }}.\n\n"
                "Kind regards\n{{ business.name }}"
            ),
            "sender_name": "",
            "reply_to": "",
        }],
    }


# --- Reminder schedules (trigger invoice_due) ----------------------------------------------------
#
# Each email has its English and its German text: the same message, rendered in both languages
# (the German one from the translation catalogue), whatever the language of the person who picks it.


def _email(subject: str, body: str, *, digest: bool = False) -> dict[str, Any]:
    texts: dict[str, Any] = {"kind": ActionKind.SEND_EMAIL, "sender_name": "", "reply_to": "", "digest": digest}
    with translation.override("en"):
        texts.update(subject=_(subject), body=_(body))
    with translation.override("de"):
        texts.update(subject_de=_(subject), body_de=_(body))
    return texts


FRIENDLY_SUBJECT = gettext_noop("Friendly reminder: invoice {{ invoice.number }}")
FRIENDLY_BODY = gettext_noop(
    "Hello {{ contact.first_name }},\n\n"
    "perhaps it slipped through: our invoice {{ invoice.number }} of {{ invoice.issue_date }} was due on "
    "{{ invoice.due_date }}, and {{ invoice.amount_due }} is still open.\n\n"
    "You can view the invoice here: {{ invoice.link }}\n\n"
    "If you have paid in the meantime, please ignore this email.\n\n"
    "Kind regards\n{{ business.name }}")
SOON_SUBJECT = gettext_noop("Invoice {{ invoice.number }} is due on {{ invoice.due_date }}")
SOON_BODY = gettext_noop(
    "Hello {{ contact.first_name }},\n\n"
    "a short note: our invoice {{ invoice.number }} over {{ invoice.amount_due }} is due on {{ invoice.due_date }}.\n\n"
    "You can view the invoice here: {{ invoice.link }}\n\n"
    "Kind regards\n{{ business.name }}")
FIRST_SUBJECT = gettext_noop("First reminder: invoice {{ invoice.number }}")
FIRST_BODY = gettext_noop(
    "Hello {{ contact.first_name }},\n\n"
    "we have not yet received your payment for invoice {{ invoice.number }} of {{ invoice.issue_date }}, due on "
    "{{ invoice.due_date }}. {{ invoice.amount_due }} is still open. For this reminder we charge a fee of 5.00 EUR, "
    "which you receive as a separate invoice.\n\n"
    "Please pay within 7 days: {{ invoice.link }}\n\n"
    "Kind regards\n{{ business.name }}")
SECOND_SUBJECT = gettext_noop("Second reminder: invoice {{ invoice.number }}")
SECOND_BODY = gettext_noop(
    "Hello {{ contact.first_name }},\n\n"
    "despite our reminder, invoice {{ invoice.number }} (due on {{ invoice.due_date }}) is still unpaid: "
    "{{ invoice.amount_due }} is open. From now on we charge default interest as provided by law "
    "(§ 288 BGB), which you receive as a separate invoice.\n\n"
    "Please pay within 7 days: {{ invoice.link }}\n\n"
    "Kind regards\n{{ business.name }}")


def _friendly_schedule() -> dict[str, Any]:
    return {
        "name": _("Friendly payment reminder"),
        "trigger": Trigger.INVOICE_DUE,
        "frequency": Frequency.UNLIMITED,
        "steps": [{"name": _("Friendly reminder"), "days": 3, "repeat_every_days": 7, "repeat_times": 2,
                   "actions": [_email(FRIENDLY_SUBJECT, FRIENDLY_BODY)]}],
        "conditions": [],
    }


def _mahnwesen() -> dict[str, Any]:
    return {
        "name": _("Dunning in three levels"),
        "trigger": Trigger.INVOICE_DUE,
        "frequency": Frequency.UNLIMITED,
        "steps": [
            {"name": _("Friendly reminder"), "days": 3, "actions": [_email(FRIENDLY_SUBJECT, FRIENDLY_BODY)]},
            {"name": _("1st reminder"), "days": 14, "actions": [
                _email(FIRST_SUBJECT, FIRST_BODY), {"kind": ActionKind.CHARGE_FEE, "fee": Decimal("5.00")}]},
            {"name": _("2nd reminder"), "days": 28, "actions": [
                _email(SECOND_SUBJECT, SECOND_BODY), {"kind": ActionKind.CHARGE_INTEREST}]},
        ],
        # The fee is in euros and § 288 BGB is German law.
        "conditions": [{"field": "currency", "value": ["EUR"]}],
    }


def _due_soon() -> dict[str, Any]:
    return {
        "name": _("Payment due in 3 days"),
        "trigger": Trigger.INVOICE_DUE,
        "frequency": Frequency.UNLIMITED,
        "steps": [{"name": _("Due in 3 days"), "days": -3, "actions": [_email(SOON_SUBJECT, SOON_BODY)]}],
        "conditions": [],
    }


TEMPLATES: dict[str, AutomationTemplate] = {t.slug: t for t in (
    AutomationTemplate(
        "overdue-reminder", gettext_lazy("Overdue reminder email"),
        gettext_lazy("Remind the customer by email when an invoice becomes overdue."), "bi-envelope-exclamation",
        _overdue_reminder,
    ),
    AutomationTemplate(
        "thank-you", gettext_lazy("Thank-you email on payment"),
        gettext_lazy("Thank the customer by email when an invoice is paid."), "bi-envelope-heart", _thank_you,
    ),
    AutomationTemplate(
        "overdue-task", gettext_lazy("Follow-up task when overdue"),
        gettext_lazy("Create a task for your team to call the customer when an invoice is overdue."),
        "bi-telephone", _overdue_task,
    ),
    AutomationTemplate(
        "paid-move-card", gettext_lazy("Move card to “Paid” when paid"),
        gettext_lazy("Move the customer's card on a workflow board to the step “Paid” when an invoice is paid."),
        "bi-kanban", _paid_move_card,
    ),
    AutomationTemplate(
        "welcome-recurring", gettext_lazy("Welcome email when a recurring payment starts"),
        gettext_lazy("Tell the customer that their recurring payment has started."), "bi-arrow-repeat",
        _welcome_recurring,
    ),
    AutomationTemplate(
        "friendly-reminder", gettext_lazy("Friendly payment reminder"),
        gettext_lazy("A friendly email 3 days after the due date, repeated weekly (at most twice) until paid."),
        "bi-bell", _friendly_schedule,
    ),
    AutomationTemplate(
        "mahnwesen", gettext_lazy("Dunning in three levels"),
        gettext_lazy("The German Mahnwesen: friendly reminder at +3 days, 1st reminder with a 5.00 EUR fee at +14, "
                     "2nd reminder with default interest at +28; English and German texts."),
        "bi-bar-chart-steps", _mahnwesen,
    ),
    AutomationTemplate(
        "due-in-3-days", gettext_lazy("Payment due in 3 days"),
        gettext_lazy("Tell the customer 3 days before the due date that the invoice is due soon."),
        "bi-calendar-event", _due_soon,
    ),
)}
