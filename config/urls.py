from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _

from accounts.permissions import requires
from accounts.views import api_token_revoke, api_tokens, set_language
from api.api import api
from api.errors import no_such_operation
from dashboard.views import dashboard
from documents.views import public_invoice_pdf
from invoices.views import public_invoice

from .webhooks import tracking_webhook

admin.site.site_header = _("Invoices & Automations")
admin.site.site_title = _("Invoices & Automations")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    # A person's own API tokens, and the REST API they open (api/: Bearer tokens, not the session).
    path("account/api-tokens/", requires("accounts.view_apitoken", api_tokens), name="api-tokens"),
    path("account/api-tokens/<int:pk>/revoke/", requires("accounts.change_apitoken", api_token_revoke),
         name="api-token-revoke"),
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", login_not_required(no_such_operation)),  # JSON, not the HTML 404 page
    # The customer's read-only invoice page, reached by a signed link (no login).
    path("i/<str:token>/", login_not_required(public_invoice), name="invoice-public"),
    path("i/<str:token>/pdf/", login_not_required(public_invoice_pdf), name="invoice-public-pdf"),
    # ESP delivery-tracking webhooks: ANYMAIL_WEBHOOK_SECRET and the ESP's signature (config.webhooks).
    path("anymail/<slug:esp>/tracking/", tracking_webhook, name="tracking-webhook"),
    path("invoices/", include("invoices.urls")),
    # The business profile (owners).
    path("settings/business/", include("business.urls")),
    path("bank/", include("banking.urls")),
    # The invoice's PDF and e-invoice downloads (the team's; the customer's is invoice-public-pdf).
    path("documents/", include("documents.urls")),
    path("automations/", include("automations.urls")),
    path("tasks/", include("tasks.urls")),
    path("workflows/", include("workflows.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("alerts/", include("notifications.urls")),
    path("", requires("invoices.view_invoice", dashboard), name="dashboard"),
]
