"""The staff's read-only view of bank statements and their lines (decisions are made on the review
screen, through banking.services); the banks' CSV mappings can be edited here too."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import status_badge

from .models import BankStatement, BankTransaction, CsvMapping


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyAdmin):
    list_display = ("file_name", "format", "status_pill", "account_iban", "period_start", "period_end", "lines_total",
                    "lines_new", "lines_known", "uploaded_by", "uploaded_at")
    list_filter = ("status", "format")
    search_fields = ("file_name", "account_iban", "sha256")
    exclude = ("content",)
    date_hierarchy = "uploaded_at"

    @admin.display(description=_("status"), ordering="status")
    def status_pill(self, obj: BankStatement) -> str:
        return status_badge(obj)


@admin.register(BankTransaction)
class BankTransactionAdmin(ReadOnlyAdmin):
    list_display = ("booking_date", "amount", "currency", "payer_name", "status_pill", "invoice", "confidence",
                    "statement")
    list_filter = ("status", "match_kind", "is_credit")
    search_fields = ("payer_name", "payer_iban", "remittance", "bank_reference", "invoice__number")
    list_select_related = ("invoice", "statement")
    raw_id_fields = ("statement", "invoice", "payment")
    date_hierarchy = "booking_date"

    @admin.display(description=_("status"), ordering="status")
    def status_pill(self, obj: BankTransaction) -> str:
        return status_badge(obj)


@admin.register(CsvMapping)
class CsvMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "delimiter", "decimal_comma", "date_format", "encoding", "header_row")
    search_fields = ("name",)
