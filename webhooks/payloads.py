"""The `data` of each event type: plain values (amounts as strings, dates in ISO 8601)."""

from __future__ import annotations

from typing import Any

from invoices.models import Contact, Invoice, Payment, RecurringPayment


def contact_data(contact: Contact) -> dict[str, Any]:
    return {"id": contact.pk, "name": contact.name, "email": contact.email, "company": contact.company}


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk, "number": invoice.number, "status": invoice.status, "currency": invoice.currency,
        "total": str(invoice.total), "amount_paid": str(invoice.amount_paid), "amount_due": str(invoice.balance),
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "contact": contact_data(invoice.contact),
    }


def payment_data(payment: Payment) -> dict[str, Any]:
    return {"id": payment.pk, "amount": str(payment.amount), "date": payment.date.isoformat(),
            "method": payment.method, "reference": payment.reference}


def recurring_data(plan: RecurringPayment) -> dict[str, Any]:
    return {"id": plan.pk, "description": plan.description, "status": plan.status, "amount": str(plan.amount),
            "currency": plan.currency, "interval": plan.interval,
            "start_date": plan.start_date.isoformat() if plan.start_date else None,
            "contact": contact_data(plan.contact)}
