"""Every change to workflow boards: workflows, their steps (columns) and the contacts' cards.

Keyword-only, one transaction each. Every change to a board first locks its Workflow row, so the
changes to one board happen one after the other: step positions stay 0..n-1, card positions in
each column stay 0..n-1, and two calls that place the same contact at once end with one card (the
unique constraint on (workflow, contact) backs this up if a caller ever skips the lock).
A change the rules do not allow raises `DomainError` with a message for the person who tried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import DomainError, validate_value
from core.fields import model_field

from .models import Card, Step, Workflow


# --- Names and positions ----------------------------------------------------------------------


def _clean_name(value: Any, *, model: type[models.Model], field: str = "name") -> str:
    """One line of text, whitespace collapsed, not empty; the field's own validators do the rest."""
    label = model_field(model, field).verbose_name
    if not isinstance(value, str):
        raise DomainError(_("The %(field)s must be text.") % {"field": label}, field=field)
    name = " ".join(value.split())
    if not name:
        raise DomainError(
            _("The %(model)s needs a %(field)s.") % {"model": model._meta.verbose_name, "field": label}, field=field
        )
    return validate_value(model, field, name)


def _check_position(position: Any) -> None:
    if position is None:
        return
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise DomainError(_("The position must be a whole number from 0 up."), field="position")


def _insert(ids: list[int], item: int, position: int | None) -> list[int]:
    index = len(ids) if position is None else min(position, len(ids))
    return [*ids[:index], item, *ids[index:]]


# --- Locks ------------------------------------------------------------------------------------


def _lock_workflow(workflow_id: int) -> Workflow:
    # The one lock every change to a board takes first: the board's changes queue up behind it.
    workflow = Workflow.objects.select_for_update().filter(pk=workflow_id).first()
    if workflow is None:
        raise DomainError(_("The workflow has been deleted."))
    return workflow


def _current_step(step: Step) -> Step:
    current = Step.objects.select_related("workflow").filter(pk=step.pk).first()
    if current is None:
        raise DomainError(_("The step “%(name)s” has been deleted.") % {"name": step.name})
    return current


def _copy(target: Any, source: Any) -> None:
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


# --- Workflows and steps ----------------------------------------------------------------------


def _check_step_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise DomainError(_("The step “%(name)s” appears twice; step names must differ.") % {"name": name},
                              field="steps")
        seen.add(name.casefold())


def create_workflow(*, name: str, steps: Iterable[str]) -> Workflow:
    """A new board with these columns, in this order."""
    name = _clean_name(name, model=Workflow)
    if isinstance(steps, str):
        raise DomainError(_("Give the steps as a list of names."), field="steps")
    step_names = [_clean_name(step, model=Step) for step in steps]
    if not step_names:
        raise DomainError(_("A workflow needs at least one step."), field="steps")
    _check_step_names(step_names)
    if Workflow.objects.filter(name__iexact=name).exists():
        raise DomainError(_("A workflow named “%(name)s” already exists.") % {"name": name}, field="name")
    try:
        with transaction.atomic():
            workflow = Workflow.objects.create(name=name)
            Step.objects.bulk_create(
                [Step(workflow=workflow, name=step, position=i) for i, step in enumerate(step_names)]
            )
    except IntegrityError:  # created by someone else at the same moment
        raise DomainError(_("A workflow named “%(name)s” already exists.") % {"name": name}, field="name") from None
    return workflow


def rename_workflow(*, workflow: Workflow, name: str) -> Workflow:
    name = _clean_name(name, model=Workflow)
    if Workflow.objects.filter(name__iexact=name).exclude(pk=workflow.pk).exists():
        raise DomainError(_("A workflow named “%(name)s” already exists.") % {"name": name}, field="name")
    try:
        with transaction.atomic():
            _lock_workflow(workflow.pk)
            Workflow.objects.filter(pk=workflow.pk).update(name=name)
    except IntegrityError:
        raise DomainError(_("A workflow named “%(name)s” already exists.") % {"name": name}, field="name") from None
    workflow.name = name
    return workflow


def workflow_deletion_problems(*, workflow: Workflow) -> list[str]:
    """Why `workflow` cannot be deleted now (empty when it can): automations moving cards onto it."""
    names = sorted(set(
        Step.objects.filter(workflow_id=workflow.pk, actions__isnull=False)
        .values_list("actions__automation__name", flat=True)
    ))
    if not names:
        return []
    return [ngettext(
        "The workflow “%(workflow)s” is used by the automation %(names)s: change or delete its “move card” action first.",
        "The workflow “%(workflow)s” is used by the automations %(names)s: change or delete their “move card” actions first.",
        len(names),
    ) % {"workflow": workflow.name, "names": ", ".join(f"“{name}”" for name in names)}]


def delete_workflow(*, workflow: Workflow) -> None:
    """Delete a board with its steps and cards, unless an automation moves cards onto it."""
    with transaction.atomic():
        _lock_workflow(workflow.pk)
        # As in delete_step: lock the steps, so an automation saved at this moment waits for us.
        list(Step.objects.select_for_update().filter(workflow_id=workflow.pk).values_list("pk", flat=True))
        problems = workflow_deletion_problems(workflow=workflow)
        if problems:
            raise DomainError(" ".join(problems))
        # Cards first: Card.step is PROTECT, and the columns go with the board.
        Card.objects.filter(workflow_id=workflow.pk).delete()
        Workflow.objects.filter(pk=workflow.pk).delete()


def _check_step_name_free(workflow_id: int, name: str, *, exclude_pk: int | None = None) -> None:
    taken = Step.objects.filter(workflow_id=workflow_id, name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise DomainError(_("This workflow already has a step named “%(name)s”.") % {"name": name}, field="name")


def _renumber_steps(workflow_id: int, order: list[int]) -> None:
    current = dict(Step.objects.filter(workflow_id=workflow_id).values_list("pk", "position"))
    changed = [Step(pk=pk, position=i) for i, pk in enumerate(order) if current.get(pk) != i]
    if changed:
        Step.objects.bulk_update(changed, ["position"])


def _step_ids(workflow_id: int) -> list[int]:
    return list(Step.objects.filter(workflow_id=workflow_id).order_by("position", "pk").values_list("pk", flat=True))


def add_step(*, workflow: Workflow, name: str, position: int | None = None) -> Step:
    """A new column, at the end or at `position` (0 = first); the columns after it shift right."""
    name = _clean_name(name, model=Step)
    _check_position(position)
    with transaction.atomic():
        _lock_workflow(workflow.pk)
        _check_step_name_free(workflow.pk, name)
        order = _step_ids(workflow.pk)
        step = Step.objects.create(workflow=workflow, name=name, position=len(order))
        _renumber_steps(workflow.pk, _insert(order, step.pk, position))
        step.refresh_from_db()
    return step


def rename_step(*, step: Step, name: str) -> Step:
    name = _clean_name(name, model=Step)
    with transaction.atomic():
        _lock_workflow(step.workflow_id)
        _current_step(step)
        _check_step_name_free(step.workflow_id, name, exclude_pk=step.pk)
        Step.objects.filter(pk=step.pk).update(name=name)
    step.name = name
    return step


def reorder_steps(*, workflow: Workflow, step_ids: Sequence[int]) -> list[Step]:
    """Put the columns in this order; `step_ids` lists every step of the workflow exactly once."""
    try:
        wanted = [int(pk) for pk in step_ids]
    except (TypeError, ValueError):
        raise DomainError(_("Give the new order as a list of step ids."), field="step_ids") from None
    with transaction.atomic():
        _lock_workflow(workflow.pk)
        current = _step_ids(workflow.pk)
        if len(wanted) != len(set(wanted)) or set(wanted) != set(current):
            raise DomainError(
                _("The new order must list each of the %(count)d steps of “%(workflow)s” exactly once.") % {
                    "count": len(current), "workflow": workflow.name},
                field="step_ids",
            )
        _renumber_steps(workflow.pk, wanted)
        steps = list(Step.objects.filter(workflow_id=workflow.pk).order_by("position"))
    return steps


def _automation_names(step: Step) -> list[str]:
    # Through the reverse relation of automations.Action.step: workflows does not import automations.
    return sorted(set(step.actions.values_list("automation__name", flat=True)))


def step_deletion_problems(*, step: Step, move_cards_to: Step | None = None) -> list[str]:
    """Why `step` cannot be deleted now (empty when it can), in words for the person who asked."""
    problems = []
    automations = _automation_names(step)
    if automations:
        problems.append(ngettext(
            "The step “%(step)s” is used by the automation %(names)s: change or delete its “move card” action first.",
            "The step “%(step)s” is used by the automations %(names)s: change or delete their “move card” actions first.",
            len(automations),
        ) % {"step": step.name, "names": ", ".join(f"“{name}”" for name in automations)})
    cards = Card.objects.filter(step_id=step.pk).count()
    if cards:
        if move_cards_to is None:
            problems.append(ngettext(
                "The step “%(step)s” holds %(count)d card: choose a step of the same workflow to move it to.",
                "The step “%(step)s” holds %(count)d cards: choose a step of the same workflow to move them to.",
                cards,
            ) % {"step": step.name, "count": cards})
        elif move_cards_to.pk == step.pk or move_cards_to.workflow_id != step.workflow_id:
            problems.append(_("The cards of “%(step)s” can only move to another step of the same workflow.") % {
                "step": step.name})
    return problems


def delete_step(*, step: Step, move_cards_to: Step | None = None, now: dt.datetime | None = None) -> None:
    """Delete a column. Its cards first move to the end of `move_cards_to` (same workflow), in
    their order; a step that an automation moves cards to cannot be deleted."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_workflow(step.workflow_id)
        # FOR UPDATE on the step as well: an automation saved at this moment takes a key-share
        # lock on it (its foreign key), so either it waits and then fails, or we see it.
        locked = Step.objects.select_for_update().filter(pk=step.pk).first()
        if locked is None:
            raise DomainError(_("The step “%(name)s” has been deleted.") % {"name": step.name})
        if move_cards_to is not None:
            target = Step.objects.filter(pk=move_cards_to.pk).first()
            if target is None:
                raise DomainError(_("The step “%(name)s” has been deleted.") % {"name": move_cards_to.name})
            move_cards_to = target
        problems = step_deletion_problems(step=locked, move_cards_to=move_cards_to)
        if problems:
            raise DomainError(" ".join(problems))
        moving = [pk for pk, _position in _column(locked.pk)]
        if moving:
            assert move_cards_to is not None
            target_column = _column(move_cards_to.pk)
            Card.objects.filter(pk__in=moving).update(step=move_cards_to, moved_at=now)
            _renumber_cards([pk for pk, _position in target_column] + moving, dict(target_column))
        try:
            locked.delete()
        except ProtectedError:  # pragma: no cover - the locks above make this impossible
            raise DomainError(" ".join(step_deletion_problems(step=locked)) or _("The step is still in use.")) from None
        _renumber_steps(locked.workflow_id, _step_ids(locked.workflow_id))


# --- Cards ------------------------------------------------------------------------------------


def _column(step_id: int) -> list[tuple[int, int]]:
    """(card id, position) of a column, in board order."""
    return list(Card.objects.filter(step_id=step_id).order_by("position", "pk").values_list("pk", "position"))


def _renumber_cards(order: list[int], current: dict[int, int]) -> None:
    # Writes only the cards whose position changes; also closes gaps left by deleted contacts.
    changed = [Card(pk=pk, position=i) for i, pk in enumerate(order) if current.get(pk) != i]
    if changed:
        Card.objects.bulk_update(changed, ["position"], batch_size=500)


def _move(card: Card, target: Step, position: int | None, now: dt.datetime) -> None:
    """Move a locked card to `target` (a step of its workflow); both columns stay 0..n-1."""
    if card.step_id == target.pk:
        if position is None:
            return  # already there: placing a card twice changes nothing
        column = _column(target.pk)
        others = [pk for pk, _position in column if pk != card.pk]
        _renumber_cards(_insert(others, card.pk, position), dict(column))
        return
    source = _column(card.step_id)
    _renumber_cards([pk for pk, _position in source if pk != card.pk], dict(source))
    column = _column(target.pk)
    Card.objects.filter(pk=card.pk).update(step=target, moved_at=now)
    _renumber_cards(_insert([pk for pk, _position in column], card.pk, position), {**dict(column), card.pk: -1})


def place_card(*, contact, step: Step, position: int | None = None, now: dt.datetime | None = None) -> Card:
    """Put the contact's card of this step's workflow on `step`: moved there if the contact has a
    card on the board, created there if not. At the end of the column unless `position` says
    otherwise; a card already on `step` stays where it is unless `position` is given."""
    _check_position(position)
    if getattr(contact, "pk", None) is None:
        raise DomainError(_("Choose a saved contact for the card."), field="contact")
    now = now or timezone.now()
    with transaction.atomic():
        _lock_workflow(step.workflow_id)
        target = _current_step(step)
        card = Card.objects.filter(workflow_id=target.workflow_id, contact=contact).first()
        if card is None:
            column = _column(target.pk)
            try:
                with transaction.atomic():
                    card = Card.objects.create(
                        workflow_id=target.workflow_id, step=target, contact=contact, position=len(column),
                        moved_at=now,
                    )
            except IntegrityError:
                # Created by a caller that did not take the board lock; use that card.
                card = Card.objects.get(workflow_id=target.workflow_id, contact=contact)
                _move(card, target, position, now)
            else:
                _renumber_cards(_insert([pk for pk, _position in column], card.pk, position),
                                {**dict(column), card.pk: card.position})
        else:
            _move(card, target, position, now)
        card = Card.objects.select_related("step", "workflow", "contact").get(pk=card.pk)
    return card


def move_card(*, card: Card, step: Step, position: int | None = None, now: dt.datetime | None = None) -> Card:
    """Move a card to `step` (a step of the card's own workflow), at the end or at `position`."""
    _check_position(position)
    if step.workflow_id != card.workflow_id:
        raise DomainError(
            _("The card of %(contact)s is on the workflow “%(workflow)s”; “%(step)s” is a step of another workflow.") % {
                "contact": card.contact.name, "workflow": card.workflow.name, "step": step.name},
            field="step",
        )
    now = now or timezone.now()
    with transaction.atomic():
        _lock_workflow(card.workflow_id)
        locked = Card.objects.filter(pk=card.pk).first()
        if locked is None:
            raise DomainError(_("The card has been deleted."))
        target = _current_step(step)
        _move(locked, target, position, now)
        fresh = Card.objects.get(pk=card.pk)
    _copy(card, fresh)
    return card


def remove_card(*, card: Card) -> None:
    """Take a contact's card off its board; the cards below it move up."""
    with transaction.atomic():
        _lock_workflow(card.workflow_id)
        locked = Card.objects.filter(pk=card.pk).first()
        if locked is None:
            return
        locked.delete()
        column = _column(locked.step_id)
        _renumber_cards([pk for pk, _position in column], dict(column))
