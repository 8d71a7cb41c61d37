"""What the owners are told: one Notification per owner and thing (unique key), and per owner the
time of the last digest email (the row two workers serialise on)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    RUN_FAILED = "run_failed", _("Automation run failed")
    WEBHOOK_DISABLED = "webhook_disabled", _("Webhook switched off")
    EMAIL_BOUNCED = "email_bounced", _("Email bounced")
    INVOICE_EMAIL_FAILED = "invoice_email_failed", _("Invoice email failed")


class Notification(models.Model):
    Kind = NotificationKind

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=30, choices=NotificationKind.choices)
    key = models.CharField(_("key"), max_length=200)
    text = models.CharField(_("text"), max_length=500)
    link = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"))
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
            models.Index(fields=["user"], condition=Q(emailed_at__isnull=True), name="notification_unsent_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_user_key")]

    def __str__(self) -> str:
        return self.text


class DigestState(models.Model):
    """When the owner's last digest email went out (one row per owner, locked while one is sent)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
