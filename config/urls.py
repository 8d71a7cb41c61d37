from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from invoices.views import public_invoice

admin.site.site_header = "Invoices & Automations"
admin.site.site_title = "Invoices & Automations"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The customer's read-only invoice page, reached by a signed link (no login).
    path("i/<str:token>/", public_invoice, name="invoice-public"),
    # ESP delivery-tracking webhooks (anymail checks ANYMAIL_WEBHOOK_SECRET and signatures).
    path("anymail/", include("anymail.urls")),
    # Until the product's own pages exist, the admin is the home page.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
