from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "workflows"

urlpatterns = [
    path("", requires("workflows.view_workflow", views.workflow_list), name="workflow-list"),
    path("new/", requires("workflows.add_workflow", views.workflow_create), name="workflow-create"),
    path("<int:pk>/", requires("workflows.view_workflow", views.workflow_board), name="workflow-board"),
    path("<int:pk>/rename/", requires("workflows.change_workflow", views.workflow_rename), name="workflow-rename"),
    path("<int:pk>/delete/", requires("workflows.delete_workflow", views.workflow_delete), name="workflow-delete"),
    path("<int:pk>/steps/add/", requires("workflows.change_workflow", views.step_add), name="step-add"),
    path("<int:pk>/cards/add/", requires("workflows.add_card", views.card_add), name="card-add"),
    path("steps/<int:pk>/rename/", requires("workflows.change_workflow", views.step_rename), name="step-rename"),
    path("steps/<int:pk>/move/", requires("workflows.change_workflow", views.step_move), name="step-move"),
    path("steps/<int:pk>/delete/", requires("workflows.change_workflow", views.step_delete), name="step-delete"),
    # The contact page's cards (a fragment it loads by this name).
    path("contacts/<int:pk>/cards/", requires("workflows.view_workflow", views.contact_cards), name="contact-cards"),
    path("cards/<int:pk>/move/", requires("workflows.change_card", views.card_move), name="card-move"),
    path("cards/<int:pk>/remove/", requires("workflows.delete_card", views.card_remove), name="card-remove"),
]
