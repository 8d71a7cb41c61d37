from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "tasks"

urlpatterns = [
    path("", requires("tasks.view_task", views.task_list), name="task-list"),
    path("new/", requires("tasks.add_task", views.task_create), name="task-create"),
    # The contact page's tasks (a fragment it loads by this name).
    path("contacts/<int:pk>/", requires("tasks.view_task", views.contact_tasks), name="contact-tasks"),
    path("<int:pk>/done/", requires("tasks.change_task", views.task_complete), name="task-complete"),
    path("<int:pk>/reopen/", requires("tasks.change_task", views.task_reopen), name="task-reopen"),
]
