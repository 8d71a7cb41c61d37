from __future__ import annotations

import pytest
from django.contrib.messages import ERROR, get_messages
from django.urls import reverse

from automations.services import create_automation
from tests.base import make_board, make_contact, make_outsider, make_team_member, step_order
from workflows import services
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db


def steps_formset(workflow: Workflow | None, rows: list[dict]) -> dict:
    """POST data of the Step inline: rows of {"id", "name", "position", "DELETE"}."""
    existing = [r for r in rows if r.get("id")]
    data = {
        "steps-TOTAL_FORMS": str(len(rows)), "steps-INITIAL_FORMS": str(len(existing)),
        "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data[f"steps-{i}-id"] = row.get("id", "")
        data[f"steps-{i}-workflow"] = workflow.pk if workflow else ""
        data[f"steps-{i}-name"] = row.get("name", "")
        data[f"steps-{i}-position"] = row.get("position", "")
        if row.get("DELETE"):
            data[f"steps-{i}-DELETE"] = "on"
    return data


def test_workflow_admin_pages_open_for_the_owner(owner_client):
    board = make_board()
    step = board.steps.first()
    card = services.place_card(contact=make_contact(), step=step)
    urls = [
        reverse("admin:workflows_workflow_changelist"), reverse("admin:workflows_workflow_add"),
        reverse("admin:workflows_workflow_change", args=[board.pk]),
        reverse("admin:workflows_step_changelist"), reverse("admin:workflows_step_add"),
        reverse("admin:workflows_step_change", args=[step.pk]),
        reverse("admin:workflows_step_delete", args=[board.steps.last().pk]),
        reverse("admin:workflows_card_changelist"), reverse("admin:workflows_card_add"),
        reverse("admin:workflows_card_change", args=[card.pk]),
        reverse("admin:workflows_card_changelist") + f"?workflow__id__exact={board.pk}&q=Ada",
    ]
    for url in urls:
        assert owner_client.get(url).status_code == 200, url


def test_workflow_admin_opens_for_staff(client):
    client.force_login(make_team_member())
    assert client.get(reverse("admin:workflows_workflow_changelist")).status_code == 200
    assert client.get(reverse("admin:workflows_card_changelist")).status_code == 200


@pytest.mark.parametrize("name", ["workflow", "step", "card"])
def test_outsider_is_sent_to_the_admin_login(client, name):
    client.force_login(make_outsider())
    response = client.get(reverse(f"admin:workflows_{name}_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_adding_a_workflow_with_steps_creates_them_in_the_given_order(owner_client):
    data = {"name": "Sales"} | steps_formset(None, [
        {"name": "Won", "position": "2"}, {"name": "Lead", "position": "0"}, {"name": "Offer", "position": "1"},
        {"name": ""},  # an empty extra row
    ])
    response = owner_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert step_order(Workflow.objects.get(name="Sales")) == [("Lead", 0), ("Offer", 1), ("Won", 2)]


def test_adding_a_workflow_without_steps_shows_an_error(owner_client):
    data = {"name": "Sales"} | steps_formset(None, [{"name": ""}])
    response = owner_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "at least one step" in response.content.decode()
    assert not Workflow.objects.exists()


def test_adding_a_workflow_with_two_steps_of_one_name_shows_an_error(owner_client):
    data = {"name": "Sales"} | steps_formset(None, [{"name": "Lead"}, {"name": "lead"}])
    response = owner_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "Another step of this workflow has this name" in response.content.decode()
    assert not Workflow.objects.exists()


def test_changing_a_workflow_renames_adds_deletes_and_reorders_steps_through_the_services(owner_client):
    board = make_board()
    new, reminded, paid = board.steps.order_by("position")
    data = {"name": "Dunning"} | steps_formset(board, [
        {"id": new.pk, "name": "Inbox", "position": "1"},
        {"id": reminded.pk, "name": "Reminded", "position": "1", "DELETE": True},
        {"id": paid.pk, "name": "Paid", "position": "0"},
        {"name": "Called", "position": "5"},
    ])
    response = owner_client.post(reverse("admin:workflows_workflow_change", args=[board.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    board.refresh_from_db()
    assert board.name == "Dunning"
    assert step_order(board) == [("Paid", 0), ("Inbox", 1), ("Called", 2)]


def test_deleting_a_step_used_by_an_automation_in_the_inline_names_the_automation(owner_client):
    board = make_board()
    new, reminded, paid = board.steps.order_by("position")
    create_automation(name="Archive paid", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": paid}])
    data = {"name": board.name} | steps_formset(board, [
        {"id": new.pk, "name": "New", "position": "0"},
        {"id": reminded.pk, "name": "Reminded", "position": "1"},
        {"id": paid.pk, "name": "Paid", "position": "2", "DELETE": True},
    ])
    response = owner_client.post(reverse("admin:workflows_workflow_change", args=[board.pk]), data)
    assert response.status_code == 200
    assert "Archive paid" in response.content.decode()
    assert Step.objects.filter(pk=paid.pk).exists()


def test_step_delete_page_names_the_automation_instead_of_deleting(owner_client):
    board = make_board()
    paid = board.steps.get(name="Paid")
    create_automation(name="Archive paid", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": paid}])
    url = reverse("admin:workflows_step_delete", args=[paid.pk])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert "Archive paid" in page.content.decode()
    response = owner_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Archive paid" in response.content.decode()
    assert Step.objects.filter(pk=paid.pk).exists()


def test_step_delete_page_refuses_a_step_that_holds_cards(owner_client):
    board = make_board()
    new = board.steps.get(name="New")
    services.place_card(contact=make_contact(), step=new)
    response = owner_client.post(reverse("admin:workflows_step_delete", args=[new.pk]), {"post": "yes"})
    assert response.status_code == 200
    assert "holds 1 card" in response.content.decode()
    assert Step.objects.filter(pk=new.pk).exists()


def test_deleting_an_empty_step_in_the_admin_renumbers_the_others(owner_client):
    board = make_board()
    new = board.steps.get(name="New")
    response = owner_client.post(reverse("admin:workflows_step_delete", args=[new.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert step_order(board) == [("Reminded", 0), ("Paid", 1)]


def test_bulk_deleting_steps_names_the_automation(owner_client):
    board = make_board()
    paid = board.steps.get(name="Paid")
    create_automation(name="Archive paid", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": paid}])
    response = owner_client.post(reverse("admin:workflows_step_changelist"), {
        "action": "delete_selected", "_selected_action": [s.pk for s in board.steps.all()], "post": "yes",
    })
    assert response.status_code == 200
    assert "Archive paid" in response.content.decode()
    assert board.steps.count() == 3


def test_adding_and_renaming_a_step_in_the_step_admin(owner_client):
    board = make_board()
    response = owner_client.post(reverse("admin:workflows_step_add"), {"workflow": board.pk, "name": "Called"})
    assert response.status_code == 302
    called = board.steps.get(name="Called")
    assert called.position == 3
    response = owner_client.post(reverse("admin:workflows_step_change", args=[called.pk]), {"name": "Phoned"})
    assert response.status_code == 302
    called.refresh_from_db()
    assert called.name == "Phoned"


def test_adding_a_step_with_a_taken_name_shows_a_form_error(owner_client):
    board = make_board()
    response = owner_client.post(reverse("admin:workflows_step_add"), {"workflow": board.pk, "name": "paid"})
    assert response.status_code == 200
    assert "already has a step" in response.content.decode()


def test_adding_a_card_in_the_admin_places_it_at_the_end(owner_client):
    board = make_board()
    new = board.steps.get(name="New")
    services.place_card(contact=make_contact(), step=new)
    contact = make_contact()
    response = owner_client.post(reverse("admin:workflows_card_add"), {"contact": contact.pk, "step": new.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    card = Card.objects.get(contact=contact)
    assert (card.workflow, card.step, card.position) == (board, new, 1)


def test_adding_a_second_card_for_a_contact_on_a_board_shows_a_form_error(owner_client):
    board = make_board()
    contact = make_contact()
    services.place_card(contact=contact, step=board.steps.get(name="New"))
    response = owner_client.post(reverse("admin:workflows_card_add"), {
        "contact": contact.pk, "step": board.steps.get(name="Paid").pk})
    assert response.status_code == 200
    assert "already has a card" in response.content.decode()
    assert Card.objects.filter(contact=contact).count() == 1


def test_changing_a_cards_step_in_the_admin_moves_it_to_the_end_of_the_new_column(owner_client):
    board = make_board()
    new, paid = board.steps.get(name="New"), board.steps.get(name="Paid")
    services.place_card(contact=make_contact(), step=paid)
    first = services.place_card(contact=make_contact(), step=new)
    second = services.place_card(contact=make_contact(), step=new)
    response = owner_client.post(reverse("admin:workflows_card_change", args=[first.pk]), {
        "step": paid.pk, "position": "0"})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.step, first.position, second.position) == (paid, 1, 0)


def test_moving_a_card_to_another_workflows_step_in_the_admin_shows_a_form_error(owner_client):
    board, other = make_board(), make_board("Other")
    card = services.place_card(contact=make_contact(), step=board.steps.get(name="New"))
    response = owner_client.post(reverse("admin:workflows_card_change", args=[card.pk]), {
        "step": other.steps.get(name="New").pk, "position": "0"})
    assert response.status_code == 200
    assert "card&#x27;s own workflow" in response.content.decode()


def test_deleting_a_card_in_the_admin_keeps_the_column_dense(owner_client):
    board = make_board()
    new = board.steps.get(name="New")
    cards = [services.place_card(contact=make_contact(), step=new) for _ in range(3)]
    response = owner_client.post(reverse("admin:workflows_card_delete", args=[cards[0].pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(Card.objects.filter(step=new).order_by("position").values_list("position", flat=True)) == [0, 1]


def test_a_domain_error_while_saving_becomes_a_message_not_a_server_error(owner_client, monkeypatch):
    board = make_board()
    step = board.steps.get(name="New")

    def refuse(**kwargs):
        raise services.DomainError("Changed by someone else meanwhile.")

    monkeypatch.setattr(services, "rename_step", refuse)
    url = reverse("admin:workflows_step_change", args=[step.pk])
    response = owner_client.post(url, {"name": "Inbox"})
    assert response.status_code == 302
    assert response["Location"] == url
    assert [(m.level, m.message) for m in get_messages(response.wsgi_request)] == [
        (ERROR, "Changed by someone else meanwhile.")]
    step.refresh_from_db()
    assert step.name == "New"


def test_deleting_a_workflow_with_cards_in_the_admin(owner_client):
    board = make_board()
    services.place_card(contact=make_contact(), step=board.steps.get(name="New"))
    url = reverse("admin:workflows_workflow_delete", args=[board.pk])
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Workflow.objects.exists()
    assert not Card.objects.exists()


def test_workflow_delete_page_names_the_automation_that_uses_it(owner_client):
    board = make_board()
    create_automation(name="Archive paid", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": board.steps.get(name="Paid")}])
    response = owner_client.post(reverse("admin:workflows_workflow_delete", args=[board.pk]), {"post": "yes"})
    assert response.status_code == 200
    assert "Archive paid" in response.content.decode()
    assert Workflow.objects.filter(pk=board.pk).exists()


def test_adding_a_workflow_whose_name_differs_only_in_case_shows_a_form_error(owner_client):
    make_board("Collections")
    data = {"name": "COLLECTIONS"} | steps_formset(None, [{"name": "New"}])
    response = owner_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Workflow.objects.count() == 1
