"""Each resource of the REST API as an owner and as a team member: what they read, what they change
(through the services, with the pages' messages when refused), and what a team member may not do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from automations import services as automation_services
from automations.models import Automation, Run
from invoices.models import Contact, Invoice, Payment, RecurringPayment, Tag
from tasks.models import Task
from tests.base import make_contact, make_invoice, make_plan

pytestmark = pytest.mark.django_db

LINE = {"description": "Consulting", "quantity": "2", "unit_price": "50.00", "tax_rate": "19"}


@pytest.fixture(params=["owner", "member"])
def api(request, owner_api, member_api):
    """Everything here is the same for an owner and a team member (as on the pages)."""
    return owner_api if request.param == "owner" else member_api


# --- Contacts ---------------------------------------------------------------------------------


def test_contacts_are_created_read_changed_and_deleted(api):
    created = api.post("/api/v1/contacts", {"name": " Grace Hopper ", "email": "grace@example.com", "language": "de"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Grace Hopper" and body["language"] == "de"
    pk = body["id"]
    assert api.get(f"/api/v1/contacts/{pk}").json()["email"] == "grace@example.com"
    changed = api.patch(f"/api/v1/contacts/{pk}", {"company": "Navy"})
    assert changed.status_code == 200 and changed.json()["company"] == "Navy"
    assert Contact.objects.get(pk=pk).name == "Grace Hopper"
    assert api.delete(f"/api/v1/contacts/{pk}").status_code == 204
    assert api.get(f"/api/v1/contacts/{pk}").status_code == 404


def test_bad_contact_data_is_refused_with_the_pages_messages(api):
    response = api.post("/api/v1/contacts", {"name": "Ada", "email": "not an address"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Enter a valid email address.", "errors": {"email": ["Enter a valid email address."]}}
    missing = api.post("/api/v1/contacts", {"email": "a@example.com"})
    assert missing.status_code == 422 and "name" in missing.json()["errors"]
    assert api.patch(f"/api/v1/contacts/{make_contact().pk}", {"name": None}).status_code == 422
    assert not Contact.objects.filter(email="a@example.com").exists()


def test_contact_tags_round_trip_through_the_api(api):
    Tag.objects.create(name="VIP")
    created = api.post("/api/v1/contacts", {"name": "Grace Hopper", "tags": ["vip", " Navy  Reserve ", "", "VIP"]})
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["tags"] == ["Navy Reserve", "VIP"]
    assert Tag.objects.count() == 2  # "vip" is the tag VIP
    assert api.get(f"/api/v1/contacts/{pk}").json()["tags"] == ["Navy Reserve", "VIP"]
    assert api.patch(f"/api/v1/contacts/{pk}", {"company": "Navy"}).json()["tags"] == ["Navy Reserve", "VIP"]
    assert api.patch(f"/api/v1/contacts/{pk}", {"tags": ["Admiral"]}).json()["tags"] == ["Admiral"]
    make_contact(name="Untagged")
    listed = api.get("/api/v1/contacts?tag=admiral").json()
    assert [(c["name"], c["tags"]) for c in listed["results"]] == [("Grace Hopper", ["Admiral"])]
    assert api.patch(f"/api/v1/contacts/{pk}", {"tags": []}).json()["tags"] == []
    assert api.patch(f"/api/v1/contacts/{pk}", {"tags": None}).status_code == 422


def test_bad_contact_tags_are_refused_with_the_forms_messages(api):
    too_long = api.post("/api/v1/contacts", {"name": "Ada", "tags": ["x" * 51]})
    assert too_long.status_code == 400
    assert too_long.json()["errors"] == {"tags": [
        "The tag “xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…” cannot be saved: Ensure this value has at most 50 characters (it has 51)."]}
    too_many = api.post("/api/v1/contacts", {"name": "Ada", "tags": [f"T{i}" for i in range(21)]})
    assert too_many.json() == {"detail": "A contact can have at most 20 tags, not 21.",
                               "errors": {"tags": ["A contact can have at most 20 tags, not 21."]}}
    assert api.post("/api/v1/contacts", {"name": "Ada", "tags": "VIP"}).status_code == 422
    comma = api.post("/api/v1/contacts", {"name": "Ada", "tags": ["VIP, Gold"]})
    assert comma.json()["detail"] == "The tag “VIP, Gold” cannot be saved: A tag cannot contain a comma."
    contact = make_contact(tags=["Old"])
    assert api.patch(f"/api/v1/contacts/{contact.pk}", {"name": "New", "tags": ["a\nb"]}).status_code == 400
    assert not Contact.objects.filter(name="Ada").exists()
    contact.refresh_from_db()
    assert contact.name != "New" and list(contact.tags.values_list("name", flat=True)) == ["Old"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["Old"]


def test_a_contact_with_invoices_cannot_be_deleted(api):
    invoice = make_invoice()
    response = api.delete(f"/api/v1/contacts/{invoice.contact_id}")
    assert response.status_code == 400
    assert "has invoices or recurring payments and cannot be deleted" in response.json()["detail"]
    assert Contact.objects.filter(pk=invoice.contact_id).exists()


def test_contacts_are_searched_and_paged(api):
    for name in ("Ada Byron", "Grace Hopper", "Alan Turing"):
        make_contact(name=name)
    assert [c["name"] for c in api.get("/api/v1/contacts?q=hopper").json()["results"]] == ["Grace Hopper"]
    first = api.get("/api/v1/contacts?limit=2&ordering=-name").json()
    assert first["count"] == 3 and [c["name"] for c in first["results"]] == ["Grace Hopper", "Alan Turing"]
    second = api.get("/api/v1/contacts?limit=2&offset=2&ordering=-name").json()
    assert [c["name"] for c in second["results"]] == ["Ada Byron"]
    bad = api.get("/api/v1/contacts?ordering=password")
    assert bad.status_code == 422 and "ordering" in bad.json()["errors"]
    assert api.get("/api/v1/contacts?limit=0").status_code == 422


# --- Invoices and payments --------------------------------------------------------------------


def test_an_invoice_is_drafted_sent_and_paid(api, django_capture_on_commit_callbacks, mailoutbox):
    contact = make_contact()
    draft = api.post("/api/v1/invoices", {"contact_id": contact.pk, "items": [LINE], "notes": "Thanks"})
    assert draft.status_code == 201, draft.json()
    body = draft.json()
    assert body["status"] == "draft" and body["total"] == "119.00" and body["items"][0]["net_amount"] == "100.00"
    pk = body["id"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"/api/v1/invoices/{pk}/send")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [contact.email]  # emailed, with its PDF
    assert any(name.endswith(".pdf") for name, *_ in mailoutbox[0].attachments)
    part = api.post(f"/api/v1/invoices/{pk}/payments", {"amount": "19.00", "date": "2026-01-05", "method": "card"})
    assert part.status_code == 201 and part.json()["amount"] == "19.00"
    rest = api.post(f"/api/v1/invoices/{pk}/payments", {"amount": 100})
    assert rest.status_code == 201
    invoice = api.get(f"/api/v1/invoices/{pk}").json()
    assert invoice["status"] == "paid" and invoice["balance"] == "0.00"
    payments = api.get(f"/api/v1/payments?invoice_id={pk}&ordering=date").json()
    assert [p["amount"] for p in payments["results"]] == ["19.00", "100.00"]


def test_a_draft_is_changed_and_a_sent_invoice_is_not(api):
    ada, grace = make_contact(name="Ada"), make_contact(name="Grace")
    draft = api.post("/api/v1/invoices", {"contact_id": ada.pk, "items": [LINE], "service_date": "2026-01-02"}).json()
    pk = draft["id"]
    changed = api.patch(f"/api/v1/invoices/{pk}", {
        "contact_id": grace.pk, "notes": "Thank you", "service_date": None,
        "items": [LINE, {**LINE, "description": "Travel", "quantity": "1", "unit_price": "20.00"}]})
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert body["contact_id"] == grace.pk and body["notes"] == "Thank you" and body["service_date"] is None
    assert [item["description"] for item in body["items"]] == ["Consulting", "Travel"]
    assert body["total"] == "142.80" and body["number"] == draft["number"]
    invoice = Invoice.objects.get(pk=pk)
    assert (invoice.contact, invoice.total, invoice.items.count()) == (grace, Decimal("142.80"), 2)

    # Only what is given changes; bad values are refused with the pages' words, and nothing changes.
    later = (dt.date.fromisoformat(body["issue_date"]) + dt.timedelta(days=60)).isoformat()
    moved = api.patch(f"/api/v1/invoices/{pk}", {"due_date": later}).json()
    assert moved["due_date"] == later and moved["items"] == body["items"]
    for bad in ({"issue_date": None}, {"items": [{**LINE, "unit_price": "abc"}]}, {"currency": "XXX"},
                {"issue_date": "2031-01-01"}):
        refused = api.patch(f"/api/v1/invoices/{pk}", bad)
        assert refused.status_code in (400, 422), (bad, refused.json())
    assert api.patch(f"/api/v1/invoices/{pk}", {"contact_id": 999999}).status_code == 404
    assert Invoice.objects.get(pk=pk).total == Decimal("142.80")

    sent = make_invoice(status="sent")
    refused = api.patch(f"/api/v1/invoices/{sent.pk}", {"notes": "Changed"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"Only a draft can be edited; invoice {sent.number} is Sent."
    assert Invoice.objects.get(pk=sent.pk).notes == sent.notes


def test_a_draft_given_another_buyer_takes_that_buyers_vat_treatment_unless_one_is_given(api):
    from business.services import update_profile

    update_profile(reverse_charge=True)
    consumer = make_contact(country="DE")
    french_business = make_contact(country="FR", is_business=True, vat_id="FR40303265045")
    pk = api.post("/api/v1/invoices", {"contact_id": consumer.pk, "items": [LINE]}).json()["id"]
    # Reverse charge for the French business: its lines must be without VAT, as for a new draft.
    refused = api.patch(f"/api/v1/invoices/{pk}", {"contact_id": french_business.pk})
    assert refused.status_code == 400 and "Reverse charge" in refused.json()["detail"]
    assert Invoice.objects.get(pk=pk).contact == consumer
    moved = api.patch(f"/api/v1/invoices/{pk}", {"contact_id": french_business.pk,
                                                 "items": [{**LINE, "tax_rate": "0"}]}).json()
    assert moved["tax_treatment"] == "reverse_charge" and moved["total"] == "100.00"
    back = api.patch(f"/api/v1/invoices/{pk}", {"contact_id": consumer.pk, "items": [LINE]}).json()
    assert back["tax_treatment"] == "standard" and back["total"] == "119.00"
    chosen = api.patch(f"/api/v1/invoices/{pk}", {"contact_id": french_business.pk, "tax_treatment": "standard"})
    assert chosen.json()["tax_treatment"] == "standard", "a treatment given is kept"


def test_a_misspelt_field_is_refused_and_changes_nothing(api):
    invoice = make_invoice()
    refused = api.patch(f"/api/v1/invoices/{invoice.pk}", {"note": "Thanks"})  # the field is `notes`
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"note": ["This field is not known here; check its name in the API docs."]}
    assert Invoice.objects.get(pk=invoice.pk).notes == invoice.notes
    line = api.post("/api/v1/invoices", {"contact_id": invoice.contact_id, "items": [{**LINE, "price": "5"}]})
    assert line.status_code == 422 and Invoice.objects.count() == 1
    assert api.post("/api/v1/contacts", {"name": "Ada", "mail": "a@example.com"}).status_code == 422
    assert api.patch(f"/api/v1/invoices/{invoice.pk}", {"notes": "Thanks"}).status_code == 200


def test_a_read_only_token_cannot_change_a_draft(reader_api):
    invoice = make_invoice()
    assert reader_api.patch(f"/api/v1/invoices/{invoice.pk}", {"notes": "x"}).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).notes == invoice.notes


def test_a_body_that_is_not_a_json_object_is_refused_and_changes_nothing(owner_api):
    """A list (e.g. a client that wraps the changes in [ ]) was read as an object without fields: the
    PATCH answered 200 and changed nothing, the POST complained about a missing field."""
    invoice = make_invoice(notes="Before")
    for body in ('[{"notes": "After"}]', '"text"', "null", "42"):
        refused = owner_api.patch(f"/api/v1/invoices/{invoice.pk}", body)
        assert refused.status_code == 400, (body, refused.content)
        assert refused.json() == {"detail": "The request body must be a JSON object ({…}); nothing was changed.",
                                  "errors": {}}
    assert Invoice.objects.get(pk=invoice.pk).notes == "Before"
    assert owner_api.post("/api/v1/contacts", '[{"name": "Ada"}]').status_code == 400
    assert not Contact.objects.filter(name="Ada").exists()

    broken = owner_api.patch(f"/api/v1/invoices/{invoice.pk}", '{"notes": ', HTTP_ACCEPT_LANGUAGE="de")
    assert broken.status_code == 400
    assert broken.json()["detail"] == "Der Inhalt der Anfrage ist kein gültiges JSON; es wurde nichts geändert."


def test_true_or_false_is_not_taken_for_an_id_or_an_amount(owner_api):
    """pydantic read true as 1: `"contact_id": true` drafted an invoice for contact 1 and
    `"unit_price": true` a line of 1.00, each answered 201/200."""
    first = make_contact(name="First")
    invoice = make_invoice(contact=make_contact(name="Second"))
    for body in ({"contact_id": True, "items": [LINE]}, {"contact_id": first.pk, "items": [{**LINE, "unit_price": True}]}):
        refused = owner_api.post("/api/v1/invoices", body)
        assert refused.status_code == 422, refused.json()
    assert not Invoice.objects.filter(contact=first).exists()
    refused = owner_api.patch(f"/api/v1/invoices/{invoice.pk}", {"contact_id": True})
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"contact_id": ["Input should be a whole number, not true or false"]}
    assert Invoice.objects.get(pk=invoice.pk).contact.name == "Second"
    # Numbers as strings stay welcome.
    assert owner_api.patch(f"/api/v1/invoices/{invoice.pk}", {"contact_id": str(first.pk)}).json()["contact_id"] == first.pk


def test_mark_as_sent_emails_nothing(api, django_capture_on_commit_callbacks, mailoutbox):
    invoice = make_invoice()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/invoices/{invoice.pk}/mark-sent")
    assert response.json()["status"] == "sent"
    assert mailoutbox == []
    again = api.post(f"/api/v1/invoices/{invoice.pk}/send")
    assert again.status_code == 400
    assert again.json()["detail"] == f"Invoice {invoice.number} cannot be sent: it is Sent."


def test_refusals_carry_the_services_messages(api):
    invoice = make_invoice(status="sent")
    too_much = api.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "500"})
    assert too_much.status_code == 400
    assert too_much.json()["errors"] == {"amount": [f"€500.00 is more than the €119.00 still due on invoice {invoice.number}."]}
    for amount in ("12,5x", "-1", "0.001", "NaN"):
        assert api.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": amount}).status_code == 400, amount
    empty = api.post("/api/v1/invoices", {"contact_id": invoice.contact_id, "items": []})
    assert empty.status_code == 201
    refused = api.post(f"/api/v1/invoices/{empty.json()['id']}/send")
    assert "has no line items" in refused.json()["detail"]
    bad_line = api.post("/api/v1/invoices", {"contact_id": invoice.contact_id,
                                             "items": [{**LINE, "unit_price": "abc"}]})
    assert bad_line.status_code == 400 and bad_line.json()["detail"].startswith("Line 1:")
    assert api.post("/api/v1/invoices", {"contact_id": 999999, "items": [LINE]}).status_code == 404
    assert Payment.objects.count() == 0


def test_voiding_a_sent_invoice_issues_its_credit_note(api):
    invoice = make_invoice(status="sent")
    response = api.post(f"/api/v1/invoices/{invoice.pk}/void")
    assert response.status_code == 200 and response.json()["status"] == "void"
    credit = Invoice.objects.get(credit_for=invoice)
    listed = api.get("/api/v1/invoices?status=issued").json()["results"]
    assert [row["id"] for row in listed] == [credit.pk] and listed[0]["credit_for_id"] == invoice.pk
    assert api.post(f"/api/v1/invoices/{invoice.pk}/void").status_code == 400


def test_invoices_are_filtered_and_ordered(api):
    contact = make_contact()
    old = make_invoice(contact=contact, issue_date=dt.date(2026, 1, 10), due_date=dt.date(2026, 1, 24))
    sent = make_invoice(status="sent", issue_date=dt.date(2026, 2, 1), due_date=dt.date(2026, 2, 15))
    make_invoice(issue_date=dt.date(2026, 3, 1))

    def ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/invoices?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(f"contact_id={contact.pk}") == [old.pk]
    assert ids("status=sent") == [sent.pk] == ids("status=open")
    assert ids("issue_date_from=2026-01-15&issue_date_to=2026-02-28") == [sent.pk]
    assert ids("due_date_to=2026-01-31") == [old.pk]
    assert ids(f"number={sent.number}") == [sent.pk]
    assert ids("ordering=issue_date")[0] == old.pk
    assert api.get("/api/v1/invoices?status=lost").status_code == 422
    assert api.get("/api/v1/invoices?issue_date_from=yesterday").status_code == 422


def test_the_pdf_link_downloads_the_invoice(api):
    invoice = make_invoice(status="sent")
    link = api.get(f"/api/v1/invoices/{invoice.pk}").json()["pdf_url"]
    response = api.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert api.get(f"/api/v1/invoices/{invoice.pk + 1000}/pdf").status_code == 404


# --- Recurring payments and tasks -------------------------------------------------------------


def test_recurring_payments_are_created_started_and_canceled(api):
    contact = make_contact()
    created = api.post("/api/v1/recurring-payments", {
        "contact_id": contact.pk, "description": "Hosting", "amount": "20.00", "start_date": dt.date.today().isoformat(),
        "interval": "monthly", "tax_rate": "19"})
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    started = api.post(f"/api/v1/recurring-payments/{pk}/start")
    assert started.json()["status"] == "active" and started.json()["periods_issued"] == 1
    assert Invoice.objects.filter(recurring_id=pk).count() == 1
    assert api.post(f"/api/v1/recurring-payments/{pk}/cancel").json()["status"] == "canceled"
    again = api.post(f"/api/v1/recurring-payments/{pk}/cancel")
    assert again.json()["detail"] == "The recurring payment cannot be canceled: it is Canceled."
    assert [p["id"] for p in api.get("/api/v1/recurring-payments?status=canceled").json()["results"]] == [pk]
    bad = api.post("/api/v1/recurring-payments", {"contact_id": contact.pk, "description": "X", "amount": "0",
                                                  "start_date": "2026-01-01"})
    assert bad.status_code == 400 and bad.json()["errors"] == {"amount": ["The amount must be greater than zero."]}
    assert RecurringPayment.objects.count() == 1


def test_tasks_are_created_completed_and_reopened(api):
    invoice = make_invoice()
    created = api.post("/api/v1/tasks", {"title": "Call  Ada", "invoice_id": invoice.pk, "due_date": "2026-12-24"})
    assert created.status_code == 201
    task = created.json()
    assert task["title"] == "Call Ada" and task["contact_id"] == invoice.contact_id and task["assignee"] is None
    pk = task["id"]
    assert api.post(f"/api/v1/tasks/{pk}/complete").json()["status"] == "done"
    twice = api.post(f"/api/v1/tasks/{pk}/complete")
    assert twice.status_code == 400 and twice.json()["detail"] == "Task “Call Ada” cannot be completed: it is already done."
    assert api.post(f"/api/v1/tasks/{pk}/reopen").json()["status"] == "open"
    assert api.post("/api/v1/tasks", {"title": "  "}).json()["errors"] == {"title": ["A task needs a title."]}
    assert api.post("/api/v1/tasks", {"title": "X", "assignee": "nobody"}).status_code == 400
    assert [t["id"] for t in api.get("/api/v1/tasks?status=open").json()["results"]] == [pk]
    assert Task.objects.count() == 1


# --- Automations and runs ---------------------------------------------------------------------

FILE = [{"name": "Thank you", "trigger": "invoice_paid", "frequency": "unlimited", "is_active": False,
         "actions": [{"kind": "create_task", "title": "Thank {{ contact.name }}", "description": "",
                      "due_in_days": 1, "assignee": None}]}]


def test_automations_are_read_and_exported_by_everyone(api):
    automation_services.create_automation(name="Follow up", trigger="invoice_sent", frequency="unlimited",
                                          actions=[{"kind": "create_task", "title": "Call"}])
    listed = api.get("/api/v1/automations").json()
    assert listed["count"] == 1 and listed["results"][0]["definition"]["actions"][0]["title"] == "Call"
    exported = api.get("/api/v1/automations/export").json()
    assert exported[0]["name"] == "Follow up"


def test_an_owner_switches_and_imports_automations(owner_api, django_capture_on_commit_callbacks):
    imported = owner_api.post("/api/v1/automations/import", {"automations": FILE})
    assert imported.status_code == 201, imported.json()
    pk = imported.json()[0]["id"]
    on = owner_api.post(f"/api/v1/automations/{pk}/switch", {"active": True})
    assert on.json()["is_active"] is True
    again = owner_api.post(f"/api/v1/automations/{pk}/switch", {"active": True})
    assert again.json()["detail"] == "The automation “Thank you” is already on."
    clash = owner_api.post("/api/v1/automations/import", {"automations": FILE})
    assert clash.status_code == 400 and clash.json()["detail"].startswith("Nothing was imported")
    assert clash.json()["errors"]["automations"]
    # The automation runs: its run is read through the API.
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="paid")
    runs = owner_api.get(f"/api/v1/runs?automation_id={pk}").json()
    assert runs["count"] == 1 and runs["results"][0]["status"] == "succeeded"
    run = owner_api.get(f"/api/v1/runs/{runs['results'][0]['id']}").json()
    assert run["actions"][0]["kind"] == "create_task" and run["actions"][0]["task_id"]


def test_a_team_member_reads_automations_and_runs_but_changes_none(member_api):
    automation = automation_services.create_automation(name="Follow up", trigger="invoice_sent", frequency="unlimited",
                                                       actions=[{"kind": "create_task", "title": "Call"}])
    assert member_api.get(f"/api/v1/automations/{automation.pk}").status_code == 200
    assert member_api.get("/api/v1/runs").status_code == 200
    switch = member_api.post(f"/api/v1/automations/{automation.pk}/switch", {"active": True})
    assert switch.status_code == 403 and switch.json()["detail"] == "You are not allowed to do this, so nothing was changed."
    assert member_api.post("/api/v1/automations/import", {"automations": FILE}).status_code == 403
    assert not Automation.objects.get().is_active and Automation.objects.count() == 1
    assert Run.objects.count() == 0


def test_money_is_exact_text(api):
    invoice = make_invoice(items=[{"description": "a", "quantity": "3", "unit_price": "0.10", "tax_rate": "0"}])
    body = api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert body["total"] == "0.30" and Decimal(body["total"]) == Decimal("0.30")
