from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import DomainError
from tasks import services
from tasks.models import Task
from tests.base import make_contact, make_invoice, make_owner, make_team_member

pytestmark = pytest.mark.django_db


def test_create_task_with_defaults_is_open_for_the_team():
    task = services.create_task(title="Call Ada")
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    assert task.assignee is None
    assert task.completed_at is None
    assert task.description == ""


def test_create_task_keeps_all_links_and_the_creator():
    owner, staff = make_owner(), make_team_member()
    invoice = make_invoice()
    task = services.create_task(
        title="Chase payment", description="Twice", due_date=dt.date(2030, 1, 2), assignee=staff,
        contact=invoice.contact, invoice=invoice, by=owner,
    )
    task.refresh_from_db()
    assert (task.assignee, task.contact, task.invoice, task.created_by) == (staff, invoice.contact, invoice, owner)
    assert task.due_date == dt.date(2030, 1, 2)


def test_create_task_about_an_invoice_takes_the_invoice_contact():
    invoice = make_invoice()
    task = services.create_task(title="Chase", invoice=invoice)
    assert task.contact == invoice.contact


def test_create_task_refuses_an_invoice_of_another_contact():
    invoice = make_invoice()
    with pytest.raises(DomainError, match="another contact"):
        services.create_task(title="Chase", invoice=invoice, contact=make_contact())
    assert not Task.objects.exists()


@pytest.mark.parametrize("title", ["", "   ", "\n\t"])
def test_create_task_refuses_an_empty_title(title):
    with pytest.raises(DomainError) as exc:
        services.create_task(title=title)
    assert exc.value.field == "title"
    assert not Task.objects.exists()


def test_create_task_puts_a_multi_line_title_on_one_line():
    task = services.create_task(title="Call\r\nAda   Lovelace ")
    assert task.title == "Call Ada Lovelace"


def test_create_task_refuses_a_title_longer_than_the_column():
    with pytest.raises(DomainError, match="300"):
        services.create_task(title="x" * 10_000_000)
    assert not Task.objects.exists()


def test_create_task_refuses_a_huge_description():
    with pytest.raises(DomainError) as exc:
        services.create_task(title="Call", description="x" * 10_000_001)
    assert exc.value.field == "description"
    assert not Task.objects.exists()


def test_create_task_refuses_a_username_instead_of_a_user():
    with pytest.raises(DomainError):
        services.create_task(title="Call", assignee="staff")


def test_create_task_refuses_a_date_that_is_not_a_date():
    with pytest.raises(DomainError):
        services.create_task(title="Call", due_date="next tuesday")


def test_complete_task_marks_it_done_with_time_and_user():
    owner = make_owner()
    task = services.create_task(title="Call")
    now = timezone.now() - dt.timedelta(hours=1)
    services.complete_task(task=task, by=owner, now=now)
    assert task.status == Task.Status.DONE
    task.refresh_from_db()
    assert (task.status, task.completed_at, task.completed_by) == (Task.Status.DONE, now, owner)


def test_completing_a_done_task_is_refused_and_keeps_the_first_completion():
    owner, staff = make_owner(), make_team_member()
    task = services.create_task(title="Call")
    services.complete_task(task=task, by=owner)
    first = Task.objects.get(pk=task.pk).completed_at
    with pytest.raises(DomainError, match="already done"):
        services.complete_task(task=task, by=staff)
    task.refresh_from_db()
    assert (task.completed_at, task.completed_by) == (first, owner)


def test_completing_with_a_stale_copy_is_refused():
    task = services.create_task(title="Call")
    stale = Task.objects.get(pk=task.pk)
    services.complete_task(task=task)
    with pytest.raises(DomainError, match="already done"):
        services.complete_task(task=stale)


def test_reopen_task_forgets_the_completion():
    task = services.create_task(title="Call")
    services.complete_task(task=task, by=make_owner())
    services.reopen_task(task=task)
    task.refresh_from_db()
    assert (task.status, task.completed_at, task.completed_by) == (Task.Status.OPEN, None, None)


def test_reopening_an_open_task_is_refused():
    task = services.create_task(title="Call")
    with pytest.raises(DomainError, match="already open"):
        services.reopen_task(task=task)


def test_completing_a_deleted_task_is_refused():
    task = services.create_task(title="Call")
    Task.objects.filter(pk=task.pk).delete()
    with pytest.raises(DomainError, match="deleted"):
        services.complete_task(task=task)
