"""The e-invoice: UN/CEFACT CII XML (EN 16931), built with the factur-x library.

Two flavours of the same XML:

* **Factur-X / ZUGFeRD, profile EN 16931** (guideline `urn:cen.eu:en16931:2017`): the XML inside
  the PDF/A-3.
* **XRechnung 3.0** (the German CIUS, guideline `…#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0`):
  the XML sent alone. It asks for more than EN 16931: a buyer reference (BT-10), the seller's
  contact (BT-41 name, BT-42 phone, BT-43 email), electronic addresses of both parties (BT-34,
  BT-49: their email addresses, scheme EM), payment instructions (BG-16) and a business process
  (BT-23).

Decisions worth knowing:

* BT-10 (buyer reference, Leitweg-ID for public buyers) is "n/a": neither contacts nor invoices
  have such a field yet, and "n/a" is the common B2B practice. Public authorities need a real
  Leitweg-ID there.
* BT-41 (seller contact point) is the seller's name: the profile has no contact person.
* A seller without a VAT ID gets its tax number as seller identifier (BT-29) as well as BT-32,
  since EN 16931 (BR-CO-26) wants one of BT-29/30/31.
* Amounts are the invoice's own, VAT per line rounded to cents and added up per rate, so BT-110
  is the invoice's tax total to the cent (EN 16931 allows the per-rate figure to differ from
  base × rate by rounding).
* Credit notes (Stornorechnung) are type 381 with positive amounts and the cancelled invoice in
  BG-3 (BT-25 number, BT-26 date); they ask for no payment (means code 1, "not defined").
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from django.utils import formats, translation
from django.utils.translation import gettext as _
from facturx import generate_cii_xml
from lxml import etree

from business import services as business

from .content import EXEMPT, REVERSE_CHARGE, Content, Party

Flavour = Literal["xrechnung", "factur-x"]
FLAVOURS: tuple[Flavour, ...] = ("xrechnung", "factur-x")

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
GUIDELINE_XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
# The business process of plain billing (Peppol BIS Billing 3.0), what XRechnung expects in BT-23.
PROCESS_BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
BUYER_REFERENCE_NONE = "n/a"
# UNTDID 4461 payment means: 58 SEPA credit transfer, 30 credit transfer (non-SEPA), 1 not defined.
MEANS_SEPA_TRANSFER = "58"
MEANS_NOT_DEFINED = "1"
VATEX_REVERSE_CHARGE = "VATEX-EU-AE"
SEPA_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
    "AD CH GB GI IS LI MC NO SM VA".split()
)
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# What XML 1.0 cannot hold: control characters other than tab and line breaks (a vertical tab or a
# form feed pasted from a word processor into a description), U+FFFE/U+FFFF and lone surrogates.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def exemption_reason(treatment_category: str) -> str:
    """The legal sentence of an exempt or reverse-charge VAT category, in the active language."""
    if treatment_category == EXEMPT:
        return _("According to § 19 UStG (small business rule), no VAT is charged.")
    if treatment_category == REVERSE_CHARGE:
        return _("Reverse charge: the recipient of the service is liable for the VAT.")
    return ""


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def _rate(value: Decimal) -> str:
    return f"{value:.2f}"


def _party(party: Party, *, seller: bool, email: str, flavour: Flavour) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": party.name, "country_code": party.country, "city": party.city, "postcode": party.postal_code,
        "addr_l1": party.street,
    }
    data = {key: value for key, value in data.items() if value}
    data["country_code"] = party.country or "DE"
    if party.vat_id:
        data["vat_identifier"] = party.vat_id
    if seller:
        if party.tax_number:
            data["tax_identifier"] = party.tax_number
            if not party.vat_id:
                data["identifiers"] = {None: party.tax_number}
        contact = {"name": party.name, "phone": party.phone, "email": email}
        data["contacts"] = [{key: value for key, value in contact.items() if value}]
    elif party.person:
        data["contacts"] = [{"name": party.person}]
    if email and (flavour == "xrechnung" or seller):
        data["einvoicing_addr"] = email
        data["einvoicing_addr_schemeid"] = "EM"
    return data


def _date_text(value: dt.date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def data_dict(content: Content, *, flavour: Flavour) -> dict[str, Any]:
    """The factur-x library's input: EN 16931 business terms (BT-…) and groups (BG-…)."""
    seller_email = content.seller.email or business.sender()[1]
    data: dict[str, Any] = {
        "BT-1": content.number,
        "BT-2": content.issue_date,
        "BT-3": content.type_code,
        "BT-5": content.currency,
        "BG-4": _party(content.seller, seller=True, email=seller_email, flavour=flavour),
        "BG-7": _party(content.buyer, seller=False, email=content.buyer.email, flavour=flavour),
        "BG-25": [
            {
                "BT-126": str(line.position),
                "BT-129": _quantity(line.quantity),
                "BT-130": "C62",  # "one": a unit of whatever the line sells
                "BT-131": _money(line.net),
                "BT-146": _money(line.unit_price),
                "BT-151": line.category,
                "BT-152": _rate(line.tax_rate),
                "BT-153": line.description,
            }
            for line in content.lines
        ],
        "BG-23": [
            {
                "BT-116": _money(group.base), "BT-117": _money(group.amount), "BT-118": group.category,
                "BT-119": _rate(group.rate),
                **({"BT-120": exemption_reason(group.category)} if group.category in (EXEMPT, REVERSE_CHARGE) else {}),
                **({"BT-121": VATEX_REVERSE_CHARGE} if group.category == REVERSE_CHARGE else {}),
            }
            for group in content.tax_groups
        ],
        "BT-106": _money(content.subtotal),
        "BT-109": _money(content.subtotal),
        "BT-110": _money(content.tax_total),
        "BT-112": _money(content.total),
        "BT-115": _money(content.balance),
    }
    if content.amount_paid:
        data["BT-113"] = _money(content.amount_paid)
    if flavour == "xrechnung":
        data["BT-10"] = BUYER_REFERENCE_NONE
        data["BT-23"] = PROCESS_BILLING
    # Leistungsdatum: the day of delivery, or the service period, whose service is complete (and so
    # supplied) on its last day; without one, the issue date.
    if content.service_date and content.service_end:
        data["BT-73"], data["BT-74"] = content.service_date, content.service_end
        data["BT-72"] = content.service_end
    else:
        data["BT-72"] = content.service_date or content.issue_date
    if content.is_credit_note:
        data["BG-3"] = [{"BT-25": content.original_number, "BT-26": content.original_date}]
        data["BT-81"] = MEANS_NOT_DEFINED
        data["BT-20"] = _("Cancels invoice %(number)s of %(date)s.") % {
            "number": content.original_number, "date": _date_text(content.original_date or content.issue_date)}
    else:
        if content.balance > 0:
            data["BT-9"] = content.due_date
            data["BT-20"] = _("Payable by %(date)s without deduction.") % {"date": _date_text(content.due_date)}
        bank = content.bank
        if bank is not None:
            data["BT-81"] = MEANS_SEPA_TRANSFER if bank.iban[:2] in SEPA_COUNTRIES else "30"
            data["BT-83"] = content.number
            data["BT-84"] = bank.iban
            data["BT-85"] = bank.account_holder
            if bank.bic:
                data["BT-86"] = bank.bic
        else:
            data["BT-81"] = MEANS_NOT_DEFINED
    if content.notes:
        data["BG-1"] = [{"BT-22": content.notes}]
    return data


def _xml_safe(value: Any) -> Any:
    """`value` (the data dict) with every text made writable as XML: each character XML cannot
    hold becomes a space, so the invoice still renders (its PDF embeds this XML)."""
    if isinstance(value, str):
        return NOT_IN_XML.sub(" ", value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_safe(item) for item in value]
    return value


def cii_xml(content: Content, *, flavour: Flavour) -> bytes:
    """The CII XML of `content` in the given flavour, its texts in the document's language."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown e-invoice flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    with translation.override(content.language):
        data = _xml_safe(data_dict(content, flavour=flavour))
    xml = generate_cii_xml(data, level="en16931", check_xsd=False, check_schematron=False)
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    # An element the library leaves empty comes out as xsi:nil="true", which the schema refuses.
    for element in root.iter():
        element.attrib.pop(XSI_NIL, None)
    if flavour == "xrechnung":
        guideline = root.find("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", NS)
        assert guideline is not None
        guideline.text = GUIDELINE_XRECHNUNG
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
