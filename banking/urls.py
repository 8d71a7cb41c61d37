from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "banking"

# Whoever may record payments may import statements and decide their lines; the banks' CSV
# mappings are the owner's (a team member may use them).
PAY = "invoices.add_payment"

urlpatterns = [
    path("", requires(PAY, views.statement_list), name="statement-list"),
    path("upload/", requires(PAY, views.statement_upload), name="statement-upload"),
    path("<int:pk>/", requires(PAY, views.statement_detail), name="statement-detail"),
    path("<int:pk>/progress/", requires(PAY, views.statement_progress), name="statement-progress"),
    path("<int:pk>/confirm-exact/", requires(PAY, views.statement_confirm_exact), name="statement-confirm-exact"),
    path("<int:pk>/match-again/", requires(PAY, views.statement_rematch), name="statement-rematch"),
    path("<int:pk>/delete/", requires(PAY, views.statement_delete), name="statement-delete"),
    path("lines/<int:pk>/", requires(PAY, views.transaction_detail), name="transaction-detail"),
    path("lines/<int:pk>/confirm/", requires(PAY, views.transaction_confirm), name="transaction-confirm"),
    path("lines/<int:pk>/ignore/", requires(PAY, views.transaction_ignore), name="transaction-ignore"),
    path("lines/<int:pk>/reopen/", requires(PAY, views.transaction_reopen), name="transaction-reopen"),
    path("mappings/", requires(PAY, views.mapping_list), name="mapping-list"),
    path("mappings/new/", requires("banking.add_csvmapping", views.mapping_create), name="mapping-create"),
    path("mappings/<int:pk>/", requires("banking.change_csvmapping", views.mapping_edit), name="mapping-edit"),
    path("mappings/<int:pk>/delete/", requires("banking.delete_csvmapping", views.mapping_delete), name="mapping-delete"),
]
