"""Real concurrent transactions on PostgreSQL."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from tasks import services
from tasks.models import Task
from tests.base import make_owner, make_team_member
from tests.threads import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_people_completing_one_task_at_once_get_one_success_and_one_refusal(postgres_only):
    owner, staff = make_owner(), make_team_member()
    task = services.create_task(title="Call")
    results = run_at_once(
        lambda: services.complete_task(task=Task.objects.get(pk=task.pk), by=owner),
        lambda: services.complete_task(task=Task.objects.get(pk=task.pk), by=staff),
    )
    assert sum(isinstance(r, Task) for r in results) == 1
    assert sum(isinstance(r, DomainError) for r in results) == 1
    winner = next(r for r in results if isinstance(r, Task))
    task.refresh_from_db()
    assert (task.status, task.completed_by) == ("done", winner.completed_by)
