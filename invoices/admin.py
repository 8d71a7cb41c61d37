"""The staff's view of contacts, invoices, payments and recurring plans.

Statuses and totals are read-only here: every change of state goes through invoices.services,
from `save_model` (creating, recording a payment) or from admin actions (send, void, start, …).
A DomainError never becomes a 500: actions report it per object, forms validate up front, and a
rule that only the service can check (a concurrent payment) rolls the whole save back and is shown
as an error message.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ServiceErrorsMixin, run_service_on_each, status_badge

from core.dates import business_today
from core.money import format_money

from . import services
from .forms import check_plan_start, currency_choices
from .models import (
    BaseRate, Contact, Invoice, InvoiceStatus, LineItem, Payment, RecurringPayment, RecurringStatus, Tag,
)
from .validators import validate_business_date

def check_dates(form: forms.BaseForm, *names: str) -> None:
    """The services' date range (validate_business_date), shown at the field before saving."""
    for name in names:
        if name in form.fields:
            form.fields[name].validators.append(validate_business_date)


# --- Contacts ---------------------------------------------------------------------------------


class ContactInvoiceInline(admin.TabularInline):
    model = Invoice
    fields = ("number", "status", "issue_date", "due_date", "total", "amount_paid", "currency")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    verbose_name_plural = _("invoices")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("name", "company", "email", "phone", "language", "created_at")
    list_filter = ("language",)
    search_fields = ("name", "email", "company", "phone")
    inlines = [ContactInvoiceInline]
    list_per_page = 50


# --- Invoices ---------------------------------------------------------------------------------


class InvoiceForm(forms.ModelForm):
    currency = forms.ChoiceField(label=_("currency"), choices=currency_choices)

    class Meta:
        model = Invoice
        fields = ("contact", "issue_date", "due_date", "currency", "notes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_dates(self, "issue_date", "due_date")
        if not self.instance.pk:
            today = business_today()
            self.initial.setdefault("issue_date", today)
            self.initial.setdefault("due_date", today + dt.timedelta(days=settings.DEFAULT_PAYMENT_TERMS_DAYS))
            self.initial.setdefault("currency", settings.DEFAULT_CURRENCY)


class LineItemInline(admin.TabularInline):
    model = LineItem
    fields = ("position", "description", "quantity", "unit_price", "tax_rate", "line_total")
    readonly_fields = ("line_total",)
    extra = 1

    @admin.display(description=_("amount"))
    def line_total(self, item: LineItem) -> str:
        if item.pk is None:
            return "—"
        return f"{item.net_amount + item.tax_amount:,.2f}"

    def _editable(self, obj: Invoice | None) -> bool:
        return obj is None or obj.status == InvoiceStatus.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if self._editable(obj) and not (obj and obj.items.exists()) else 0


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ("date", "amount", "method", "reference", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("payments (record one with “Record payment”)")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class InvoiceStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", _("Open (sent or overdue)")), *InvoiceStatus.choices]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(status__in=services.OPEN_STATUSES)
        if self.value() in InvoiceStatus.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = InvoiceForm
    list_display = ("number", "contact", "status_badge", "issue_date", "due_date", "total_display", "balance_display")
    list_filter = (InvoiceStatusFilter, "currency", "issue_date", "due_date")
    search_fields = ("number", "contact__name", "contact__email", "contact__company")
    date_hierarchy = "issue_date"
    autocomplete_fields = ("contact",)
    list_select_related = ("contact",)
    list_per_page = 50
    inlines = [LineItemInline, PaymentInline]
    actions = ["email_selected", "send_selected", "record_full_payment", "void_selected", "recalculate_drafts"]
    readonly_fields = (
        "number", "status", "subtotal", "tax_total", "total", "amount_paid", "balance_display", "record_payment_link", "recurring",
        "period_start", "created_by", "created_at", "sent_at", "paid_at", "overdue_at", "voided_at",
    )
    fieldsets = (
        (None, {"fields": ("number", "status", "contact", ("issue_date", "due_date"), "currency", "notes")}),
        (_("Amounts"), {"fields": (("subtotal", "tax_total", "total"), ("amount_paid", "balance_display"), "record_payment_link")}),
        (_("History"), {"classes": ("collapse",), "fields": (
            ("recurring", "period_start"), ("created_by", "created_at"), "sent_at", "overdue_at", "paid_at", "voided_at")}),
    )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, invoice: Invoice) -> str:
        return status_badge(invoice)

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return f"{invoice.total:,.2f} {invoice.currency}"

    @admin.display(description=_("balance"))
    def balance_display(self, invoice: Invoice) -> str:
        if invoice.pk is None:
            return "—"
        return f"{invoice.balance:,.2f} {invoice.currency}"

    @admin.display(description="")
    def record_payment_link(self, invoice: Invoice) -> str:
        if invoice.pk is None or invoice.status not in services.OPEN_STATUSES:
            return "—"
        url = reverse("admin:invoices_payment_add") + f"?invoice={invoice.pk}&amount={invoice.balance}"
        return format_html('<a class="button" href="{}">{}</a>', url, _("Record payment"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            # Once sent, an invoice is a document: only its notes may still change.
            fields += ["contact", "issue_date", "due_date", "currency"]
        return fields

    def save_model(self, request, obj: Invoice, form, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.cleaned_data}
        if not change:
            created = services.create_invoice(by=request.user, **data)
            obj.pk, obj.number = created.pk, created.number
            obj.refresh_from_db()
        elif obj.status == InvoiceStatus.DRAFT:
            services.update_draft_invoice(invoice=obj, **data)
        else:
            Invoice.objects.filter(pk=obj.pk).update(notes=data.get("notes", obj.notes))

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if form.instance.status == InvoiceStatus.DRAFT:
            services.recalculate_invoice(invoice=form.instance)

    @admin.action(description=_("Send selected invoices by email"), permissions=["change"])
    def email_selected(self, request, queryset):
        run_service_on_each(
            self, request, queryset, lambda inv: services.send_invoice(invoice=inv, by=request.user, deliver=True),
            _("%(count)d invoice(s) sent; their emails are on their way."))

    @admin.action(description=_("Mark selected invoices as sent (no email)"), permissions=["change"])
    def send_selected(self, request, queryset):
        run_service_on_each(self, request, queryset, lambda inv: services.send_invoice(invoice=inv, by=request.user),
                            _("%(count)d invoice(s) marked as sent."))

    @admin.action(description=_("Record full payment of the balance"), permissions=["change"])
    def record_full_payment(self, request, queryset):
        run_service_on_each(
            self, request, queryset,
            lambda inv: services.record_payment(invoice=inv, amount=inv.balance if inv.balance > 0 else Decimal("0"), by=request.user),
            _("%(count)d invoice(s) paid in full."),
        )

    @admin.action(description=_("Void selected invoices"), permissions=["change"])
    def void_selected(self, request, queryset):
        run_service_on_each(self, request, queryset, lambda inv: services.void_invoice(invoice=inv, by=request.user),
                            _("%(count)d invoice(s) voided."))

    @admin.action(description=_("Recalculate totals of selected drafts"), permissions=["change"])
    def recalculate_drafts(self, request, queryset):
        run_service_on_each(self, request, queryset.filter(status=InvoiceStatus.DRAFT),
                            lambda inv: services.recalculate_invoice(invoice=inv), _("%(count)d draft(s) recalculated."))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only drafts can be deleted: anything sent is part of the books (and of the event history).
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            return False
        return super().has_delete_permission(request, obj)


# --- Payments ---------------------------------------------------------------------------------


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ("invoice", "amount", "date", "method", "reference")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_dates(self, "date")
        self.initial.setdefault("date", business_today())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        invoice: Invoice | None = data.get("invoice")
        amount = data.get("amount")
        if invoice is not None and amount is not None:
            if invoice.status not in services.OPEN_STATUSES:
                self.add_error("invoice", _("Invoice %(number)s is %(status)s; only sent or overdue invoices can be paid.") % {
                    "number": invoice.number, "status": invoice.get_status_display()})
            elif amount > invoice.balance:
                self.add_error("amount", _("%(amount)s is more than the %(balance)s still due.") % {
                    "amount": format_money(amount, invoice.currency),
                    "balance": format_money(invoice.balance, invoice.currency)})
        return data


@admin.register(Payment)
class PaymentAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = PaymentForm
    list_display = ("date", "invoice", "contact_name", "amount_display", "method", "reference", "created_by")
    list_filter = ("method", "date")
    search_fields = ("invoice__number", "invoice__contact__name", "reference")
    date_hierarchy = "date"
    autocomplete_fields = ("invoice",)
    list_select_related = ("invoice", "invoice__contact", "created_by")
    list_per_page = 50

    @admin.display(description=_("contact"), ordering="invoice__contact__name")
    def contact_name(self, payment: Payment) -> str:
        return payment.invoice.contact.name

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return f"{payment.amount:,.2f} {payment.invoice.currency}"

    def save_model(self, request, obj: Payment, form, change: bool) -> None:
        payment = services.record_payment(by=request.user, **form.cleaned_data)
        obj.pk = payment.pk

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a recorded payment is history; the change page is read-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Recurring payments -----------------------------------------------------------------------


class RecurringForm(forms.ModelForm):
    currency = forms.ChoiceField(label=_("currency"), choices=currency_choices)

    class Meta:
        model = RecurringPayment
        fields = ("contact", "description", "amount", "tax_rate", "currency", "interval", "start_date", "end_date",
                  "payment_terms_days")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_dates(self, "start_date", "end_date")
        if not self.instance.pk:
            self.initial.setdefault("currency", settings.DEFAULT_CURRENCY)
            self.initial.setdefault("start_date", business_today())
            self.initial.setdefault("payment_terms_days", settings.DEFAULT_PAYMENT_TERMS_DAYS)

    def clean_start_date(self) -> dt.date:
        start = self.cleaned_data["start_date"]
        return start if self.instance.pk else check_plan_start(start)


@admin.register(RecurringPayment)
class RecurringPaymentAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = RecurringForm
    list_display = ("description", "contact", "amount_display", "interval", "status_badge", "start_date", "next_date", "end_date")
    list_filter = ("status", "interval", "currency")
    search_fields = ("description", "contact__name", "contact__email")
    autocomplete_fields = ("contact",)
    list_select_related = ("contact",)
    actions = ["start_selected", "cancel_selected"]
    readonly_fields = ("status", "next_date", "periods_issued", "started_at", "canceled_at", "ended_at", "created_by", "created_at")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, plan: RecurringPayment) -> str:
        return status_badge(plan)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, plan: RecurringPayment) -> str:
        return f"{plan.amount:,.2f} {plan.currency}"

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and obj.status != RecurringStatus.SCHEDULED:
            fields += ["contact", "interval", "start_date", "currency"]
        if obj is not None and obj.status in (RecurringStatus.CANCELED, RecurringStatus.ENDED):
            fields += ["description", "amount", "tax_rate", "end_date", "payment_terms_days"]
        return fields

    def save_model(self, request, obj: RecurringPayment, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # data fields only; status is read-only
            return
        plan = services.create_recurring(by=request.user, **form.cleaned_data)
        obj.pk = plan.pk
        obj.refresh_from_db()

    @admin.action(description=_("Start selected recurring payments now"), permissions=["change"])
    def start_selected(self, request, queryset):
        run_service_on_each(self, request, queryset, lambda plan: services.start_recurring(plan=plan, by=request.user),
                            _("%(count)d recurring payment(s) started."))

    @admin.action(description=_("Cancel selected recurring payments"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        run_service_on_each(self, request, queryset, lambda plan: services.cancel_recurring(plan=plan, by=request.user),
                            _("%(count)d recurring payment(s) canceled."))

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != RecurringStatus.SCHEDULED:
            return False  # it has issued invoices or events: cancel it instead
        return super().has_delete_permission(request, obj)


@admin.register(BaseRate)
class BaseRateAdmin(admin.ModelAdmin):
    """The base rate table behind default interest: the owner adds the Bundesbank's new rate."""

    list_display = ("valid_from", "rate")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags on contacts (reminder schedules can be for tagged contacts only, or leave them out):
    made here, put on a contact on its admin page."""

    list_display = ("name", "contact_count")
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(contact_count=Count("contacts"))

    @admin.display(description=_("contacts"), ordering="contact_count")
    def contact_count(self, tag: Tag) -> int:
        return tag.contact_count
