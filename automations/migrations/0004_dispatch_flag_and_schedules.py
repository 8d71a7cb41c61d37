"""The dispatcher's flag row and the three django-q2 schedules (editable in the admin)."""

from django.db import migrations

SCHEDULES = [
    # name, function, every N minutes
    ("Overdue scan", "automations.jobs.scan_overdue", 10),
    ("Recurring payments", "automations.jobs.run_recurring", 10),
    ("Outbox sweeper", "automations.jobs.sweep", 1),
]


def create(apps, schema_editor):
    apps.get_model("automations", "DispatchFlag").objects.get_or_create(pk=1)
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        if not Schedule.objects.filter(func=func).exists():
            Schedule.objects.create(name=name, func=func, schedule_type="I", minutes=minutes, repeats=-1)


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func__in=[func for _, func, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("automations", "0003_engine"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
