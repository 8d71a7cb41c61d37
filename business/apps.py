from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BusinessConfig(AppConfig):
    """The business itself as its invoices show it: name, address, tax numbers, bank, logo, texts."""

    name = "business"
    verbose_name = _("Business profile")
