"""The invoice as a PDF/A-3b: HTML from a template, laid out by WeasyPrint, the e-invoice inside.

WeasyPrint never reaches the network: every resource goes through `LocalFetcher`, which serves
`static:` URLs from the project's static files (the style sheet), `font:` URLs from the Inter
font that `npm ci` installs (node_modules/@fontsource/inter) and `data:` URLs (the logo, the QR
code, the Factur-X metadata), and refuses everything else.

The fonts are loaded into a font configuration kept per thread, so only the first document a
process renders pays for reading them.

The Factur-X XML is embedded as the standard attachment `factur-x.xml` (relationship
"Alternative": the XML is the invoice, the PDF its human-readable form), listed in the catalogue's
/AF array, and the XMP metadata carries the Factur-X extension schema (fx:DocumentType INVOICE,
fx:ConformanceLevel EN 16931), merged into WeasyPrint's own PDF/A description.
"""

from __future__ import annotations

import base64
import datetime as dt
import mimetypes
import re
import threading
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import segno
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import formats, translation
from lxml import etree
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from business import services as business
from core.money import format_money

from .content import EXEMPT, REVERSE_CHARGE, Content, country_name
from .einvoice import exemption_reason

TEMPLATE = "documents/invoice.html"
FACTURX_FILENAME = "factur-x.xml"
FACTURX_RELATIONSHIP = "Alternative"
FACTURX_LEVEL = "EN 16931"
STATIC_SCHEME = "static:"
FONT_SCHEME = "font:"
FONT_DIR = Path(settings.BASE_DIR) / "node_modules" / "@fontsource" / "inter" / "files"
FONT_NAME = re.compile(r"[a-z0-9-]+\.woff")


class RefusedURL(ValueError):
    """A resource the document may not load (anything that is not one of our own files)."""


class LocalFetcher(URLFetcher):
    """WeasyPrint's URL fetcher for invoices: our static files, the invoice font and data: URLs, nothing else.

    A refused URL is logged by WeasyPrint and left out of the document; the rendering goes on.
    """

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)  # decoded in memory by urllib's data: handler
        if url.startswith(STATIC_SCHEME):
            path = static_file(url[len(STATIC_SCHEME):])
            if path is None:
                raise RefusedURL(f"no static file {url!r}")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})
        if url.startswith(FONT_SCHEME):
            name = url[len(FONT_SCHEME):]
            font = FONT_DIR / name
            if not FONT_NAME.fullmatch(name) or not font.is_file():
                raise RefusedURL(f"no font {url!r} (is node_modules installed? `npm ci`)")
            return URLFetcherResponse(url, body=font.read_bytes(), headers={"Content-Type": "font/woff"})
        raise RefusedURL(f"the invoice document loads only its own files, not {url!r}")


def static_file(name: str) -> Path | None:
    """The file of a static path (as `{% static %}` would name it), found where staticfiles finds it."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        return None
    found = finders.find(name)
    if isinstance(found, list):
        found = found[0] if found else None
    if found is None and settings.STATIC_ROOT:
        candidate = Path(settings.STATIC_ROOT) / name
        found = str(candidate) if candidate.is_file() else None
    return Path(found) if found else None


# --- Payment QR code (EPC069-12 "GiroCode") ---------------------------------------------------

EPC_NAME_MAX = 70
EPC_REMITTANCE_MAX = 140
EPC_AMOUNT_MAX = Decimal("999999999.99")


def epc_payload(*, name: str, iban: str, amount: Decimal, remittance: str, bic: str = "") -> str:
    """The text of an EPC QR code (SEPA credit transfer, version 002, UTF-8): banking apps fill
    the transfer from it. Lines: service tag, version, character set, identification, BIC
    (optional in 002), beneficiary name (≤ 70), IBAN, amount (EUR, 0.01–999999999.99), purpose
    (empty), structured reference (empty), unstructured remittance (≤ 140)."""
    if not Decimal("0.01") <= amount <= EPC_AMOUNT_MAX:
        raise ValueError(f"an EPC QR code cannot ask for {amount}")
    fields = [
        "BCD", "002", "1", "SCT", bic.strip(), " ".join(name.split())[:EPC_NAME_MAX], iban.replace(" ", "").upper(),
        f"EUR{amount:.2f}", "", "", " ".join(remittance.split())[:EPC_REMITTANCE_MAX],
    ]
    return "\n".join(fields)


def payment_qr(content: Content) -> str:
    """A PNG data: URI of the EPC QR code, or "" when there is nothing to pay by it: only EUR,
    only with the seller's IBAN, only when something is due (and no more than a code can ask for),
    never on a credit note."""
    bank = content.bank
    if (content.is_credit_note or bank is None or content.currency != "EUR" or content.balance <= 0
            or content.balance > EPC_AMOUNT_MAX):
        return ""
    payload = epc_payload(name=bank.account_holder, iban=bank.iban, amount=content.balance,
                          remittance=content.number, bic=bank.bic)
    # The EPC guideline asks for error correction level M and a version of at most 13.
    qr = segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False)
    return qr.png_data_uri(scale=4, border=4)


# --- Template context --------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    """A quantity or rate as people write it: no trailing zeros, the language's decimal sign."""
    normal = value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    return formats.number_format(normal, use_l10n=True)


def _date(value: dt.date | None) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else ""


def _iban(value: str) -> str:
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


def _logo() -> str:
    profile = business.get_profile()
    logo = bytes(profile.logo or b"")
    if not logo or profile.logo_type not in ("image/png", "image/jpeg"):
        return ""
    return f"data:{profile.logo_type};base64,{base64.b64encode(logo).decode('ascii')}"


def context(content: Content) -> dict[str, Any]:
    """What the template shows, formatted in the document's (active) language."""
    money = lambda value: format_money(value, content.currency)  # noqa: E731
    legal = ""
    categories = {group.category for group in content.tax_groups}
    if EXEMPT in categories:
        legal = exemption_reason(EXEMPT)
    elif REVERSE_CHARGE in categories:
        legal = exemption_reason(REVERSE_CHARGE)
    return {
        "doc": content,
        "language": content.language,
        "seller_country": country_name(content.seller.country, content.language),
        "buyer_country": country_name(content.buyer.country, content.language),
        "issue_date": _date(content.issue_date),
        "due_date": _date(content.due_date),
        "service_date": _date(content.service_date),
        "service_end": _date(content.service_end),
        "original_date": _date(content.original_date),
        "lines": [
            {"position": line.position, "description": line.description, "quantity": _number(line.quantity),
             "unit_price": money(line.unit_price), "tax_rate": _number(line.tax_rate), "net": money(line.net)}
            for line in content.lines
        ],
        "tax_groups": [
            {"rate": _number(group.rate), "base": money(group.base), "amount": money(group.amount),
             "category": group.category}
            for group in content.tax_groups
        ],
        "show_vat": content.tax_treatment == "standard",
        "subtotal": money(content.subtotal),
        "tax_total": money(content.tax_total),
        "total": money(content.total),
        "amount_paid": money(content.amount_paid),
        "balance": money(content.balance),
        "reverse_charge": REVERSE_CHARGE in categories,
        "legal_sentence": legal,
        "iban": _iban(content.bank.iban) if content.bank else "",
        "qr": payment_qr(content),
        "logo": _logo(),
    }


def invoice_html(content: Content) -> str:
    with translation.override(content.language):
        return render_to_string(TEMPLATE, context(content))


# --- Factur-X metadata -------------------------------------------------------------------------

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"


@lru_cache(maxsize=1)
def facturx_rdf() -> bytes:
    """The Factur-X XMP properties and their PDF/A extension schema, from the factur-x package,
    with the conformance level of our XML."""
    text = resources.files("facturx").joinpath("xmp/Factur-X_extension_schema.xmp").read_bytes()
    root = etree.fromstring(text, etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True))
    level = root.find(f".//{{{FX}}}ConformanceLevel")
    assert level is not None, "the factur-x package's XMP template has no ConformanceLevel"
    level.text = FACTURX_LEVEL
    return etree.tostring(root)


def _finish(document: Any, pdf: Any) -> None:
    """WeasyPrint's finisher, run on the PDF before it is written: the catalogue's /AF names each
    attachment once (WeasyPrint 70 lists it twice), and the XMP packet has one rdf:RDF with
    WeasyPrint's PDF/A description and the Factur-X properties together (WeasyPrint appends
    extra RDF as a second rdf:RDF element)."""
    if "AF" in pdf.catalog:
        unique = list(dict.fromkeys(pdf.catalog["AF"]))
        pdf.catalog["AF"].clear()
        pdf.catalog["AF"].extend(unique)
    reference = pdf.catalog["Metadata"]  # "30 0 R", as bytes
    reference = int((reference.decode() if isinstance(reference, bytes) else str(reference)).split()[0])
    stream = pdf.objects[reference]
    packet = b"".join(part if isinstance(part, bytes) else str(part).encode() for part in stream.stream)
    start, end = packet.index(b"<x:xmpmeta"), packet.rindex(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    xmpmeta = etree.fromstring(packet[start:end], etree.XMLParser(resolve_entities=False, no_network=True))
    first, *others = xmpmeta.findall(f"{{{RDF}}}RDF")
    for extra in others:
        first.extend(list(extra))
        xmpmeta.remove(extra)
    stream.stream = [packet[:start] + etree.tostring(xmpmeta) + packet[end:]]


_local = threading.local()


STYLESHEET = "css/invoice_pdf.css"


def style() -> tuple[FontConfiguration, CSS]:
    """This thread's font configuration and parsed style sheet: the fonts are read and registered,
    and the CSS is parsed, once per thread (a FontConfiguration is not for sharing between threads)."""
    cached = getattr(_local, "style", None)
    if cached is None:
        path = static_file(STYLESHEET)
        if path is None:
            raise RuntimeError(f"the invoice style sheet static/{STYLESHEET} is missing")
        config = FontConfiguration()
        css = CSS(string=path.read_text(encoding="utf-8"), base_url=STATIC_SCHEME + STYLESHEET,
                  url_fetcher=LocalFetcher(), font_config=config)
        cached = _local.style = (config, css)
    return cached


def render_pdf(content: Content, *, facturx_xml: bytes) -> bytes:
    """The PDF/A-3b of `content` with `facturx_xml` embedded as its Factur-X e-invoice."""
    html = invoice_html(content)
    fetcher = LocalFetcher()
    attachment = Attachment(
        string=facturx_xml, name=FACTURX_FILENAME, description="Factur-X/ZUGFeRD invoice (EN 16931)",
        relationship=FACTURX_RELATIONSHIP, url_fetcher=fetcher,
    )
    xmp_url = "data:application/rdf+xml;base64," + base64.b64encode(facturx_rdf()).decode("ascii")
    config, css = style()
    return HTML(string=html, url_fetcher=fetcher, base_url=STATIC_SCHEME).write_pdf(
        stylesheets=[css], font_config=config, pdf_variant="pdf/a-3b", attachments=[attachment],
        xmp_metadata=[xmp_url], finisher=_finish,
    )
