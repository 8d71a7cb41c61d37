"""Recurring payments: list, read, create, start, cancel."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Status, Field, Query, Router

from invoices import services
from invoices.models import Contact, RecurringPayment, RecurringStatus

from .auth import TokenAuth
from .errors import ApiError
from .listing import Page, Paging, get_or_404, page
from .schemas import ErrorOut, RecurringIn, RecurringOut, recurring_out

router = Router(tags=["Recurring payments"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class RecurringFilters(Paging):
    status: str | None = Field(None, max_length=20)
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)


def _plan(pk: int) -> RecurringPayment:
    return get_or_404(RecurringPayment.objects.select_related("contact"), pk,
                      _("There is no recurring payment %(id)s.") % {"id": pk})


@router.get("/recurring-payments", response={200: Page[RecurringOut], **ERRORS}, url_name="recurring_list", auth=TokenAuth("invoices.view_recurringpayment"))
def list_recurring(request: HttpRequest, filters: Query[RecurringFilters]):
    plans = RecurringPayment.objects.select_related("contact")
    if filters.status:
        if filters.status not in RecurringStatus.values:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"status": [
                _("Choose one of: %(values)s.") % {"values": ", ".join(RecurringStatus.values)}]})
        plans = plans.filter(status=filters.status)
    if filters.contact_id:
        plans = plans.filter(contact_id=filters.contact_id)
    return page(plans, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("created_at", "start_date", "next_date", "amount"), default=("-created_at", "-pk"),
                serialize=lambda rows: [recurring_out(p) for p in rows])


@router.get("/recurring-payments/{int:pk}", response={200: RecurringOut, **ERRORS}, url_name="recurring_detail", auth=TokenAuth("invoices.view_recurringpayment"))
def get_recurring(request: HttpRequest, pk: int):
    return recurring_out(_plan(pk))


@router.post("/recurring-payments", response={201: RecurringOut, **ERRORS}, url_name="recurring_create", auth=TokenAuth("invoices.add_recurringpayment"))
def create_recurring(request: HttpRequest, payload: RecurringIn):
    """A new, scheduled recurring payment; start it to issue its first invoice."""
    contact = get_or_404(Contact.objects.all(), payload.contact_id,
                         _("There is no contact %(id)s.") % {"id": payload.contact_id})
    plan = services.create_recurring(contact=contact, by=request.user, **payload.dict(exclude={"contact_id"}))
    return Status(201, recurring_out(_plan(plan.pk)))


@router.post("/recurring-payments/{int:pk}/start", response={200: RecurringOut, **ERRORS}, url_name="recurring_start", auth=TokenAuth("invoices.change_recurringpayment"))
def start_recurring(request: HttpRequest, pk: int):
    plan = _plan(pk)
    services.start_recurring(plan=plan, by=request.user)
    return recurring_out(_plan(pk))


@router.post("/recurring-payments/{int:pk}/cancel", response={200: RecurringOut, **ERRORS}, url_name="recurring_cancel", auth=TokenAuth("invoices.change_recurringpayment"))
def cancel_recurring(request: HttpRequest, pk: int):
    plan = _plan(pk)
    services.cancel_recurring(plan=plan, by=request.user)
    return recurring_out(_plan(pk))
