"""The bank pages: statements, the upload, the review of a statement's lines, the banks' CSV mappings.

Every change goes through banking.services; a refusal (DomainError) is shown as a message, and
for a line also kept on the line. Every POST redirects, so a reload never sends it again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.submissions import save_form_once
from core.errors import DomainError
from core.money import format_money
from core.views import flash_service, paginate, safe_next
from invoices.models import Invoice

from . import services
from .forms import ConfirmForm, MappingForm, UploadForm
from .models import BankStatement, BankTransaction, CsvMapping, TransactionStatus

LINES_PER_PAGE = 50
TO_REVIEW = "review"
LINE_FILTERS = [
    (TO_REVIEW, TransactionStatus.NEW, TransactionStatus.SUGGESTED),
    (TransactionStatus.SUGGESTED, TransactionStatus.SUGGESTED),
    (TransactionStatus.NEW, TransactionStatus.NEW),
    (TransactionStatus.CONFIRMED, TransactionStatus.CONFIRMED),
    (TransactionStatus.IGNORED, TransactionStatus.IGNORED),
]


def _summary(statement: BankStatement) -> str:
    """"12 new transactions, 3 already imported" — what an import did."""
    new = ngettext("%(count)d new transaction", "%(count)d new transactions", statement.lines_new) % {
        "count": statement.lines_new}
    return _("%(new)s, %(known)d already imported.") % {"new": new, "known": statement.lines_known}


# --- Statements -------------------------------------------------------------------------------


def statement_list(request: HttpRequest) -> HttpResponse:
    statements = BankStatement.objects.select_related("uploaded_by").annotate(
        to_review=Count("transactions", filter=Q(transactions__status__in=[TransactionStatus.NEW,
                                                                             TransactionStatus.SUGGESTED]))
    ).order_by("-uploaded_at", "-pk")
    page = paginate(request, statements)
    return render(request, "banking/statement_list.html", {"page_obj": page, "statements": page.object_list})


def statement_upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data

            def save() -> str:
                upload = data["file"]
                statement = services.upload_statement(
                    file_name=upload.name, content=upload.read(), format=data["format"], mapping=data["mapping"],
                    by=request.user,
                )
                if statement.is_busy:
                    messages.info(request, _("The statement is being read; this page shows how far it is."))
                else:
                    messages.success(request, _summary(statement))
                return reverse("banking:statement-detail", args=[statement.pk])

            saved = save_form_once(request, form, save, already=_("This statement has already been uploaded."))
            if saved is not None:
                return saved
    else:
        form = UploadForm()
    return render(request, "banking/statement_upload.html", {
        "form": form, "has_mappings": CsvMapping.objects.exists(),
    })


def _line_pills(statement: BankStatement, status: str) -> list[dict[str, Any]]:
    counts = dict(statement.transactions.order_by().values_list("status").annotate(n=Count("pk")))
    labels = {TO_REVIEW: _("To review"), **{value: label for value, label in TransactionStatus.choices}}
    pills = []
    for value, *statuses in LINE_FILTERS:
        pills.append({"value": value, "label": labels[value], "count": sum(counts.get(s, 0) for s in statuses),
                      "active": value == status})
    pills.append({"value": "all", "label": _("All"), "count": sum(counts.values()), "active": status == "all"})
    return pills


def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The review screen: the statement's lines, with their suggestion, confidence and reason."""
    statement = get_object_or_404(BankStatement.objects.select_related("mapping", "uploaded_by"), pk=pk)
    status = request.GET.get("status") or TO_REVIEW
    filters = {value: statuses for value, *statuses in LINE_FILTERS}
    if status not in filters and status != "all":
        status = TO_REVIEW
    lines = statement.transactions.select_related("invoice", "payment")
    if status != "all":
        lines = lines.filter(status__in=filters[status])
    page = paginate(request, lines.order_by("line", "pk"), per_page=LINES_PER_PAGE)
    exact = services.exact_lines(statement).aggregate(n=Count("pk"), amount=Sum("amount"))
    candidate_ids = {pk for line in page.object_list for pk in line.candidates[:3]}
    numbers = dict(Invoice.objects.filter(pk__in=candidate_ids).values_list("pk", "number"))
    for line in page.object_list:
        line.other_numbers = [numbers[pk] for pk in line.candidates[:3] if pk in numbers]
    return render(request, "banking/statement_detail.html", {
        "statement": statement, "page_obj": page, "lines": page.object_list, "pills": _line_pills(statement, status),
        "status": status, "exact_count": exact["n"], "summary": _summary(statement) if not statement.is_busy else "",
    })


def statement_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, polled by htmx while a worker reads the statement; once it is done, the
    page reloads itself (HX-Refresh) to show the lines."""
    statement = get_object_or_404(BankStatement, pk=pk)
    response = render(request, "banking/_progress.html", {"statement": statement})
    if not statement.is_busy and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


def statement_confirm_exact(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks; POST records every exact match (in a worker when there are many)."""
    statement = get_object_or_404(BankStatement, pk=pk)
    exact = services.exact_lines(statement).values("currency").annotate(n=Count("pk"), amount=Sum("amount")).order_by("currency")
    count = sum(row["n"] for row in exact)
    back = reverse("banking:statement-detail", args=[statement.pk])
    if request.method == "POST":
        if count > services.INLINE_LINES:
            services.enqueue("banking.jobs.confirm_exact_matches", statement.pk, request.user.pk,
                              request.LANGUAGE_CODE)
            messages.info(request, _("%(count)d payments are being recorded in the background; reload the page to "
                                     "see them.") % {"count": count})
            return redirect(back)
        recorded, refused = services.confirm_exact_matches(statement=statement, by=request.user)
        if recorded:
            messages.success(request, ngettext("%(count)d payment recorded.", "%(count)d payments recorded.",
                                               recorded) % {"count": recorded})
        if refused:
            messages.error(request, ngettext(
                "%(count)d line could not be recorded; the reason is on the line.",
                "%(count)d lines could not be recorded; the reason is on each line.", refused) % {"count": refused})
        if not recorded and not refused:
            messages.info(request, _("There are no exact matches to record."))
        return redirect(back)
    totals = ", ".join(format_money(row["amount"] or Decimal(0), row["currency"]) for row in exact)
    return render(request, "banking/confirm_exact.html", {"statement": statement, "count": count, "totals": totals,
                                                          "problems": [] if count else [_("There are no exact matches to record.")]})


@require_POST
def statement_rematch(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_object_or_404(BankStatement, pk=pk)
    flash_service(request, lambda: services.rematch_statement(statement=statement),
                  lambda n: ngettext("Matched again: %(count)d line has a suggestion.",
                                     "Matched again: %(count)d lines have a suggestion.", n) % {"count": n})
    return redirect("banking:statement-detail", pk=statement.pk)


def statement_delete(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_object_or_404(BankStatement, pk=pk)
    recorded = statement.transactions.filter(status=TransactionStatus.CONFIRMED).count()
    if request.method == "POST":
        ok, _result = flash_service(request, lambda: services.delete_statement(statement=statement),
                                    _("Statement %(name)s deleted.") % {"name": statement.file_name})
        if ok:
            return redirect("banking:statement-list")
        return redirect("banking:statement-detail", pk=statement.pk)
    problems = []
    if recorded:
        problems.append(_("The statement cannot be deleted: %(count)d of its lines are recorded as payments.") % {
            "count": recorded})
    return render(request, "banking/statement_delete.html", {"statement": statement, "problems": problems})


# --- Lines ------------------------------------------------------------------------------------


def _back(request: HttpRequest, line: BankTransaction) -> str:
    return safe_next(request, reverse("banking:statement-detail", args=[line.statement_id])) + f"#line-{line.pk}"


def transaction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One line: the suggestion, the other candidates, and a form to record it with another
    invoice or amount."""
    line = get_object_or_404(BankTransaction.objects.select_related("statement", "invoice", "payment", "decided_by"), pk=pk)
    candidates = list(Invoice.objects.filter(pk__in=line.candidates).select_related("contact"))
    candidates.sort(key=lambda inv: line.candidates.index(inv.pk))
    initial: dict[str, Any] = {"invoice": line.invoice.number if line.invoice else ""}
    if line.invoice is not None and line.invoice.is_open:
        initial["amount"] = min(line.amount, line.invoice.balance)
    else:
        initial["amount"] = line.amount
    return render(request, "banking/transaction_detail.html", {
        "line": line, "statement": line.statement, "candidates": candidates, "form": ConfirmForm(initial=initial),
    })


@require_POST
def transaction_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a line: as suggested (the review row's button), or with the invoice and amount of the
    line's form."""
    line = get_object_or_404(BankTransaction.objects.select_related("invoice"), pk=pk)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(reverse("banking:transaction-detail", args=[line.pk]))
    try:
        payment = services.confirm_transaction(line=line, invoice=form.cleaned_data["invoice"],
                                               amount=form.cleaned_data["amount"], by=request.user)
    except DomainError as exc:
        services.note_refusal(line=line, message=exc.message)
        messages.error(request, exc.message)
    else:
        text = _("Payment of %(amount)s recorded on invoice %(number)s.") % {
            "amount": format_money(payment.amount, line.currency), "number": payment.invoice.number}
        if payment.amount < line.amount:
            text += " " + _("The remaining %(rest)s of the line were not recorded.") % {
                "rest": format_money(line.amount - payment.amount, line.currency)}
        messages.success(request, text)
    return redirect(_back(request, line))


@require_POST
def transaction_ignore(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(BankTransaction, pk=pk)
    flash_service(request, lambda: services.ignore_transaction(line=line, by=request.user), _("Line ignored."))
    return redirect(_back(request, line))


@require_POST
def transaction_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(BankTransaction, pk=pk)
    flash_service(request, lambda: services.reopen_transaction(line=line), _("The line waits for a decision again."))
    return redirect(_back(request, line))


# --- CSV mappings -----------------------------------------------------------------------------


def mapping_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, CsvMapping.objects.all())
    return render(request, "banking/mapping_list.html", {"page_obj": page, "mappings": page.object_list})


def mapping_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = MappingForm(request.POST)
        if form.is_valid():
            def save() -> str:
                mapping = form.save()
                messages.success(request, _("Mapping for %(name)s saved.") % {"name": mapping.name})
                return reverse("banking:mapping-list")

            saved = save_form_once(request, form, save, already=_("This mapping has already been saved."))
            if saved is not None:
                return saved
    else:
        form = MappingForm()
    return render(request, "banking/mapping_form.html", {"form": form, "mapping": None})


def mapping_edit(request: HttpRequest, pk: int) -> HttpResponse:
    # A mapping is settings, not a state change: the model form validates and saves it.
    mapping = get_object_or_404(CsvMapping, pk=pk)
    if request.method == "POST":
        form = MappingForm(request.POST, instance=mapping)
        if form.is_valid():
            form.save()
            messages.success(request, _("Mapping for %(name)s saved.") % {"name": mapping.name})
            return redirect("banking:mapping-list")
    else:
        form = MappingForm(instance=mapping)
    return render(request, "banking/mapping_form.html", {"form": form, "mapping": mapping})


def mapping_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = get_object_or_404(CsvMapping, pk=pk)
    if request.method == "POST":
        mapping.delete()  # statements read with it keep their lines (mapping set to null)
        messages.success(request, _("Mapping for %(name)s deleted.") % {"name": mapping.name})
        return redirect("banking:mapping-list")
    return render(request, "banking/mapping_delete.html", {"mapping": mapping})
