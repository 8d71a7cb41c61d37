"""Every state change of tasks: create, complete, reopen.

Keyword-only, one transaction each, transitions guarded by a compare-and-swap on `status` (so two
people completing the same task at the same moment get one success and one clear refusal).
A change the rules do not allow raises `DomainError` with a message for the person who tried.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, validate

from .models import Task, TaskStatus


def create_task(
    *,
    title: str,
    description: str = "",
    due_date: dt.date | None = None,
    assignee=None,
    contact=None,
    invoice=None,
    run=None,
    by=None,
    save: bool = True,
) -> Task:
    """A new open task. No assignee means the whole team; a task about an invoice is about its contact.

    `save=False` returns it checked but unsaved, for callers that save many at once
    (`Task.objects.bulk_create`): the automation engine executing a batch of runs."""
    if not isinstance(title, str) or not isinstance(description or "", str):
        raise DomainError(_("The title and the description must be text."))
    # A title is one line: line breaks (e.g. from a rendered template) become spaces.
    title = " ".join(title.split())
    if not title:
        raise DomainError(_("A task needs a title."), field="title")
    if isinstance(due_date, dt.datetime):
        due_date = timezone.localdate(due_date) if timezone.is_aware(due_date) else due_date.date()
    if invoice is not None and contact is None:
        contact = invoice.contact
    if invoice is not None and contact is not None and invoice.contact_id != contact.pk:
        raise DomainError(
            _("Invoice %(number)s belongs to another contact than %(contact)s.") % {
                "number": invoice.number, "contact": contact.name},
            field="contact",
        )
    try:
        task = Task(
            title=title, description=description or "", due_date=due_date, assignee=assignee,
            contact=contact, invoice=invoice, run=run, created_by=by,
        )
    except (TypeError, ValueError) as exc:  # e.g. assignee="bob" instead of a User
        raise DomainError(_("The task cannot be created: %(error)s") % {"error": exc}) from None
    validate(task, exclude=["assignee", "contact", "invoice", "run", "created_by", "completed_by"])
    if save:
        with transaction.atomic():
            task.save()
    return task


def _refused(task: Task, action: str) -> DomainError:
    current = Task.objects.filter(pk=task.pk).values_list("status", flat=True).first()
    if current is None:
        return DomainError(_("Task “%(title)s” cannot be %(action)s: it has been deleted.") % {
            "title": task.title, "action": action})
    return DomainError(_("Task “%(title)s” cannot be %(action)s: it is already %(status)s.") % {
        "title": task.title, "action": action, "status": TaskStatus(current).label.lower()})


def _copy_from_db(task: Task) -> None:
    fresh = Task.objects.get(pk=task.pk)
    for field in Task._meta.concrete_fields:
        setattr(task, field.attname, getattr(fresh, field.attname))


def complete_task(*, task: Task, by=None, now: dt.datetime | None = None) -> Task:
    """open → done."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, completed_at=now, completed_by=by
        )
        if changed != 1:
            raise _refused(task, _("completed"))
        _copy_from_db(task)
    return task


def reopen_task(*, task: Task, by=None) -> Task:
    """done → open: the completion is forgotten."""
    with transaction.atomic():
        changed = Task.objects.filter(pk=task.pk, status=TaskStatus.DONE).update(
            status=TaskStatus.OPEN, completed_at=None, completed_by=None
        )
        if changed != 1:
            raise _refused(task, _("reopened"))
        _copy_from_db(task)
    return task
