from django.urls import path

from . import views

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list, name="workflow-list"),
    path("new/", views.workflow_create, name="workflow-create"),
    path("<int:pk>/", views.workflow_board, name="workflow-board"),
    path("<int:pk>/rename/", views.workflow_rename, name="workflow-rename"),
    path("<int:pk>/delete/", views.workflow_delete, name="workflow-delete"),
    path("<int:pk>/steps/add/", views.step_add, name="step-add"),
    path("<int:pk>/cards/add/", views.card_add, name="card-add"),
    path("steps/<int:pk>/rename/", views.step_rename, name="step-rename"),
    path("steps/<int:pk>/move/", views.step_move, name="step-move"),
    path("steps/<int:pk>/delete/", views.step_delete, name="step-delete"),
    path("cards/<int:pk>/move/", views.card_move, name="card-move"),
    path("cards/<int:pk>/remove/", views.card_remove, name="card-remove"),
]
