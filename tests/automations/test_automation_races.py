"""Real concurrent transactions on PostgreSQL."""

from __future__ import annotations

import pytest

from automations import services
from automations.models import Action, Automation
from core.errors import DomainError
from tests.threads import run_at_once
from workflows.models import Step
from workflows.services import create_workflow, delete_step

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_saving_an_automation_while_its_step_is_deleted_never_leaves_a_dangling_action(postgres_only):
    for round_ in range(5):
        board = create_workflow(name=f"Board {round_}", steps=["New", "Paid"])
        paid = board.steps.get(name="Paid")
        results = run_at_once(
            lambda: services.create_automation(name=f"Archive {round_}", trigger="invoice_paid",
                                               frequency="unlimited", actions=[{"kind": "move_card", "step": paid}]),
            lambda: delete_step(step=paid),
        )
        created, deleted = results
        assert not any(isinstance(r, Exception) and not isinstance(r, DomainError) for r in results), results
        if isinstance(created, Automation):
            # The automation won: the step stays and the refusal names the automation.
            assert isinstance(deleted, DomainError) and f"Archive {round_}" in deleted.message
            assert Step.objects.filter(pk=paid.pk).exists()
        else:
            assert deleted is None
            assert not Step.objects.filter(pk=paid.pk).exists()
            assert not Automation.objects.filter(name=f"Archive {round_}").exists()
        assert not Action.objects.filter(kind="move_card", step__isnull=True).exists()


def test_switching_on_at_once_twice_gives_one_success(postgres_only):
    automation = services.create_automation(
        name="Reminder", trigger="invoice_overdue", frequency="unlimited",
        actions=[{"kind": "create_task", "title": "Call"}],
    )
    results = run_at_once(*[lambda: services.set_automation_active(
        automation=Automation.objects.get(pk=automation.pk), active=True)] * 2)
    assert sum(isinstance(r, Automation) for r in results) == 1
    assert sum(isinstance(r, DomainError) for r in results) == 1
    assert Automation.objects.get(pk=automation.pk).is_active
