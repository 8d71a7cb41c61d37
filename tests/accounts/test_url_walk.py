"""Walks the whole URL configuration as four people: anonymous, an outsider (signed in, no role), a
team member and an owner, and checks who gets in where.

* Anonymous: every page redirects to the login page, except the login page itself, the language
  switch, the public invoice page and its PDF (a signed link) and the ESP webhooks (their own
  secret); the admin sends to its own login page.
* Outsider: 403 on every page of the product (GET and POST), the admin sends to its login page.
* Team member: 403 on every page that changes automations or a bank's CSV mapping, never on the others.
* Owner: never 403.
Refused POSTs change nothing. A new URL that this test cannot fill in fails it, so a page cannot be
added without deciding who may open it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import services as account_services
from automations import services as automation_services
from automations.models import Automation, Run
from banking import services as banking_services
from banking.models import CsvMapping
from invoices.public import make_token
from notifications import services as notification_services
from notifications.models import Notification
from tasks import services as task_services
from webhooks import services as webhook_services
from webhooks.models import Subscription
from tests.base import make_contact, make_invoice, make_outsider, make_owner, make_plan, make_team_member
from workflows import services as workflow_services

# Pages that open without a login, each for its own reason.
PUBLIC = {"login", "logout", "set_language", "invoice-public", "invoice-public-pdf"}
# What a team member may not do: build, change, switch, delete, test or import automations, retry runs.
TEAM_MEMBER_FORBIDDEN = {
    "automations:automation-new", "automations:automation-custom", "automations:automation-template",
    "automations:automation-wizard", "automations:email-preview", "automations:automation-import",
    "automations:run-retry", "automations:automation-edit", "automations:automation-switch",
    "automations:automation-delete", "automations:automation-test",
    # The banks' CSV mappings are the owner's; a team member imports statements with them.
    "banking:mapping-create", "banking:mapping-edit", "banking:mapping-delete",
    # The business profile is the owner's.
    "business:profile", "business:logo-upload", "business:logo-remove",
    # Webhooks and the failure alerts are the owner's.
    "webhooks:webhook-list", "webhooks:webhook-create", "webhooks:webhook-detail", "webhooks:webhook-edit",
    "webhooks:webhook-delete", "webhooks:webhook-test", "webhooks:delivery-detail", "webhooks:delivery-redeliver",
    "notifications:notification-list", "notifications:notification-read", "notifications:notification-read-all",
}

# A person's own things: someone else's are a 404 (their own tokens only).
OWN_ONLY = {"api-token-revoke"}
# The REST API answers tokens, not sessions (tests/api/test_access.py walks it).
API_NAMESPACE = "api-1:"

SUMMARY: dict[str, int] = {}


def walk(patterns, prefix: str = "", namespace: str = ""):
    """(full name, route, URLPattern) for every named URL of the project, admin and anymail included."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern), entry


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    """One of everything a URL can point at."""
    owner = make_owner("walker")
    automation = automation_services.create_automation(
        name="Follow up", trigger="invoice_sent", frequency="unlimited",
        actions=[{"kind": "create_task", "title": "Call about {{ invoice.number }}"}], is_active=True)
    # A reminder schedule too: it sorts first, so the admin walk opens its change page (steps inline).
    automation_services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=True,
        steps=[{"name": "Friendly", "days": 3, "actions": [{"kind": "charge_fee", "fee": "5.00"}]}])
    contact = make_contact()
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(contact=contact, status="sent")  # runs the automation: a Run to retry
    plan = make_plan(contact=contact, start_date=dt.date.today() + dt.timedelta(days=30))
    workflow = workflow_services.create_workflow(name="Collections", steps=["New", "Called"])
    step = workflow.steps.order_by("position").first()
    card = workflow_services.place_card(contact=contact, step=step)
    task = task_services.create_task(title="Call Ada", contact=contact, invoice=invoice)
    run = Run.objects.get(automation=automation)
    mapping = CsvMapping.objects.create(name="Sparkasse", date_column="Buchungstag", amount_column="Betrag",
                                        text_column="Verwendungszweck")
    statement = banking_services.upload_statement(
        file_name="march.csv", format="csv", mapping=mapping,
        content=f"Buchungstag;Betrag;Verwendungszweck\n02.03.2026;119,00;RE {invoice.number}\n".encode())
    with django_capture_on_commit_callbacks(execute=True):
        invoice_email = automation_services.resend_invoice_email(invoice=invoice)
    subscription = Subscription.objects.create(url="https://93.184.215.14/hook", event_types=["invoice_paid"])
    # Written, not sent (no wake-up runs outside captureOnCommitCallbacks): nothing leaves the test.
    webhook_services.emit(event_type="invoice_paid", key="walk", data={}, subscription_ids=[subscription.pk])
    notification_services.notify_owners(kind="run_failed", key="walk", text="A run failed")
    api_token, _raw = account_services.create_api_token(user=owner, name="Zapier", scope="read")
    return {
        "owner": owner, "invoice": invoice, "contact": contact, "plan": plan, "workflow": workflow,
        "step": step, "card": card, "task": task, "automation": automation, "run": run,
        "statement": statement, "transaction": statement.transactions.get(), "mapping": mapping,
        "invoice_email": invoice_email, "subscription": subscription, "delivery": subscription.deliveries.get(),
        "notification": Notification.objects.filter(user=owner).get(), "api_token": api_token,
    }


def app_kwargs(name: str, route: str, world: dict) -> dict:
    """Values for a product URL's parameters; fails for a URL this test does not know."""
    short = name.split(":")[-1]
    kwargs = {}
    if "<int:pk>" in route:
        for prefix, key in [("invoice-email-retry", "invoice_email"), ("invoice-", "invoice"), ("contact-", "contact"), ("recurring-", "plan"),
                            ("automation-", "automation"), ("run-", "run"), ("task-", "task"),
                            ("workflow-", "workflow"), ("step-add", "workflow"), ("card-add", "workflow"),
                            ("step-", "step"), ("card-", "card"), ("statement-", "statement"),
                            ("transaction-", "transaction"), ("mapping-", "mapping"), ("webhook-", "subscription"),
                            ("delivery-", "delivery"), ("notification-", "notification"),
                            ("api-token-", "api_token")]:
            if short.startswith(prefix):
                kwargs["pk"] = world[key].pk
                break
        else:
            pytest.fail(f"the URL walk does not know what {name} ({route}) points at: add it to app_kwargs")
    if "<slug:slug>" in route:
        kwargs["slug"] = "overdue-reminder"
    if "<str:wid>" in route:
        kwargs["wid"] = "x" * 16
    if "<str:token>" in route:
        kwargs["token"] = make_token(world["invoice"])
    return kwargs


def product_urls(world: dict) -> list[tuple[str, str]]:
    urls = []
    for name, route, _ in walk(get_resolver().url_patterns):
        if name.startswith(("admin:", API_NAMESPACE)) or route.startswith("anymail/") or name in PUBLIC:
            continue
        urls.append((name, reverse(name, kwargs=app_kwargs(name, route, world))))
    assert len(urls) > 40
    return urls


def admin_urls(world: dict) -> list[str]:
    """Every model admin's list, add page and the change page of one object where there is one."""
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        urls += [reverse("admin:%s_%s_changelist" % info), reverse("admin:%s_%s_add" % info)]
        obj = model._default_manager.first()
        if obj is not None:
            urls.append(reverse("admin:%s_%s_change" % info, args=[obj.pk]))
    return urls


def snapshot() -> dict[str, int]:
    """Rows per model of the product: a refused request must not change any."""
    return {m._meta.label: m._default_manager.count()
            for label in ("invoices", "banking", "automations", "tasks", "workflows", "business", "webhooks",
                          "notifications", "api")
            for m in apps.get_app_config(label).get_models()}


def test_anonymous_visitors_are_sent_to_the_login_page_except_on_public_pages(client, world):
    urls = product_urls(world)
    for name, url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, (name, url, response.status_code)
            assert response["Location"].startswith(reverse("login") + "?next="), (name, response["Location"])
    admin_pages = admin_urls(world)
    for url in admin_pages:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url
    # The public pages open without a login.
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("invoice-public", args=[make_token(world["invoice"])])).status_code == 200
    SUMMARY["anonymous → login"] = 2 * len(urls)
    SUMMARY["anonymous → admin login"] = len(admin_pages)


def test_a_signed_in_person_without_a_role_gets_403_everywhere_and_changes_nothing(client, world):
    client.force_login(make_outsider())
    urls = product_urls(world)
    before = snapshot()
    for name, url in urls:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 403, (name, url, method.__name__, response.status_code)
            assert "Not allowed" in response.content.decode()  # the friendly page, not a bare "403 Forbidden"
    assert snapshot() == before
    page = client.get(reverse("dashboard")).content.decode()
    assert "no role yet" in page
    for url in admin_urls(world):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url
    SUMMARY["outsider → 403"] = 2 * len(urls)


def test_a_team_member_may_look_at_automations_but_not_change_them(client, world):
    client.force_login(make_team_member())
    urls = product_urls(world)
    before = snapshot()
    allowed = forbidden = 0
    for name, url in urls:
        if name in TEAM_MEMBER_FORBIDDEN:
            for method in (client.get, client.post):
                assert method(url).status_code == 403, (name, url, method.__name__)
            forbidden += 2
        else:
            response = client.get(url)
            assert response.status_code in (200, 302, 405) or (name in OWN_ONLY and response.status_code == 404), (
                name, url, response.status_code)
            allowed += 1
    assert snapshot() == before
    assert Automation.objects.get(name="Follow up").is_active
    SUMMARY["team member → 403 (automation changes)"] = forbidden
    SUMMARY["team member → allowed (GET)"] = allowed


def test_an_owner_opens_every_page(client, world):
    client.force_login(world["owner"])
    urls = product_urls(world)
    for name, url in urls:
        response = client.get(url)
        assert response.status_code in (200, 302, 405), (name, url, response.status_code)
    # In the admin, an owner may do all that a superuser may (read-only history refuses both).
    admin_pages = admin_urls(world)
    superuser = Client()
    superuser.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    for url in admin_pages:
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        assert response.status_code == superuser.get(url).status_code, url
    SUMMARY["owner → allowed (GET)"] = len(urls)
    SUMMARY["owner → admin pages"] = len(admin_pages)


def test_the_walks_lists_name_only_urls_that_exist(world):
    """PUBLIC and TEAM_MEMBER_FORBIDDEN name real URLs (a renamed page would drop out of the walk)."""
    names = {name for name, _, _ in walk(get_resolver().url_patterns)}
    assert PUBLIC <= names and TEAM_MEMBER_FORBIDDEN <= names
    walked = {name for name, _ in product_urls(world)}
    print(f"\nURL walk: {len(walked)} product URLs, {len(PUBLIC)} public, "
          f"{len([n for n in names if n.startswith('admin:')])} admin URL names; counts: {SUMMARY}")
