from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "automations"

urlpatterns = [
    path("", requires("automations.view_automation", views.automation_list), name="automation-list"),
    path("new/", requires("automations.add_automation", views.automation_new), name="automation-new"),
    path("new/custom/", requires("automations.add_automation", views.automation_custom), name="automation-custom"),
    path("new/template/<slug:slug>/", requires("automations.add_automation", views.automation_from_template), name="automation-template"),
    path("builder/<str:wid>/", requires("automations.change_automation", views.wizard), name="automation-wizard"),
    path("preview/", requires("automations.change_automation", views.email_preview), name="email-preview"),
    path("export/", requires("automations.view_automation", views.automation_export), name="automation-export"),
    path("import/", requires("automations.add_automation", views.automation_import), name="automation-import"),
    path("reminders/forecast/", requires("automations.view_automation", views.reminder_forecast), name="reminder-forecast"),
    # The invoice and contact pages' "Payment reminders" cards (fragments they load by these names)
    # and their pause (Mahnstopp) buttons.
    path("invoices/<int:pk>/reminders/", requires("invoices.view_invoice", views.invoice_reminders),
         name="invoice-reminders"),
    path("invoices/<int:pk>/reminders/pause/", requires("invoices.change_invoice", views.invoice_reminders_pause),
         name="invoice-reminders-pause"),
    path("invoices/<int:pk>/reminders/resume/", requires("invoices.change_invoice", views.invoice_reminders_resume),
         name="invoice-reminders-resume"),
    path("contacts/<int:pk>/reminders/", requires("invoices.view_contact", views.contact_reminders),
         name="contact-reminders"),
    path("contacts/<int:pk>/reminders/pause/", requires("invoices.change_contact", views.contact_reminders_pause),
         name="contact-reminders-pause"),
    path("contacts/<int:pk>/reminders/resume/", requires("invoices.change_contact", views.contact_reminders_resume),
         name="contact-reminders-resume"),
    path("runs/<int:pk>/retry/", requires("automations.change_automation", views.run_retry), name="run-retry"),
    # The invoice page's timeline (a fragment it loads by this name).
    path("invoices/<int:pk>/timeline/", requires("invoices.view_invoice", views.invoice_timeline), name="invoice-timeline"),
    # Emailing invoices is part of sending them (invoices.change_invoice: owners and team members).
    path("invoices/<int:pk>/email/", requires("invoices.view_invoice", views.invoice_email_preview),
         name="invoice-email-preview"),
    path("invoices/<int:pk>/resend/", requires("invoices.change_invoice", views.invoice_resend), name="invoice-resend"),
    path("invoice-emails/<int:pk>/retry/", requires("invoices.change_invoice", views.invoice_email_retry),
         name="invoice-email-retry"),
    path("<int:pk>/", requires("automations.view_automation", views.automation_detail), name="automation-detail"),
    path("<int:pk>/edit/", requires("automations.change_automation", views.automation_edit), name="automation-edit"),
    path("<int:pk>/switch/", requires("automations.change_automation", views.automation_switch), name="automation-switch"),
    path("<int:pk>/delete/", requires("automations.delete_automation", views.automation_delete), name="automation-delete"),
    path("<int:pk>/test/", requires("automations.change_automation", views.automation_test), name="automation-test"),
]
