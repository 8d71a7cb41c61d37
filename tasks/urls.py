from django.urls import path

from . import views

app_name = "tasks"

urlpatterns = [
    path("", views.task_list, name="task-list"),
    path("new/", views.task_create, name="task-create"),
    path("<int:pk>/done/", views.task_complete, name="task-complete"),
    path("<int:pk>/reopen/", views.task_reopen, name="task-reopen"),
]
