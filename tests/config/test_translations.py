"""The German translation is complete, compiled, keeps every placeholder, and uses the product's words.

The catalog is locale/de/LC_MESSAGES/django.po (English msgids, German msgstrs); the compiled .mo
beside it is committed, so neither CI nor a production machine needs gettext. After changing any
translatable text: `DEBUG=true python manage.py makemessages -l de --ignore=.venv --ignore=node_modules
--ignore=var --ignore=bench --ignore=tests`, translate the new entries, then `DEBUG=true python manage.py
compilemessages --ignore=.venv --ignore=node_modules`. These tests fail until that is done.
"""

from __future__ import annotations

import ast
import gettext
import html as html_lib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from core import placeholders
from automations.presets import TEMPLATES
from automations.delivery import STANDARD_TEXTS
from invoices import services
from core.errors import DomainError
from tests.automations.test_views_support import Builder
from tests.base import make_invoice, make_owner

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

# The words table of DESIGN.md ("Triggers, frequency, actions — the user-visible words") and the
# builder flow's words: the German labels must be exactly these.
DESIGN_WORDS = {
    "Invoice is overdue": "Wenn die Rechnung überfällig ist",
    "Invoice is paid": "Wenn die Rechnung bezahlt wird",
    "Invoice is sent": "Wenn die Rechnung gesendet wird",
    "Recurring payment starts": "Wenn eine wiederkehrende Zahlung beginnt",
    "Recurring payment is canceled": "Wenn eine regelmäßige Zahlung storniert wird",
    "Unlimited (trigger every time)": "Unbeschränkt (jedes Mal Triggern)",
    "Once per contact": "Einmal pro Kontakt",
    "Once per contact every 24 hours": "Einmal pro Kontakt alle 24 Stunden",
    "Send email to customer": "E-Mail an Kunden senden",
    "Create a task": "Eine Aufgabe erstellen",
    "Move card on workflow": "Karte im Arbeitsablauf verschieben",
    "Automations": "Automatisierungen",
    "+ New Automation": "+ Neue Automatisierung",
    "+ Custom Automation": "+ Eigene Automatisierung",
    "Invoices": "Rechnungen",
    "Limit frequency": "Häufigkeit begrenzen",
    "Activate": "Aktivieren",
    "Tasks & Reminders": "Aufgaben & Erinnerungen",
}

NAV_DE = ["Automatisierungen", "Rechnungen", "Kontakte", "Aufgaben & Erinnerungen", "Arbeitsabläufe"]
NAV_EN = ["Automations", "Invoices", "Contacts", "Tasks & Reminders", "Workflows"]


# --- A tiny .po reader (the stdlib has none) -----------------------------------------------------


def _unquote(line: str) -> str:
    return ast.literal_eval(line)  # a .po string is a C string; these escapes are Python's too


def read_po(path: Path = PO_FILE) -> list[dict]:
    """Every entry (blocks are separated by blank lines) as a dict: "flags", "msgctxt", "msgid",
    "msgid_plural", "msgstr" ({plural index: text}) and "obsolete" (#~ lines)."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry: dict = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {},
                       "obsolete": False}
        field: tuple[str, int | None] | None = None
        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("#~"):
                entry["obsolete"], line = True, line[2:].strip()
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            if not line or line.startswith("#"):
                continue
            if line.startswith('"'):
                assert field is not None, f"a continuation line without a keyword: {raw!r}"
                if field[0] == "msgstr":
                    entry["msgstr"][field[1]] += _unquote(line)
                else:
                    entry[field[0]] += _unquote(line)
                continue
            keyword, _sep, rest = line.partition(" ")
            plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if plural or keyword == "msgstr":
                field = ("msgstr", int(plural.group(1)) if plural else 0)
                entry["msgstr"][field[1]] = _unquote(rest)
            elif keyword in ("msgctxt", "msgid", "msgid_plural"):
                field = (keyword, None)
                entry[keyword] = _unquote(rest)
            else:
                raise AssertionError(f"unexpected line in {path.name}: {raw!r}")
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def messages() -> list[dict]:
    """The live entries, without the header."""
    return [e for e in read_po() if e["msgid"] and not e["obsolete"]]


def translation_of(msgid: str, context: str | None = None) -> str:
    found = [e for e in messages() if e["msgid"] == msgid and e["msgctxt"] == context]
    assert found, f"{msgid!r} is not in {PO_FILE.name}: run makemessages"
    return found[0]["msgstr"][0]


PYTHON_FORMAT = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
BRACES = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def placeholders_of(text: str) -> list[str]:
    return sorted(PYTHON_FORMAT.findall(text) + BRACES.findall(text))


# --- The catalog ------------------------------------------------------------------------------


def test_the_catalog_is_german_with_two_plural_forms():
    header = next(e for e in read_po() if e["msgid"] == "")["msgstr"][0]
    assert "Language: de\n" in header
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header
    assert "charset=UTF-8" in header


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = messages()
    assert len(entries) > 700, "the catalog looks truncated"
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in read_po() if "fuzzy" in e["flags"]]
    plural_gaps = [e["msgid"] for e in entries if e["msgid_plural"] is not None and sorted(e["msgstr"]) != [0, 1]]
    assert untranslated == [], f"untranslated: {untranslated}"
    assert fuzzy == [], f"fuzzy (check them, then remove the flag): {fuzzy}"
    assert plural_gaps == [], f"plurals need msgstr[0] and msgstr[1]: {plural_gaps}"


def test_translations_keep_every_placeholder():
    broken = []
    for e in messages():
        sources = [e["msgid"]] if e["msgid_plural"] is None else [e["msgid"], e["msgid_plural"]]
        for index, text in e["msgstr"].items():
            source = sources[min(index, len(sources) - 1)]
            if placeholders_of(text) != placeholders_of(source):
                broken.append((e["msgid"], text))
    assert broken == []


def test_the_compiled_catalog_matches_the_po_file():
    """The .mo is committed: a .po edited without compilemessages would not be used."""
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in messages():
        context = e["msgctxt"]
        if e["msgid_plural"] is None:
            got = compiled.pgettext(context, e["msgid"]) if context else compiled.gettext(e["msgid"])
            if got != e["msgstr"][0]:
                stale.append(e["msgid"])
        else:
            for n, index in ((1, 0), (2, 1)):
                got = (compiled.npgettext(context, e["msgid"], e["msgid_plural"], n) if context
                       else compiled.ngettext(e["msgid"], e["msgid_plural"], n))
                if got != e["msgstr"][index]:
                    stale.append(e["msgid"])
    assert stale == [], f"run compilemessages; stale or missing in {MO_FILE.name}: {stale[:10]}"


@pytest.mark.parametrize(("english", "german"), DESIGN_WORDS.items())
def test_the_words_of_the_design_are_used_exactly(english, german):
    assert translation_of(english) == german
    with translation.override("de"):
        assert translation.gettext(english) == german


def test_void_the_status_and_void_the_button_differ_in_german():
    assert translation_of("Void") == "Storniert"
    assert translation_of("Void", context="verb: cancel an invoice") == "Stornieren"


# The UI says "du" to the owner and the team, as the help article does; what reaches the business's
# customers (the ready-made emails, and the invoice document: its texts have the context
# CUSTOMER_DOCUMENT) says "Sie". Capitalised "Sie"/"Ihr…" also starts sentences about a thing ("Sie
# behält ihre Nummer" = the invoice): those entries are listed here, each checked by eye.
FORMAL = re.compile(r"\b(Sie|Ihnen|Ihr|Ihre|Ihrem|Ihren|Ihrer|Ihres)\b")
INFORMAL = re.compile(r"\b(du|dich|dir|dein|deine|deinem|deinen|deiner|deines)\b", re.IGNORECASE)
CUSTOMER_DOCUMENT = "invoice document"
THIRD_PERSON_SIE = {
    "The invoice to %(name)s over %(total)s will be canceled. It keeps its number, cannot be sent or paid any more, "
    "and this cannot be undone.",
}


def template_actions(built: dict) -> list[dict]:
    """A template's actions, a reminder schedule's (its steps') included."""
    return [*built.get("actions", []), *(action for step in built.get("steps", []) for action in step["actions"])]


def customer_email_texts(language: str) -> list[str]:
    """Subject and body of every ready-made email and of the invoice's standard email, in
    `language` (these go to customers)."""
    with translation.override(language):
        return [action[key] for template in TEMPLATES.values() for action in template_actions(template.build())
                if action["kind"] == "send_email" for key in ("subject", "body")] + [
            str(text) for text in STANDARD_TEXTS]


def test_the_ui_says_du_and_only_customer_emails_say_sie(db):
    customer_texts = set(customer_email_texts("en"))
    assert len(customer_texts) >= 6, "the ready-made emails were not found"
    formal_ui = [e["msgid"] for e in messages()
                 if e["msgid"] not in customer_texts | THIRD_PERSON_SIE and e["msgctxt"] != CUSTOMER_DOCUMENT
                 and any(FORMAL.search(text) for text in e["msgstr"].values())]
    customer_document = [e["msgid"] for e in messages() if e["msgctxt"] == CUSTOMER_DOCUMENT
                         and any(INFORMAL.search(text) for text in e["msgstr"].values())]
    assert customer_document == [], f"the invoice document says Sie to the customer: {customer_document}"
    assert formal_ui == [], f"use du/dein/imperative for the person using the product: {formal_ui}"


def test_the_ready_made_customer_emails_stay_formal_in_german(db):
    by_template = {}
    with translation.override("de"):
        for slug, template in TEMPLATES.items():
            emails = [a for a in template_actions(template.build()) if a["kind"] == "send_email"]
            if emails:
                # A reminder schedule's emails have their German text apart (whatever the UI's language).
                by_template[slug] = " ".join(a.get("subject_de", a["subject"]) + "\n" + a.get("body_de", a["body"])
                                             for a in emails)
    assert set(by_template) == {"overdue-reminder", "thank-you", "welcome-recurring", "friendly-reminder",
                                "mahnwesen", "due-in-3-days"}
    for slug, text in by_template.items():
        assert FORMAL.search(text), f"{slug}: a customer is addressed with Sie/Ihr: {text!r}"
        assert not INFORMAL.search(text), f"{slug}: a customer must not be addressed with du: {text!r}"


# --- Pages ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english_afterwards():
    """A German request leaves German active in this thread; later tests expect the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def german(client, db):
    client.force_login(make_owner())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    return client


def page(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return html_lib.unescape(response.content.decode())


def test_the_navigation_is_german(german):
    html = page(german, reverse("dashboard"))
    assert '<html lang="de">' in html
    for word in NAV_DE:
        assert word in html
    assert "Übersicht" in html and "Abmelden" in html


def test_an_accept_language_header_alone_gives_german(client, db):
    client.force_login(make_owner())
    html = page(client, reverse("automations:automation-list"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert "+ Neue Automatisierung" in html and "Automatisierungen" in html


def test_the_chooser_offers_a_custom_automation_in_german(german):
    html = page(german, reverse("automations:automation-new"))
    assert "+ Eigene Automatisierung" in html
    assert "Erinnerungs-E-Mail bei Überfälligkeit" in html
    assert "+ Custom Automation" not in html


def test_every_builder_step_is_german(german):
    builder = Builder(german, reverse("automations:automation-custom"))
    html = builder.get().content.decode()
    assert "Klicke oben auf den Titel, um deiner Automatisierung einen Namen zu geben." in html
    for step in ("Name", "Auslöser", "Häufigkeit begrenzen", "Aktionen", "Überprüfen"):
        assert step in html

    builder.next("name", {"name-name": "Erinnerung"})
    html = builder.get().content.decode()
    assert "Rechnungen" in html
    for label in ("Wenn die Rechnung überfällig ist", "Wenn die Rechnung bezahlt wird", "Wenn die Rechnung gesendet wird",
                  "Wenn eine wiederkehrende Zahlung beginnt", "Wenn eine regelmäßige Zahlung storniert wird"):
        assert label in html

    builder.next("trigger", {"trigger-trigger": "invoice_overdue"})
    html = builder.get().content.decode()
    for label in ("Häufigkeit begrenzen", "Unbeschränkt (jedes Mal Triggern)", "Einmal pro Kontakt",
                  "Einmal pro Kontakt alle 24 Stunden"):
        assert label in html

    builder.next("frequency", {"frequency-frequency": "once_per_contact_24h"})
    html = builder.get().content.decode()
    for label in ("E-Mail an Kunden senden", "Eine Aufgabe erstellen", "Karte im Arbeitsablauf verschieben",
                  "Aktion hinzufügen"):
        assert label in html

    builder.next("actions", {
        "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "0", "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "20", "actions-0-kind": "create_task", "actions-0-title": "Anrufen",
        "actions-0-due_in_days": "1",
    })
    html = builder.get().content.decode()
    assert "Aktivieren" in html and "Als Entwurf speichern (aus)" in html
    assert "1 Tag nach dem Auslöser" in html


def test_invoice_pages_are_german(german):
    invoice = make_invoice(status="sent")
    html = page(german, reverse("invoices:invoice-list"))
    for word in ("Gesendet", "Entwurf", "Überfällig", "Bezahlt", "Storniert", "Suchen", "Fälligkeitsdatum"):
        assert word in html
    html = page(german, reverse("invoices:invoice-detail", args=[invoice.pk]))
    assert "Zahlung erfassen" in html and "Stornieren" in html and "Öffentlicher Link" in html
    for english in (r"\bRecord payment\b", r"\bVoid\b", r"\bPublic link\b", r"\bSend\b", r"\bEdit\b"):
        assert not re.search(english, html), english


def test_an_overpayment_is_refused_in_german(german):
    invoice = make_invoice(status="sent")
    response = german.post(reverse("invoices:invoice-payment", args=[invoice.pk]),
                           {"amount": "500.00", "date": "2026-01-01", "method": "bank_transfer", "reference": ""})
    assert "noch offen sind" in response.content.decode()
    with translation.override("de"), pytest.raises(DomainError) as refused:
        services.record_payment(invoice=invoice, amount="500.00")
    assert refused.value.message.startswith("500,00\xa0€ ist mehr als die 119,00\xa0€")


def test_the_german_template_texts_use_only_valid_placeholders(db):
    with translation.override("de"):
        for template in TEMPLATES.values():
            built = template.build()
            texts = [text for action in template_actions(built) for key, text in action.items()
                     if key in ("subject", "body", "subject_de", "body_de", "title", "description") and text]
            placeholders.check_all(texts)
            assert built["name"] == str(template.title)
    with translation.override("de"):
        assert TEMPLATES["overdue-reminder"].build()["actions"][0]["body"].startswith("Hallo {{ contact.first_name }},")


def test_an_english_browser_still_gets_english(client, db):
    client.force_login(make_owner())
    html = page(client, reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en">' in html
    for word in NAV_EN:
        assert word in html
    assert "Automatisierungen" not in html
    html = page(client, reverse("automations:automation-new"), HTTP_ACCEPT_LANGUAGE="en")
    assert "+ Custom Automation" in html and "+ Eigene Automatisierung" not in html
