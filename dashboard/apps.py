from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The start page: money owed and overdue, the automations' latest runs and my tasks. It sits on
    top of the other apps (it reads all of them; none of them reads it)."""

    name = "dashboard"
    verbose_name = _("Dashboard")
