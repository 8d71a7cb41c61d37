"""The Tasks & Reminders pages: tabs, filters, overdue, create, mark done / reopen."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from automations.models import Event, Run
from automations.services import create_automation
from core.dates import business_today
from tasks import services
from tasks.models import Task
from tests.base import PASSWORD, make_contact, make_invoice

pytestmark = pytest.mark.django_db

LIST = reverse("tasks:task-list")
CREATE = reverse("tasks:task-create")


@pytest.fixture
def user(member):
    """These pages are tried as a team member (the fixtures are in tests/conftest.py)."""
    return member


@pytest.fixture
def colleague():
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


def shown(response) -> list[str]:
    """The task titles on the page, in page order."""
    html = response.content.decode()
    return [unescape(title) for title in re.findall(r'<div class="fw-semibold task-title">([^<]*)</div>', html)]


def item_html(response, task: Task) -> str:
    html = response.content.decode()
    start = html.index(f'id="task-{task.pk}"')
    return html[html.rindex("<li", 0, start):html.index("</li>", start)]


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, CREATE])
def test_task_pages_redirect_anonymous_users_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_marking_done_needs_a_login(client):
    task = services.create_task(title="Call Ada")
    url = reverse("tasks:task-complete", args=[task.pk])
    response = client.post(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    task.refresh_from_db()
    assert task.status == "open"


@pytest.mark.parametrize("url", [LIST, f"{LIST}?tab=team", f"{LIST}?tab=all&done=1", CREATE])
def test_task_pages_render_for_a_logged_in_user(client, user, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "Tasks & Reminders" in unescape(response.content.decode())


# --- Tabs, order and filters ------------------------------------------------------------------


def test_tabs_show_mine_team_and_all(client, user, colleague):
    services.create_task(title="Mine", assignee=user)
    services.create_task(title="Team task")
    services.create_task(title="Bob's", assignee=colleague)

    assert shown(client.get(LIST)) == ["Mine"]
    assert shown(client.get(LIST, {"tab": "mine"})) == ["Mine"]
    assert shown(client.get(LIST, {"tab": "team"})) == ["Team task"]
    assert sorted(shown(client.get(LIST, {"tab": "all"}))) == ["Bob's", "Mine", "Team task"]


def test_tab_labels_and_open_counts_are_shown(client, user):
    services.create_task(title="One", assignee=user)
    services.create_task(title="Two")
    html = client.get(LIST).content.decode()
    assert re.search(r'data-tab="mine">\s*Mine <span class="badge[^"]*">1</span>', html)
    assert re.search(r'data-tab="team">\s*Team <span class="badge[^"]*">1</span>', html)
    assert re.search(r'data-tab="all">\s*All <span class="badge[^"]*">2</span>', html)


def test_an_unknown_tab_falls_back_to_mine(client, user):
    services.create_task(title="Mine", assignee=user)
    services.create_task(title="Team task")
    assert shown(client.get(LIST, {"tab": "nonsense"})) == ["Mine"]


def test_done_tasks_are_hidden_until_asked_for_and_then_come_after_open_ones(client, user):
    done = services.create_task(title="Done early", due_date=dt.date(2020, 1, 1), assignee=user)
    services.complete_task(task=done, by=user)
    services.create_task(title="Open later", due_date=dt.date(2031, 1, 1), assignee=user)
    services.create_task(title="Open sooner", due_date=dt.date(2030, 1, 1), assignee=user)
    services.create_task(title="Open no date", assignee=user)

    assert shown(client.get(LIST)) == ["Open sooner", "Open later", "Open no date"]
    assert shown(client.get(LIST, {"done": "1"})) == ["Open sooner", "Open later", "Open no date", "Done early"]


def test_filter_by_contact_shows_only_that_contacts_tasks(client, user):
    ada, bob = make_contact(name="Ada"), make_contact(name="Bob")
    services.create_task(title="About Ada", contact=ada)
    services.create_task(title="About Bob", contact=bob)
    services.create_task(title="About nobody")

    response = client.get(LIST, {"tab": "all", "contact": ada.pk})
    assert shown(response) == ["About Ada"]
    assert f'<option value="{ada.pk}" selected>' in response.content.decode()


def test_contact_filter_offers_the_contacts_that_have_tasks(client, user):
    make_contact(name="Zed No Tasks")
    ada = make_contact(name="Ada With Task")
    services.create_task(title="About Ada", contact=ada)
    html = client.get(LIST).content.decode()
    assert "Ada With Task" in html
    assert "Zed No Tasks" not in html


def test_an_invalid_contact_filter_is_ignored(client, user):
    services.create_task(title="Team task")
    response = client.get(LIST, {"tab": "all", "contact": "999999"})
    assert response.status_code == 200
    assert shown(response) == ["Team task"]


def test_tasks_are_paginated_by_25(client, user):
    for i in range(30):
        services.create_task(title=f"Task {i:02d}", due_date=dt.date(2030, 1, 1) + dt.timedelta(days=i))
    first = client.get(LIST, {"tab": "team"})
    second = client.get(LIST, {"tab": "team", "page": 2})
    assert len(shown(first)) == 25 and shown(first)[0] == "Task 00"
    assert shown(second) == [f"Task {i:02d}" for i in range(25, 30)]
    assert "tab=team&amp;page=2" in first.content.decode()


# --- Overdue ----------------------------------------------------------------------------------


def test_overdue_open_tasks_are_highlighted(client, user):
    today = business_today()
    late = services.create_task(title="Late", due_date=today - dt.timedelta(days=1), assignee=user)
    due_today = services.create_task(title="Today", due_date=today, assignee=user)
    response = client.get(LIST)
    assert "task-overdue" in item_html(response, late)
    assert "Overdue" in item_html(response, late)
    assert "task-overdue" not in item_html(response, due_today)


def test_done_tasks_are_never_overdue(client, user):
    late = services.create_task(title="Late", due_date=business_today() - dt.timedelta(days=3), assignee=user)
    services.complete_task(task=late, by=user)
    response = client.get(LIST, {"done": "1"})
    assert "task-overdue" not in item_html(response, late)


@pytest.mark.parametrize("utc_time, overdue", [
    # Europe/Berlin is UTC+1 in January: 22:59 UTC is still Jan 1 there, 23:00 UTC is already Jan 2.
    ("2030-01-01 22:59", False),
    ("2030-01-01 23:00", True),
])
def test_overdue_is_decided_by_the_date_in_the_business_time_zone(client, user, settings, utc_time, overdue):
    settings.TIME_ZONE = "Europe/Berlin"
    task = services.create_task(title="Due Jan 1", due_date=dt.date(2030, 1, 1), assignee=user)
    moment = dt.datetime.fromisoformat(utc_time).replace(tzinfo=dt.timezone.utc)
    with time_machine.travel(moment, tick=False):
        client.force_login(user)  # a session made today has expired by then
        response = client.get(LIST)
    assert ("task-overdue" in item_html(response, task)) is overdue


# --- Links ------------------------------------------------------------------------------------


def test_a_task_links_to_its_contact_and_invoice(client, user):
    invoice = make_invoice()
    task = services.create_task(title="Chase", invoice=invoice, assignee=user)
    html = item_html(client.get(LIST), task)
    contact_url = reverse("invoices:contact-detail", args=[invoice.contact.pk])
    assert f'href="{contact_url}" class="task-contact"' in html
    assert contact_url == f"/invoices/contacts/{invoice.contact.pk}/"
    assert invoice.contact.name in html
    assert f'href="{reverse("invoices:invoice-detail", args=[invoice.pk])}" class="task-invoice"' in html and invoice.number in html


def test_a_task_made_by_an_automation_shows_the_automation_name(client, user):
    invoice = make_invoice()
    automation = create_automation(
        name="Overdue follow-up", trigger="invoice_overdue", frequency="unlimited",
        actions=[{"kind": "create_task", "title": "Call {{ contact.name }}"}],
    )
    event = Event.objects.create(kind="invoice_overdue", invoice=invoice, contact=invoice.contact,
                                 occurred_at=timezone.now())
    run = Run.objects.create(automation=automation, event=event, contact=invoice.contact, status="succeeded")
    task = services.create_task(title="Call Ada", invoice=invoice, run=run)
    html = item_html(client.get(LIST, {"tab": "team"}), task)
    assert "Overdue follow-up" in html


# --- Create -----------------------------------------------------------------------------------


def test_create_task_by_hand_saves_it_and_shows_it_in_the_right_tab(client, user, colleague):
    invoice = make_invoice()
    response = client.post(CREATE, {
        "title": "Call about payment", "description": "Ask for a date", "due_date": "2030-05-06",
        "assignee": colleague.pk, "contact": invoice.contact.pk, "invoice": invoice.number,
    })
    task = Task.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{LIST}?tab=all"
    assert (task.title, task.description, task.due_date) == ("Call about payment", "Ask for a date", dt.date(2030, 5, 6))
    assert (task.assignee, task.contact, task.invoice, task.created_by) == (colleague, invoice.contact, invoice, user)
    assert "Call about payment" in shown(client.get(response["Location"]))


def test_create_task_for_the_team(client, user):
    response = client.post(CREATE, {"title": "Team job", "assignee": ""})
    assert response["Location"] == f"{LIST}?tab=team"
    assert Task.objects.get().assignee is None


def test_create_form_is_prefilled_from_an_invoice_link(client, user):
    invoice = make_invoice()
    html = client.get(CREATE, {"invoice": invoice.pk}).content.decode()
    assert f'value="{invoice.number}"' in html
    assert f'<option value="{invoice.contact.pk}" selected>' in html


def test_create_task_with_an_empty_title_shows_the_error_at_the_field_and_saves_nothing(client, user):
    response = client.post(CREATE, {"title": "  ", "description": "x"})
    assert response.status_code == 200
    assert "title" in response.context["form"].errors
    assert 'id="id_title"' in response.content.decode() and "is-invalid" in response.content.decode()
    assert not Task.objects.exists()


def test_create_task_with_a_too_long_description_shows_the_error_at_the_field_and_saves_nothing(client, user):
    response = client.post(CREATE, {"title": "Big", "description": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["description"]
    assert "10000" in errors["description"][0] or "10,000" in errors["description"][0]
    assert not Task.objects.exists()


def test_create_task_with_a_10_mb_description_is_refused_before_the_view_and_saves_nothing(client, user):
    # Django refuses a request body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) while reading the
    # form (400 Bad Request): a clean refusal, not a server error; the field limit is 10,000.
    response = client.post(CREATE, {"title": "Huge", "description": "x" * (10 * 1024 * 1024)})
    assert response.status_code == 400
    assert not Task.objects.exists()


def test_create_task_with_an_invoice_of_another_contact_shows_the_service_message(client, user):
    invoice = make_invoice()
    other = make_contact(name="Somebody Else")
    response = client.post(CREATE, {"title": "Chase", "contact": other.pk, "invoice": invoice.number})
    assert response.status_code == 200
    assert "belongs to another contact" in " ".join(response.context["form"].errors["contact"])
    assert not Task.objects.exists()


def test_create_task_with_an_unknown_invoice_number_shows_the_error_at_the_field(client, user):
    response = client.post(CREATE, {"title": "Chase", "invoice": "NOPE-1"})
    assert response.status_code == 200
    assert "NOPE-1" in response.context["form"].errors["invoice"][0]
    assert not Task.objects.exists()


# --- Mark done / reopen -----------------------------------------------------------------------


def test_mark_done_completes_the_task_and_returns_to_the_list(client, user):
    task = services.create_task(title="Call Ada", assignee=user)
    response = client.post(reverse("tasks:task-complete", args=[task.pk]), {"next": f"{LIST}?tab=all"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}?tab=all"
    task.refresh_from_db()
    assert (task.status, task.completed_by) == ("done", user)
    assert shown(client.get(LIST)) == []


def test_reopen_makes_a_done_task_open_again(client, user):
    task = services.create_task(title="Call Ada", assignee=user)
    services.complete_task(task=task, by=user)
    response = client.post(reverse("tasks:task-reopen", args=[task.pk]))
    assert response.status_code == 302 and response["Location"] == LIST
    task.refresh_from_db()
    assert (task.status, task.completed_at) == ("open", None)


def test_double_mark_done_shows_the_refusal_not_a_server_error(client, user):
    task = services.create_task(title="Call Ada", assignee=user)
    url = reverse("tasks:task-complete", args=[task.pk])
    client.post(url)
    response = client.post(url, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cannot be completed: it is already done" in html
    assert "alert-danger" in html


def test_mark_done_ignores_a_next_url_of_another_site(client, user):
    task = services.create_task(title="Call Ada", assignee=user)
    response = client.post(reverse("tasks:task-complete", args=[task.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == LIST


def test_mark_done_is_post_only(client, user):
    task = services.create_task(title="Call Ada", assignee=user)
    assert client.get(reverse("tasks:task-complete", args=[task.pk])).status_code == 405
    task.refresh_from_db()
    assert task.status == "open"


def test_the_list_offers_mark_done_for_open_tasks_and_reopen_for_done_ones(client, user):
    open_task = services.create_task(title="Open", assignee=user)
    done_task = services.create_task(title="Closed", assignee=user)
    services.complete_task(task=done_task, by=user)
    response = client.get(LIST, {"done": "1"})
    assert "Mark done" in item_html(response, open_task)
    assert reverse("tasks:task-reopen", args=[done_task.pk]) in item_html(response, done_task)
