"""`Idempotency-Key` on POST: the first answer is kept 24 hours per token and key and replayed; the
same key with another request is refused (422); two requests with the same key at the same moment:
one runs, the other gets 409; a request that fails or dies leaves the key free and nothing changed."""

from __future__ import annotations

import datetime as dt
import time
from unittest import mock

import pytest
from django.utils import timezone

from api.models import IdempotencyKey
from invoices import services
from invoices.models import Contact, Payment
from tests.api.conftest import ApiClient, token_client
from tests.base import make_invoice, make_owner
from tests.threads import run_at_once

pytestmark = pytest.mark.django_db


def pay(api, invoice, key, amount="10.00"):
    return api.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": amount}, HTTP_IDEMPOTENCY_KEY=key)


def test_a_repeated_post_is_answered_from_the_first_and_done_once(owner_api):
    invoice = make_invoice(status="sent")
    first = pay(owner_api, invoice, "pay-1")
    again = pay(owner_api, invoice, "pay-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Payment.objects.count() == 1
    # Another key is another request.
    assert pay(owner_api, invoice, "pay-2").status_code == 201
    assert Payment.objects.count() == 2


def test_a_refusal_is_replayed_too(owner_api):
    invoice = make_invoice(status="sent")
    first = pay(owner_api, invoice, "big", amount="1000")
    assert first.status_code == 400
    services.record_payment(invoice=invoice, amount="1")  # the balance changes meanwhile
    again = pay(owner_api, invoice, "big", amount="1000")
    assert again.status_code == 400 and again.json() == first.json()


def test_the_same_key_for_another_request_is_refused(owner_api):
    invoice = make_invoice(status="sent")
    assert pay(owner_api, invoice, "k").status_code == 201
    other = pay(owner_api, invoice, "k", amount="20.00")
    assert other.status_code == 422
    assert other.json()["errors"] == {"Idempotency-Key": [
        "This Idempotency-Key was used for a different request (another path or body); use a new key for a new request."]}
    elsewhere = owner_api.post("/api/v1/contacts", {"name": "X"}, HTTP_IDEMPOTENCY_KEY="k")
    assert elsewhere.status_code == 422
    assert Payment.objects.count() == 1 and not Contact.objects.filter(name="X").exists()


def test_keys_belong_to_their_token(owner_api):
    invoice = make_invoice(status="sent")
    other = token_client(make_owner("other-owner"))
    assert pay(owner_api, invoice, "shared").status_code == 201
    assert pay(other, invoice, "shared").status_code == 201
    assert Payment.objects.count() == 2


def test_an_answer_is_kept_for_24_hours(owner_api, time_machine):
    invoice = make_invoice(status="sent")
    time_machine.move_to(timezone.now())
    assert pay(owner_api, invoice, "day").status_code == 201
    time_machine.shift(dt.timedelta(hours=23))
    assert pay(owner_api, invoice, "day")["Idempotent-Replayed"] == "true"
    time_machine.shift(dt.timedelta(hours=2))
    fresh = pay(owner_api, invoice, "day")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh
    assert Payment.objects.count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256])
def test_a_bad_key_is_refused(owner_api, key):
    invoice = make_invoice(status="sent")
    response = pay(owner_api, invoice, key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert Payment.objects.count() == 0


def test_a_request_that_fails_frees_its_key_and_changes_nothing(owner_api):
    invoice = make_invoice(status="sent")
    owner_api.raise_request_exception = False

    def broken(**kwargs):
        Payment.objects.create(invoice=invoice, amount="1.00", date=dt.date.today())  # half done …
        raise RuntimeError("the process dies here")

    with mock.patch.object(services, "record_payment", broken):
        assert pay(owner_api, invoice, "crash").status_code == 500
    assert Payment.objects.count() == 0  # … and rolled back with the answer
    assert not IdempotencyKey.objects.exists()
    assert pay(owner_api, invoice, "crash").status_code == 201
    assert Payment.objects.count() == 1


def test_a_key_left_by_a_request_that_died_is_free_after_its_lease(owner_api, time_machine):
    invoice = make_invoice(status="sent")
    time_machine.move_to(timezone.now())
    assert pay(owner_api, invoice, "died").status_code == 201
    # As a process killed mid-request leaves it: the key taken, no answer, and (the change ran in the
    # transaction that would have stored the answer) nothing changed.
    IdempotencyKey.objects.update(status_code=None, body=b"")
    Payment.objects.all().delete()
    type(invoice).objects.filter(pk=invoice.pk).update(amount_paid=0)
    busy = pay(owner_api, invoice, "died")
    assert busy.status_code == 409 and Payment.objects.count() == 0
    time_machine.shift(dt.timedelta(minutes=6))
    assert pay(owner_api, invoice, "died").status_code == 201
    assert Payment.objects.count() == 1
    assert pay(owner_api, invoice, "died")["Idempotent-Replayed"] == "true"


def test_a_post_without_a_key_is_not_recorded(owner_api):
    invoice = make_invoice(status="sent")
    assert owner_api.post(f"/api/v1/invoices/{invoice.pk}/payments", {"amount": "1"}).status_code == 201
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_the_same_key_at_once_run_once(postgres_only):
    owner = make_owner("racer")
    invoice = make_invoice(status="sent")
    api = token_client(owner)
    real = services.record_payment

    def slow(**kwargs):
        time.sleep(1.0)  # the first is still running when the others arrive
        return real(**kwargs)

    with mock.patch.object(services, "record_payment", slow):
        answers = run_at_once(*[lambda: pay(ApiClient(api.token), invoice, "race") for _ in range(4)])
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 409, 409, 409], codes
    assert Payment.objects.filter(invoice=invoice).count() == 1
    busy = next(answer for answer in answers if answer.status_code == 409)
    assert "is being processed" in busy.json()["detail"]
    # Afterwards the key answers with the first answer.
    replay = pay(api, invoice, "race")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Payment.objects.filter(invoice=invoice).count() == 1
