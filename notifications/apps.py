from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Failure alerts for the owners: a bell in the navigation bar and at most one email an hour."""

    name = "notifications"
    verbose_name = _("Notifications")
