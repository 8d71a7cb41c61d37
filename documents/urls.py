from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "documents"

urlpatterns = [
    path("invoices/<int:pk>/pdf/", requires("invoices.view_invoice", views.invoice_pdf), name="invoice-pdf"),
    path("invoices/<int:pk>/xrechnung/", requires("invoices.view_invoice", views.invoice_xrechnung),
         name="invoice-xrechnung"),
    path("invoices/<int:pk>/factur-x/", requires("invoices.view_invoice", views.invoice_facturx),
         name="invoice-facturx"),
]
