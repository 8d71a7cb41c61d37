from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "text", "read_at", "emailed_at")
    list_filter = ("kind",)
    readonly_fields = ("user", "kind", "key", "text", "link", "created_at", "read_at", "emailed_at")
