"""Workflow boards: the list, one kanban board per workflow, and the forms that change them.

Every change goes through `workflows.services` and is saved at once. A refusal (DomainError) is
shown as it is: as a message after a form post, or as JSON `{"ok": false, "error": …}` with a 4xx
status for the drag-and-drop move endpoint (static/js/board.js). Every form works without JS.
"""

from __future__ import annotations

from collections import defaultdict

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import add_domain_error
from core.views import flash_service, render_fragment
from invoices.models import Contact

from . import services
from .forms import (
    CardAddForm,
    CardMoveForm,
    StepDeleteForm,
    StepMoveForm,
    StepNameForm,
    WorkflowCreateForm,
    WorkflowRenameForm,
)
from .models import Card, Step, Workflow


def _board_url(workflow_id: int, anchor: str = "") -> str:
    url = reverse("workflows:workflow-board", args=[workflow_id])
    return f"{url}#{anchor}" if anchor else url


def _form_errors(form: forms.Form) -> str:
    """A form's errors as one message, each with its field's label."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.extend(f"{label}: {error}" if label else str(error) for error in errors)
    return " ".join(parts)


def _automation_names_by_step(workflow: Workflow) -> dict[int, list[str]]:
    names: dict[int, set[str]] = defaultdict(set)
    rows = Step.objects.filter(workflow=workflow, actions__isnull=False).values_list("pk", "actions__automation__name")
    for step_id, name in rows:
        names[step_id].add(name)
    return {step_id: sorted(found) for step_id, found in names.items()}


# --- Workflows --------------------------------------------------------------------------------


def workflow_list(request: HttpRequest) -> HttpResponse:
    workflows = Workflow.objects.annotate(
        step_count=Count("steps", distinct=True), card_count=Count("cards", distinct=True)
    ).order_by("name")
    return render(request, "workflows/workflow_list.html", {"workflows": workflows})


def workflow_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = WorkflowCreateForm(request.POST)
        if form.is_valid():
            try:
                workflow = services.create_workflow(name=form.cleaned_data["name"], steps=form.cleaned_data["steps"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Workflow “%(name)s” created.") % {"name": workflow.name})
                return redirect(_board_url(workflow.pk))
    else:
        form = WorkflowCreateForm(initial={"steps": "\n".join([_("New"), _("In progress"), _("Done")])})
    return render(request, "workflows/workflow_form.html", {"form": form})


def workflow_board(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    steps = list(workflow.steps.order_by("position", "pk"))
    cards_by_step: dict[int, list[Card]] = defaultdict(list)
    for card in Card.objects.filter(workflow=workflow).select_related("contact").order_by("position", "pk"):
        cards_by_step[card.step_id].append(card)
    automations = _automation_names_by_step(workflow)
    for index, step in enumerate(steps):
        step.board_cards = cards_by_step.get(step.pk, [])
        step.automation_names = automations.get(step.pk, [])
        step.is_first = index == 0
        step.is_last = index == len(steps) - 1
    return render(request, "workflows/workflow_board.html", {
        "workflow": workflow,
        "steps": steps,
        "add_card_form": CardAddForm(workflow=workflow),
        "card_count": sum(len(cards) for cards in cards_by_step.values()),
    })


@require_POST
def workflow_rename(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    form = WorkflowRenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(workflow.pk))
    old_name = workflow.name
    flash_service(request, lambda: services.rename_workflow(workflow=workflow, name=form.cleaned_data["name"]),
                  lambda renamed: _("Workflow “%(old)s” renamed to “%(new)s”.") % {"old": old_name, "new": renamed.name})
    return redirect(_board_url(workflow.pk))


def workflow_delete(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            services.delete_workflow(workflow=workflow)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Workflow “%(name)s” deleted.") % {"name": workflow.name})
            return redirect("workflows:workflow-list")
    problems = [error] if error else services.workflow_deletion_problems(workflow=workflow)
    return render(request, "workflows/workflow_confirm_delete.html", {
        "workflow": workflow,
        "problems": problems,
        "step_count": workflow.steps.count(),
        "card_count": workflow.cards.count(),
    })


# --- Steps (columns) --------------------------------------------------------------------------


@require_POST
def step_add(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    form = StepNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(workflow.pk))
    _ok, step = flash_service(request, lambda: services.add_step(workflow=workflow, name=form.cleaned_data["name"]),
                             lambda added: _("Column “%(name)s” added.") % {"name": added.name})
    return redirect(_board_url(workflow.pk, f"step-{step.pk}" if step is not None else ""))


@require_POST
def step_rename(request: HttpRequest, pk: int) -> HttpResponse:
    step = get_object_or_404(Step, pk=pk)
    form = StepNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(step.workflow_id, f"step-{step.pk}"))
    old_name = step.name
    flash_service(request, lambda: services.rename_step(step=step, name=form.cleaned_data["name"]),
                  lambda renamed: _("Column “%(old)s” renamed to “%(new)s”.") % {"old": old_name, "new": renamed.name})
    return redirect(_board_url(step.workflow_id, f"step-{step.pk}"))


@require_POST
def step_move(request: HttpRequest, pk: int) -> HttpResponse:
    """One place to the left or right (the keyboard way to reorder columns)."""
    step = get_object_or_404(Step.objects.select_related("workflow"), pk=pk)
    form = StepMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(step.workflow_id))
    order = list(
        Step.objects.filter(workflow_id=step.workflow_id).order_by("position", "pk").values_list("pk", flat=True)
    )
    index = order.index(step.pk)
    other = index - 1 if form.cleaned_data["direction"] == "left" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        try:
            services.reorder_steps(workflow=step.workflow, step_ids=order)
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect(_board_url(step.workflow_id, f"step-{step.pk}"))


def step_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks first; a column holding cards asks where they go; a column that an automation moves
    cards to is refused with the automation's name (services.step_deletion_problems)."""
    step = get_object_or_404(Step.objects.select_related("workflow"), pk=pk)
    card_count = step.cards.count()
    form = StepDeleteForm(request.POST if request.method == "POST" else None, step=step, needs_target=card_count > 0)
    targets = list(form.fields["move_cards_to"].queryset)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_step(step=step, move_cards_to=form.cleaned_data["move_cards_to"] if card_count else None)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Column “%(name)s” deleted.") % {"name": step.name})
            return redirect(_board_url(step.workflow_id))
    # With a valid target in hand only what really blocks the deletion is left (an automation,
    # or cards with nowhere to go).
    problems = [error] if error else services.step_deletion_problems(
        step=step, move_cards_to=targets[0] if card_count and targets else None
    )
    return render(request, "workflows/step_confirm_delete.html", {
        "step": step,
        "workflow": step.workflow,
        "form": form,
        "card_count": card_count,
        "problems": problems,
    })


# --- Cards ------------------------------------------------------------------------------------


@require_POST
def card_add(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = get_object_or_404(Workflow, pk=pk)
    form = CardAddForm(request.POST, workflow=workflow)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_board_url(workflow.pk))
    _ok, card = flash_service(
        request, lambda: services.place_card(contact=form.cleaned_data["contact"], step=form.cleaned_data["step"]),
        lambda placed: _("Card for %(contact)s added to “%(step)s”.") % {
            "contact": placed.contact.name, "step": placed.step.name})
    return redirect(_board_url(workflow.pk, f"card-{card.pk}" if card is not None else ""))


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _column_orders(step_ids: set[int]) -> dict[str, list[int]]:
    orders: dict[str, list[int]] = {str(pk): [] for pk in step_ids}
    cards = Card.objects.filter(step_id__in=step_ids).order_by("position", "pk").values_list("pk", "step_id")
    for card_id, step_id in cards:
        orders[str(step_id)].append(card_id)
    return orders


@require_POST
def card_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a card to a column (`step`: its id) at `position` (0 = top; empty = at the end).

    Used by drag and drop (Accept: application/json → JSON answer, 4xx with `error` on refusal)
    and by the "Move to…" form on every card (→ back to the board, with a message)."""
    as_json = _wants_json(request)

    def refuse(message: str, status: int, workflow_id: int | None) -> HttpResponse:
        if as_json:
            return JsonResponse({"ok": False, "error": message}, status=status)
        if workflow_id is None:
            raise Http404(message)
        messages.error(request, message)
        return redirect(_board_url(workflow_id, f"card-{pk}"))

    card = Card.objects.select_related("contact", "workflow", "step").filter(pk=pk).first()
    if card is None:
        return refuse(_("The card has been deleted."), 404, None)
    form = CardMoveForm(request.POST)
    if not form.is_valid():
        return refuse(_form_errors(form), 400, card.workflow_id)
    step = Step.objects.filter(pk=form.cleaned_data["step"]).first()
    if step is None:
        return refuse(_("The column has been deleted. Reload the page to see the board as it is now."), 400,
                      card.workflow_id)
    source_step_id = card.step_id
    try:
        services.move_card(card=card, step=step, position=form.cleaned_data["position"])
    except DomainError as exc:
        return refuse(exc.message, 400, card.workflow_id)
    if as_json:
        return JsonResponse({"ok": True, "card": card.pk, "step": card.step_id, "position": card.position,
                             "columns": _column_orders({source_step_id, card.step_id})})
    if source_step_id != card.step_id:
        messages.success(request, _("Card of %(contact)s moved to “%(step)s”.") % {
            "contact": card.contact.name, "step": step.name})
    return redirect(_board_url(card.workflow_id, f"card-{card.pk}"))


@require_POST
def card_remove(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.select_related("contact", "workflow"), pk=pk)
    services.remove_card(card=card)
    messages.success(request, _("Card of %(contact)s removed from the board.") % {"contact": card.contact.name})
    return redirect(_board_url(card.workflow_id))


def contact_cards(request: HttpRequest, pk: int) -> HttpResponse:
    """The boards a contact has a card on and its column there, for the contact's page."""
    contact = get_object_or_404(Contact, pk=pk)
    cards = contact.cards.select_related("workflow", "step").order_by("workflow__name")
    return render_fragment(
        request, "workflows/_contact_cards.html", {"contact": contact, "cards": cards},
        title=_("Workflows of %(name)s") % {"name": contact.name},
        back_url=reverse("invoices:contact-detail", args=[contact.pk]), back_label=_("Back to the contact"),
    )
