"""The board page and its cards: render order, the drag-and-drop move endpoint, "Move to…",
adding and removing cards."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.base import make_contact, make_team_member, messages_of, step
from workflows import services
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def user(member):
    """These pages are tried as a team member (the fixtures are in tests/conftest.py)."""
    return member


def card_for(name: str, s: Step) -> Card:
    return services.place_card(contact=make_contact(name=name, company=f"{name} GmbH"), step=s)


def column(s: Step) -> list[tuple[str, int]]:
    return list(Card.objects.filter(step=s).order_by("position", "pk").values_list("contact__name", "position"))


def names(s: Step) -> list[str]:
    return [name for name, _position in column(s)]


def board_url(workflow: Workflow) -> str:
    return reverse("workflows:workflow-board", args=[workflow.pk])


def move_url(card: Card) -> str:
    return reverse("workflows:card-move", args=[card.pk])


def rendered_board(client, workflow: Workflow) -> list[tuple[str, list[str]]]:
    """(column name, [contact names]) as the page shows them, left to right, top to bottom."""
    html = client.get(board_url(workflow)).content.decode()
    result = []
    for section in re.findall(r'<section class="board-column card" .*?</section>', html, flags=re.S):
        name = re.search(r'id="step-\d+-name"[^>]*>([^<]*?) <span', section).group(1)
        cards = re.findall(r'class="fw-semibold text-break card-contact" href="[^"]*">([^<]*)</a>', section)
        result.append((name, cards))
    return result


# --- The board --------------------------------------------------------------------------------


def test_board_renders_columns_in_order_with_cards_in_order(client, user, board):
    new, paid = step(board, "New"), step(board, "Paid")
    for name in ("Ada", "Bob", "Cy"):
        card_for(name, new)
    card_for("Dee", paid)
    services.reorder_steps(workflow=board, step_ids=[paid.pk, step(board, "Reminded").pk, new.pk])
    assert rendered_board(client, board) == [("Paid", ["Dee"]), ("Reminded", []), ("New", ["Ada", "Bob", "Cy"])]


def test_a_card_shows_the_contact_name_company_and_links_to_the_contact(client, user, board):
    card = card_for("Ada", step(board, "New"))
    html = client.get(board_url(board)).content.decode()
    contact_url = reverse("invoices:contact-detail", args=[card.contact_id])
    assert f'href="{contact_url}"' in html
    assert contact_url == f"/invoices/contacts/{card.contact_id}/"
    assert "Ada GmbH" in html


def test_the_board_loads_sortable_and_the_board_script_from_local_static_files(client, user, board):
    html = client.get(board_url(board)).content.decode()
    assert '<script src="/static/vendor/sortablejs/Sortable.min.js"></script>' in html
    assert '<script src="/static/js/board.js"></script>' in html
    assert f'data-move-url="{move_url(card_for("Ada", step(board, "New")))}"' in client.get(board_url(board)).content.decode()


def test_every_card_has_a_move_to_menu_listing_the_columns(client, user, board):
    card = card_for("Ada", step(board, "Reminded"))
    html = client.get(board_url(board)).content.decode()
    form = re.search(rf'<form method="post" action="{move_url(card)}".*?</form>', html, flags=re.S).group(0)
    options = re.findall(r'<option value="(\d+)"\s*(selected)?>([^<]*)</option>', form)
    assert [(name, bool(sel)) for _pk, sel, name in options] == [("New", False), ("Reminded", True), ("Paid", False)]
    assert "Move to…" in html


# --- The move endpoint (drag and drop) ---------------------------------------------------------


def test_move_within_a_column_keeps_positions_dense_and_a_reload_shows_the_order(client, user, board):
    new = step(board, "New")
    ada, bob, cy = (card_for(name, new) for name in ("Ada", "Bob", "Cy"))
    response = client.post(move_url(cy), {"step": new.pk, "position": 0}, **JSON)
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True
    assert data["columns"] == {str(new.pk): [cy.pk, ada.pk, bob.pk]}
    assert column(new) == [("Cy", 0), ("Ada", 1), ("Bob", 2)]
    assert rendered_board(client, board)[0] == ("New", ["Cy", "Ada", "Bob"])


def test_move_down_within_a_column_uses_the_index_after_the_drop(client, user, board):
    new = step(board, "New")
    ada = card_for("Ada", new)
    for name in ("Bob", "Cy"):
        card_for(name, new)
    # SortableJS reports the index the card has after the drop: last of three is 2.
    client.post(move_url(ada), {"step": new.pk, "position": 2}, **JSON)
    assert column(new) == [("Bob", 0), ("Cy", 1), ("Ada", 2)]


def test_move_between_columns_renumbers_both_and_a_reload_shows_it(client, user, board):
    new, reminded = step(board, "New"), step(board, "Reminded")
    ada, bob, cy = (card_for(name, new) for name in ("Ada", "Bob", "Cy"))
    dee = card_for("Dee", reminded)
    response = client.post(move_url(bob), {"step": reminded.pk, "position": 0}, **JSON)
    assert response.status_code == 200
    assert response.json()["columns"] == {str(new.pk): [ada.pk, cy.pk], str(reminded.pk): [bob.pk, dee.pk]}
    assert column(new) == [("Ada", 0), ("Cy", 1)]
    assert column(reminded) == [("Bob", 0), ("Dee", 1)]
    assert rendered_board(client, board) == [("New", ["Ada", "Cy"]), ("Reminded", ["Bob", "Dee"]), ("Paid", [])]


def test_move_into_an_empty_column_and_to_the_end_without_a_position(client, user, board):
    new, paid = step(board, "New"), step(board, "Paid")
    ada = card_for("Ada", new)
    bob = card_for("Bob", new)
    client.post(move_url(ada), {"step": paid.pk, "position": 0}, **JSON)
    client.post(move_url(bob), {"step": paid.pk, "position": ""}, **JSON)
    assert column(paid) == [("Ada", 0), ("Bob", 1)]
    assert column(new) == []


def test_move_to_a_step_of_another_workflow_is_refused_and_changes_nothing(client, user, board):
    other = services.create_workflow(name="Sales", steps=["Lead"])
    new = step(board, "New")
    ada = card_for("Ada", new)
    card_for("Bob", new)
    response = client.post(move_url(ada), {"step": step(other, "Lead").pk, "position": 0}, **JSON)
    assert response.status_code == 400
    data = response.json()
    assert data["ok"] is False
    assert "another workflow" in data["error"] and "Collections" in data["error"]
    assert column(new) == [("Ada", 0), ("Bob", 1)]
    assert not Card.objects.filter(step__workflow=other).exists()


@pytest.mark.parametrize("data, text", [
    ({"step": "", "position": 0}, "required"),
    ({"step": "abc", "position": 0}, "whole number"),
    ({"position": 0}, "required"),
    ({"step": "STEP", "position": -1}, "greater than or equal to 0"),
    ({"step": "STEP", "position": "x"}, "whole number"),
])
def test_move_with_bad_input_is_refused_with_a_message(client, user, board, data, text):
    new = step(board, "New")
    ada = card_for("Ada", new)
    data = {key: (new.pk if value == "STEP" else value) for key, value in data.items()}
    response = client.post(move_url(ada), data, **JSON)
    assert response.status_code == 400
    assert text in response.json()["error"]
    assert column(new) == [("Ada", 0)]


def test_move_to_a_deleted_column_is_refused(client, user, board):
    ada = card_for("Ada", step(board, "New"))
    response = client.post(move_url(ada), {"step": 999999, "position": 0}, **JSON)
    assert response.status_code == 400 and "deleted" in response.json()["error"]


def test_move_a_deleted_card_is_a_404_with_a_message(client, user, board):
    ada = card_for("Ada", step(board, "New"))
    url = move_url(ada)
    services.remove_card(card=ada)
    response = client.post(url, {"step": step(board, "Paid").pk}, **JSON)
    assert response.status_code == 404 and "deleted" in response.json()["error"]


def test_move_endpoint_is_post_only_and_needs_a_login(client, board):
    ada = card_for("Ada", step(board, "New"))
    response = client.post(move_url(ada), {"step": step(board, "Paid").pk}, **JSON)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert column(step(board, "New")) == [("Ada", 0)]
    client.force_login(make_team_member("bob"))
    assert client.get(move_url(ada)).status_code == 405


def test_move_endpoint_accepts_the_csrf_token_in_the_header_as_board_js_sends_it(board):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_team_member("carol"))
    ada = card_for("Ada", step(board, "New"))
    page = client.get(board_url(board))
    token = re.search(r'data-csrf-token="([^"]+)"', page.content.decode()).group(1)
    refused = client.post(move_url(ada), {"step": step(board, "Paid").pk}, **JSON)
    assert refused.status_code == 403
    response = client.post(move_url(ada), {"step": step(board, "Paid").pk, "position": 0},
                           HTTP_X_CSRFTOKEN=token, **JSON)
    assert response.status_code == 200
    assert column(step(board, "Paid")) == [("Ada", 0)]


# --- "Move to…" (no JavaScript) ---------------------------------------------------------------


def test_move_to_form_moves_the_card_to_the_end_and_returns_to_the_board(client, user, board):
    new, paid = step(board, "New"), step(board, "Paid")
    ada = card_for("Ada", new)
    card_for("Bob", paid)
    response = client.post(move_url(ada), {"step": paid.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{board_url(board)}#card-{ada.pk}"
    assert column(paid) == [("Bob", 0), ("Ada", 1)]
    assert any("moved to “Paid”" in m for m in messages_of(response))


def test_move_to_form_refusal_is_shown_on_the_board(client, user, board):
    other = services.create_workflow(name="Sales", steps=["Lead"])
    ada = card_for("Ada", step(board, "New"))
    response = client.post(move_url(ada), {"step": step(other, "Lead").pk}, follow=True)
    assert response.status_code == 200
    assert "another workflow" in response.content.decode()
    assert column(step(board, "New")) == [("Ada", 0)]


# --- Add and remove cards ---------------------------------------------------------------------


def test_add_a_card_for_a_contact(client, user, board):
    reminded = step(board, "Reminded")
    card_for("Bob", reminded)
    ada = make_contact(name="Ada")
    response = client.post(reverse("workflows:card-add", args=[board.pk]), {"contact": ada.pk, "step": reminded.pk})
    card = Card.objects.get(contact=ada)
    assert response["Location"] == f"{board_url(board)}#card-{card.pk}"
    assert column(reminded) == [("Bob", 0), ("Ada", 1)]


def test_add_card_offers_only_contacts_without_a_card_on_this_board(client, user, board):
    card_for("Has Card", step(board, "New"))
    make_contact(name="No Card")
    form = client.get(board_url(board)).context["add_card_form"]
    offered = [str(label) for _value, label in form.fields["contact"].choices]
    assert any("No Card" in label for label in offered)
    assert not any("Has Card" in label for label in offered)


def test_add_card_for_a_contact_already_on_the_board_is_refused_and_moves_nothing(client, user, board):
    card = card_for("Ada", step(board, "New"))
    response = client.post(reverse("workflows:card-add", args=[board.pk]),
                           {"contact": card.contact_id, "step": step(board, "Paid").pk}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) and "alert-danger" in response.content.decode()
    assert column(step(board, "New")) == [("Ada", 0)]


def test_add_card_to_a_column_of_another_board_is_refused(client, user, board):
    other = services.create_workflow(name="Sales", steps=["Lead"])
    ada = make_contact(name="Ada")
    client.post(reverse("workflows:card-add", args=[board.pk]), {"contact": ada.pk, "step": step(other, "Lead").pk})
    assert not Card.objects.exists()


def test_remove_a_card_closes_the_gap(client, user, board):
    new = step(board, "New")
    _ada, bob, _cy = (card_for(name, new) for name in ("Ada", "Bob", "Cy"))
    response = client.post(reverse("workflows:card-remove", args=[bob.pk]))
    assert response["Location"] == board_url(board)
    assert column(new) == [("Ada", 0), ("Cy", 1)]
    assert rendered_board(client, board)[0] == ("New", ["Ada", "Cy"])
