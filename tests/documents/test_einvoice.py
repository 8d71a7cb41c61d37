"""The e-invoice XML (UN/CEFACT CII), as the customer's accounting software reads it: valid against
the official schemas, free of findings of the official Factur-X / EN 16931 schematron, and, parsed
back, the same invoice: number, type, dates, currency, parties, lines, VAT per rate and totals.

XRechnung's own rules (KoSIT's BR-DE-… schematron) are not on PyPI; the XRechnung flavour is run
through the EN 16931 schematron too, and its German additions are checked here one by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from business import services as business
from documents import services
from documents.einvoice import GUIDELINE_EN16931, GUIDELINE_XRECHNUNG
from invoices import services as invoices

from .support import (
    NS,
    XSD_CII_D22B,
    XSD_EN16931,
    Schematron,
    all_of,
    credit_note_of,
    money,
    one,
    parse,
    sent,
    xsd_errors,
)

pytestmark = pytest.mark.django_db

FLAVOURS = ["xrechnung", "factur-x"]
TREATMENTS = ["standard", "small_business", "reverse_charge"]
SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
TOTALS = SETTLEMENT + "/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
SELLER = "//ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
BUYER = "//ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"
# The one finding the Factur-X schematron has on an XRechnung: its guideline ID (BT-24) is not in
# Factur-X's code list. Every other rule applies to both.
XRECHNUNG_GUIDELINE_RULE = "GuidelineSpecifiedDocumentContextParameter"


@pytest.fixture(scope="module")
def schematron() -> Schematron:
    return Schematron()


def findings(schematron: Schematron, xml: bytes, flavour: str) -> list[tuple[str, str, str]]:
    found = schematron.failures(xml)
    if flavour == "xrechnung":
        found = [f for f in found if XRECHNUNG_GUIDELINE_RULE not in f[1]]
    return found


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("treatment", TREATMENTS)
def test_the_xml_is_valid_against_the_official_schemas_and_schematron(schematron, flavour, treatment):
    xml = services.invoice_xml(sent(treatment=treatment), flavour=flavour)
    assert xsd_errors(xml, XSD_EN16931) == []
    assert xsd_errors(xml, XSD_CII_D22B) == []
    assert findings(schematron, xml, flavour) == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_credit_note_and_a_partly_paid_invoice_are_valid_too(schematron, flavour):
    credit_note = credit_note_of(sent(language="en"))
    partly_paid = sent(service_date=dt.date(2026, 1, 1), service_end=dt.date(2026, 1, 31))
    invoices.record_payment(invoice=partly_paid, amount="100.00")
    for invoice in (credit_note, partly_paid):
        xml = services.invoice_xml(invoice, flavour=flavour)
        assert xsd_errors(xml, XSD_EN16931) == []
        assert findings(schematron, xml, flavour) == []


def test_the_schematron_check_does_find_a_broken_total(schematron):
    """The check above is not blind: a grand total that does not add up is a finding (BR-CO-15)."""
    xml = services.invoice_xml(sent(), flavour="factur-x")
    broken = xml.replace(b"<ram:GrandTotalAmount>473.60<", b"<ram:GrandTotalAmount>437.60<")
    assert broken != xml
    assert any("BR-CO-15" in message for _, _, message in schematron.failures(broken))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_xml_is_the_invoice(flavour):
    invoice = sent(issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 3, 16), service_date=dt.date(2026, 2, 27),
                   notes="Projekt Apollo")
    root = parse(services.invoice_xml(invoice, flavour=flavour))
    assert one(root, "//rsm:ExchangedDocument/ram:ID") == invoice.number
    assert one(root, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert one(root, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20260302"
    assert one(root, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == "Projekt Apollo"
    assert one(root, SETTLEMENT + "/ram:InvoiceCurrencyCode") == "EUR"
    assert one(root, SETTLEMENT + "/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == "20260316"
    assert one(root, "//ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString") == "20260227"
    # The parties.
    assert one(root, SELLER + "/ram:Name") == "Analytical Engines GmbH"
    assert one(root, SELLER + "/ram:PostalTradeAddress/ram:LineOne") == "Hauptstraße 1"
    assert one(root, SELLER + "/ram:PostalTradeAddress/ram:PostcodeCode") == "10115"
    assert one(root, SELLER + "/ram:PostalTradeAddress/ram:CityName") == "Berlin"
    assert one(root, SELLER + "/ram:PostalTradeAddress/ram:CountryID") == "DE"
    assert one(root, SELLER + "/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "DE136695976"
    assert one(root, SELLER + "/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']") == "181/815/08155"
    assert one(root, BUYER + "/ram:Name") == "Cobol GmbH"
    assert one(root, BUYER + "/ram:DefinedTradeContact/ram:PersonName") == "Grace Hopper"
    assert one(root, BUYER + "/ram:PostalTradeAddress/ram:LineOne") == "Lindenallee 7"
    assert one(root, BUYER + "/ram:PostalTradeAddress/ram:CityName") == "Hamburg"
    # The lines.
    assert all_of(root, "//ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedTradeProduct/ram:Name") == [
        "Beratung", "Fachbuch", "Workshop"]
    assert [Decimal(q) for q in all_of(root, "//ram:BilledQuantity")] == [Decimal("2.5"), 1, 1]
    assert all_of(root, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["120.00", "20.00", "80.00"]
    assert all_of(root, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount") == [
        "300.00", "20.00", "80.00"]
    # VAT per rate: category, rate, base, amount.
    breakdown = [
        (one(tax, "ram:CategoryCode"), Decimal(one(tax, "ram:RateApplicablePercent")),
         Decimal(one(tax, "ram:BasisAmount")), Decimal(one(tax, "ram:CalculatedAmount")))
        for tax in root.xpath(SETTLEMENT + "/ram:ApplicableTradeTax", namespaces=NS)
    ]
    assert breakdown == [("S", Decimal("19"), Decimal("380.00"), Decimal("72.20")),
                         ("S", Decimal("7"), Decimal("20.00"), Decimal("1.40"))]
    # The totals, as the invoice has them.
    assert money(root, TOTALS + "/ram:LineTotalAmount") == invoice.subtotal == Decimal("400.00")
    assert money(root, TOTALS + "/ram:TaxBasisTotalAmount") == invoice.subtotal
    assert money(root, TOTALS + "/ram:TaxTotalAmount") == invoice.tax_total == Decimal("73.60")
    assert one(root, TOTALS + "/ram:TaxTotalAmount/@currencyID") == "EUR"
    assert money(root, TOTALS + "/ram:GrandTotalAmount") == invoice.total == Decimal("473.60")
    assert money(root, TOTALS + "/ram:DuePayableAmount") == invoice.balance
    # Paid by SEPA transfer to the seller's account, the invoice number as the reference.
    assert one(root, SETTLEMENT + "/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == "58"
    assert one(root, SETTLEMENT + "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == "DE89370400440532013000"
    assert one(root, SETTLEMENT + "//ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID") == "COBADEFFXXX"
    assert one(root, SETTLEMENT + "/ram:PaymentReference") == invoice.number


def test_the_two_flavours_name_their_specification():
    invoice = sent()
    facturx = parse(services.invoice_xml(invoice, flavour="factur-x"))
    xrechnung = parse(services.invoice_xml(invoice, flavour="xrechnung"))
    guideline = "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    assert one(facturx, guideline) == GUIDELINE_EN16931 == "urn:cen.eu:en16931:2017"
    assert one(xrechnung, guideline) == GUIDELINE_XRECHNUNG == \
        "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert services.invoice_xml(invoice) == services.invoice_xml(invoice, flavour="xrechnung")  # the default
    with pytest.raises(ValueError, match="unknown e-invoice flavour"):
        services.invoice_xml(invoice, flavour="ubl")  # type: ignore[arg-type]


def test_the_xrechnung_has_what_the_german_cius_adds():
    """BR-DE-1 payment instructions, BR-DE-2/5/6/7 the seller's contact, BR-DE-3/4 and 8/9 cities and
    postcodes, BR-DE-15 the buyer reference, BR-DE-17 the type code, BT-23 the process, BT-34 and
    BT-49 electronic addresses (email, scheme EM)."""
    root = parse(services.invoice_xml(sent(), flavour="xrechnung"))
    assert one(root, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == \
        "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    assert one(root, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == "n/a"
    assert one(root, SELLER + "/ram:DefinedTradeContact/ram:PersonName") == "Analytical Engines GmbH"
    assert one(root, SELLER + "/ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/ram:CompleteNumber") == \
        "+49 30 1234567"
    assert one(root, SELLER + "/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID") == \
        "billing@engines.example"
    assert one(root, SELLER + "/ram:URIUniversalCommunication/ram:URIID[@schemeID='EM']") == "billing@engines.example"
    assert one(root, BUYER + "/ram:URIUniversalCommunication/ram:URIID/@schemeID") == "EM"
    assert "@example.com" in one(root, BUYER + "/ram:URIUniversalCommunication/ram:URIID")
    for party in (SELLER, BUYER):
        assert one(root, party + "/ram:PostalTradeAddress/ram:CityName")
        assert one(root, party + "/ram:PostalTradeAddress/ram:PostcodeCode")
    assert one(root, SETTLEMENT + "/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") in ("58", "30", "1")
    assert one(root, "//rsm:ExchangedDocument/ram:TypeCode") in ("326", "380", "384", "389", "381", "875", "876", "877")


def test_a_seller_without_an_email_in_the_profile_is_reached_at_its_sender_address():
    business.update_profile(email="", from_email="rechnung@engines.example")
    root = parse(services.invoice_xml(sent(), flavour="xrechnung"))
    assert one(root, SELLER + "/ram:URIUniversalCommunication/ram:URIID") == "rechnung@engines.example"


@pytest.mark.parametrize(("treatment", "category", "reason", "code"), [
    ("small_business", "E", "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.", None),
    ("reverse_charge", "AE", "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).", "VATEX-EU-AE"),
])
def test_without_vat_the_xml_says_why(treatment, category, reason, code):
    invoice = sent(treatment=treatment)
    root = parse(services.invoice_xml(invoice, flavour="xrechnung"))
    assert all_of(root, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == [category] * 2
    assert one(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:CategoryCode") == category
    assert money(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:RateApplicablePercent") == 0
    assert money(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:BasisAmount") == invoice.subtotal == Decimal("345.50")
    assert money(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:CalculatedAmount") == 0
    assert one(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:ExemptionReason") == reason
    assert all_of(root, SETTLEMENT + "/ram:ApplicableTradeTax/ram:ExemptionReasonCode") == ([code] if code else [])
    assert money(root, TOTALS + "/ram:GrandTotalAmount") == invoice.total == Decimal("345.50")
    if treatment == "reverse_charge":
        assert one(root, BUYER + "/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "FR40303265045"
        assert one(root, BUYER + "/ram:PostalTradeAddress/ram:CountryID") == "FR"


def test_a_credit_note_is_type_381_and_references_the_invoice():
    invoice = sent(issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 3, 16))
    credit_note = credit_note_of(invoice)
    root = parse(services.invoice_xml(credit_note, flavour="xrechnung"))
    assert one(root, "//rsm:ExchangedDocument/ram:ID") == credit_note.number
    assert one(root, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert one(root, SETTLEMENT + "/ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == invoice.number
    assert one(root, SETTLEMENT + "/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/*") == "20260302"
    # The same amounts as the invoice, positive (the type says it is a credit).
    assert money(root, TOTALS + "/ram:GrandTotalAmount") == invoice.total
    assert money(root, TOTALS + "/ram:TaxTotalAmount") == invoice.tax_total
    assert root.xpath("//ram:DueDateDateTime", namespaces=NS) == []


def test_a_partly_paid_invoice_says_what_was_paid_and_what_is_due():
    invoice = sent()
    invoices.record_payment(invoice=invoice, amount="73.60")
    root = parse(services.invoice_xml(invoice, flavour="factur-x"))
    assert money(root, TOTALS + "/ram:TotalPrepaidAmount") == Decimal("73.60")
    assert money(root, TOTALS + "/ram:DuePayableAmount") == Decimal("400.00")


def test_a_service_period_is_the_billing_period():
    invoice = sent(service_date=dt.date(2026, 1, 1), service_end=dt.date(2026, 1, 31))
    root = parse(services.invoice_xml(invoice, flavour="xrechnung"))
    assert one(root, SETTLEMENT + "/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == "20260101"
    assert one(root, SETTLEMENT + "/ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString") == "20260131"
    # A service over a period is supplied when it is complete: on its last day.
    assert one(root, "//ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString") == "20260131"


def test_a_foreign_currency_invoice_has_valid_xml(schematron):
    invoice = sent(currency="CHF")
    xml = services.invoice_xml(invoice, flavour="factur-x")
    assert one(parse(xml), SETTLEMENT + "/ram:InvoiceCurrencyCode") == "CHF"
    assert findings(schematron, xml, "factur-x") == []


def test_control_characters_pasted_into_an_invoice_do_not_break_its_documents():
    # A vertical tab or a form feed from a word processor: XML cannot hold them, so the XML, and the
    # PDF that embeds it, failed with a server error (and the invoice email with them).
    invoice = sent(items=[{"description": "Beratung\x0bvor Ort\x0c", "quantity": "1", "unit_price": "100.00",
                           "tax_rate": "19"}], notes="Danke\x01!")
    root = parse(services.invoice_xml(invoice, flavour="xrechnung"))
    assert all_of(root, "//ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedTradeProduct/ram:Name") == [
        "Beratung vor Ort"]
    assert services.invoice_xml(invoice, flavour="factur-x").startswith(b"<?xml")
    assert services.invoice_pdf(invoice).startswith(b"%PDF")
