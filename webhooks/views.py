"""The owners' webhook pages: the subscriptions, one subscription with its delivery log, a
delivery's attempts; create, edit, delete (confirmed), send a test event, redeliver, switch on."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.submissions import save_form_once
from core.views import flash_service, paginate

from . import services
from .forms import SubscriptionForm
from .models import Delivery, DeliveryStatus, Subscription


def subscription_list(request: HttpRequest) -> HttpResponse:
    rows = Subscription.objects.annotate(
        failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING))).order_by("url", "pk")
    page = paginate(request, rows)
    return render(request, "webhooks/list.html", {"page_obj": page, "subscriptions": page.object_list})


def subscription_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SubscriptionForm(request.POST)
        if form.is_valid():
            def save() -> str:
                subscription = form.save(commit=False)
                subscription.created_by = request.user
                subscription.save()
                messages.success(request, _("Webhook saved. Its signing secret is shown below."))
                return reverse("webhooks:webhook-detail", args=[subscription.pk])

            saved = save_form_once(request, form, save, already=_("This webhook has already been saved."))
            if saved is not None:
                return saved
    else:
        form = SubscriptionForm(initial={"is_active": True})
    return render(request, "webhooks/form.html", {"form": form, "subscription": None})


def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    if request.method == "POST":
        form = SubscriptionForm(request.POST, instance=subscription)
        if form.is_valid():
            saved = form.save(commit=False)
            if saved.is_active:  # switched on again by hand: the failures start anew
                saved.consecutive_failures, saved.disabled_reason = 0, ""
            saved.save()
            messages.success(request, _("Webhook saved."))
            return redirect("webhooks:webhook-detail", pk=subscription.pk)
    else:
        form = SubscriptionForm(instance=subscription)
    return render(request, "webhooks/form.html", {"form": form, "subscription": subscription})


def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    page = paginate(request, subscription.deliveries.select_related("message"))
    return render(request, "webhooks/detail.html", {
        "subscription": subscription, "page_obj": page, "deliveries": page.object_list,
        "show_secret": request.GET.get("secret") == "1"})


def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    if request.method == "POST":
        subscription.delete()  # its deliveries and their log go with it
        messages.success(request, _("Webhook to %(url)s deleted.") % {"url": subscription.url})
        return redirect("webhooks:webhook-list")
    return render(request, "webhooks/delete.html", {"subscription": subscription})


@require_POST
def subscription_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(Subscription, pk=pk)
    services.send_test(subscription=subscription, by=request.user)
    messages.success(request, _("Test event queued; its delivery is listed below."))
    return redirect("webhooks:webhook-detail", pk=subscription.pk)


def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("message", "subscription"), pk=pk)
    return render(request, "webhooks/delivery.html", {
        "delivery": delivery, "attempts": delivery.log.all()[:100], "body": services.body_of(delivery.message)})


@require_POST
def delivery_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery, pk=pk)
    if delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0:
        messages.info(request, _("This delivery has not been tried yet; it goes out shortly."))
    else:
        flash_service(request, lambda: services.redeliver(delivery=delivery),
                      _("Delivery queued again, with the same webhook id."))
    return redirect("webhooks:delivery-detail", pk=delivery.pk)
