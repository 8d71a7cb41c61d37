"""The automations pages: the list, the chooser, the builder (automations.wizard), the detail page
with its runs, the switch, delete, retry, send test, the email preview, export and import.

Every change goes through automations.services (or automations.portable); a refusal of theirs
(`DomainError`) is shown as a message, never as a server error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any

from django.contrib import messages
from django.core.mail import get_connection
from django.db.models import Count, Max, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.submissions import save_once
from core import placeholders
from core.dates import business_today
from core.errors import DomainError
from core.forms import SubmitOnceMixin
from core.views import flash_service, paginate, render_fragment, safe_next
from invoices import services as invoice_services
from invoices.models import Contact, Invoice
from invoices.public import public_url

from . import conditions, delivery, portable, reminders, services
from .mailer import build_message
from .forms import KIND_ICONS, ImportForm, PauseForm, SendTestForm, invoice_choices_queryset
from .models import Action, ActionKind, Automation, InvoiceEmail, Run, RunAction, RunStatus
from .presets import TEMPLATES
from .timeline import invoice_timeline as build_timeline
from .triggers import FREQUENCY_HELP, SCHEDULE_TRIGGERS
from .wizard import AutomationWizard, action_summary, start_wizard, wizard_url

RUNS_PER_PAGE = 25

wizard = AutomationWizard.as_view()


def _actions_prefetch() -> Prefetch:
    return Prefetch("actions", queryset=Action.objects.select_related("assignee", "step__workflow")
                    .order_by("position", "pk"))


# --- List and chooser --------------------------------------------------------------------------


def automation_list(request: HttpRequest) -> HttpResponse:
    automations = (
        Automation.objects.annotate(run_count=Count("runs"), last_run_at=Max("runs__created_at"))
        .prefetch_related(Prefetch("actions", queryset=Action.objects.order_by("position", "pk")))
        .order_by("name", "pk")
    )
    return render(request, "automations/automation_list.html", {
        "automations": automations, "kind_icons": KIND_ICONS,
    })


def automation_new(request: HttpRequest) -> HttpResponse:
    return render(request, "automations/automation_new.html", {"templates": TEMPLATES.values()})


def automation_custom(request: HttpRequest) -> HttpResponse:
    return redirect(wizard_url(start_wizard(request, source="custom")))


def automation_from_template(request: HttpRequest, slug: str) -> HttpResponse:
    template = TEMPLATES.get(slug)
    if template is None:
        raise Http404(_("There is no such template."))
    return redirect(wizard_url(start_wizard(request, template.build(), source=slug)))


def automation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    automation = get_object_or_404(Automation, pk=pk)
    try:
        wid = start_wizard(request, automation=automation, source="edit")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("automations:automation-detail", pk=automation.pk)
    return redirect(wizard_url(wid))


# --- Detail ------------------------------------------------------------------------------------


def schedule_summary(automation: Automation, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A reminder schedule's steps in words, each with its actions (from `actions`: the detail page's)."""
    steps = list(automation.reminder_steps.order_by("position"))
    by_step: dict[int, list[dict[str, Any]]] = {}
    for item in actions:
        by_step.setdefault(item["action"].reminder_step_id, []).append(
            {"label": item["action"].get_kind_display(), "icon": item["icon"], "lines": item["lines"]})
    return [{"line": line, "actions": by_step.get(step.pk, [])}
            for line, step in zip(reminders.steps_summary(steps), steps)]



def automation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    automation = get_object_or_404(Automation.objects.prefetch_related(_actions_prefetch()), pk=pk)
    runs = (
        Run.objects.filter(automation=automation)
        .select_related("contact", "event__invoice", "event__recurring")
        .prefetch_related(Prefetch("results", queryset=RunAction.objects.select_related("task", "step__workflow")
                                   .order_by("position")))
        .order_by("-created_at", "-pk")
    )
    page = paginate(request, runs, per_page=RUNS_PER_PAGE)
    actions = [{"action": action, "icon": KIND_ICONS.get(action.kind, "bi-lightning"),
                "lines": action_summary(action)} for action in automation.actions.all()]
    schedule = None
    if automation.trigger in SCHEDULE_TRIGGERS:
        schedule = schedule_summary(automation, actions)
    return render(request, "automations/automation_detail.html", {
        "automation": automation, "actions": actions, "page": page, "runs": page.object_list,
        "schedule": schedule,
        "conditions_text": conditions.describe(automation.conditions) if schedule is not None else "",
        "frequency_help": FREQUENCY_HELP.get(automation.frequency, ""),
        "test_form": SendTestForm(), "RunStatus": RunStatus,
    })


@require_POST
def automation_switch(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch on or off. A reminder schedule switched on first asks whether the invoices already
    overdue enter it (`backlog=all`) or only new ones (`backlog=new`), with their count."""
    automation = get_object_or_404(Automation, pk=pk)
    active = request.POST.get("active") in ("1", "on", "true")
    backlog = request.POST.get("backlog")
    next_url = safe_next(request, reverse("automations:automation-detail", args=[automation.pk]))
    if active and automation.trigger in SCHEDULE_TRIGGERS and not automation.is_active and backlog not in ("new", "all"):
        return render(request, "automations/automation_switch_on.html", {
            "automation": automation, "count": reminders.backlog(automation), "next": next_url,
            "form": SubmitOnceMixin()})
    message = _("“%(name)s” is switched on.") if active else _("“%(name)s” is switched off.")
    flash_service(request, lambda: services.set_automation_active(
        automation=automation, active=active, include_backlog=backlog == "all", by=request.user),
        message % {"name": automation.name})
    return redirect(next_url)


@require_http_methods(["GET", "POST"])
def automation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    automation = get_object_or_404(Automation.objects.annotate(run_count=Count("runs")), pk=pk)
    if request.method == "POST":
        flash_service(request, lambda: services.delete_automation(automation=automation, by=request.user),
                      _("“%(name)s” was deleted.") % {"name": automation.name})
        return redirect("automations:automation-list")
    return render(request, "automations/automation_confirm_delete.html", {"automation": automation})


@require_POST
def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("automation"), pk=pk)
    default = reverse("automations:automation-detail", args=[run.automation_id]) + "#runs"
    try:
        run = services.retry_run(run=run, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if run.status == RunStatus.SUCCEEDED:
            messages.success(request, _("The run was tried again and succeeded."))
        elif run.status == RunStatus.FAILED:
            messages.error(request, _("The run was tried again and failed again: %(error)s") % {"error": run.error})
        else:
            messages.success(request, _("The run will be tried again in a moment."))
    return redirect(safe_next(request, default))


# --- Reminder schedules: the forecast, "why (not)", pausing (Mahnstopp) ------------------------

FORECAST_DAYS = 30
FORECAST_PER_PAGE = 50


def reminder_forecast(request: HttpRequest) -> HttpResponse:
    """What the reminder schedules will send in the next 30 days (if nothing is paid or paused
    meanwhile): automation, step, customer, invoice, when; `reminders.forecast` paginated in the
    database (`forecast_pages`: only the page's items are built)."""
    schedules = Automation.objects.filter(trigger__in=SCHEDULE_TRIGGERS).order_by("name", "pk")
    automation = None
    chosen = request.GET.get("automation", "")
    if chosen.isdigit():
        automation = schedules.filter(pk=int(chosen)).first()
    items = reminders.forecast_pages(days=FORECAST_DAYS, automation=automation)
    # The page asked for comes with the count, in one query (past the end: the last page, fetched apart).
    number = request.GET.get("page", "")
    wanted = int(number) if number.isdigit() and int(number) > 0 else 1  # (0: the last page, fetched apart)
    items.expect((wanted - 1) * FORECAST_PER_PAGE, wanted * FORECAST_PER_PAGE)
    page = paginate(request, items, per_page=FORECAST_PER_PAGE)  # type: ignore[arg-type]
    return render(request, "automations/reminder_forecast.html", {
        "page": page, "items": page.object_list, "schedules": schedules, "automation": automation,
        "days": FORECAST_DAYS, "inactive": schedules.filter(is_active=False).count(),
    })


def _pause_context(target) -> dict[str, Any]:
    today = business_today()
    # Its own pause (an invoice's page says the contact's apart).
    paused = target.reminders_paused and (target.reminders_paused_until is None or target.reminders_paused_until >= today)
    return {"target": target, "paused": paused, "today": today, "pause_form": PauseForm()}


def invoice_reminders(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice page's "Payment reminders" card: for each reminder schedule what was sent and what
    comes next, or why nothing will (`reminders.explain`), and the invoice's pause (Mahnstopp)."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    return render_fragment(
        request, "automations/_invoice_reminders.html",
        {"invoice": invoice, "explanations": reminders.explain(invoice), **_pause_context(invoice),
         "contact_paused": invoice.contact.reminders_paused_on(business_today()),
         "pause_url": reverse("automations:invoice-reminders-pause", args=[invoice.pk]),
         "resume_url": reverse("automations:invoice-reminders-resume", args=[invoice.pk])},
        title=_("Payment reminders of invoice %(number)s") % {"number": invoice.number},
        back_url=reverse("invoices:invoice-detail", args=[invoice.pk]), back_label=_("Back to the invoice"),
    )


def contact_reminders(request: HttpRequest, pk: int) -> HttpResponse:
    """The contact page's "Payment reminders" card: the contact's pause (Mahnstopp)."""
    contact = get_object_or_404(Contact, pk=pk)
    return render_fragment(
        request, "automations/_contact_reminders.html",
        {"contact": contact, **_pause_context(contact),
         "pause_url": reverse("automations:contact-reminders-pause", args=[contact.pk]),
         "resume_url": reverse("automations:contact-reminders-resume", args=[contact.pk])},
        title=_("Payment reminders for %(contact)s") % {"contact": contact.name},
        back_url=reverse("invoices:contact-detail", args=[contact.pk]), back_label=_("Back to the contact"),
    )


def _pause(request: HttpRequest, target, back: str) -> HttpResponse:
    form = PauseForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    flash_service(request, lambda: invoice_services.pause_reminders(
        target=target, reason=form.cleaned_data["reason"], until=form.cleaned_data["until"], by=request.user),
        _("Payment reminders are paused."))
    return redirect(back)


def _resume(request: HttpRequest, target, back: str) -> HttpResponse:
    flash_service(request, lambda: invoice_services.resume_reminders(target=target, by=request.user),
                  _("Payment reminders are resumed."))
    return redirect(back)


@require_POST
def invoice_reminders_pause(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    return _pause(request, invoice, reverse("invoices:invoice-detail", args=[invoice.pk]) + "#reminders")


@require_POST
def invoice_reminders_resume(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    return _resume(request, invoice, reverse("invoices:invoice-detail", args=[invoice.pk]) + "#reminders")


@require_POST
def contact_reminders_pause(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    return _pause(request, contact, reverse("invoices:contact-detail", args=[contact.pk]) + "#reminders")


@require_POST
def contact_reminders_resume(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    return _resume(request, contact, reverse("invoices:contact-detail", args=[contact.pk]) + "#reminders")


# --- An invoice's timeline (a fragment of the invoice page) -----------------------------------


def invoice_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    return render_fragment(
        request, "automations/_invoice_timeline.html", {"invoice": invoice, "timeline": build_timeline(invoice)},
        title=_("Timeline of invoice %(number)s") % {"number": invoice.number},
        back_url=reverse("invoices:invoice-detail", args=[invoice.pk]), back_label=_("Back to the invoice"),
    )


# --- An invoice's emails (the invoice page links here by URL name) ----------------------------


def invoice_email_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What the invoice's email will be (recipient, sender, subject, attachments): a fragment of the
    invoice's send page. Nothing is rendered or sent."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    return render_fragment(
        request, "automations/_invoice_email_card.html", {"invoice": invoice, "preview": delivery.preview(invoice)},
        title=_("Email of invoice %(number)s") % {"number": invoice.number},
        back_url=reverse("invoices:invoice-send", args=[invoice.pk]), back_label=_("Back"),
    )


@require_http_methods(["GET", "POST"])
def invoice_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """GET shows the email that would go out again; POST sends it (once per form, see save_once)."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    detail = reverse("invoices:invoice-detail", args=[invoice.pk])
    if request.method == "POST":
        def resend() -> str:
            email = services.resend_invoice_email(invoice=invoice, by=request.user)
            messages.success(request, _("Invoice %(number)s will be emailed to %(to)s again in a moment.") % {
                "number": invoice.number, "to": email.email_to})
            return detail + "#timeline"

        try:
            url, first = save_once(request, resend)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(detail)
        if not first:
            messages.warning(request, _("This email has already been sent again."))
        return redirect(url)
    problems = []
    if invoice.status not in services.RESENDABLE:
        problems.append(_("Invoice %(number)s cannot be emailed again: it is %(status)s.") % {
            "number": invoice.number, "status": invoice.get_status_display()})
    elif not (invoice.contact.email or "").strip():
        problems.append(_("%(contact)s has no email address; add one to the contact first.") % {
            "contact": invoice.contact.name})
    return render(request, "automations/invoice_resend.html", {
        "invoice": invoice, "preview": delivery.preview(invoice), "problems": problems, "form": SubmitOnceMixin(),
    })


@require_POST
def invoice_email_retry(request: HttpRequest, pk: int) -> HttpResponse:
    email = get_object_or_404(InvoiceEmail, pk=pk)
    flash_service(request, lambda: services.retry_invoice_email(email=email, by=request.user),
                  _("The email to %(to)s will be tried again in a moment.") % {"to": email.email_to})
    return redirect(reverse("invoices:invoice-detail", args=[email.invoice_id]) + "#timeline")


# --- Send test ---------------------------------------------------------------------------------


def _invoice_context(invoice: Invoice, language: str | None = None) -> dict[str, str]:
    contact = invoice.contact
    return placeholders.context_for(
        contact=contact, invoice=invoice, plan=invoice.recurring, today=business_today(),
        link=public_url(invoice), language=language or contact.language,
    )


def send_test(*, automation: Automation, invoice: Invoice, user) -> list[dict[str, Any]]:
    """Carry the automation's actions out for `invoice` as a test: no Run, no frequency limit, the
    email only to `user`, no task created and no card moved (what they would do is described).
    Returns one result per action: {"label", "icon", "status" (done/skipped/failed), "text"}."""
    contact = invoice.contact
    context = _invoice_context(invoice)
    token = secrets.token_hex(6)
    results = []
    for action in automation.actions.select_related("assignee", "step__workflow").order_by("position", "pk"):
        result = {"label": action.get_kind_display(), "icon": KIND_ICONS.get(action.kind, "bi-lightning")}
        if action.kind == ActionKind.SEND_EMAIL:
            to = (user.email or "").strip()
            if not to:
                result.update(status="skipped", text=_(
                    "No test email was sent: your user account has no email address. Add one to your account "
                    "to receive test emails."))
            else:
                message = build_message(action=action, contact=contact, context=context, language=contact.language,
                                        run_id=None, key=f"test-{automation.pk}-{action.position}-{token}", to=to)
                message.subject = _("[Test] %(subject)s") % {"subject": message.subject}
                message.tags = ["automation-test"]
                try:
                    get_connection(fail_silently=False).send_messages([message])
                except Exception as exc:  # any backend error is shown, never a server error
                    result.update(status="failed", text=_("The test email could not be sent: %(error)s") % {
                        "error": exc})
                else:
                    result.update(status="done", subject=message.subject, text=_(
                        "Test email sent to you (%(to)s), not to the customer.") % {"to": to})
        elif action.kind == ActionKind.CREATE_TASK:
            title = placeholders.single_line(placeholders.render_text(action.title, context))
            if action.due_in_days is not None:
                due = business_today() + dt.timedelta(days=action.due_in_days)
                due_text = _("due %(date)s") % {"date": formats.date_format(due, "SHORT_DATE_FORMAT")}
            else:
                due_text = _("no due date")
            who = action.assignee.get_username() if action.assignee else _("the whole team")
            result.update(status="skipped", text=_(
                "No task is created in a test. The task would be “%(title)s” (%(due)s), for %(who)s.") % {
                "title": title, "due": due_text, "who": who})
        elif action.kind == ActionKind.MOVE_CARD:
            result.update(status="skipped", text=_(
                "No card is moved in a test. The card of %(contact)s on “%(workflow)s” would move to “%(step)s”.") % {
                "contact": contact.name, "workflow": action.step.workflow.name, "step": action.step.name})
        else:  # a reminder fee or default interest
            result.update(status="skipped", text=_("Nothing is charged in a test."))
        results.append(result)
    return results


@require_http_methods(["GET", "POST"])
def automation_test(request: HttpRequest, pk: int) -> HttpResponse:
    automation = get_object_or_404(Automation, pk=pk)
    results = None
    invoice = None
    if request.method == "POST":
        form = SendTestForm(request.POST)
        if form.is_valid():
            invoice = form.cleaned_data["invoice"]
            results = send_test(automation=automation, invoice=invoice, user=request.user)
    else:
        form = SendTestForm(initial={"invoice": request.GET.get("invoice")})
    return render(request, "automations/automation_test.html", {
        "automation": automation, "form": form, "results": results, "invoice": invoice,
    })


# --- Email preview ----------------------------------------------------------------------------

_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@require_http_methods(["GET", "POST"])
def email_preview(request: HttpRequest) -> HttpResponse:
    """The email of a send_email action as the customer of a real invoice would get it: subject,
    text and HTML, or the errors that keep it from being saved. Reads the action's fields under
    `prefix` (e.g. "actions-0-subject"), as the builder's form posts them. With `lang=de`, the
    German text (subject_de, body_de) as a German-speaking customer would get it."""
    data = request.POST if request.method == "POST" else request.GET
    prefix = data.get("prefix", "")
    prefix = prefix if _PREFIX.match(prefix) else ""

    def value(name: str) -> str:
        return data.get(f"{prefix}-{name}" if prefix else name, "")

    german = data.get("lang") == "de"
    if german and (value("subject_de") or value("body_de")):
        # The German text on its own: the English one is previewed (and checked) beside it.
        action, errors = services.build_action({
            "kind": "send_email", "subject": value("subject_de"), "body": value("body_de"),
            "subject_de": value("subject_de"), "body_de": value("body_de"),
            "sender_name": value("sender_name"), "reply_to": value("reply_to"),
        })
        errors = {{"subject": "subject_de", "body": "body_de"}.get(field, field): m for field, m in errors.items()}
    else:
        action, errors = services.build_action({
            "kind": "send_email", "subject": value("subject"), "body": value("body"),
            "sender_name": value("sender_name"), "reply_to": value("reply_to"),
        })
    invoices = invoice_choices_queryset().select_related("recurring")
    invoice_id = value("preview_invoice") or data.get("invoice", "")
    invoice = invoices.filter(pk=int(invoice_id)).first() if str(invoice_id).isdigit() else None
    if invoice is None:
        invoice = invoices.first()
    labels = {"subject": _("Subject"), "body": _("Message"), "sender_name": _("Sender name"),
              "reply_to": _("Reply-to address"), "subject_de": _("Subject (German)"), "body_de": _("Message (German)")}
    error_list = [(labels.get(field, ""), messages_) for field, messages_ in errors.items()]
    email = None
    if not errors and invoice is not None:
        contact = invoice.contact
        language = "de" if german else contact.language
        message = build_message(action=action, contact=contact, context=_invoice_context(invoice, language),
                                language=language, run_id=None, key="preview", to=contact.email or "")
        email = {
            "from": message.from_email, "to": contact.email, "reply_to": ", ".join(message.reply_to),
            "subject": message.subject, "text": message.body,
            # render_html escaped the author's text and every value (core.placeholders).
            "html": mark_safe(message.alternatives[0][0]),
        }
    template = "automations/_preview.html" if request.headers.get("HX-Request") else "automations/preview.html"
    return render(request, template, {"errors": error_list, "email": email, "invoice": invoice, "german": german})


# --- Export and import ------------------------------------------------------------------------


def automation_export(request: HttpRequest) -> HttpResponse:
    data = portable.export_automations()
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                            content_type="application/json; charset=utf-8")
    filename = f"automations-{timezone.localdate().isoformat()}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
def automation_import(request: HttpRequest) -> HttpResponse:
    problems: list[str] = []
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                data = json.loads(upload.read().decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                # Saved as Latin-1 or Windows-1252 by an editor: say so, not the decoder's words.
                problems = [_("%(file)s is not UTF-8 text (byte %(position)d).") % {
                    "file": upload.name, "position": exc.start + 1}]
            except (ValueError, RecursionError) as exc:
                problems = [_("The file is not valid JSON (%(error)s). Nothing was imported.") % {"error": exc}]
            else:
                try:
                    saved = portable.import_automations(data, replace=form.cleaned_data["replace"], by=request.user)
                except portable.ImportInvalid as exc:
                    problems = exc.problems
                except DomainError as exc:
                    problems = [exc.message]
                else:
                    messages.success(request, ngettext(
                        "%(count)d automation imported.", "%(count)d automations imported.", len(saved)) % {
                        "count": len(saved)})
                    return redirect("automations:automation-list")
    else:
        form = ImportForm()
    return render(request, "automations/automation_import.html", {"form": form, "problems": problems})
