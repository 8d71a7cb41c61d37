"""Small builders and the three users every access test needs (the healthchecks way): an owner and a
team member, each by their role (the groups accounts.roles creates), and an outsider (signed in, no role)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages

from accounts.roles import OWNER, TEAM_MEMBER, sync_roles

from invoices import services
from invoices.models import Contact, Invoice, RecurringPayment
from workflows.models import Step, Workflow
from workflows.services import create_workflow

PASSWORD = "correct horse battery staple"


def make_user_with_role(username: str, role: str, **fields: Any) -> User:
    if not Group.objects.filter(name=role).exists():
        # A transactional test's flush removed what the migration made; make it again the same way.
        sync_roles(apps)
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **{"is_staff": True, **fields})
    user.groups.add(Group.objects.get(name=role))
    return user


def make_owner(username: str = "owner") -> User:
    return make_user_with_role(username, OWNER)


def make_team_member(username: str = "member", **fields: Any) -> User:
    return make_user_with_role(username, TEAM_MEMBER, **fields)


def make_outsider(username: str = "outsider") -> User:
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD)


_counter = 0


def make_contact(**overrides: Any) -> Contact:
    global _counter
    _counter += 1
    fields = {"name": f"Ada Lovelace {_counter}", "email": f"ada{_counter}@example.com", "company": "Analytical Ltd",
              "street": "12 St James's Square", "postal_code": "SW1Y 4LB", "city": "London", "country": "GB"}
    fields.update(overrides)
    return services.create_contact(**fields)


def make_invoice(*, status: str = "draft", items: list[dict] | None = None, **overrides: Any) -> Invoice:
    """A draft invoice (one line of 100.00 + 19% tax unless `items` says otherwise), then moved to
    `status` through the services, as a user would."""
    if "contact" not in overrides:
        overrides["contact"] = make_contact()
    if items is None:
        items = [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}]
    invoice = services.create_invoice(items=items, **overrides)
    if status in ("sent", "paid", "overdue"):
        services.send_invoice(invoice=invoice)
    if status == "paid":
        services.record_payment(invoice=invoice, amount=invoice.balance)
    if status == "overdue":
        assert invoice.due_date < dt.date.today() - dt.timedelta(days=1), "give an overdue invoice a past due_date"
        services.mark_overdue()
        invoice.refresh_from_db()
    if status == "void":
        services.void_invoice(invoice=invoice)
    return invoice


def make_plan(**overrides: Any) -> RecurringPayment:
    fields: dict[str, Any] = {
        "description": "Monthly support", "amount": Decimal("50.00"), "start_date": dt.date.today(),
        "interval": "monthly",
    }
    fields.update(overrides)
    if "contact" not in fields:
        fields["contact"] = make_contact()
    return services.create_recurring(**fields)


def make_board(name: str = "Collections", steps: tuple[str, ...] | list[str] = ("New", "Reminded", "Paid")) -> Workflow:
    return create_workflow(name=name, steps=list(steps))


def step(workflow: Workflow, name: str) -> Step:
    return workflow.steps.get(name=name)


def step_order(workflow: Workflow) -> list[tuple[str, int]]:
    return list(workflow.steps.order_by("position").values_list("name", "position"))


def messages_of(response: Any) -> list[str]:
    """The flash messages the request left for the next page, as text."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def messages_with_levels(response: Any) -> list[tuple[int, str]]:
    """The flash messages the request left, with their levels (messages.SUCCESS, ERROR, …)."""
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


FRAGMENT = re.compile(r'<div class="card[^"]*" id="([^"]+)" hx-get="([^"]+)" hx-trigger="load" hx-swap="outerHTML"[^>]*>.*?\n</div>',
                      re.DOTALL)


def page_with_fragments(client: Any, url: str) -> str:
    """A page's HTML as the browser shows it once htmx has loaded its fragments (templates/
    _fragment.html: the parts other apps serve, such as the invoice's timeline)."""
    html = client.get(url).content.decode()

    def load(match: re.Match) -> str:
        response = client.get(unescape(match.group(2)), HTTP_HX_REQUEST="true")
        assert response.status_code == 200, f"fragment {match.group(2)} answered {response.status_code}"
        return response.content.decode()

    return FRAGMENT.sub(load, html)
