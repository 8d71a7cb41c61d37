from django.urls import path

from . import views

app_name = "invoices"

urlpatterns = [
    path("", views.invoice_list, name="invoice-list"),
    path("new/", views.invoice_create, name="invoice-create"),
    path("<int:pk>/", views.invoice_detail, name="invoice-detail"),
    path("<int:pk>/edit/", views.invoice_edit, name="invoice-edit"),
    path("<int:pk>/send/", views.invoice_send, name="invoice-send"),
    path("<int:pk>/payment/", views.invoice_payment, name="invoice-payment"),
    path("<int:pk>/void/", views.invoice_void, name="invoice-void"),
    path("<int:pk>/revoke-links/", views.invoice_revoke_links, name="invoice-revoke-links"),
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("recurring/", views.recurring_list, name="recurring-list"),
    path("recurring/new/", views.recurring_create, name="recurring-create"),
    path("recurring/<int:pk>/", views.recurring_detail, name="recurring-detail"),
    path("recurring/<int:pk>/start/", views.recurring_start, name="recurring-start"),
    path("recurring/<int:pk>/cancel/", views.recurring_cancel, name="recurring-cancel"),
]
