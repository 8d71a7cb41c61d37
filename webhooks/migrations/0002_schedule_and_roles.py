"""The webhooks schedule (editable in the admin) and the Owner role's permissions on the new models."""

from django.db import migrations

from accounts.roles import refresh_roles

SCHEDULES = [("Webhook sweeper", "webhooks.jobs.sweep", 1)]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        if not Schedule.objects.filter(func=func).exists():
            Schedule.objects.create(name=name, func=func, schedule_type="I", minutes=minutes, repeats=-1)


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func__in=[func for _, func, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("accounts", "0003_form_submissions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove), migrations.RunPython(refresh_roles, migrations.RunPython.noop)]
