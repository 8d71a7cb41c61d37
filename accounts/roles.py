"""The two roles of the product, as Django groups with model permissions.

* **Owner**: everything, including people (users and groups) and the schedules.
* **Team member**: invoices, contacts, recurring payments, tasks and workflows, bank statements;
  automations, their history and the banks' CSV mappings read-only.

A migration creates both groups from these definitions (`sync_roles`); a person gets a role by being
put in its group (in the admin: Users → Groups). A signed-in person without a role sees a page that
says so (403) and nothing else. Superusers have every permission anyway.
"""

from __future__ import annotations

from typing import Any

OWNER = "Owner"
TEAM_MEMBER = "Team member"

# Apps whose every permission an owner has (axes: failed logins and lockouts, to unlock someone).
# contenttypes, sessions and admin log entries are internals nobody edits by hand.
OWNER_APPS = ("auth", "business", "invoices", "banking", "automations", "tasks", "workflows", "accounts", "django_q",
              "webhooks", "notifications",
              "axes")
# Apps a team member works in fully, and the app they may only look at.
TEAM_APPS = ("invoices", "tasks", "workflows", "accounts")
# banking: a team member imports statements and records their payments (invoices.add_payment), but the
# banks' CSV mappings are the owner's.
TEAM_READ_ONLY_APPS = ("automations", "business", "banking")


def sync_roles(apps: Any) -> None:
    """Create (or complete) the Owner and Team member groups. Takes the migration's `apps`."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    owner, _ = Group.objects.get_or_create(name=OWNER)
    owner.permissions.add(*Permission.objects.filter(content_type__app_label__in=OWNER_APPS))
    member, _ = Group.objects.get_or_create(name=TEAM_MEMBER)
    member.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=TEAM_APPS),
        *Permission.objects.filter(content_type__app_label__in=TEAM_READ_ONLY_APPS, codename__startswith="view_"),
    )


def refresh_roles(apps: Any, schema_editor: Any = None) -> None:
    """A migration step for a migration that adds models: their permissions are created now (Django
    creates them only after all migrations ran) and given to the roles.

        operations = [..., migrations.RunPython(refresh_roles, migrations.RunPython.noop)]
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)
