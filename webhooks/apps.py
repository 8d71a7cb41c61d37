from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: what happened, signed per Standard Webhooks and posted to the addresses
    the owners subscribed, through an outbox of deliveries retried for up to a day."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the invoices' signals)
