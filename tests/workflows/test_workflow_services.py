from __future__ import annotations

import datetime as dt

import pytest

from automations.services import create_automation
from core.errors import DomainError
from tests.base import make_board, make_contact, step, step_order
from workflows import services
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db


def column(step: Step) -> list[tuple[str, int]]:
    return [(c.contact.name, c.position) for c in Card.objects.filter(step=step).order_by("position", "pk")]


def positions(step: Step) -> list[int]:
    return list(Card.objects.filter(step=step).order_by("position").values_list("position", flat=True))


# --- Workflows and steps ----------------------------------------------------------------------


def test_create_workflow_makes_its_steps_in_order():
    board = make_board()
    assert step_order(board) == [("New", 0), ("Reminded", 1), ("Paid", 2)]


def test_create_workflow_trims_names():
    board = services.create_workflow(name="  Sales  pipeline ", steps=[" Lead ", "Won"])
    assert board.name == "Sales pipeline"
    assert step_order(board)[0] == ("Lead", 0)


@pytest.mark.parametrize("name, steps, message", [
    ("", ["A"], "name"),
    ("Board", [], "at least one step"),
    ("Board", ["A", " "], "name"),
    ("Board", ["Open", "open"], "twice"),
    ("x" * 201, ["A"], "200"),
    ("Board", ["x" * 101], "100"),
    ("Board", "AB", "list"),
])
def test_create_workflow_refuses_bad_input_and_saves_nothing(name, steps, message):
    with pytest.raises(DomainError, match=message):
        services.create_workflow(name=name, steps=steps)
    assert not Workflow.objects.exists()
    assert not Step.objects.exists()


def test_create_workflow_refuses_a_name_in_use_whatever_the_case():
    make_board("Collections")
    with pytest.raises(DomainError, match="already exists"):
        make_board("collections")


def test_add_step_goes_to_the_end_by_default():
    board = make_board()
    new = services.add_step(workflow=board, name="Written off")
    assert new.position == 3
    assert step_order(board)[-1] == ("Written off", 3)


def test_add_step_at_a_position_shifts_the_later_steps():
    board = make_board()
    services.add_step(workflow=board, name="Called", position=1)
    assert step_order(board) == [("New", 0), ("Called", 1), ("Reminded", 2), ("Paid", 3)]


def test_add_step_beyond_the_end_lands_at_the_end():
    board = make_board()
    services.add_step(workflow=board, name="Last", position=99)
    assert step_order(board)[-1] == ("Last", 3)


@pytest.mark.parametrize("position", [-1, "1", 1.5, True])
def test_add_step_refuses_a_bad_position(position):
    board = make_board()
    with pytest.raises(DomainError, match="position"):
        services.add_step(workflow=board, name="X", position=position)
    assert board.steps.count() == 3


def test_add_step_refuses_a_name_the_workflow_has():
    board = make_board()
    with pytest.raises(DomainError, match="already has a step"):
        services.add_step(workflow=board, name="PAID")


def test_the_same_step_name_may_be_used_on_two_workflows():
    make_board("A")
    board = make_board("B")
    assert board.steps.count() == 3


def test_rename_step():
    board = make_board()
    renamed = services.rename_step(step=step(board, "New"), name="Inbox")
    assert renamed.name == "Inbox"
    assert step_order(board)[0] == ("Inbox", 0)


def test_rename_step_refuses_the_name_of_a_sibling_and_an_empty_name():
    board = make_board()
    with pytest.raises(DomainError, match="already has a step"):
        services.rename_step(step=step(board, "New"), name="paid")
    with pytest.raises(DomainError):
        services.rename_step(step=step(board, "New"), name=" ")
    assert step(board, "New")


def test_rename_step_may_change_only_the_case():
    board = make_board()
    services.rename_step(step=step(board, "New"), name="NEW")
    assert step(board, "NEW")


def test_reorder_steps():
    board = make_board()
    new, reminded, paid = (step(board, n) for n in ("New", "Reminded", "Paid"))
    services.reorder_steps(workflow=board, step_ids=[paid.pk, new.pk, reminded.pk])
    assert step_order(board) == [("Paid", 0), ("New", 1), ("Reminded", 2)]


def test_reorder_steps_must_list_every_step_once():
    board = make_board()
    other = make_board("Other")
    new, reminded, paid = (step(board, n) for n in ("New", "Reminded", "Paid"))
    for ids in ([new.pk, reminded.pk], [new.pk, new.pk, paid.pk], [new.pk, reminded.pk, step(other, "Paid").pk],
                [new.pk, reminded.pk, paid.pk, step(other, "Paid").pk], ["a", "b", "c"]):
        with pytest.raises(DomainError):
            services.reorder_steps(workflow=board, step_ids=ids)
    assert step_order(board) == [("New", 0), ("Reminded", 1), ("Paid", 2)]


# --- Cards ------------------------------------------------------------------------------------


def test_place_card_creates_the_contacts_card_at_the_end_of_the_column():
    board = make_board()
    ada, bob = make_contact(name="Ada"), make_contact(name="Bob")
    services.place_card(contact=ada, step=step(board, "New"))
    card = services.place_card(contact=bob, step=step(board, "New"))
    assert (card.workflow, card.step, card.position) == (board, step(board, "New"), 1)
    assert column(step(board, "New")) == [("Ada", 0), ("Bob", 1)]


def test_place_card_moves_the_existing_card_instead_of_making_a_second():
    board = make_board()
    ada = make_contact(name="Ada")
    first = services.place_card(contact=ada, step=step(board, "New"))
    second = services.place_card(contact=ada, step=step(board, "Reminded"))
    assert first.pk == second.pk
    assert Card.objects.filter(contact=ada).count() == 1
    assert second.step == step(board, "Reminded")


def test_place_card_on_the_step_it_is_on_changes_nothing():
    board = make_board()
    ada, bob = make_contact(name="Ada"), make_contact(name="Bob")
    services.place_card(contact=ada, step=step(board, "New"))
    services.place_card(contact=bob, step=step(board, "New"))
    before = Card.objects.get(contact=ada).moved_at
    services.place_card(contact=ada, step=step(board, "New"))
    assert column(step(board, "New")) == [("Ada", 0), ("Bob", 1)]
    assert Card.objects.get(contact=ada).moved_at == before


def test_a_contact_has_one_card_per_workflow_not_one_overall():
    sales, collections = make_board("Sales", ["Lead"]), make_board("Collections")
    ada = make_contact()
    services.place_card(contact=ada, step=step(sales, "Lead"))
    services.place_card(contact=ada, step=step(collections, "New"))
    assert Card.objects.filter(contact=ada).count() == 2


def test_place_card_at_a_position_inserts_it_there():
    board = make_board()
    names = ["A", "B", "C"]
    for name in names:
        services.place_card(contact=make_contact(name=name), step=step(board, "New"))
    services.place_card(contact=make_contact(name="Top"), step=step(board, "New"), position=0)
    services.place_card(contact=make_contact(name="Mid"), step=step(board, "New"), position=2)
    assert column(step(board, "New")) == [("Top", 0), ("A", 1), ("Mid", 2), ("B", 3), ("C", 4)]


def test_moving_a_card_keeps_both_columns_dense():
    board = make_board()
    new, reminded = step(board, "New"), step(board, "Reminded")
    cards = {n: services.place_card(contact=make_contact(name=n), step=new) for n in "ABCD"}
    for n in "XY":
        services.place_card(contact=make_contact(name=n), step=reminded)
    services.move_card(card=cards["B"], step=reminded, position=1)
    assert column(new) == [("A", 0), ("C", 1), ("D", 2)]
    assert column(reminded) == [("X", 0), ("B", 1), ("Y", 2)]
    services.move_card(card=cards["A"], step=reminded)
    assert column(new) == [("C", 0), ("D", 1)]
    assert column(reminded) == [("X", 0), ("B", 1), ("Y", 2), ("A", 3)]


def test_moving_a_card_within_its_column_reorders_it():
    board = make_board()
    new = step(board, "New")
    cards = {n: services.place_card(contact=make_contact(name=n), step=new) for n in "ABCD"}
    services.move_card(card=cards["D"], step=new, position=0)
    assert column(new) == [("D", 0), ("A", 1), ("B", 2), ("C", 3)]
    services.move_card(card=cards["D"], step=new, position=99)
    assert column(new) == [("A", 0), ("B", 1), ("C", 2), ("D", 3)]
    services.move_card(card=cards["A"], step=new, position=2)
    assert column(new) == [("B", 0), ("C", 1), ("A", 2), ("D", 3)]


def test_move_card_updates_the_callers_card_and_the_move_time():
    board = make_board()
    card = services.place_card(contact=make_contact(), step=step(board, "New"))
    later = card.moved_at + dt.timedelta(minutes=5)
    services.move_card(card=card, step=step(board, "Paid"), now=later)
    assert card.step == step(board, "Paid")
    assert card.moved_at == later


def test_move_card_to_a_step_of_another_workflow_is_refused():
    board, other = make_board(), make_board("Other")
    card = services.place_card(contact=make_contact(), step=step(board, "New"))
    with pytest.raises(DomainError, match="another workflow"):
        services.move_card(card=card, step=step(other, "Paid"))
    card.refresh_from_db()
    assert card.step == step(board, "New")


def test_move_card_refuses_a_negative_position():
    board = make_board()
    card = services.place_card(contact=make_contact(), step=step(board, "New"))
    with pytest.raises(DomainError, match="position"):
        services.move_card(card=card, step=step(board, "Paid"), position=-1)


def test_a_deleted_card_cannot_be_moved():
    board = make_board()
    card = services.place_card(contact=make_contact(), step=step(board, "New"))
    Card.objects.filter(pk=card.pk).delete()
    with pytest.raises(DomainError, match="deleted"):
        services.move_card(card=card, step=step(board, "Paid"))


def test_placing_a_card_on_a_deleted_step_is_refused():
    board = make_board()
    gone = step(board, "Paid")
    services.delete_step(step=gone)
    with pytest.raises(DomainError, match="deleted"):
        services.place_card(contact=make_contact(), step=gone)
    assert not Card.objects.exists()


def test_moves_close_gaps_left_by_deleted_contacts():
    board = make_board()
    new = step(board, "New")
    for n in "ABC":
        services.place_card(contact=make_contact(name=n), step=new)
    Card.objects.get(contact__name="A").contact.delete()  # cascades to the card: a gap at 0
    services.place_card(contact=make_contact(name="D"), step=new)
    assert column(new) == [("B", 0), ("C", 1), ("D", 2)]


def test_remove_card_moves_the_cards_below_up():
    board = make_board()
    new = step(board, "New")
    cards = [services.place_card(contact=make_contact(name=n), step=new) for n in "ABC"]
    services.remove_card(card=cards[0])
    assert column(new) == [("B", 0), ("C", 1)]


# --- Deleting steps ---------------------------------------------------------------------------


def test_delete_an_empty_step_renumbers_the_others():
    board = make_board()
    services.delete_step(step=step(board, "New"))
    assert step_order(board) == [("Reminded", 0), ("Paid", 1)]


def test_delete_a_step_with_cards_needs_a_target_step():
    board = make_board()
    services.place_card(contact=make_contact(), step=step(board, "New"))
    with pytest.raises(DomainError, match="holds 1 card"):
        services.delete_step(step=step(board, "New"))
    assert step(board, "New")


def test_delete_a_step_refuses_a_target_on_another_workflow_or_itself():
    board, other = make_board(), make_board("Other")
    services.place_card(contact=make_contact(), step=step(board, "New"))
    for target in (step(other, "New"), step(board, "New")):
        with pytest.raises(DomainError, match="same workflow"):
            services.delete_step(step=step(board, "New"), move_cards_to=target)
    assert Card.objects.get().step == step(board, "New")


def test_delete_a_step_moves_its_cards_to_the_end_of_the_target_in_order():
    board = make_board()
    new, reminded = step(board, "New"), step(board, "Reminded")
    for n in "XY":
        services.place_card(contact=make_contact(name=n), step=reminded)
    for n in "ABC":
        services.place_card(contact=make_contact(name=n), step=new)
    services.move_card(card=Card.objects.get(contact__name="C"), step=new, position=0)
    services.delete_step(step=new, move_cards_to=reminded)
    assert column(reminded) == [("X", 0), ("Y", 1), ("C", 2), ("A", 3), ("B", 4)]
    assert step_order(board) == [("Reminded", 0), ("Paid", 1)]


def test_delete_a_step_used_by_an_automation_names_the_automations():
    board = make_board()
    paid = step(board, "Paid")
    for name in ("Thank-you board", "Archive paid"):
        create_automation(name=name, trigger="invoice_paid", frequency="unlimited",
                          actions=[{"kind": "move_card", "step": paid}])
    with pytest.raises(DomainError) as exc:
        services.delete_step(step=paid)
    assert "“Archive paid”" in exc.value.message and "“Thank-you board”" in exc.value.message
    assert Step.objects.filter(pk=paid.pk).exists()


def test_delete_a_step_already_deleted_is_refused():
    board = make_board()
    paid = step(board, "Paid")
    services.delete_step(step=paid)
    with pytest.raises(DomainError, match="deleted"):
        services.delete_step(step=paid)


def test_step_deletion_problems_lists_every_reason():
    board = make_board()
    paid = step(board, "Paid")
    services.place_card(contact=make_contact(), step=paid)
    create_automation(name="Archive", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": paid}])
    problems = services.step_deletion_problems(step=paid)
    assert len(problems) == 2
    assert services.step_deletion_problems(step=step(board, "New")) == []


# --- Deleting workflows -----------------------------------------------------------------------


def test_delete_workflow_takes_its_steps_and_cards_along():
    board = make_board()
    services.place_card(contact=make_contact(), step=step(board, "New"))
    other = make_board("Other")
    services.delete_workflow(workflow=board)
    assert list(Workflow.objects.all()) == [other]
    assert not Card.objects.exists()
    assert Step.objects.filter(workflow=other).count() == 3


def test_delete_workflow_used_by_an_automation_is_refused_and_names_it():
    board = make_board()
    create_automation(name="Archive paid", trigger="invoice_paid", frequency="unlimited",
                      actions=[{"kind": "move_card", "step": step(board, "Paid")}])
    with pytest.raises(DomainError, match="“Archive paid”"):
        services.delete_workflow(workflow=board)
    assert Workflow.objects.filter(pk=board.pk).exists()


def test_rename_workflow_refuses_a_name_in_use():
    make_board("Sales")
    board = make_board()
    with pytest.raises(DomainError, match="already exists"):
        services.rename_workflow(workflow=board, name="SALES")
    services.rename_workflow(workflow=board, name="Dunning")
    board.refresh_from_db()
    assert board.name == "Dunning"


def test_place_card_needs_a_saved_contact():
    board = make_board()
    with pytest.raises(DomainError, match="contact"):
        services.place_card(contact=None, step=step(board, "New"))
    assert not Card.objects.exists()
