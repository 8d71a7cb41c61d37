"""A page of any list costs the same number of SQL queries whether it holds 10 rows or 50: nothing is
loaded row by row (line items, contacts, run results and definitions are fetched per page)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations import services as automation_services
from invoices import services
from tasks.services import create_task
from tests.base import make_contact, make_invoice, make_plan

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/invoices", "/api/v1/contacts", "/api/v1/payments", "/api/v1/recurring-payments", "/api/v1/tasks",
         "/api/v1/automations", "/api/v1/runs"]


def add_rows(n: int, django_capture_on_commit_callbacks) -> None:
    for i in range(n):
        contact = make_contact(tags=["VIP", f"T{i}"])  # the tags too are fetched per page
        with django_capture_on_commit_callbacks(execute=True):
            invoice = make_invoice(contact=contact, status="sent", items=[
                {"description": "a", "quantity": "1", "unit_price": "10", "tax_rate": "19"},
                {"description": "b", "quantity": "2", "unit_price": "5", "tax_rate": "7"}])
            services.record_payment(invoice=invoice, amount="1")
        make_plan(contact=contact)
        create_task(title=f"Call {i}", invoice=invoice)
        automation_services.create_automation(name=f"A{i:03d}", trigger="invoice_paid", frequency="unlimited",
                                              actions=[{"kind": "create_task", "title": "x"}])


def queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("url", LISTS)
def test_a_page_costs_the_same_queries_for_10_and_50_rows(owner_api, url, django_capture_on_commit_callbacks,
                                                           django_assert_num_queries):
    automation_services.create_automation(name="Follow up", trigger="invoice_sent", frequency="unlimited",
                                          actions=[{"kind": "create_task", "title": "Call"}], is_active=True)
    add_rows(10, django_capture_on_commit_callbacks)
    owner_api.get("/api/v1/contacts")  # the token's first use is noted once
    small = owner_api.get(f"{url}?limit=10").json()
    assert len(small["results"]) == 10
    ten = queries(owner_api, f"{url}?limit=10")
    add_rows(40, django_capture_on_commit_callbacks)
    assert len(owner_api.get(f"{url}?limit=50").json()["results"]) == 50
    with django_assert_num_queries(ten):
        owner_api.get(f"{url}?limit=50")
    assert ten <= 8, f"{url}: {ten} queries a page"
