from django.urls import path

from accounts.permissions import requires

from . import views

app_name = "webhooks"

# Webhooks are the owners' (the Owner role has this app's permissions).
VIEW, ADD, CHANGE, DELETE = ("webhooks.view_subscription", "webhooks.add_subscription", "webhooks.change_subscription",
                             "webhooks.delete_subscription")

urlpatterns = [
    path("", requires(VIEW, views.subscription_list), name="webhook-list"),
    path("new/", requires(ADD, views.subscription_create), name="webhook-create"),
    path("<int:pk>/", requires(VIEW, views.subscription_detail), name="webhook-detail"),
    path("<int:pk>/edit/", requires(CHANGE, views.subscription_edit), name="webhook-edit"),
    path("<int:pk>/delete/", requires(DELETE, views.subscription_delete), name="webhook-delete"),
    path("<int:pk>/test/", requires(CHANGE, views.subscription_test), name="webhook-test"),
    path("deliveries/<int:pk>/", requires(VIEW, views.delivery_detail), name="delivery-detail"),
    path("deliveries/<int:pk>/redeliver/", requires(CHANGE, views.delivery_redeliver), name="delivery-redeliver"),
]
