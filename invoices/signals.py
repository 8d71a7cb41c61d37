"""What happened to invoices and recurring payments, announced by the services.

Each signal is sent inside the service's transaction, after the change is written, so a receiver
that writes to the database (the automations outbox) commits or rolls back with the change.
Receivers get keyword arguments only; `now` is the service's clock.
"""

from django.dispatch import Signal

# invoice, by, now, deliver (True: email it to the contact; False: marked as sent, handed over otherwise)
invoice_sent = Signal()
# invoice, payment, by, now
invoice_paid = Signal()
# invoice, payment, by, now — every payment, also partial ones
payment_recorded = Signal()
# invoice, by, now
invoice_voided = Signal()
# invoice (the credit note), original (the voided invoice), by, now, deliver (as invoice_sent)
credit_note_issued = Signal()
# invoices: OverdueBatch, the rows (id, contact_id, due_date) one batch of the overdue scan flipped,
# held in a temporary table (`invoices.table`) for a set-based INSERT … SELECT; iterating it reads
# them as OverdueInvoice. Both work only inside the sender's transaction. now
invoices_overdue = Signal()
# plan, by, now
recurring_started = Signal()
recurring_canceled = Signal()
recurring_ended = Signal()
