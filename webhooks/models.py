"""Webhook subscriptions, the messages (what happened, once) and their deliveries (the outbox).

A `Message` is one thing that happened (unique `key`, e.g. `invoice_paid:42`), written in the
transaction of the change. A `Delivery` is that message for one subscription (unique per pair), or
for one automation's "Call a webhook" action (its own address and secret). Its `webhook_id` is
fixed when it is created: every attempt sends the same `webhook-id`, which is the receiver's
idempotency key. Each attempt is logged in `Attempt`.
"""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .safety import MAX_URL_LENGTH, validate_webhook_url


class EventType(models.TextChoices):
    # The five triggers of the automations (the same keys, see automations.triggers).
    INVOICE_SENT = "invoice_sent", _("Invoice is sent")
    INVOICE_PAID = "invoice_paid", _("Invoice is paid")
    INVOICE_OVERDUE = "invoice_overdue", _("Invoice is overdue")
    RECURRING_STARTED = "recurring_started", _("Recurring payment starts")
    RECURRING_CANCELED = "recurring_canceled", _("Recurring payment is canceled")
    PAYMENT_RECORDED = "payment_recorded", _("Payment recorded")
    RUN_FAILED = "run_failed", _("Automation run failed")
    # Sent only by "Send test event" and by automations' actions (their trigger's key).
    TEST = "test", _("Test event")


SUBSCRIBABLE = [choice for choice in EventType.choices if choice[0] != EventType.TEST]


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Subscription(models.Model):
    # The admin's form checks the address as the owners' page does (webhooks.safety).
    url = models.URLField(_("URL"), max_length=MAX_URL_LENGTH, validators=[validate_webhook_url])
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret)
    event_types = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    # Failed attempts in a row (any delivery); reset by a success. At WEBHOOKS_DISABLE_AFTER the
    # subscription is switched off and the owners are told.
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    disabled_reason = models.CharField(_("why it was switched off"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["url", "pk"]

    def __str__(self) -> str:
        return self.description or self.url

    def event_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [str(labels.get(kind, kind)) for kind in self.event_types]


class Message(models.Model):
    event_type = models.CharField(_("event"), max_length=30, choices=EventType.choices)
    key = models.CharField(_("key"), max_length=200, unique=True)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.key


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Delivery(models.Model):
    Status = DeliveryStatus

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="deliveries", verbose_name=_("webhook"))
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("message"))
    # An automation's "Call a webhook" action with its own address and secret (no subscription).
    url = models.URLField(_("URL"), max_length=MAX_URL_LENGTH, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100, blank=True)
    webhook_id = models.CharField(_("webhook id"), max_length=60, unique=True, default=new_webhook_id)
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Retries stop after this (a day after it was created, or after a manual redeliver).
    give_up_at = models.DateTimeField(_("retried until"))
    response_code = models.PositiveIntegerField(_("response code"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "message"], name="webhook_delivery_one_per_subscription"),
            models.UniqueConstraint(fields=["message"], condition=Q(subscription__isnull=True),
                                    name="webhook_delivery_one_per_action_message"),
            models.CheckConstraint(condition=Q(subscription__isnull=False) | ~Q(url=""), name="webhook_delivery_has_target"),
        ]

    def __str__(self) -> str:
        return f"{self.message.key} → {self.target_url}"

    @property
    def target_url(self) -> str:
        return self.subscription.url if self.subscription_id else self.url  # type: ignore[union-attr]

    @property
    def target_secret(self) -> str:
        return self.subscription.secret if self.subscription_id else self.secret  # type: ignore[union-attr]


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log", verbose_name=_("delivery"))
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("time"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_code = models.PositiveIntegerField(_("response code"), null=True, blank=True)
    response_body = models.TextField(_("response"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-started_at", "-pk"]

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300
