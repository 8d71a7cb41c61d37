from __future__ import annotations

import pytest
from django.contrib.messages import ERROR, SUCCESS
from django.urls import reverse

from tasks import services
from tasks.models import Task
from tests.base import make_contact, make_invoice, make_outsider, make_owner, make_team_member
from tests.base import messages_with_levels as _messages

pytestmark = pytest.mark.django_db


def test_task_admin_pages_open_for_the_owner(owner_client):
    task = services.create_task(title="Call", contact=make_contact())
    for url in [
        reverse("admin:tasks_task_changelist"),
        reverse("admin:tasks_task_changelist") + "?q=Call&status__exact=open",
        reverse("admin:tasks_task_add"),
        reverse("admin:tasks_task_change", args=[task.pk]),
    ]:
        assert owner_client.get(url).status_code == 200, url


def test_task_admin_opens_for_staff_with_permissions(client):
    client.force_login(make_team_member())
    assert client.get(reverse("admin:tasks_task_changelist")).status_code == 200


def test_outsider_is_sent_to_the_admin_login(client):
    client.force_login(make_outsider())
    response = client.get(reverse("admin:tasks_task_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_adding_a_task_in_the_admin_creates_an_open_task_by_the_user(client):
    owner = make_owner()
    client.force_login(owner)
    contact = make_contact()
    response = client.post(reverse("admin:tasks_task_add"), {
        "title": "  Call   back ", "description": "", "due_date": "2030-01-02", "assignee": "", "contact": contact.pk,
        "invoice": "", "status": "done",  # read-only: ignored
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.get()
    assert (task.title, task.status, task.created_by, task.contact) == ("Call back", "open", owner, contact)


def test_adding_a_task_with_another_contacts_invoice_shows_a_form_error(owner_client):
    invoice = make_invoice()
    response = owner_client.post(reverse("admin:tasks_task_add"), {
        "title": "Call", "contact": make_contact().pk, "invoice": invoice.pk,
    })
    assert response.status_code == 200
    assert "belongs to another contact" in response.content.decode()
    assert not Task.objects.exists()


def test_changing_a_task_in_the_admin_cannot_change_its_status(owner_client):
    task = services.create_task(title="Call")
    response = owner_client.post(reverse("admin:tasks_task_change", args=[task.pk]), {
        "title": "Call again", "status": "done", "completed_at_0": "2030-01-01", "completed_at_1": "10:00",
    })
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.status, task.completed_at) == ("Call again", "open", None)


def _run_action(client, action, tasks):
    return client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": action, "_selected_action": [t.pk for t in tasks]},
        follow=True,
    )


def test_mark_done_action_completes_open_tasks_and_reports_the_done_one(client):
    owner = make_owner()
    client.force_login(owner)
    open_task = services.create_task(title="Open one")
    done_task = services.create_task(title="Done one")
    services.complete_task(task=done_task)
    response = _run_action(client, "mark_done", [open_task, done_task])
    assert response.status_code == 200
    open_task.refresh_from_db()
    assert (open_task.status, open_task.completed_by) == ("done", owner)
    messages = _messages(response)
    assert (SUCCESS, "1 task marked done.") in messages
    assert any(level == ERROR and "Done one" in text and "already done" in text for level, text in messages)


def test_reopen_action_reopens_done_tasks_and_reports_open_ones(owner_client):
    done_task = services.create_task(title="Done one")
    services.complete_task(task=done_task)
    open_task = services.create_task(title="Open one")
    response = _run_action(owner_client, "reopen", [done_task, open_task])
    done_task.refresh_from_db()
    assert done_task.status == "open"
    messages = _messages(response)
    assert (SUCCESS, "1 task reopened.") in messages
    assert any(level == ERROR and "Open one" in text for level, text in messages)
