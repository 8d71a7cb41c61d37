"""The person's failure alerts: the list (newest first, paginated) and marking them read."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.views import paginate, safe_next

from . import services
from .models import Notification


def notification_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, Notification.objects.filter(user=request.user))
    return render(request, "notifications/list.html", {"page_obj": page, "notifications": page.object_list})


@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    services.mark_read(user=request.user, pk=pk)  # another person's or an unknown one: nothing happens
    return redirect(safe_next(request, "notifications:notification-list"))


@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_read(user=request.user)
    if count:
        messages.success(request, _("All alerts marked as read."))
    return redirect("notifications:notification-list")
