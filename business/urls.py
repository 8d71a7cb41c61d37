from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "business"

# Owners only: a team member may see the profile's data (in the invoices) but not change it.
OWNER = "business.change_businessprofile"

urlpatterns = [
    path("", requires(OWNER, views.profile_edit), name="profile"),
    path("logo/", requires(OWNER, views.logo_upload), name="logo-upload"),
    path("logo/remove/", requires(OWNER, views.logo_remove), name="logo-remove"),
]
