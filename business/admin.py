from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from core.admin import ServiceErrorsMixin

from . import services
from .models import BusinessProfile


@admin.register(BusinessProfile)
class BusinessProfileAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    """One row: no adding a second one, no deleting it. Saved through business.services, as the
    settings page saves it."""

    list_display = ("legal_name", "city", "country", "vat_id", "tax_number", "updated_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not BusinessProfile.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        saved = services.update_profile(by=request.user, **{name: form.cleaned_data[name] for name in form.changed_data
                                                             if name in services.FIELDS})
        obj.pk = saved.pk
