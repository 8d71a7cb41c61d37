"""Contacts: list, read, create, change, delete."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Status, Query, Router, Schema, Field

from invoices import services
from invoices.models import Contact, tagged

from .auth import TokenAuth
from .errors import ApiError
from .listing import Page, Paging, get_or_404, page
from .schemas import ContactIn, ContactOut, ContactPatch, ErrorOut

router = Router(tags=["Contacts"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class ContactFilters(Paging):
    q: str | None = Field(None, max_length=200, description="Words that must all match name, email, company or phone.")
    email: str | None = Field(None, max_length=254)
    tag: str | None = Field(None, max_length=200, description="Only contacts with this tag (any case).")


def _contact(pk: int) -> Contact:
    return get_or_404(Contact.objects.all(), pk, _("There is no contact %(id)s.") % {"id": pk})


@router.get("/contacts", response={200: Page[ContactOut], **ERRORS}, url_name="contact_list", auth=TokenAuth("invoices.view_contact"))
def list_contacts(request: HttpRequest, filters: Query[ContactFilters]):
    contacts = Contact.objects.prefetch_related("tags")
    for word in (filters.q or "").split()[:5]:
        contacts = contacts.filter(Q(name__icontains=word) | Q(email__icontains=word) | Q(company__icontains=word)
                                   | Q(phone__icontains=word))
    if filters.email:
        contacts = contacts.filter(email__iexact=filters.email.strip())
    if filters.tag and filters.tag.strip():
        contacts = tagged(contacts, filters.tag)
    return page(contacts, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("name", "created_at", "id"), default=("name", "pk"))


@router.get("/contacts/{int:pk}", response={200: ContactOut, **ERRORS}, url_name="contact_detail", auth=TokenAuth("invoices.view_contact"))
def get_contact(request: HttpRequest, pk: int):
    return _contact(pk)


@router.post("/contacts", response={201: ContactOut, **ERRORS}, url_name="contact_create", auth=TokenAuth("invoices.add_contact"))
def create_contact(request: HttpRequest, payload: ContactIn):
    return Status(201, services.create_contact(**payload.dict()))


@router.patch("/contacts/{int:pk}", response={200: ContactOut, **ERRORS}, url_name="contact_update", auth=TokenAuth("invoices.change_contact"))
def update_contact(request: HttpRequest, pk: int, payload: ContactPatch):
    contact = _contact(pk)
    changes = payload.dict(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise ApiError(422, _("The request is not valid; nothing was changed."),
                       errors={name: [_("This field cannot be null.")] for name, value in changes.items() if value is None})
    return services.update_contact(contact=contact, **changes)


@router.delete("/contacts/{int:pk}", response={204: None, **ERRORS}, url_name="contact_delete", auth=TokenAuth("invoices.delete_contact"))
def delete_contact(request: HttpRequest, pk: int):
    services.delete_contact(contact=_contact(pk))
    return Status(204, None)


__all__ = ["router", "Schema"]
