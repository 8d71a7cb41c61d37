from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BankingConfig(AppConfig):
    """Money in from the bank: statements (CAMT.053 or CSV) uploaded, their lines matched to open
    invoices, and the lines a person confirms recorded as payments through invoices.services."""

    name = "banking"
    verbose_name = _("Bank statements")
