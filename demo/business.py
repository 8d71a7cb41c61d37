"""The demo business behind `manage.py load_demo`.

`load_demo()` builds a small, realistic business (two users, contacts, invoices in every status,
payments, recurring payments, a "Collections" board, tasks and example automations) through the
services, exactly as a user would, so signals and outbox rows come out as in real use. It is
idempotent: every object has a natural key (username, contact email, workflow / task / automation
name) and is created only when it is missing, so a second run creates nothing.

Its texts (the board, tasks, automations and their emails, the plans' descriptions) are in the
site's language, `LANGUAGE_CODE`: each is marked for translation here and translated while loading
(a plan's description in its customer's language, like the invoice lines). A second run in the same
language finds everything by the same names.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.roles import OWNER, TEAM_MEMBER, sync_roles
from automations.models import Automation
from automations.presets import TEMPLATES
from automations.services import create_automation
from business.services import get_profile, update_profile
from core.dates import business_today
from core.money import CENT, quantize_money
from invoices import services
from invoices.models import Contact, Invoice, InvoiceStatus, PaymentMethod, RecurringPayment
from tasks.models import Task
from tasks.services import complete_task, create_task
from workflows.models import Step, Workflow
from workflows.services import create_workflow, place_card

DEMO_PASSWORD = "demo"
DEMO_ADMIN = "demo"
DEMO_MEMBER = "sam"

Progress = Callable[[int], Any]


def _no_progress(n: int = 1) -> None:
    return None


# --- The demo business ------------------------------------------------------------------------

# key, name, email, company, language, phone. Addresses use the reserved `.example` top-level
# domain (RFC 2606): an automation switched on by mistake can never reach a real person.
CONTACTS: list[tuple[str, str, str, str, str, str]] = [
    ("anna", "Anna Schmidt", "anna.schmidt@schmidt-architektur.example", "Schmidt Architektur", "de", "+49 30 5550123"),
    ("jonas", "Jonas Weber", "j.weber@weber-bau.example", "Weber Bau GmbH", "de", "+49 89 5550456"),
    ("lena", "Lena Fischer", "lena@fischer-design.example", "Fischer Design", "de", ""),
    ("markus", "Markus Becker", "markus.becker@post.example", "", "de", "+49 171 5550789"),
    ("sophie", "Sophie Wagner", "buchhaltung@wagner-logistik.example", "Wagner Logistik AG", "de", "+49 40 5550321"),
    ("felix", "Felix Hoffmann", "felix.hoffmann@post.example", "", "de", ""),
    ("claudia", "Claudia Schäfer", "c.schaefer@praxis-schaefer.example", "Praxis Dr. Schäfer", "de", "+49 221 5550654"),
    # No email address: the overdue reminder skips him, someone has to call.
    ("thomas", "Thomas Koch", "", "Bäckerei Koch", "de", "+49 351 5550987"),
    ("katrin", "Katrin Richter", "k.richter@richter-consulting.example", "Richter Consulting", "de", ""),
    ("lukas", "Lukas Meyer", "lukas.meyer@meyer-it.example", "Meyer IT-Service", "de", "+49 711 5550246"),
    ("hannah", "Hannah Schulz", "hannah.schulz@post.example", "", "de", ""),
    ("emily", "Emily Carter", "emily@carter-studio.example", "Carter Studio Ltd", "en", "+44 20 7946 0123"),
    ("james", "James Wilson", "accounts@wilson-partners.example", "Wilson & Partners", "en", "+44 161 496 0456"),
    ("olivia", "Olivia Brown", "olivia.brown@mail.example", "", "en", ""),
    ("daniel", "Daniel Murphy", "dan@murphy-events.example", "Murphy Events", "en", "+353 1 555 0789"),
    ("sarah", "Sarah Johnson", "sarah.johnson@northwind.example", "Northwind Traders", "en", ""),
    ("michael", "Michael Evans", "m.evans@evans-legal.example", "Evans Legal LLP", "en", "+44 29 2018 0321"),
    ("grace", "Grace Taylor", "grace@taylor-bakes.example", "Taylor Bakes", "en", ""),
    ("ben", "Ben Roberts", "ben@roberts-photo.example", "", "en", ""),
    ("chloe", "Chloe Martin", "chloe.martin@bluebird.example", "Bluebird Café", "en", "+44 117 496 0654"),
]

# English description, German description, unit price, largest quantity.
CATALOGUE: list[tuple[str, str, str, int]] = [
    ("Website design", "Webdesign", "1200.00", 1),
    ("Consulting (per hour)", "Beratung (pro Stunde)", "95.00", 8),
    ("Logo design", "Logogestaltung", "450.00", 1),
    ("Hosting (monthly)", "Hosting (monatlich)", "19.90", 3),
    ("Maintenance package", "Wartungspaket", "149.00", 1),
    ("Photography (half day)", "Fotografie (halber Tag)", "380.00", 2),
    ("Copywriting (per page)", "Texterstellung (pro Seite)", "85.00", 5),
    ("SEO audit", "SEO-Analyse", "690.00", 1),
    ("Workshop (full day)", "Workshop (ganzer Tag)", "1450.00", 1),
    ("Travel expenses", "Reisekosten", "64.50", 2),
    ("Flyer printing (500 copies)", "Flyerdruck (500 Stück)", "129.00", 2),
    ("Software licence (yearly)", "Softwarelizenz (jährlich)", "240.00", 1),
]

# Who owes money: the overdue invoices go to these contacts (Jonas twice, for the
# "once per contact every 24 hours" limit), so the cards and tasks below have a reason.
OVERDUE_CONTACTS = ["thomas", "jonas", "jonas", "emily", "markus", "grace", "daniel", "lukas", "olivia", "felix"]

# description, contact, amount, tax rate, start (days from today), what happens to it
PLANS: list[tuple[Any, str, str, str, int, str]] = [
    (_("Website maintenance (monthly)"), "lena", "149.00", "19", -20, "active"),
    (_("Newsletter service (monthly)"), "james", "39.00", "0", -40, "canceled"),
    (_("Support retainer (monthly)"), "sophie", "250.00", "19", 10, "scheduled"),
]

# The demo business's own profile: complete, so its invoices can be sent (§ 14 UStG).
PROFILE = {
    "legal_name": "Demo Design Studio GmbH", "street": "Friedrichstraße 123", "postal_code": "10117",
    "city": "Berlin", "country": "DE", "email": "billing@demo-studio.example", "phone": "+49 30 5550100",
    "website": "https://demo-studio.example", "vat_id": "DE136695976", "tax_number": "181/815/08155",
    "bank_name": "Commerzbank Berlin", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
    "invoice_footer": "Demo Design Studio GmbH · Geschäftsführerin: Maria Demo · Amtsgericht Berlin-Charlottenburg HRB 000000",
}
# Where the contacts live (made-up addresses): German contacts in German cities, the English-speaking
# ones in the UK and Ireland.
ADDRESSES = {
    "de": [("Lindenallee", "10115", "Berlin"), ("Marienplatz", "80331", "München"), ("Domstraße", "50668", "Köln"),
           ("Jungfernstieg", "20354", "Hamburg"), ("Königstraße", "70173", "Stuttgart")],
    "en": [("High Street", "EC1A 1BB", "London"), ("Deansgate", "M3 4LQ", "Manchester"), ("Queen Street", "CF10 2BU", "Cardiff")],
}

WORKFLOW = _("Collections")
NEW, REMINDED, CALLED, PAID = _("New"), _("Reminded"), _("Called"), _("Paid")
WORKFLOW_STEPS = [NEW, REMINDED, CALLED, PAID]
CARDS: list[tuple[str, Any]] = [
    ("emily", NEW), ("markus", NEW), ("daniel", NEW),
    ("jonas", REMINDED), ("grace", REMINDED),
    ("thomas", CALLED),
    ("anna", PAID),
]

# title, description, assignee (None = the team), contact, days until due, done
TASKS: list[tuple[Any, Any, str | None, str | None, int | None, bool]] = [
    (_("Call Thomas Koch about his overdue invoice"), _("No email address on file: call the bakery in the morning."),
     DEMO_MEMBER, "thomas", 1, False),
    (_("Remind Jonas Weber of two open invoices"), "", DEMO_ADMIN, "jonas", 0, False),
    (_("Prepare the quarterly VAT return"), _("Collect all paid invoices of the quarter for the tax adviser."),
     None, None, 12, False),
    (_("Update the price list for next year"), "", None, None, None, False),
    (_("Check the bank statement for incoming payments"), "", DEMO_MEMBER, None, -2, True),
    (_("Send the welcome pack to Sophie Wagner"), "", DEMO_ADMIN, "sophie", -5, True),
]

# The example automations are the builder's ready-made templates (automations.presets): the same
# texts, in the same language, and their customer emails say "Sie" in German.
AUTOMATION_TEMPLATES = ["overdue-reminder", "thank-you", "paid-move-card"]


def _automations(paid_step) -> list[dict[str, Any]]:
    """The example automations, in the active language, moving cards to the demo board's "Paid"."""
    business = settings.BUSINESS_NAME
    reply_to = "billing@my-business.example"
    specs = []
    for slug in AUTOMATION_TEMPLATES:
        spec = TEMPLATES[slug].build()
        actions = [{"kind": "move_card", "step": paid_step} if action["kind"] == "move_card"
                   else {**action, "sender_name": business, "reply_to": reply_to} for action in spec["actions"]]
        specs.append({**spec, "name": str(spec["name"]), "actions": actions})
    return specs


@dataclass
class InvoicePlan:
    """One demo invoice: what it is, and what happens to it after it is created."""

    contact: str
    issue: dt.date
    due: dt.date
    items: list[dict[str, str]]
    send: bool = False
    # (date, share of the total or None for "the rest")
    payments: list[tuple[dt.date, Decimal | None]] = field(default_factory=list)
    void_on: dt.date | None = None


def _items(rng: random.Random, language: str, company: str) -> list[dict[str, str]]:
    # German customers and private ones pay German VAT; foreign businesses get reverse charge.
    tax = "19" if language == "de" or not company else "0"
    lines = []
    for en, de, price, most in rng.sample(CATALOGUE, rng.randint(1, 4)):
        lines.append({
            "description": de if language == "de" else en,
            "quantity": str(rng.randint(1, most)),
            "unit_price": price,
            "tax_rate": "7" if tax == "19" and "Flyer" in en else tax,
        })
    return lines


def invoice_plans(today: dt.date, rng: random.Random) -> list[InvoicePlan]:
    """About 60 invoices over the last 90 days: draft, sent, overdue, paid, partly paid, void."""
    contacts = {key: (language, company) for key, _n, _e, company, language, _p in CONTACTS}
    keys = list(contacts)
    plans: list[InvoicePlan] = []

    def new(contact: str, issue_ago: int, terms: int = 14) -> InvoicePlan:
        issue = today - dt.timedelta(days=issue_ago)
        plan = InvoicePlan(contact=contact, issue=issue, due=issue + dt.timedelta(days=terms),
                           items=_items(rng, *contacts[contact]))
        plans.append(plan)
        return plan

    def day(plan: InvoicePlan, after: int) -> dt.date:
        return min(plan.issue + dt.timedelta(days=after), today)

    for _draft in range(10):  # drafts being written
        new(rng.choice(keys), rng.randint(0, 5))
    for _sent in range(12):  # sent, not due yet
        terms = rng.choice([14, 14, 30])
        new(rng.choice(keys), rng.randint(0, terms - 2), terms).send = True
    for contact in OVERDUE_CONTACTS:  # sent, due date passed
        plan = new(contact, rng.randint(20, 90))
        plan.send = True
    for i in range(20):  # paid in full, some in two instalments, some late
        plan = new("anna" if i == 0 else rng.choice(keys), rng.randint(5, 90))
        plan.send = True
        age = (today - plan.issue).days
        if i % 7 == 0 and age >= 4:
            plan.payments = [(day(plan, 2), Decimal("0.5")), (day(plan, rng.randint(3, age)), None)]
        else:
            plan.payments = [(day(plan, rng.randint(1, min(age, 24))), None)]
    for issue_ago in (rng.randint(3, 10), rng.randint(3, 10)):  # partly paid, not due yet
        plan = new(rng.choice(keys), issue_ago)
        plan.send = True
        plan.payments = [(day(plan, 2), Decimal("0.4"))]
    for contact in ("james", "hannah"):  # partly paid, then overdue
        plan = new(contact, rng.randint(30, 70))
        plan.send = True
        plan.payments = [(day(plan, rng.randint(5, 15)), Decimal("0.3"))]
    for i in range(4):  # void: one never sent, three sent and cancelled
        plan = new(rng.choice(keys), rng.randint(15, 80))
        plan.send = i > 0
        plan.void_on = day(plan, rng.randint(1, 7))
    plans.sort(key=lambda p: p.issue)  # numbers go up with the issue date
    return plans


class DemoLoader:
    def __init__(self, *, now: dt.datetime, progress: Progress, seed: int = 2024) -> None:
        self.now = now
        self.today = business_today(now)
        self.rng = random.Random(seed)
        self.progress = progress
        self.created: Counter[str] = Counter()
        self.contacts: dict[str, Contact] = {}
        self.users: dict[str, User] = {}
        self.invoice_plans = invoice_plans(self.today, self.rng)

    @property
    def total_steps(self) -> int:
        """Progress units: one per user, contact, invoice, plan, card, task and automation."""
        return (2 + len(CONTACTS) + len(self.invoice_plans) + len(PLANS) + 1 + 1 + len(CARDS) + len(TASKS)
                + len(AUTOMATION_TEMPLATES))

    def at(self, day: dt.date, hour: int) -> dt.datetime:
        """A moment of that day in the business time zone, never later than now."""
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour, self.rng.randint(0, 59))))
        return min(moment, self.now)

    def run(self) -> Counter[str]:
        with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
            self.load_profile()
            self.load_users()
            self.load_contacts()
            self.load_billing()
            self.load_workflow()
            self.load_tasks()
            self.load_automations()
        return self.created

    # The business itself: filled in only where the profile is still empty (a real owner's entries stay).

    def load_profile(self) -> None:
        profile = get_profile()
        missing = {name: value for name, value in PROFILE.items() if not getattr(profile, name)}
        if missing:
            update_profile(**missing)

    # Users

    def load_users(self) -> None:
        sync_roles(django_apps)  # made by a migration; again here in case a flush removed them
        admin = User.objects.filter(username=DEMO_ADMIN).first()
        if admin is None:
            admin = User.objects.create_superuser(DEMO_ADMIN, "demo@my-business.example", DEMO_PASSWORD,
                                                  first_name="Demo", last_name="Owner")
            admin.groups.add(Group.objects.get(name=OWNER))
            self.created["users"] += 1
        self.progress(1)
        member = User.objects.filter(username=DEMO_MEMBER).first()
        if member is None:
            member = User.objects.create_user(DEMO_MEMBER, "sam@my-business.example", DEMO_PASSWORD,
                                              first_name="Sam", last_name="Miller", is_staff=True)
            member.groups.add(Group.objects.get(name=TEAM_MEMBER))
            self.created["users"] += 1
        self.progress(1)
        self.users = {DEMO_ADMIN: admin, DEMO_MEMBER: member}

    # Contacts

    def load_contacts(self) -> None:
        for key, name, email, company, language, phone in CONTACTS:
            existing = Contact.objects.filter(email=email) if email else Contact.objects.filter(
                name=name, company=company, email="")
            contact = existing.order_by("pk").first()
            if contact is None:
                places = ADDRESSES[language]
                street, postal_code, city = places[len(self.contacts) % len(places)]
                country = "IE" if phone.startswith("+353") else "DE" if language == "de" else "GB"
                contact = services.create_contact(
                    name=name, email=email, phone=phone, company=company, language=language,
                    street=f"{street} {len(self.contacts) + 1}", postal_code=postal_code, city=city, country=country,
                    is_business=bool(company),
                )
                self.created["contacts"] += 1
            self.contacts[key] = contact
            self.progress(1)

    # Invoices, payments, recurring payments

    def load_billing(self) -> None:
        plans = self.invoice_plans
        steps = len(plans) + len(PLANS) + 1
        demo_contacts = list(self.contacts.values())
        # The marker: the demo's invoices and plans belong to the demo contacts. If any exist,
        # the billing history has been loaded (it is written in one transaction, all or nothing).
        if (Invoice.objects.filter(contact__in=demo_contacts).exists()
                or RecurringPayment.objects.filter(contact__in=demo_contacts).exists()):
            self.progress(steps)
            return
        admin = self.users[DEMO_ADMIN]
        # Recurring plans issue their first invoice when they start: start them in date order
        # among the other invoices, so numbers follow the issue dates.
        recurring = sorted(PLANS, key=lambda p: p[4])
        for plan in plans:
            while recurring and self.today + dt.timedelta(days=recurring[0][4]) <= plan.issue:
                self.load_plan(recurring.pop(0), by=admin)
            self.load_invoice(plan, by=admin)
        for spec in recurring:
            self.load_plan(spec, by=admin)
        # The overdue scan, as the schedule would run it now.
        self.created["overdue"] += services.mark_overdue(now=self.now)
        self.progress(1)

    def load_invoice(self, plan: InvoicePlan, *, by: User) -> None:
        created_at = self.at(plan.issue, 9)
        invoice = services.create_invoice(
            contact=self.contacts[plan.contact], items=plan.items, issue_date=plan.issue, due_date=plan.due,
            by=by, now=created_at,
        )
        self.created["invoices"] += 1
        if plan.send:
            services.send_invoice(invoice=invoice, by=by, now=self.at(plan.issue, 10))
        for day, share in plan.payments:
            amount = invoice.balance if share is None else quantize_money(invoice.total * share)
            services.record_payment(
                invoice=invoice, amount=max(amount, CENT), date=day, by=by, now=self.at(day, 15),
                method=self.rng.choice([PaymentMethod.BANK_TRANSFER] * 4 + [PaymentMethod.CARD]),
                reference=f"{invoice.number}",
            )
            self.created["payments"] += 1
        if plan.void_on:
            services.void_invoice(invoice=invoice, by=by, now=self.at(plan.void_on, 11))
        self.progress(1)

    def load_plan(self, spec: tuple[str, str, str, str, int, str], *, by: User) -> None:
        description, contact, amount, tax_rate, start_in, fate = spec
        start = self.today + dt.timedelta(days=start_in)
        with translation.override(self.contacts[contact].language):  # on the customer's invoices
            description = str(description)
        plan = services.create_recurring(
            contact=self.contacts[contact], description=description, amount=Decimal(amount), tax_rate=tax_rate,
            start_date=start, interval="monthly", by=by,
        )
        self.created["recurring payments"] += 1
        if fate in ("active", "canceled"):
            # Started on its start date: the first period's invoice is issued and sent then, and paid.
            services.start_recurring(plan=plan, by=by, now=self.at(start, 8))
            self.created["invoices"] += plan.invoices.count()
            for invoice in plan.invoices.all():
                paid_on = min(invoice.issue_date + dt.timedelta(days=6), self.today)
                services.record_payment(invoice=invoice, amount=invoice.balance, date=paid_on, by=by,
                                        now=self.at(paid_on, 15), reference=invoice.number)
                self.created["payments"] += 1
        if fate == "canceled":
            canceled_on = self.today - dt.timedelta(days=15)
            services.cancel_recurring(plan=plan, by=by, now=self.at(canceled_on, 16))
        self.progress(1)

    # Workflow board

    def load_workflow(self) -> None:
        if Workflow.objects.filter(name=str(WORKFLOW)).exists():
            self.progress(1 + len(CARDS))
            return
        workflow = create_workflow(name=str(WORKFLOW), steps=[str(step) for step in WORKFLOW_STEPS])
        self.created["workflows"] += 1
        self.progress(1)
        steps = {step.name: step for step in workflow.steps.all()}
        for contact, step in CARDS:
            place_card(contact=self.contacts[contact], step=steps[str(step)])
            self.created["cards"] += 1
            self.progress(1)

    # Tasks

    def load_tasks(self) -> None:
        for title, description, assignee, contact_key, due_in, done in TASKS:
            title, description = str(title), str(description)
            if Task.objects.filter(title=title).exists():
                self.progress(1)
                continue
            contact = self.contacts[contact_key] if contact_key else None
            invoice = None
            if contact is not None:
                invoice = contact.invoices.filter(status=InvoiceStatus.OVERDUE).order_by("due_date").first()
            user = self.users[assignee] if assignee else None
            task = create_task(
                title=title, description=description, assignee=user, contact=contact, invoice=invoice,
                due_date=None if due_in is None else self.today + dt.timedelta(days=due_in),
                by=self.users[DEMO_ADMIN],
            )
            self.created["tasks"] += 1
            if done:
                complete_task(task=task, by=user or self.users[DEMO_MEMBER])
            self.progress(1)

    # Automations (examples, switched off)

    def load_automations(self) -> None:
        paid_step = Step.objects.filter(workflow__name=str(WORKFLOW), name=str(PAID)).first()
        for spec in _automations(paid_step):
            needs_step = any(a["kind"] == "move_card" for a in spec["actions"])
            if Automation.objects.filter(name=spec["name"]).exists() or (needs_step and paid_step is None):
                self.progress(1)
                continue
            create_automation(**spec, is_active=False, by=self.users[DEMO_ADMIN])
            self.created["automations"] += 1
            self.progress(1)


def load_demo(
    *, now: dt.datetime | None = None, progress: Progress = _no_progress,
    on_start: Callable[[int], Any] | None = None,
) -> Counter[str]:
    """Create what is missing of the demo business; returns what was created (empty: nothing).

    `on_start(total)` is called with the number of progress units before the work begins.
    """
    loader = DemoLoader(now=now or timezone.now(), progress=progress)
    if on_start:
        on_start(loader.total_steps)
    return loader.run()
