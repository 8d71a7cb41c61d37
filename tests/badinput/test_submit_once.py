"""Every create form saves once, however often the same form is posted: a double click, a reload,
Back and submit, or two tabs posting at the same moment (the last on PostgreSQL, with real
threads). The form page's one-time token is taken in the database, in the transaction that saves
(accounts.submissions): a repeated post saves nothing and is sent to what the first one saved."""

from __future__ import annotations

import datetime as dt
import html
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from django.db.models import Model
from django.test import Client

from accounts.models import FormSubmission
from core.dates import business_today
from invoices import services as invoice_services
from invoices.models import Contact, Invoice, Payment, RecurringPayment
from tasks import services as task_services
from tasks.models import Task
from tests.base import make_contact, make_invoice, make_owner
from tests.invoices.test_concurrency import run_at_once

TODAY = business_today()


@dataclass
class CreateForm:
    name: str
    url: Callable[[dict], str]
    data: Callable[[dict], dict[str, Any]]
    model: type[Model]
    service: tuple[Any, str]  # (module, function) the view saves through
    saved: str  # the success message's start
    already: str


FORMS = [
    CreateForm("payment", lambda o: f"/invoices/{o['invoice'].pk}/payment/",
               lambda o: {"amount": "19.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": ""},
               Payment, (invoice_services, "record_payment"), "Payment of", "This payment has already been recorded."),
    CreateForm("invoice", lambda o: "/invoices/new/",
               lambda o: {"contact": str(o["contact"].pk), "issue_date": TODAY.isoformat(),
                          "due_date": (TODAY + dt.timedelta(days=14)).isoformat(), "currency": "EUR", "notes": "",
                          "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
                          "items-MAX_NUM_FORMS": "1000", "items-0-description": "Design", "items-0-quantity": "1",
                          "items-0-unit_price": "100.00", "items-0-tax_rate": "19"},
               Invoice, (invoice_services, "create_invoice"), "Invoice", "This invoice has already been saved."),
    CreateForm("contact", lambda o: "/invoices/contacts/new/",
               lambda o: {"name": "Emily Carter", "email": "emily@example.com", "phone": "", "company": "",
                          "language": "en"},
               Contact, (invoice_services, "create_contact"), "Contact Emily Carter created.",
               "This contact has already been saved."),
    CreateForm("task", lambda o: "/tasks/new/",
               lambda o: {"title": "Call Ada", "description": "", "due_date": "", "assignee": "",
                          "contact": str(o["contact"].pk), "invoice": ""},
               Task, (task_services, "create_task"), "Task “Call Ada” created.", "This task has already been saved."),
    CreateForm("recurring payment", lambda o: "/invoices/recurring/new/",
               lambda o: {"contact": str(o["contact"].pk), "description": "Hosting", "amount": "10.00",
                          "tax_rate": "19", "currency": "EUR", "interval": "monthly",
                          "start_date": TODAY.isoformat(), "end_date": "", "payment_terms_days": "14"},
               RecurringPayment, (invoice_services, "create_recurring"), "Recurring payment created.",
               "This recurring payment has already been saved."),
]


def world() -> dict:
    contact = make_contact(name="Ada Lovelace")
    return {"contact": contact, "invoice": make_invoice(contact=contact, status="sent")}


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_the_same_form_posted_again_saves_nothing_and_shows_the_first(form, client):
    client.force_login(make_owner())
    o = world()
    before = form.model.objects.count()
    data = {**form.data(o), "nonce": "form-page-1"}

    first = client.post(form.url(o), data, follow=True)
    again = client.post(form.url(o), data, follow=True)  # a double click, or Back and submit

    assert form.model.objects.count() == before + 1
    assert form.saved in page(first) and form.already not in page(first)
    assert form.already in page(again)
    assert again.redirect_chain[-1][0] == first.redirect_chain[-1][0]  # to what the first one saved
    # Another page of the same form (a new token) is a new one.
    client.post(form.url(o), {**data, "nonce": "form-page-2", **({"amount": "1.00"} if form.name == "payment" else {})})
    assert form.model.objects.count() == before + 2


@pytest.mark.django_db
def test_a_form_the_service_refuses_can_be_corrected_and_sent_again_with_its_token(client):
    client.force_login(make_owner())
    invoice = make_invoice(status="sent")  # 119.00 due
    url = f"/invoices/{invoice.pk}/payment/"
    data = {"amount": "500.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "", "nonce": "t"}

    refused = client.post(url, data)
    assert "500.00 is more than" in page(refused) and not Payment.objects.exists()

    client.post(url, {**data, "amount": "119.00"})
    assert Payment.objects.get().amount == 119


@pytest.mark.django_db
def test_a_form_page_shows_a_fresh_token_each_time(client):
    client.force_login(make_owner())
    tokens = {client.get("/invoices/contacts/new/").context["form"]["nonce"].value() for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) == 32 for t in tokens)


@pytest.mark.django_db
def test_tokens_of_one_person_cannot_block_another(client):
    owner, other = make_owner("first"), make_owner("second")
    o = world()
    data = {**FORMS[2].data(o), "nonce": "shared"}
    client.force_login(owner)
    client.post("/invoices/contacts/new/", data)
    client.force_login(other)
    client.post("/invoices/contacts/new/", data)
    assert Contact.objects.filter(name="Emily Carter").count() == 2


@pytest.mark.django_db
def test_old_tokens_are_forgotten_after_a_week(client, time_machine):
    owner = make_owner()
    client.force_login(owner)
    o = world()
    time_machine.move_to(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc), tick=False)
    client.post("/invoices/contacts/new/", {**FORMS[2].data(o), "nonce": "old"})
    time_machine.move_to(dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.timezone.utc), tick=False)
    client.post("/invoices/contacts/new/", {**FORMS[2].data(o), "name": "Grace", "nonce": "new"})
    assert list(FormSubmission.objects.filter(user=owner).values_list("token", flat=True)) == ["new"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.name)
def test_the_same_form_posted_twice_at_the_same_moment_saves_once(form, monkeypatch):
    """Two tabs of one session post the same form page at once. The service is slowed down inside
    the save's transaction, so both posts are certainly in flight together."""
    owner = make_owner()
    o = world()
    before = form.model.objects.count()
    first = Client()
    first.force_login(owner)
    second = Client()
    second.cookies = first.cookies  # the same session
    module, name = form.service
    real = getattr(module, name)

    def slow(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(module, name, slow)
    data = {**form.data(o), "nonce": "one-form-page"}
    clients = [first, second]
    outcomes = run_at_once(2, lambda i: clients[i].post(form.url(o), data, follow=True))

    assert not [o_ for o_ in outcomes if isinstance(o_, BaseException)], outcomes
    assert [r.status_code for r in outcomes] == [200, 200]
    assert form.model.objects.count() == before + 1
    pages = [page(r) for r in outcomes]
    assert sum(form.already in p for p in pages) == 1
    assert sum(form.saved in p and form.already not in p for p in pages) == 1
