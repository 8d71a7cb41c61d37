"""Creates the Owner and Team member groups (accounts.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate); on a new database
    # they do not exist yet, so create them now for every app the roles name.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from accounts.roles import sync_roles

    sync_roles(apps)


def remove_roles(apps, schema_editor):
    from accounts.roles import OWNER, TEAM_MEMBER

    apps.get_model("auth", "Group").objects.filter(name__in=[OWNER, TEAM_MEMBER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("invoices", "0003_list_and_dashboard_indexes"),
        ("automations", "0005_event_indexes"),
        ("tasks", "0001_initial"),
        ("workflows", "0001_initial"),
        ("axes", "0010_accessattemptexpiration"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
