"""The PDF is a Factur-X / ZUGFeRD e-invoice: a PDF/A-3b whose embedded `factur-x.xml` is the
invoice's Factur-X XML, announced in the XMP metadata and the catalogue as the standard asks, and
readable by the factur-x library's own extraction (with its XSD check) and by pypdf."""

from __future__ import annotations

import facturx
import pytest
from lxml import etree

from documents import services
from tests.base import make_invoice

from .support import attachments, credit_note_of, reader, sent

pytestmark = pytest.mark.django_db

XMP = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
}


def xmp(pdf: bytes) -> etree._Element:
    data = reader(pdf).trailer["/Root"]["/Metadata"].get_object().get_data()
    return etree.fromstring(data[data.index(b"<x:xmpmeta"):data.rindex(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")])


@pytest.mark.parametrize("treatment", ["standard", "small_business", "reverse_charge"])
def test_the_pdf_carries_the_facturx_xml_of_the_invoice(treatment):
    invoice = sent(treatment=treatment)
    pdf = services.invoice_pdf(invoice)
    expected = services.invoice_xml(invoice, flavour="factur-x")
    assert attachments(pdf) == {"factur-x.xml": [expected]}
    # The factur-x library finds it, and it passes the library's XSD check.
    assert facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True) == ("factur-x.xml", expected)


def test_a_credit_note_and_a_draft_carry_their_xml_too():
    for document in (credit_note_of(sent()), make_invoice(status="draft")):
        pdf = services.invoice_pdf(document)
        name, xml = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True)
        assert name == "factur-x.xml" and document.number.encode() in xml


def test_the_metadata_say_pdfa3b_and_facturx_en16931():
    pdf = services.invoice_pdf(sent())
    root = xmp(pdf)
    assert len(root.findall("rdf:RDF", XMP)) == 1  # one RDF, WeasyPrint's and Factur-X's descriptions in it
    assert root.xpath("//@pdfaid:part", namespaces=XMP) == ["3"]
    assert root.xpath("//@pdfaid:conformance", namespaces=XMP) == ["B"]
    assert root.xpath("//fx:DocumentType/text()", namespaces=XMP) == ["INVOICE"]
    assert root.xpath("//fx:DocumentFileName/text()", namespaces=XMP) == ["factur-x.xml"]
    assert root.xpath("//fx:ConformanceLevel/text()", namespaces=XMP) == ["EN 16931"]
    assert root.xpath("//fx:Version/text()", namespaces=XMP) == ["1.0"]
    # The PDF/A extension schema that declares the fx: properties.
    assert root.xpath("//pdfaSchema:namespaceURI/text()", namespaces=XMP) == [XMP["fx"]]
    # The document information agrees with the XMP (PDF/A asks for both to say the same).
    info = reader(pdf).metadata
    assert root.xpath("//@pdf:Producer", namespaces=XMP) == [info["/Producer"]]


def test_the_catalogue_names_the_xml_once_as_the_invoices_alternative_form():
    pdf = services.invoice_pdf(sent())
    root = reader(pdf).trailer["/Root"]
    associated = [entry.get_object() for entry in root["/AF"]]
    assert len(associated) == 1
    assert associated[0]["/AFRelationship"] == "/Alternative"
    assert associated[0]["/F"] == associated[0]["/UF"] == "factur-x.xml"
    assert associated[0]["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    # PDF/A: an output intent (sRGB) and every font embedded.
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    fonts = [font.get_object() for page in reader(pdf).pages for font in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"] if "/DescendantFonts" in font \
            else font["/FontDescriptor"]
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object()), font["/BaseFont"]


def test_the_invoice_is_set_in_its_own_font_not_a_system_font():
    """Inter from npm (the @font-face family "Invoice Sans"), the same on every machine; a machine's
    DejaVu or Liberation would mean node_modules was not found."""
    fonts = {str(font.get_object()["/BaseFont"]).split("+")[-1] for page in reader(services.invoice_pdf(sent())).pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts == {"Invoice-Sans", "Invoice-Sans-Semi-Bold", "Invoice-Sans-Bold"}
