"""The automation's page: summary, runs with their action results, Retry, Delete, Send test, and
the email preview of the builder."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from automations.models import Automation, ContactGate, Event, Run, RunAction
from tasks.models import Task
from tests.automations.test_views_support import EMAIL, TASK, make_automation, stub_urls  # noqa: F401
from tests.base import make_contact, make_invoice, messages_of
from workflows.models import Card
from workflows.services import create_workflow, place_card

pytestmark = pytest.mark.django_db


def detail_url(automation: Automation) -> str:
    return reverse("automations:automation-detail", args=[automation.pk])


def make_run(automation: Automation, *, status: str = "succeeded", invoice=None, **fields) -> Run:
    invoice = invoice or make_invoice()
    event = Event.objects.create(kind=automation.trigger, invoice=invoice, contact=invoice.contact,
                                 occurred_at=timezone.now())
    return Run.objects.create(automation=automation, event=event, contact=invoice.contact, status=status, **fields)


# --- Detail -------------------------------------------------------------------------------------


def test_the_detail_url_has_the_pk():
    assert reverse("automations:automation-detail", args=[7]) == "/automations/7/"


def test_the_detail_page_summarises_the_automation(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    automation = make_automation(frequency="once_per_contact", is_active=True, actions=[
        dict(EMAIL), TASK | {"assignee": owner}, {"kind": "move_card", "step": board.steps.get()}])
    page = client.get(detail_url(automation)).content.decode()
    for text in ("Overdue reminder", "Invoice is overdue", "Once per contact",
                 "Your action runs only once for each contact.", "Send email to customer", EMAIL["subject"],
                 "Create a task", "Call {{ contact.name }}", "owner", "2 days after the trigger",
                 "Move card on workflow", "Collections", "Reminded", "No runs yet."):
        assert text in page, text
    assert 'role="switch"' in page and "checked" in page
    assert f'href="/automations/{automation.pk}/edit/"' in page
    assert f'href="/automations/{automation.pk}/delete/"' in page
    assert f'action="/automations/{automation.pk}/test/"' in page


def test_an_unknown_automation_is_not_found(client, owner):
    assert client.get("/automations/999/").status_code == 404


def test_runs_show_what_each_action_did(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    automation = make_automation(actions=[dict(EMAIL), dict(TASK), {"kind": "move_card", "step": board.steps.get()}])
    invoice = make_invoice(contact=make_contact(name="Grace Hopper", email="grace@example.com"))
    run = make_run(automation, invoice=invoice, reason="no email address")
    task = Task.objects.create(title="Call Grace Hopper", contact=invoice.contact, run=run)
    card = place_card(contact=invoice.contact, step=board.steps.get())
    RunAction.objects.create(run=run, position=0, kind="send_email", status="succeeded", idempotency_key="k0",
                             email_to="grace@example.com", email_status="delivered")
    RunAction.objects.create(run=run, position=1, kind="create_task", status="succeeded", idempotency_key="k1", task=task)
    RunAction.objects.create(run=run, position=2, kind="move_card", status="succeeded", idempotency_key="k2", card=card,
                             step=card.step, detail=str(card.step))
    failed = make_run(automation, status="failed", error="SMTP said no")
    page = client.get(detail_url(automation)).content.decode()
    for text in ("Grace Hopper", invoice.number, "no email address", "grace@example.com", "delivery: Delivered",
                 "Call Grace Hopper", "Collections → Reminded", "SMTP said no", "badge-status-failed",
                 "badge-status-succeeded"):
        assert text in page, text
    assert page.count("</i> Retry</button>") == 1
    assert f'action="/automations/runs/{failed.pk}/retry/"' in page


def test_runs_are_paginated_by_25(client, owner):
    automation = make_automation()
    contact = make_contact()
    invoice = make_invoice(contact=contact)
    for index in range(27):
        event = Event.objects.create(kind="invoice_overdue", invoice=invoice, contact=contact,
                                     occurred_at=timezone.now(), key=f"e{index}")
        Run.objects.create(automation=automation, event=event, contact=contact, status="succeeded")
    first = client.get(detail_url(automation))
    assert len(first.context["runs"]) == 25 and first.context["page"].paginator.count == 27
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(detail_url(automation) + "?page=2")
    assert len(second.context["runs"]) == 2
    assert client.get(detail_url(automation) + "?page=abc").status_code == 200


def test_the_detail_page_queries_do_not_grow_with_the_runs(client, owner, django_assert_max_num_queries):
    automation = make_automation(actions=[dict(EMAIL), dict(TASK)])
    for _ in range(2):
        run = make_run(automation)
        RunAction.objects.create(run=run, position=0, kind="send_email", status="succeeded",
                                 idempotency_key=f"a{run.pk}")
    with django_assert_max_num_queries(60) as few:
        client.get(detail_url(automation))
    for _ in range(10):
        run = make_run(automation)
        RunAction.objects.create(run=run, position=0, kind="send_email", status="succeeded",
                                 idempotency_key=f"a{run.pk}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(detail_url(automation))


# --- Retry --------------------------------------------------------------------------------------


def test_retry_runs_a_failed_run_again(client, owner, django_capture_on_commit_callbacks):
    automation = make_automation(trigger="invoice_sent", is_active=True)
    refused = smtplib.SMTPRecipientsRefused({"grace@example.com": (550, b"no such user")})
    with mock.patch("automations.mailer.get_connection") as connection:
        connection.return_value.send_messages.side_effect = refused
        with django_capture_on_commit_callbacks(execute=True):
            make_invoice(status="sent", contact=make_contact(email="grace@example.com"))
    run = Run.objects.get()
    assert run.status == "failed" and len(mail.outbox) == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("automations:run-retry", args=[run.pk]), {"next": detail_url(automation)})
    assert response.status_code == 302 and response["Location"] == detail_url(automation)
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]
    assert messages_of(response) == ["The run will be tried again in a moment."]


def test_retrying_a_run_that_did_not_fail_says_so(client, owner):
    run = make_run(make_automation(), status="succeeded")
    response = client.post(reverse("automations:run-retry", args=[run.pk]))
    assert response.status_code == 302
    assert messages_of(response) == ["Only a failed run can be retried; this one is Succeeded."]
    assert client.get(reverse("automations:run-retry", args=[run.pk])).status_code == 405
    assert client.post(reverse("automations:run-retry", args=[999])).status_code == 404


# --- Delete -------------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes_with_the_history(client, owner):
    automation = make_automation()
    make_run(automation)
    url = reverse("automations:automation-delete", args=[automation.pk])
    page = client.get(url).content.decode()
    assert "Delete “Overdue reminder”?" in page and "history of 1 run" in page
    assert Automation.objects.exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/automations/"
    assert messages_of(response) == ["“Overdue reminder” was deleted."]
    assert not Automation.objects.exists() and not Run.objects.exists()
    assert client.post(url).status_code == 404


# --- Send test ----------------------------------------------------------------------------------


def test_send_test_emails_only_the_signed_in_user_and_touches_no_limit_or_run(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    automation = make_automation(frequency="once_per_contact", is_active=True, actions=[
        dict(EMAIL), dict(TASK), {"kind": "move_card", "step": board.steps.get()}])
    invoice = make_invoice(status="sent", contact=make_contact(name="Grace Hopper", email="grace@example.com"))
    events = Event.objects.count()
    response = client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": invoice.pk})
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [[owner.email]]
    message = mail.outbox[0]
    assert message.subject == f"[Test] Invoice {invoice.number}"
    assert "Hello Grace, you owe €119.00." in message.body
    assert not Run.objects.exists() and Event.objects.count() == events and not ContactGate.objects.exists()
    assert not Task.objects.exists() and not Card.objects.exists()
    results = response.context["results"]
    assert [r["status"] for r in results] == ["done", "skipped", "skipped"]
    page = response.content.decode()
    assert f"Test email sent to you ({owner.email}), not to the customer." in page
    assert "The task would be “Call Grace Hopper”" in page
    assert "The card of Grace Hopper on “Collections” would move to “Reminded”." in page
    # Again: no frequency limit applies to a test.
    client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": invoice.pk})
    assert len(mail.outbox) == 2 and not ContactGate.objects.exists()


def test_send_test_without_an_email_address_says_so(client, owner):
    owner.email = ""
    owner.save()
    automation = make_automation()
    invoice = make_invoice()
    response = client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": invoice.pk})
    assert response.status_code == 200
    assert mail.outbox == []
    assert "your user account has no email address" in response.content.decode()


def test_send_test_needs_an_invoice(client, owner):
    automation = make_automation()
    response = client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": "999"})
    assert response.status_code == 200
    assert "invoice" in response.context["form"].errors
    assert mail.outbox == []
    assert client.get(reverse("automations:automation-test", args=[automation.pk])).status_code == 200


def test_send_test_shows_a_failing_mail_server_instead_of_an_error(client, owner):
    automation = make_automation()
    invoice = make_invoice()
    with mock.patch("automations.views.get_connection") as connection:
        connection.return_value.send_messages.side_effect = smtplib.SMTPServerDisconnected("gone")
        response = client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": invoice.pk})
    assert response.status_code == 200
    assert "The test email could not be sent: gone" in response.content.decode()


# --- Email preview ------------------------------------------------------------------------------

PREVIEW = "/automations/preview/"


def test_the_preview_renders_subject_text_and_html_for_the_chosen_invoice(client, owner):
    make_invoice()
    invoice = make_invoice(due_date=dt.date(2030, 3, 5), issue_date=dt.date(2030, 3, 1),
                           contact=make_contact(name="<b>Eve</b> Müller", email="eve@example.com", language="de"))
    response = client.post(PREVIEW, {
        "prefix": "actions-0", "actions-0-subject": "Rechnung {{ invoice.number }}",
        "actions-0-body": "Hallo {{ contact.name }},\n\nfällig am {{ invoice.due_date }}: {{ invoice.total }}",
        "actions-0-sender_name": "Acme", "actions-0-reply_to": "billing@acme.test",
        "actions-0-preview_invoice": str(invoice.pk),
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page  # a fragment for htmx
    assert f"Rechnung {invoice.number}" in page
    assert "05.03.2030" in page and "119,00\xa0€" in page
    assert "&lt;b&gt;Eve&lt;/b&gt;" in page and "<b>Eve</b>" not in page
    assert "eve@example.com" in page and "billing@acme.test" in page and "Acme" in page


def test_the_preview_lists_validation_errors(client, owner):
    make_invoice()
    response = client.post(PREVIEW, {"subject": "Hi {{ contact.frist_name }}", "body": ""}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "Unknown placeholder {{ contact.frist_name }}" in page and "{{ contact.first_name }}" in page
    assert "This field is required for this action." in page


def test_the_preview_also_answers_a_get_and_a_page_without_htmx(client, owner):
    invoice = make_invoice()
    response = client.get(PREVIEW, {"subject": "Invoice {{ invoice.number }}", "body": "Hi"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page and f"Invoice {invoice.number}" in page


def test_the_preview_without_invoices_says_what_is_missing(client, owner):
    response = client.post(PREVIEW, {"subject": "Hi", "body": "Hi"}, HTTP_HX_REQUEST="true")
    assert "Create an invoice first" in response.content.decode()


def test_the_preview_ignores_a_strange_prefix_or_invoice(client, owner):
    make_invoice()
    response = client.post(PREVIEW, {"prefix": "<script>", "subject": "S", "body": "B", "invoice": "x"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and ">S<" in response.content.decode()
