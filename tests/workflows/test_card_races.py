"""Real concurrent transactions on PostgreSQL: threads with their own connections."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from core.errors import DomainError
from tests.base import make_contact
from tests.threads import run_at_once
from workflows import services
from workflows.models import Card, Step, Workflow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_place_card_for_one_contact_make_one_card(postgres_only):
    board = services.create_workflow(name="Collections", steps=["New", "Reminded"])
    new = board.steps.get(name="New")
    ada = make_contact()
    for _round in range(5):
        Card.objects.filter(contact=ada).delete()
        results = run_at_once(*[lambda: services.place_card(contact=ada, step=new)] * 2)
        assert all(isinstance(r, Card) for r in results), results
        assert results[0].pk == results[1].pk
        assert Card.objects.filter(contact=ada, workflow=board).count() == 1


def test_concurrent_place_card_to_different_steps_leave_one_card_on_one_of_them(postgres_only):
    board = services.create_workflow(name="Collections", steps=["New", "Reminded", "Paid"])
    steps = list(board.steps.all())
    ada = make_contact()
    results = run_at_once(*[lambda s=s: services.place_card(contact=ada, step=s) for s in steps])
    assert all(isinstance(r, Card) for r in results), results
    card = Card.objects.get(contact=ada)
    assert card.step in steps
    assert card.position == 0


def test_concurrent_placements_in_one_column_keep_positions_dense(postgres_only):
    board = services.create_workflow(name="Collections", steps=["New", "Reminded"])
    new, reminded = board.steps.order_by("position")
    contacts = [make_contact() for _ in range(8)]
    for contact in contacts[:4]:
        services.place_card(contact=contact, step=reminded)
    calls = [lambda c=c: services.place_card(contact=c, step=new, position=0) for c in contacts[4:]]
    calls += [lambda c=c: services.place_card(contact=c, step=new) for c in contacts[:4]]  # moves
    results = run_at_once(*calls)
    assert all(isinstance(r, Card) for r in results), results
    assert sorted(Card.objects.filter(step=new).values_list("position", flat=True)) == list(range(8))
    assert not Card.objects.filter(step=reminded).exists()


def test_the_unique_constraint_backs_up_callers_that_skip_the_board_lock(postgres_only):
    """Even two transactions that both found no card cannot both insert one."""
    board = services.create_workflow(name="Collections", steps=["New"])
    new = board.steps.get()
    ada = make_contact()

    def insert_without_lock():
        with transaction.atomic():
            Card.objects.create(workflow=board, step=new, contact=ada, position=0)

    results = run_at_once(insert_without_lock, insert_without_lock)
    assert sum(isinstance(r, IntegrityError) for r in results) == 1
    assert Card.objects.filter(contact=ada).count() == 1


def test_deleting_a_step_while_a_card_is_placed_on_it_never_loses_the_card(postgres_only):
    board = services.create_workflow(name="Collections", steps=["New", "Reminded"])
    new, reminded = board.steps.order_by("position")
    ada = make_contact()
    results = run_at_once(
        lambda: services.place_card(contact=ada, step=new),
        lambda: services.delete_step(step=new, move_cards_to=reminded),
    )
    assert not any(isinstance(r, Exception) and not isinstance(r, DomainError) for r in results), results
    card = Card.objects.filter(contact=ada).first()
    if isinstance(results[0], DomainError):  # the step was gone first
        assert card is None
    else:
        assert results[1] is None
        assert card.step == reminded
        assert card.position == 0


def test_concurrent_delete_workflow_and_place_card_end_cleanly(postgres_only):
    board = services.create_workflow(name="Collections", steps=["New"])
    new = board.steps.get()
    ada = make_contact()
    results = run_at_once(lambda: services.place_card(contact=ada, step=new),
                          lambda: services.delete_workflow(workflow=board))
    assert not any(isinstance(r, Exception) and not isinstance(r, DomainError) for r in results), results
    assert not Workflow.objects.exists()
    assert not Step.objects.exists()
    assert not Card.objects.exists()
