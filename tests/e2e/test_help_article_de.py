"""The help article we measure ourselves against (/work/shared/brief/invoice-automations-help-article.de.txt),
followed click by click in a German browser:

Automatisierungen → + Neue Automatisierung → + Eigene Automatisierung → click the title to name it
→ Auslöser: Rechnungen → "Wenn die Rechnung überfällig ist" → Häufigkeit begrenzen: "Einmal pro
Kontakt alle 24 Stunden" → action "E-Mail an Kunden senden" → Aktivieren (top right).

The German words the product promises (DESIGN.md) are written out here; the other labels are taken
from the German catalogue and must differ from the English ones (they are translated).
"""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from automations.models import Automation

from .conftest import GERMAN_MO, screenshots

pytestmark = pytest.mark.skipif(not GERMAN_MO.exists(), reason="German translations not compiled yet "
                                f"({GERMAN_MO} is missing: run manage.py compilemessages)")

TRIGGERS_DE = [
    "Wenn die Rechnung überfällig ist",
    "Wenn die Rechnung bezahlt wird",
    "Wenn die Rechnung gesendet wird",
    "Wenn eine wiederkehrende Zahlung beginnt",
    "Wenn eine regelmäßige Zahlung storniert wird",
]
FREQUENCIES_DE = [
    "Unbeschränkt (jedes Mal Triggern)",
    "Einmal pro Kontakt",
    "Einmal pro Kontakt alle 24 Stunden",
]
ACTIONS_DE = ["E-Mail an Kunden senden", "Eine Aufgabe erstellen", "Karte im Arbeitsablauf verschieben"]


def de(english: str) -> str:
    """The German label of an English one, from the compiled catalogue; it must be translated."""
    with translation.override("de"):
        german = translation.gettext(english)
    assert german != english or english in ("Name",), f"“{english}” has no German translation"
    return german


def assert_not_english(page, *english: str) -> None:
    """None of these English labels is left on the screen."""
    text = page.locator("body").inner_text()
    left = [label for label in english if label in text]
    assert not left, f"English on the German page {page.url}: {left}"


def step_nav(page):
    return page.locator(".wizard-steps")


def current_step(page):
    return page.locator(".wizard-steps [aria-current=step]")


def weiter(page, expected_step: str) -> None:
    page.get_by_role("button", name=de("Next")).click()
    expect(current_step(page)).to_contain_text(expected_step)


def test_the_help_article_in_german(page_de):
    page = page_de
    name = "Zahlungserinnerung bei Überfälligkeit"

    # "Öffne den Bereich Automatisierungen"
    page.goto(page.url_for("/"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.locator("nav.navbar").get_by_role("link", name="Automatisierungen").click()
    expect(page.get_by_role("heading", level=1, name="Automatisierungen")).to_be_visible()
    expect(page.get_by_text(de("No automations yet."))).to_be_visible()
    assert_not_english(page, "Automations", "No automations yet.", "New Automation")

    # "Klicke auf + Neue Automatisierung."
    page.get_by_role("link", name="+ Neue Automatisierung").first.click()
    expect(page.get_by_role("heading", level=1, name="+ Neue Automatisierung")).to_be_visible()
    assert_not_english(page, "+ New Automation", "+ Custom Automation", "Or start from a template", "Use this template")
    screenshots(page, "de-automation-chooser")

    # "Klicke auf + Eigene Automatisierung."
    page.get_by_role("link", name="+ Eigene Automatisierung").click()
    expect(current_step(page)).to_have_text("1. Name")
    for label in ("2. Auslöser", "3. Häufigkeit begrenzen", f"4. {de('Actions')}", f"5. {de('Review')}"):
        expect(step_nav(page)).to_contain_text(label)
    expect(page.get_by_text(de("Click the title above to give your automation a name."))).to_be_visible()
    assert_not_english(page, "Limit frequency", "Untitled automation", "Cancel", "Next", "Review")
    screenshots(page, "de-wizard-1-name")

    # "Klicke auf den Titel, um deiner Automatisierung einen Namen zu geben."
    title = page.get_by_placeholder(de("Untitled automation"))
    title.click()
    title.fill(name)
    weiter(page, "2. Auslöser")

    # "Wähle unter Auslöser die Option Rechnungen aus." and the trigger
    expect(page.get_by_text(de("Choose the trigger"), exact=True)).to_be_visible()
    expect(page.locator(".card-header", has_text="Rechnungen")).to_be_visible()
    for label in TRIGGERS_DE:
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    assert_not_english(page, "Invoice is overdue", "Invoice is paid", "Choose the trigger", "Invoices", "Back")
    screenshots(page, "de-wizard-2-trigger")
    page.get_by_label("Wenn die Rechnung überfällig ist", exact=True).check()
    weiter(page, "3. Häufigkeit begrenzen")

    # "Klicke auf das Aufklappmenü Häufigkeit begrenzen"
    expect(page.locator("legend", has_text="Häufigkeit begrenzen")).to_be_visible()
    options = page.locator("label.choice-card .fw-semibold")
    expect(options).to_have_text(FREQUENCIES_DE)
    assert_not_english(page, "Unlimited (trigger every time)", "Once per contact", "Limit frequency")
    screenshots(page, "de-wizard-3-frequency")
    page.locator("label.choice-card").filter(
        has=page.locator(".fw-semibold").get_by_text("Einmal pro Kontakt alle 24 Stunden", exact=True)).click()
    expect(page.locator("input[value=once_per_contact_24h]")).to_be_checked()
    weiter(page, f"4. {de('Actions')}")

    # "Wähle die entsprechende Aktion": E-Mail an Kunden senden
    for label in ACTIONS_DE:
        expect(page.get_by_role("button", name=label)).to_be_visible()
    assert_not_english(page, "Send email to customer", "Create a task", "Move card on workflow", "Add an action")
    page.get_by_role("button", name="E-Mail an Kunden senden").click()
    card = page.locator("[data-action-card]")
    expect(card.locator(".card-header")).to_contain_text("E-Mail an Kunden senden")
    card.get_by_label(de("Subject")).fill("Rechnung {{ invoice.number }} ist überfällig")
    card.get_by_label(de("Message")).fill("Hallo {{ contact.first_name }},\nbitte begleiche {{ invoice.amount_due }}.")
    expect(card.get_by_role("button", name=de("Insert placeholder"))).to_be_visible()
    assert_not_english(page, "Subject", "Message", "Sender name", "Insert placeholder", "Preview for invoice")
    screenshots(page, "de-wizard-4-actions")
    weiter(page, f"5. {de('Review')}")

    review = page.locator(".card", has=page.get_by_role("heading", name=de("Review")))
    expect(review).to_contain_text(name)
    expect(review).to_contain_text("Rechnungen › Wenn die Rechnung überfällig ist")
    expect(review).to_contain_text("Einmal pro Kontakt alle 24 Stunden")
    expect(review).to_contain_text("E-Mail an Kunden senden")
    expect(review).to_contain_text("Rechnung {{ invoice.number }} ist überfällig")
    assert_not_english(page, "Activate", "Save as draft (off)", "Review", "Subject")
    screenshots(page, "de-wizard-5-review")

    # "Klicke oben rechts auf Aktivieren, um deine Automatisierung zu speichern."
    top_right = page.locator(".page-header").get_by_role("button", name="Aktivieren")
    box, viewport = top_right.bounding_box(), page.viewport_size
    assert box["x"] > viewport["width"] / 2 and box["y"] < 250, f"“Aktivieren” is not at the top right: {box}"
    top_right.click()

    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(de("“%(name)s” is saved and switched on.") % {"name": name})
    summary = page.locator(".card", has=page.get_by_role("heading", name=de("Summary")))
    expect(summary).to_contain_text("Rechnungen › Wenn die Rechnung überfällig ist")
    expect(summary).to_contain_text("Einmal pro Kontakt alle 24 Stunden")
    expect(summary).to_contain_text("E-Mail an Kunden senden")
    assert_not_english(page, "Summary", "Send test", "Invoice is overdue", "Once per contact")
    screenshots(page, "de-automation-detail")

    automation = Automation.objects.get()
    assert automation.name == name
    assert automation.is_active
    assert (automation.trigger, automation.frequency) == ("invoice_overdue", "once_per_contact_24h")
    action = automation.actions.get()
    assert action.kind == "send_email"
    assert action.subject == "Rechnung {{ invoice.number }} ist überfällig"
    assert re.match(r"Hallo \{\{ contact.first_name \}\},\r?\nbitte", action.body)

    # Back in the list, it is there and switched on.
    page.locator("nav.navbar").get_by_role("link", name="Automatisierungen").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_contain_text("Wenn die Rechnung überfällig ist")
    expect(row.get_by_role("switch")).to_be_checked()
    screenshots(page, "de-automation-list")
