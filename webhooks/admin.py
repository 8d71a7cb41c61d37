from django.contrib import admin
from django.db import models

from .models import Attempt, Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "description", "is_active", "consecutive_failures", "created_at")
    list_filter = ("is_active",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012
    readonly_fields = ("secret", "consecutive_failures", "disabled_reason", "created_by", "created_at", "updated_at")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "duration_ms", "response_code", "response_body", "error")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "subscription", "status", "attempts", "response_code", "created_at")
    list_filter = ("status",)
    inlines = [AttemptInline]
    readonly_fields = [field.name for field in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
