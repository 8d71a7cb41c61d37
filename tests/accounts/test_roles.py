"""The two roles the migration creates, and what each may do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.roles import OWNER, OWNER_APPS, TEAM_MEMBER
from tests.base import make_owner, make_team_member

pytestmark = pytest.mark.django_db


def codes(queryset) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in queryset.select_related("content_type")}


def test_an_owner_has_every_permission_of_the_product():
    """Fails when a model is added without a migration that gives its permissions to the roles."""
    every = codes(Permission.objects.filter(content_type__app_label__in=OWNER_APPS))
    assert codes(Group.objects.get(name=OWNER).permissions.all()) == every
    owner = make_owner()
    assert not owner.is_superuser and all(owner.has_perm(code) for code in every)


def test_a_team_member_works_on_everything_but_only_looks_at_automations():
    member = make_team_member()
    for app in ("invoices", "tasks", "workflows"):
        for permission in codes(Permission.objects.filter(content_type__app_label=app)):
            assert member.has_perm(permission), permission
    automations = codes(Permission.objects.filter(content_type__app_label="automations"))
    allowed = {code for code in automations if member.has_perm(code)}
    assert allowed == {code for code in automations if ".view_" in code}
    assert "automations.view_automation" in allowed and "automations.change_automation" not in allowed
    # People and schedules belong to the owner.
    assert not member.has_perm("auth.change_user") and not member.has_perm("django_q.change_schedule")
    assert codes(Group.objects.get(name=TEAM_MEMBER).permissions.all()) >= {"invoices.add_payment", "tasks.change_task"}
