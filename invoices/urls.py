from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "invoices"

urlpatterns = [
    path("", requires("invoices.view_invoice", views.invoice_list), name="invoice-list"),
    path("new/", requires("invoices.add_invoice", views.invoice_create), name="invoice-create"),
    path("<int:pk>/", requires("invoices.view_invoice", views.invoice_detail), name="invoice-detail"),
    path("<int:pk>/edit/", requires("invoices.change_invoice", views.invoice_edit), name="invoice-edit"),
    path("<int:pk>/send/", requires("invoices.change_invoice", views.invoice_send), name="invoice-send"),
    path("<int:pk>/payment/", requires("invoices.add_payment", views.invoice_payment), name="invoice-payment"),
    path("<int:pk>/void/", requires("invoices.change_invoice", views.invoice_void), name="invoice-void"),
    path("<int:pk>/revoke-links/", requires("invoices.change_invoice", views.invoice_revoke_links), name="invoice-revoke-links"),
    path("contacts/", requires("invoices.view_contact", views.contact_list), name="contact-list"),
    path("contacts/new/", requires("invoices.add_contact", views.contact_create), name="contact-create"),
    path("contacts/<int:pk>/", requires("invoices.view_contact", views.contact_detail), name="contact-detail"),
    path("contacts/<int:pk>/edit/", requires("invoices.change_contact", views.contact_edit), name="contact-edit"),
    path("recurring/", requires("invoices.view_recurringpayment", views.recurring_list), name="recurring-list"),
    path("recurring/new/", requires("invoices.add_recurringpayment", views.recurring_create), name="recurring-create"),
    path("recurring/<int:pk>/", requires("invoices.view_recurringpayment", views.recurring_detail), name="recurring-detail"),
    path("recurring/<int:pk>/start/", requires("invoices.change_recurringpayment", views.recurring_start), name="recurring-start"),
    path("recurring/<int:pk>/cancel/", requires("invoices.change_recurringpayment", views.recurring_cancel), name="recurring-cancel"),
]
