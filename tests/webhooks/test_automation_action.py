"""The automation action "Call a webhook": offered in the builder, saved with its address and
secret (the address checked like a subscription's), carried out once per run through the webhooks'
outbox, signed with the action's secret, exported and imported as JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations import portable, services as automation_services
from automations.models import Automation, RunAction
from tests.automations.test_views_support import Builder, action_post_data, build
from tests.base import make_invoice
from webhooks.models import Delivery, new_secret

pytestmark = pytest.mark.django_db


def webhook_action(url: str, secret: str | None = None) -> dict:
    return {"kind": "call_webhook", "webhook_url": url, "webhook_secret": secret or new_secret()}


def test_an_automation_calls_the_webhook_once_signed_with_its_secret(receiver, django_capture_on_commit_callbacks):
    action = webhook_action(receiver.url)
    automation_services.create_automation(name="Tell n8n", trigger="invoice_sent", frequency="unlimited",
                                          actions=[action], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(status="sent")
    [item] = receiver.received
    payload = receiver.verify(item, action["webhook_secret"])
    assert payload["type"] == "invoice_sent"
    assert payload["data"]["invoice"]["number"] == invoice.number
    assert payload["data"]["automation"]["name"] == "Tell n8n"
    result = RunAction.objects.get()
    assert result.status == "succeeded" and item.headers["webhook-id"] in result.detail
    # The run executed again (a retry, a second worker): no second message.
    from automations import dispatch

    dispatch.execute_run(result.run_id)
    assert Delivery.objects.count() == 1


def test_the_action_refuses_a_private_address_and_a_bad_secret(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    _action, errors = automation_services.build_action(webhook_action("http://10.0.0.1/hook", "whsec_short"))
    assert "private or local" in " ".join(errors["webhook_url"])
    assert "whsec_" in " ".join(errors["webhook_secret"])
    _action, errors = automation_services.build_action({"kind": "call_webhook", "webhook_url": "",
                                                        "webhook_secret": ""})
    assert set(errors) >= {"webhook_url", "webhook_secret"}


def test_the_builder_offers_the_action_and_saves_it(client, owner, receiver):
    builder = Builder(client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Hook"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    builder.next("frequency", {"frequency-frequency": "unlimited"})
    page = builder.get().content.decode()
    assert "Call a webhook" in page
    # Adding the action shows its two fields, the secret already filled in.
    builder.post("actions", {**action_post_data([]), "actions_op": "add:call_webhook"})
    page = builder.get().content.decode()
    assert 'name="actions-0-webhook_url"' in page and 'name="actions-0-webhook_secret"' in page
    assert 'value="whsec_' in page
    secret = new_secret()
    build(client, name="Hook 2", trigger="invoice_paid", frequency="unlimited",
          actions=[webhook_action(receiver.url, secret)])
    action = Automation.objects.get(name="Hook 2").actions.get()
    assert (action.kind, action.webhook_url, action.webhook_secret) == ("call_webhook", receiver.url, secret)
    assert action_post_data  # the helper the builder tests share


def test_export_and_import_keep_the_address_and_secret(receiver):
    action = webhook_action(receiver.url)
    automation_services.create_automation(name="Tell n8n", trigger="invoice_paid", frequency="unlimited",
                                          actions=[action], is_active=False)
    exported = portable.export_automations()
    assert exported[0]["actions"] == [action]
    Automation.objects.all().delete()
    [imported] = portable.import_automations(exported)
    saved = imported.actions.get()
    assert (saved.webhook_url, saved.webhook_secret) == (action["webhook_url"], action["webhook_secret"])
