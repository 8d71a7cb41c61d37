"""Create forms that save once, however often they are posted.

A form page carries a fresh token in its hidden `nonce` field (core.forms.SubmitOnceMixin). The view
saves through `save_once`: it takes the token in the database (a row unique per person and token)
in the same transaction as the save. A second post of the same form — at once from another tab,
or later by Back and submit — cannot take it: on PostgreSQL its INSERT waits for the first
transaction and then fails on the unique key; SQLite runs one writer at a time. That post saves
nothing and is sent to what the first one saved. A save the rules refuse (DomainError) rolls the
token back with it, so the corrected form can be sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from core.errors import DomainError
from core.forms import add_domain_error

from .models import FormSubmission

# Tokens older than this are forgotten: a form page kept open longer saves as a new one.
KEEP = dt.timedelta(days=7)
TOKEN_FIELD = "nonce"


def save_once(request: HttpRequest, save: Callable[[], str]) -> tuple[str, bool]:
    """Run `save` (which saves the form and returns the URL of what it saved) once per form token.

    Returns (the URL, True) when this post saved it, or (the URL of the first save, False) when the
    same form was saved before. A post without a token (not from our form page) just saves.
    """
    token = request.POST.get(TOKEN_FIELD, "").strip()[:64]
    if not token or not request.user.is_authenticated:
        return save(), True
    with transaction.atomic():
        try:
            with transaction.atomic():
                FormSubmission.objects.create(user=request.user, token=token)
        except IntegrityError:
            earlier = FormSubmission.objects.filter(user=request.user, token=token).values_list("result_url", flat=True)
            return (earlier.first() or request.path), False
        url = save()
        mine = FormSubmission.objects.filter(user=request.user)
        mine.filter(token=token).update(result_url=url[:500])
        mine.filter(created_at__lt=timezone.now() - KEEP).delete()  # through the (user, token) index
    return url, True


def save_form_once(request: HttpRequest, form: forms.BaseForm, save: Callable[[], str], *,
                   already: str) -> HttpResponse | None:
    """A create form's post: `save` once per form token (see save_once). Returns the redirect to
    what was saved (with `already` as a warning for a repeated post), or None when the service
    refused (its DomainError is then shown on the form)."""
    try:
        url, first = save_once(request, save)
    except DomainError as exc:
        add_domain_error(form, exc)
        return None
    if not first:
        messages.warning(request, already)
    return redirect(url)
