from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "automations"
    verbose_name = _("Automations")

    def ready(self) -> None:
        # The outbox: invoice signals become Event rows in the same transaction.
        from . import receivers, tracking, watchdog  # noqa: F401

        # Under `manage.py qcluster_supervised`, the cluster's processes mark their progress.
        watchdog.connect_marks()
