from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Invoices & Automations"
admin.site.site_title = "Invoices & Automations"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Until the product's own pages exist, the admin is the home page.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
