"""The automations list: its columns, the on/off switch, counts without N+1 queries, export and
import; and that every page wants a signed-in user."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from automations.models import Automation, Event, Run
from automations.portable import export_automations
from tests.automations.test_views_support import EMAIL, TASK, make_automation, stub_urls  # noqa: F401
from tests.base import make_invoice, messages_of
from workflows.services import create_workflow

pytestmark = pytest.mark.django_db

LIST = "/automations/"


def add_runs(automation: Automation, count: int) -> list[Run]:
    runs = []
    for _ in range(count):
        invoice = make_invoice()
        event = Event.objects.create(kind="invoice_sent", invoice=invoice, contact=invoice.contact,
                                     occurred_at=timezone.now())
        runs.append(Run.objects.create(automation=automation, event=event, contact=invoice.contact, status="succeeded"))
    return runs


def test_the_list_url_is_automations():
    assert reverse("automations:automation-list") == LIST


def test_the_list_shows_each_automation_with_its_trigger_frequency_actions_switch_and_runs(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    reminder = make_automation("Overdue reminder", frequency="once_per_contact_24h", is_active=True,
                               actions=[dict(EMAIL), dict(TASK), {"kind": "move_card", "step": board.steps.get()}])
    thanks = make_automation("Thank you", trigger="invoice_paid")
    runs = add_runs(reminder, 3)
    response = client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Automations", "+ New Automation", "Overdue reminder", "Invoice is overdue",
                 "Once per contact every 24 hours", "Send email to customer", "Create a task",
                 "Move card on workflow", "Thank you", "Invoice is paid", "Unlimited (trigger every time)", "Never"):
        assert text in page, text
    rows = {a.name: a for a in response.context["automations"]}
    assert (rows["Overdue reminder"].run_count, rows["Thank you"].run_count) == (3, 0)
    assert rows["Overdue reminder"].last_run_at == max(run.created_at for run in runs)
    assert rows["Thank you"].last_run_at is None
    assert page.count('role="switch"') == 2
    assert f'action="/automations/{reminder.pk}/switch/"' in page and f'action="/automations/{thanks.pk}/switch/"' in page
    assert 'href="/automations/export/"' in page and 'href="/automations/import/"' in page


def test_the_list_needs_the_same_queries_for_many_automations(client, owner, django_assert_max_num_queries):
    make_automation("One", actions=[dict(EMAIL), dict(TASK)])
    add_runs(Automation.objects.get(), 2)
    with django_assert_max_num_queries(50) as one:
        client.get(LIST)
    for index in range(8):
        automation = make_automation(f"Automation {index}", actions=[dict(EMAIL), dict(TASK)])
        add_runs(automation, 2)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(LIST)
    assert len(response.context["automations"]) == 9


def test_the_empty_list_invites_to_create_one(client, owner):
    page = client.get(LIST).content.decode()
    assert "No automations yet." in page and 'href="/automations/new/"' in page


def test_the_switch_turns_an_automation_on_and_off(client, owner):
    automation = make_automation()
    response = client.post(reverse("automations:automation-switch", args=[automation.pk]),
                           {"active": "1", "next": LIST})
    assert response.status_code == 302 and response["Location"] == LIST
    assert Automation.objects.get().is_active
    assert messages_of(response) == ["“Overdue reminder” is switched on."]
    response = client.post(reverse("automations:automation-switch", args=[automation.pk]), {"active": "0"})
    assert response["Location"] == reverse("automations:automation-detail", args=[automation.pk])
    assert not Automation.objects.get().is_active


def test_switching_to_the_state_it_is_in_says_so(client, owner):
    automation = make_automation(is_active=True)
    response = client.post(reverse("automations:automation-switch", args=[automation.pk]), {"active": "1"})
    assert response.status_code == 302
    assert messages_of(response) == ["The automation “Overdue reminder” is already on."]


def test_the_switch_ignores_a_next_to_another_site(client, owner):
    automation = make_automation()
    response = client.post(reverse("automations:automation-switch", args=[automation.pk]),
                           {"active": "1", "next": "https://evil.example/"})
    assert response["Location"] == reverse("automations:automation-detail", args=[automation.pk])


def test_the_switch_only_takes_posts(client, owner):
    automation = make_automation()
    assert client.get(reverse("automations:automation-switch", args=[automation.pk])).status_code == 405
    assert client.post(reverse("automations:automation-switch", args=[999]), {"active": "1"}).status_code == 404


# --- Export and import ------------------------------------------------------------------------


def test_export_downloads_every_automation_as_json(client, owner):
    make_automation("Overdue reminder")
    make_automation("Thank you", trigger="invoice_paid", actions=[dict(TASK)])
    response = client.get(reverse("automations:automation-export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="automations-')
    assert json.loads(response.content) == export_automations()


def upload(content: bytes, name: str = "automations.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_import_saves_a_valid_file(client, owner):
    data = [{"name": "Imported", "trigger": "invoice_paid", "frequency": "unlimited", "is_active": True,
             "actions": [{"kind": "send_email", "subject": "Thanks", "body": "Thank you, {{ contact.first_name }}"}]}]
    response = client.post(reverse("automations:automation-import"), {"file": upload(json.dumps(data).encode())})
    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == ["1 automation imported."]
    automation = Automation.objects.get()
    assert (automation.name, automation.is_active, automation.created_by) == ("Imported", True, owner)


def test_an_exported_file_imports_again_with_replace(client, owner):
    make_automation("Overdue reminder")
    exported = client.get(reverse("automations:automation-export")).content
    response = client.post(reverse("automations:automation-import"), {"file": upload(exported)})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    response = client.post(reverse("automations:automation-import"), {"file": upload(exported), "replace": "on"})
    assert response.status_code == 302
    assert Automation.objects.count() == 1


def test_a_file_with_problems_lists_them_all_and_saves_nothing(client, owner):
    data = [
        {"name": "Good", "trigger": "invoice_paid", "frequency": "unlimited", "actions": [dict(EMAIL)]},
        {"name": "Bad", "trigger": "invoice_exploded", "frequency": "unlimited",
         "actions": [{"kind": "create_task", "title": "Call", "due_in_days": -3}]},
    ]
    response = client.post(reverse("automations:automation-import"), {"file": upload(json.dumps(data).encode())})
    assert response.status_code == 200
    problems = response.context["problems"]
    assert len(problems) == 2
    assert any("invoice_exploded" in p for p in problems) and any("cannot be negative" in p for p in problems)
    page = response.content.decode()
    assert "Nothing was imported; 2 problems were found:" in page
    assert not Automation.objects.exists()


@pytest.mark.parametrize("content, problem", [(b"{not json", "not valid JSON"),
                                              (b"\xff\xfe\x00garbage", "is not UTF-8 text (byte 1)."),
                                              (b"[" * 100_000, "not valid JSON")])
def test_a_file_that_is_not_json_is_refused_not_a_server_error(client, owner, content, problem):
    response = client.post(reverse("automations:automation-import"), {"file": upload(content)})
    assert response.status_code == 200
    assert problem in response.context["problems"][0]
    assert not Automation.objects.exists()


def test_import_without_a_file_asks_for_one(client, owner):
    response = client.post(reverse("automations:automation-import"), {})
    assert response.status_code == 200
    assert "Choose the file to import." in response.content.decode()
    assert client.get(reverse("automations:automation-import")).status_code == 200


# --- Access -------------------------------------------------------------------------------------


def test_every_page_sends_anonymous_visitors_to_the_login_page(client):
    automation = make_automation()
    run = add_runs(automation, 1)[0]
    for method, url in [
        ("get", LIST), ("get", "/automations/new/"), ("get", "/automations/new/custom/"),
        ("get", "/automations/new/template/thank-you/"), ("get", f"/automations/{automation.pk}/"),
        ("get", f"/automations/{automation.pk}/edit/"), ("post", f"/automations/{automation.pk}/switch/"),
        ("get", f"/automations/{automation.pk}/delete/"), ("post", f"/automations/{automation.pk}/delete/"),
        ("post", f"/automations/{automation.pk}/test/"), ("post", f"/automations/runs/{run.pk}/retry/"),
        ("post", "/automations/preview/"), ("get", "/automations/export/"), ("post", "/automations/import/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    assert Automation.objects.filter(pk=automation.pk, is_active=False).exists()
