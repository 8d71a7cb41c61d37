from django.urls import path

from . import views

app_name = "automations"

urlpatterns = [
    path("", views.automation_list, name="automation-list"),
    path("new/", views.automation_new, name="automation-new"),
    path("new/custom/", views.automation_custom, name="automation-custom"),
    path("new/template/<slug:slug>/", views.automation_from_template, name="automation-template"),
    path("builder/<str:wid>/", views.wizard, name="automation-wizard"),
    path("preview/", views.email_preview, name="email-preview"),
    path("export/", views.automation_export, name="automation-export"),
    path("import/", views.automation_import, name="automation-import"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run-retry"),
    path("<int:pk>/", views.automation_detail, name="automation-detail"),
    path("<int:pk>/edit/", views.automation_edit, name="automation-edit"),
    path("<int:pk>/switch/", views.automation_switch, name="automation-switch"),
    path("<int:pk>/delete/", views.automation_delete, name="automation-delete"),
    path("<int:pk>/test/", views.automation_test, name="automation-test"),
]
