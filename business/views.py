"""The business profile's settings page (owners only: business.change_businessprofile)."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.forms import add_domain_error

from . import services
from .forms import BusinessProfileForm, LogoForm
from .models import BusinessProfile


def logo_data_url(profile: BusinessProfile) -> str:
    """The logo as a data: URL (the Content-Security-Policy allows images from data:)."""
    logo = bytes(profile.logo or b"")
    if not logo or profile.logo_type not in services.LOGO_FORMATS.values():
        return ""
    return f"data:{profile.logo_type};base64,{base64.b64encode(logo).decode('ascii')}"


def _page(request: HttpRequest, form: BusinessProfileForm, logo_form: LogoForm, *, status: int = 200) -> HttpResponse:
    profile = services.get_profile()
    return render(request, "business/profile.html", {
        "form": form, "logo_form": logo_form, "logo": logo_data_url(profile),
        "missing": services.missing_for_invoices(profile),
    }, status=status)


@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    profile = services.get_profile()
    if request.method == "POST":
        form = BusinessProfileForm(request.POST, instance=profile)
        if form.is_valid():
            try:
                services.update_profile(by=request.user, **form.changes())
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                missing = services.missing_for_invoices()
                if missing:
                    messages.warning(request, _("Business profile saved. Before you can send invoices, fill in: "
                                                "%(fields)s.") % {"fields": ", ".join(missing)})
                else:
                    messages.success(request, _("Business profile saved."))
                return redirect("business:profile")
        return _page(request, form, LogoForm())
    return _page(request, BusinessProfileForm(instance=profile), LogoForm())


@require_POST
def logo_upload(request: HttpRequest) -> HttpResponse:
    logo_form = LogoForm(request.POST, request.FILES)
    if logo_form.is_valid():
        try:
            services.set_logo(data=logo_form.cleaned_data["logo"], by=request.user)
        except DomainError as exc:
            add_domain_error(logo_form, exc)
        else:
            messages.success(request, _("The logo is saved; it is on the invoices from now on."))
            return redirect("business:profile")
    return _page(request, BusinessProfileForm(instance=services.get_profile()), logo_form)


@require_http_methods(["GET", "POST"])
def logo_remove(request: HttpRequest) -> HttpResponse:
    """GET asks; POST removes."""
    profile = services.get_profile()
    if request.method == "POST":
        services.remove_logo(by=request.user)
        messages.success(request, _("The logo is removed; invoices are printed without it."))
        return redirect("business:profile")
    if not profile.logo:
        messages.info(request, _("There is no logo to remove."))
        return redirect("business:profile")
    return render(request, "business/logo_remove.html", {"logo": logo_data_url(profile)})
