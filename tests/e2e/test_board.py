"""The workflow board: a card dragged with the mouse to another column stays there after a reload;
"Move to…" on a card works with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.base import make_contact
from workflows.models import Card
from workflows.services import create_workflow, place_card


@pytest.fixture
def board(db):
    workflow = create_workflow(name="Collections", steps=["New", "Reminded", "Paid"])
    new, reminded, paid = workflow.steps.order_by("position")
    cards = {
        name: place_card(contact=make_contact(name=name), step=step)
        for name, step in [("Ada Lovelace", new), ("Grace Hopper", new), ("Alan Turing", reminded)]
    }
    return workflow, (new, reminded, paid), cards


def column(page, step):
    return page.locator(f"ol.board-cards[data-step-id='{step.pk}']")


def settled(page) -> None:
    """The move is saved (dragging is switched on again) and SortableJS's animation of the cards is
    over: until then it ignores a press on a moving card, and the pointer would select text instead."""
    expect(page.locator("#board")).to_have_attribute("aria-busy", "false")
    page.wait_for_function("() => !Array.from(document.querySelectorAll('.board-card')).some(card => card.animated)")


def card_names(page, step) -> list[str]:
    return [name.strip() for name in column(page, step).locator("li.board-card .card-contact").all_inner_texts()]


def test_drag_a_card_to_another_column_and_it_stays_there(page, board):
    workflow, (new, reminded, paid), cards = board
    page.goto(page.url_for(f"/workflows/{workflow.pk}/"))
    ada = page.locator(f"li.board-card#card-{cards['Ada Lovelace'].pk}")
    expect(column(page, new).locator(ada)).to_have_count(1)

    # Onto Alan's card (lower half), in the next column: Ada goes below Alan.
    target = column(page, reminded).locator(f"#card-{cards['Alan Turing'].pk}")
    with page.expect_response(lambda r: r.url.endswith(f"/workflows/cards/{cards['Ada Lovelace'].pk}/move/")) as moved:
        ada.locator(".card-company").drag_to(target, target_position={"x": 40, "y": 60})
    assert moved.value.ok, moved.value.text()
    assert moved.value.json()["ok"] is True
    settled(page)
    expect(column(page, reminded).locator(ada)).to_have_count(1)
    expect(page.locator(f"section#step-{reminded.pk} .board-count")).to_have_text("2")
    expect(page.locator(f"section#step-{new.pk} .board-count")).to_have_text("1")
    expect(page.locator("#board-alert")).to_be_hidden()

    # Into the empty last column, with the mouse step by step (down, move, up).
    grace = page.locator(f"#card-{cards['Grace Hopper'].pk}")
    start = grace.locator(".card-company").bounding_box()
    end = column(page, paid).bounding_box()
    with page.expect_response(lambda r: r.url.endswith(f"/workflows/cards/{cards['Grace Hopper'].pk}/move/")) as moved:
        page.mouse.move(start["x"] + 10, start["y"] + 5)
        page.mouse.down()
        page.mouse.move(start["x"] + 30, start["y"] + 15, steps=5)
        x, y = end["x"] + end["width"] / 2, end["y"] + end["height"] / 2
        page.mouse.move(x, y, steps=15)
        # A person's pointer rests over the column for a moment; the browser keeps sending
        # dragover events meanwhile, which is when SortableJS decides (after its animation).
        for wiggle in range(6):
            page.wait_for_timeout(60)
            page.mouse.move(x + wiggle % 2, y + wiggle % 3)
        page.mouse.up()
    assert moved.value.json()["ok"] is True
    settled(page)
    expect(column(page, paid).locator(grace)).to_have_count(1)

    page.reload()
    assert card_names(page, new) == []
    assert card_names(page, reminded) == ["Alan Turing", "Ada Lovelace"]
    assert card_names(page, paid) == ["Grace Hopper"]
    positions = {card.contact.name: (card.step.name, card.position)
                 for card in Card.objects.select_related("contact", "step")}
    assert positions == {"Alan Turing": ("Reminded", 0), "Ada Lovelace": ("Reminded", 1), "Grace Hopper": ("Paid", 0)}


def test_move_to_with_the_keyboard(page, board):
    workflow, (new, _reminded, paid), cards = board
    ada = cards["Ada Lovelace"]
    page.goto(page.url_for(f"/workflows/{workflow.pk}/"))
    card = page.locator(f"#card-{ada.pk}")

    # Tab to the card's "Move to…" (after its name link and its remove button).
    card.locator(".card-contact").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    summary = card.locator("summary", has_text="Move to…")
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    select = card.get_by_label("Move the card of Ada Lovelace to")
    expect(select).to_be_visible()
    page.keyboard.press("Tab")
    expect(select).to_be_focused()
    expect(select).to_have_value(str(new.pk))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(select).to_have_value(str(paid.pk))
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Move", exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("alert")).to_contain_text("Card of Ada Lovelace moved to “Paid”.")
    expect(column(page, paid).locator(f"#card-{ada.pk}")).to_have_count(1)
    assert card_names(page, new) == ["Grace Hopper"]
    ada.refresh_from_db()
    assert ada.step == paid
