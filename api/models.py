"""The REST API's own table: the answers to POSTs sent with an `Idempotency-Key` (api.idempotency)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken


class IdempotencyKey(models.Model):
    """One POST sent with an `Idempotency-Key` header, per token and key (unique: the database decides
    which of two requests at the same moment goes first). While `status_code` is null the first
    request is still running; then it holds the answer, replayed to every repeat for 24 hours."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+", verbose_name=_("API token"))
    key = models.CharField(_("key"), max_length=255)
    # The SHA-256 of the method, the path with its query and the body: a repeat must be the same request.
    request_hash = models.CharField(_("request hash"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    body = models.BinaryField(_("body"), blank=True, default=b"")
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    # When the request now running took the key (a request that died leaves it behind: see LEASE).
    started_at = models.DateTimeField(_("started"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_key_once")]

    def __str__(self) -> str:
        return self.key
