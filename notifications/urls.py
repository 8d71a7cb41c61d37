from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "notifications"

# Failure alerts are the owners' (the Owner role has this app's permissions).
VIEW = "notifications.view_notification"

urlpatterns = [
    path("", requires(VIEW, views.notification_list), name="notification-list"),
    path("<int:pk>/read/", requires(VIEW, views.notification_read), name="notification-read"),
    path("read-all/", requires(VIEW, views.notification_read_all), name="notification-read-all"),
]
