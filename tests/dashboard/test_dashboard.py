"""The dashboard: amounts per currency, the overdue chart, recent automation runs and my tasks."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from automations.models import Automation, Event, Run
from core.dates import business_today
from invoices import services
from invoices.models import Invoice
from dashboard.selectors import overdue_series
from tasks.models import Task
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

TODAY = business_today()


def day(n: int) -> dt.date:
    """n days ago."""
    return TODAY - dt.timedelta(days=n)


def at(n: int, hour: int = 10) -> dt.datetime:
    """A moment n days ago, in the business time zone."""
    return timezone.make_aware(dt.datetime.combine(day(n), dt.time(hour)))


def lines(amount: str) -> list[dict]:
    return [{"description": "Work", "quantity": "1", "unit_price": amount, "tax_rate": "0"}]


def invoice(*, issued: int, due: int, sent: int | None = None, amount: str = "100.00", currency: str = "EUR") -> Invoice:
    """An invoice issued `issued` days ago, due `due` days ago (negative: in the future), sent `sent` days ago."""
    created = services.create_invoice(contact=make_contact(), items=lines(amount), issue_date=day(issued),
                                      due_date=day(due), currency=currency)
    if sent is not None:
        services.send_invoice(invoice=created, now=at(sent))
    return created


def pay(inv: Invoice, amount: str, *, dated: int, recorded: int | None = None) -> None:
    services.record_payment(invoice=inv, amount=Decimal(amount), date=day(dated),
                            now=at(dated if recorded is None else recorded, 11))


# --- Cards ------------------------------------------------------------------------------------


def test_cards_equal_the_sums_of_the_invoices_and_payments_per_currency(user_client):
    a = invoice(issued=40, due=30, sent=40, amount="1000.00")             # overdue, partly paid today
    pay(a, "250.50", dated=0)
    invoice(issued=5, due=-9, sent=5, amount="300.00")                    # open, not due
    b = invoice(issued=5, due=-9, sent=5, amount="80.00")                 # paid in full today
    pay(b, "80.00", dated=0)
    c = invoice(issued=90, due=80, sent=90, amount="60.00")               # paid last month
    services.record_payment(invoice=c, amount=Decimal("60.00"), date=TODAY.replace(day=1) - dt.timedelta(days=1))
    invoice(issued=3, due=-11, amount="999.00")                           # draft: not open
    d = invoice(issued=20, due=10, sent=20, amount="500.00")              # void: not open
    services.void_invoice(invoice=d)
    invoice(issued=50, due=20, sent=50, amount="70.00", currency="USD")   # overdue USD
    invoice(issued=2, due=-12, sent=2, amount="30.00", currency="USD")    # open USD

    response = user_client.get(reverse("dashboard"))
    amounts = {row["currency"]: row for row in response.context["amounts"]}
    assert list(amounts) == ["EUR", "USD"]  # the default currency first
    eur, usd = amounts["EUR"], amounts["USD"]
    assert eur["open_amount"] == Decimal("1049.50")     # 749.50 + 300.00
    assert eur["open_count"] == 2
    assert eur["overdue_amount"] == Decimal("749.50")
    assert eur["overdue_count"] == 1
    assert eur["paid_amount"] == Decimal("330.50")      # 250.50 + 80.00, not last month's 60.00
    assert eur["paid_count"] == 2
    assert (usd["open_amount"], usd["overdue_amount"], usd["paid_amount"]) == (
        Decimal("100.00"), Decimal("70.00"), Decimal("0.00"))
    html = response.content.decode()
    for text in ("€1,049.50", "€749.50", "€330.50", "$100.00", "$70.00"):
        assert text in html


def test_overdue_card_counts_a_sent_invoice_past_due_before_the_scan_flips_it(user_client):
    invoice(issued=30, due=3, sent=30, amount="42.00")
    assert Invoice.objects.get().status == "sent"
    eur = user_client.get(reverse("dashboard")).context["amounts"][0]
    assert eur["overdue_amount"] == Decimal("42.00")


def test_empty_dashboard_shows_zero_in_the_default_currency(user_client):
    response = user_client.get(reverse("dashboard"))
    assert response.context["amounts"] == []
    html = response.content.decode()
    assert "€0.00" in html
    assert "Nothing was overdue in this time." in html


def test_german_dashboard_shows_german_amounts(user_client):
    invoice(issued=40, due=30, sent=40, amount="1234.50")
    html = user_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "1.234,50\xa0€" in html


# --- Overdue chart ----------------------------------------------------------------------------


def brute_force(invoices: list[Invoice], days: int = 90) -> dict[str, list[Decimal]]:
    """The amount overdue at the end of each day, invoice by invoice: what overdue_series must equal."""
    series: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal("0.00")] * days)
    for inv in invoices:
        inv.refresh_from_db()
        if inv.sent_at is None:
            continue
        sent_day = timezone.localdate(inv.sent_at)
        ended = timezone.localdate(inv.paid_at or inv.voided_at) if (inv.paid_at or inv.voided_at) else None
        payments = list(inv.payments.all())
        for i in range(days):
            d = day(days - 1 - i)
            if sent_day <= d and inv.due_date < d and (ended is None or ended > d):
                series[inv.currency][i] += inv.total - sum((p.amount for p in payments if p.date <= d), Decimal("0"))
    return {k: v for k, v in series.items() if any(v)}


@pytest.fixture
def history() -> list[Invoice]:
    made = []
    made.append(invoice(issued=60, due=46, sent=60))                       # open the whole time since day -45
    b = invoice(issued=30, due=20, sent=30)                                 # partly paid before and after the due date
    pay(b, "40.00", dated=25)
    pay(b, "10.00", dated=5)
    made.append(b)
    c = invoice(issued=50, due=40, sent=50)                                 # paid late, recorded the same day
    pay(c, "100.00", dated=10)
    made.append(c)
    d = invoice(issued=20, due=10, sent=20)                                 # voided while overdue
    services.void_invoice(invoice=d, now=at(3))
    made.append(d)
    e = invoice(issued=20, due=10, sent=20)                                 # paid on its due date: never overdue
    pay(e, "100.00", dated=10)
    made.append(e)
    made.append(invoice(issued=30, due=25, sent=15))                        # sent after its due date
    made.append(invoice(issued=200, due=180, sent=200, amount="33.33"))    # overdue before the window began
    h = invoice(issued=200, due=180, sent=200)                              # paid before the window
    pay(h, "100.00", dated=100)
    made.append(h)
    made.append(invoice(issued=40, due=30, sent=40, currency="USD"))      # another currency
    made.append(invoice(issued=40, due=30))                                 # a draft: never overdue
    k = invoice(issued=100, due=95, sent=100, amount="119.00")              # partly paid before the window, rest later
    pay(k, "50.00", dated=92)
    pay(k, "69.00", dated=30)
    made.append(k)
    made.append(invoice(issued=10, due=-4, sent=10))                        # not due yet
    m = invoice(issued=30, due=12, sent=30)                                 # paid today, recorded today
    pay(m, "100.00", dated=0)
    made.append(m)
    n = invoice(issued=30, due=12, sent=30)                                 # payment dated before it was recorded
    pay(n, "100.00", dated=8, recorded=6)
    made.append(n)
    o = invoice(issued=30, due=12, sent=30)                                 # recorded before the date it bears
    pay(o, "100.00", dated=4, recorded=7)
    made.append(o)
    made.append(invoice(issued=150, due=140, sent=120))                     # sent late, before the window
    q = invoice(issued=40, due=35, sent=20)                                 # sent late in the window, then partly paid
    pay(q, "10.00", dated=10)
    made.append(q)
    return made


def test_overdue_chart_equals_the_day_by_day_sum_of_the_invoices(history):
    labels, series = overdue_series(today=TODAY)
    assert labels[0] == day(89) and labels[-1] == TODAY and len(labels) == 90
    expected = brute_force(history)
    assert set(series) == set(expected) == {"EUR", "USD"}
    for currency, values in expected.items():
        mismatches = [(labels[i], series[currency][i], v) for i, v in enumerate(values) if series[currency][i] != v]
        assert not mismatches, currency


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overdue_chart_equals_the_day_by_day_sum_for_random_histories(seed):
    import random

    rng = random.Random(seed)
    made = []
    for _ in range(25):
        issued = rng.randint(0, 200)
        due = issued - rng.randint(0, 40)
        inv = invoice(issued=issued, due=due, amount=f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                      currency=rng.choice(["EUR", "EUR", "CHF"]), sent=None)
        fate = rng.random()
        if fate > 0.1:
            services.send_invoice(invoice=inv, now=at(rng.randint(0, issued)))
            inv.refresh_from_db()
            sent = (TODAY - timezone.localdate(inv.sent_at)).days
            if fate > 0.8 and sent > 0:
                services.void_invoice(invoice=inv, now=at(rng.randint(0, sent - 1)))
            elif fate > 0.3:
                for _ in range(rng.randint(1, 3)):
                    inv.refresh_from_db()
                    if inv.status == "paid":
                        break
                    amount = inv.balance if rng.random() < 0.5 else (inv.balance / 3).quantize(Decimal("0.01"))
                    if amount <= 0:
                        break
                    when = rng.randint(0, sent)
                    services.record_payment(invoice=inv, amount=amount, date=day(rng.randint(0, sent + 5)),
                                            now=at(when, 11))
        made.append(inv)
    _labels, series = overdue_series(today=TODAY)
    expected = brute_force(made)
    assert expected and set(series) == set(expected)
    for currency, values in expected.items():
        assert series[currency] == values, currency


def test_overdue_chart_ends_at_the_overdue_card(user_client, history):
    response = user_client.get(reverse("dashboard"))
    data = response.context["chart"]
    amounts = {row["currency"]: row["overdue_amount"] for row in response.context["amounts"]}
    for dataset in data["datasets"]:
        assert Decimal(dataset["values"][-1]) == amounts[dataset["currency"]]


def test_overdue_chart_data_is_embedded_as_json_with_the_local_chart_script(user_client, history):
    html = user_client.get(reverse("dashboard")).content.decode()
    assert '<script id="overdue-data" type="application/json">' in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    raw = html.split('<script id="overdue-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    data = json.loads(raw)
    assert len(data["labels"]) == 90 and data["labels"][-1] == TODAY.isoformat()
    assert {d["currency"] for d in data["datasets"]} == {"EUR", "USD"}


def test_dashboard_queries_do_not_grow_with_the_number_of_invoices(user_client, django_assert_max_num_queries):
    for n in range(3):
        b = invoice(issued=40, due=30 - n, sent=40)
        pay(b, "10.00", dated=20)
    with django_assert_max_num_queries(20) as few:
        user_client.get(reverse("dashboard"))
    for n in range(20):
        b = invoice(issued=40 + n, due=30 - n, sent=40)
        pay(b, "10.00", dated=20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        user_client.get(reverse("dashboard"))


# --- Runs and tasks ---------------------------------------------------------------------------


def test_recent_runs_show_the_last_ten_with_automation_contact_status_and_reason(user_client):
    inv = make_invoice(status="sent")
    event = Event.objects.get(invoice=inv)
    for n in range(12):
        automation = Automation.objects.create(name=f"Automation {n:02d}", trigger="invoice_sent")
        Run.objects.create(automation=automation, event=event, contact=inv.contact, status="skipped",
                           reason=f"Reason {n:02d}")
    response = user_client.get(reverse("dashboard"))
    runs = response.context["runs"]
    assert [r.automation.name for r in runs] == [f"Automation {n:02d}" for n in range(11, 1, -1)]
    html = response.content.decode()
    assert "Automation 11" in html and "Reason 11" in html and inv.contact.name in html
    assert "badge-status-skipped" in html
    assert "Automation 01" not in html
    assert f'href="/automations/{runs[0].automation_id}/"' in html


def test_my_open_tasks_are_mine_and_the_teams_due_soonest_first(user_client, user):
    other = User.objects.create_user("sam")
    Task.objects.create(title="Later", assignee=user, due_date=TODAY + dt.timedelta(days=5))
    Task.objects.create(title="Team, soon", assignee=None, due_date=TODAY)
    Task.objects.create(title="Mine, overdue", assignee=user, due_date=TODAY - dt.timedelta(days=2))
    Task.objects.create(title="No date", assignee=user)
    Task.objects.create(title="Sam's", assignee=other, due_date=TODAY)
    Task.objects.create(title="Done", assignee=user, status="done", completed_at=timezone.now())
    response = user_client.get(reverse("dashboard"))
    assert [t.title for t in response.context["tasks"]] == ["Mine, overdue", "Team, soon", "Later", "No date"]
    assert reverse("tasks:task-list") in response.content.decode()


# --- The first-run checklist ------------------------------------------------------------------


def test_owners_see_the_checklist_until_the_profile_is_complete(client, owner):
    from business.services import update_profile

    update_profile(street="", tax_number="", vat_id="", iban="")
    page = client.get(reverse("dashboard")).content.decode()
    assert "Before you send your first invoice" in page
    assert 'href="/settings/business/#id_legal_name">Your business&#x27;s legal name and address</a>' in page
    assert 'href="/settings/business/#id_tax_number">Your tax number or VAT ID</a>' in page
    assert page.count("checklist-done") == 1  # the phone is there; the logo, the IBAN, the address are not

    update_profile(street="Hauptstraße 1", tax_number="181/815/08155")
    assert "Before you send your first invoice" not in client.get(reverse("dashboard")).content.decode()


def test_team_members_never_see_the_checklist(client, member):
    from business.services import update_profile

    update_profile(street="")
    assert "Before you send your first invoice" not in client.get(reverse("dashboard")).content.decode()
