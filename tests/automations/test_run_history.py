"""The run history says what the automation did, not what happened later: a card the automation
moved to "Reminded" and a person then dragged to "Paid" still shows "Reminded" on the automation's
page and in the invoice's timeline — also once the step is renamed or deleted."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from automations.models import RunAction
from automations.services import create_automation, update_automation
from tests.base import make_invoice, make_owner, page_with_fragments
from workflows.models import Card
from workflows.services import create_workflow, delete_step, move_card

pytestmark = pytest.mark.django_db

EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello", "sender_name": "",
         "reply_to": ""}


@pytest.fixture
def board():
    return create_workflow(name="Collections", steps=["New", "Reminded", "Paid"])


def sent_and_then_dragged(client, board, capture, *other_actions):
    """The automation moves the card to Reminded; then a person drags it to Paid."""
    reminded, paid = board.steps.get(name="Reminded"), board.steps.get(name="Paid")
    automation = create_automation(name="Remind", trigger="invoice_sent", frequency="unlimited", is_active=True,
                                   actions=[*other_actions, {"kind": "move_card", "step": reminded}])
    with capture(execute=True):
        # Two at once: runs made only of card moves are then executed together (ActionBatch).
        invoice, _other = make_invoice(status="sent"), make_invoice(status="sent")
    card = Card.objects.get(contact=invoice.contact)
    assert card.step == reminded
    move_card(card=card, step=paid)
    client.force_login(make_owner())
    return automation, invoice


def what_the_pages_say(client, automation, invoice) -> tuple[str, str]:
    detail = html.unescape(client.get(reverse("automations:automation-detail", args=[automation.pk])).content.decode())
    timeline = html.unescape(page_with_fragments(client, reverse("invoices:invoice-detail", args=[invoice.pk])))
    return detail, timeline


@pytest.mark.parametrize("other_actions", [(), (EMAIL,)], ids=["batched with other runs", "executed on its own"])
def test_the_run_says_where_the_automation_moved_the_card_not_where_it_is_now(client, board, other_actions,
                                                                            django_capture_on_commit_callbacks):
    automation, invoice = sent_and_then_dragged(client, board, django_capture_on_commit_callbacks, *other_actions)
    result = RunAction.objects.get(kind="move_card", run__contact=invoice.contact)
    assert result.step == board.steps.get(name="Reminded") and result.detail == "Collections → Reminded"
    for page in what_the_pages_say(client, automation, invoice):
        assert "moved to Collections → Reminded" in page
        assert "Collections → Paid" not in page


def test_a_renamed_or_deleted_step_still_shows_where_the_card_went(client, board, django_capture_on_commit_callbacks):
    automation, invoice = sent_and_then_dragged(client, board, django_capture_on_commit_callbacks)
    reminded = board.steps.get(name="Reminded")
    # The automation moves cards elsewhere now, so the column may go.
    update_automation(automation=automation, actions=[{"kind": "move_card", "step": board.steps.get(name="New")}])
    delete_step(step=reminded, move_cards_to=board.steps.get(name="New"))
    result = RunAction.objects.get(kind="move_card", run__contact=invoice.contact)
    assert result.step is None
    for page in what_the_pages_say(client, automation, invoice):
        assert "moved to Collections → Reminded" in page
