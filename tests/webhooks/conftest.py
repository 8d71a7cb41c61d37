from __future__ import annotations

import pytest

from tests.webhooks.receiver import start
from webhooks.models import Subscription


@pytest.fixture
def receiver(settings):
    """A receiver on loopback, which the setting allows."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver, server = start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscription(receiver, db) -> Subscription:
    sub = Subscription.objects.create(url=receiver.url, event_types=["invoice_paid", "payment_recorded",
                                                                     "invoice_sent", "run_failed"])
    receiver.secret = sub.secret
    return sub
