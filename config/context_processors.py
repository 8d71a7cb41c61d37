from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from business import services as business_services


def business(request: HttpRequest) -> dict[str, object]:
    """BUSINESS_NAME in every template: the business profile's legal name, else the BUSINESS_NAME
    setting (read only when a template shows it)."""
    return {"BUSINESS_NAME": SimpleLazyObject(lambda: business_services.seller_name(business_services.get_profile()))}
