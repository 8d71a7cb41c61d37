"""Reminder schedules: which step of which schedule is due for which invoice, found set-based.

A reminder schedule is an automation with the trigger `invoice_due` and ordered steps
(ReminderStep): each a number of days from the due date (−3, 0, +14, …), the last one maybe
repeating every N days at most K times. Its progress per invoice is a ReminderState row: the last
step fired and for which due date.

The scan (`scan`, run by the overdue scan's schedule every few minutes) asks, per schedule and
step, one question of the database: which open invoices of this schedule (its conditions, not
paused, due from its start day) have reached this step's day, and have the step before it fired at
least the days between the two steps ago (or, for the first step, nothing fired yet for their
current due date)? Every such invoice gets the step's event (the outbox) and its progress moves
on, in one transaction, without any invoice passing through Python (PostgreSQL). So:

* each step fires once per invoice and due date: the event key is unique
  (`due:<automation>:<invoice>:<due date>:<step>:<repetition>`), and two scans at once insert it
  once (the second waits on the first's key and skips it);
* no step is skipped: a step needs the one before it, so after an outage an invoice gets the next
  step only, then waits the step's interval;
* a changed due date starts the schedule again (the progress is for the old date).

The same eligibility questions answer "what will go out in the next 30 days" (`forecast`) and
"why does or doesn't this invoice get a reminder" (`explain`). The forecast page pages it in the
database (`forecast_pages`: the same items in the same order, counted and cut out by SQL).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import nullcontext
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import overload

from django.db import connection, transaction
from django.db.models import CharField, DateTimeField, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from business.calendar import SendingWindow
from business.services import get_profile
from core.dates import business_today
from invoices.models import Invoice, InvoiceKind, InvoiceStatus
from invoices.services import reminder_pause_reason

from . import conditions, dispatch
from .models import Automation, Event, ReminderState, ReminderStep
from .triggers import Trigger

log = logging.getLogger(__name__)

OPEN = (InvoiceStatus.SENT, InvoiceStatus.OVERDUE)


def _not_paused(prefix: str, today: dt.date) -> Q:
    paused = Q(**{f"{prefix}reminders_paused": True}) & (
        Q(**{f"{prefix}reminders_paused_until__isnull": True}) | Q(**{f"{prefix}reminders_paused_until__gte": today}))
    return ~paused


def candidates(automation: Automation, *, today: dt.date) -> QuerySet[Invoice]:
    """The open invoices this schedule is for today: its conditions met, not paused, due from its
    start day. (Whether a step is due is asked by `due_for_step`.)"""
    invoices = Invoice.objects.filter(kind=InvoiceKind.INVOICE, status__in=OPEN).filter(
        _not_paused("", today), _not_paused("contact__", today)).order_by()
    if automation.schedule_from is not None:
        invoices = invoices.filter(due_date__gte=automation.schedule_from)
    return conditions.apply(invoices, automation.conditions, today=today)


def _progress(automation: Automation) -> QuerySet[ReminderState]:
    """The schedule's progress for the invoice of the outer query, for its current due date."""
    return ReminderState.objects.filter(automation=automation, invoice=OuterRef("pk"), due_date=OuterRef("due_date"))


def gap_days(steps: list[ReminderStep], index: int) -> int:
    """Days a step waits after the step before it fired (its interval): never less than 0."""
    return max(steps[index].days - steps[index - 1].days, 0) if index else 0


def due_for_step(automation: Automation, steps: list[ReminderStep], index: int, *, now: dt.datetime,
                 today: dt.date) -> QuerySet[Invoice]:
    """The invoices for which step `index` (0-based) is due now."""
    step = steps[index]
    invoices = candidates(automation, today=today).filter(due_date__lte=today - dt.timedelta(days=step.days))
    progress = _progress(automation)
    if index == 0:
        return invoices.filter(~Exists(progress))
    return invoices.filter(Exists(progress.filter(
        position=index - 1, fired_at__lte=now - dt.timedelta(days=gap_days(steps, index)))))


def due_for_repeat(automation: Automation, steps: list[ReminderStep], *, now: dt.datetime,
                   today: dt.date) -> QuerySet[Invoice] | None:
    """The invoices for which the last step's next repetition is due now (None: it does not repeat).
    Annotated with `repetition`, the how-manieth it is (1, 2, …)."""
    last = steps[-1]
    if not last.repeat_every_days or not last.repeat_times:
        return None
    progress = _progress(automation).filter(position=len(steps) - 1)
    return candidates(automation, today=today).filter(Exists(progress.filter(
        repeats__lt=last.repeat_times, fired_at__lte=now - dt.timedelta(days=last.repeat_every_days),
    ))).annotate(repetition=Subquery(progress.values("repeats")[:1]) + 1)


# --- The scan -----------------------------------------------------------------------------------


def scan(*, now: dt.datetime | None = None) -> int:
    """Fire every reminder step that is due, for every active schedule. Returns how many fired.
    Safe to run twice at the same moment (see the module docstring)."""
    now = now or timezone.now()
    today = business_today(now)
    fired = 0
    schedules = Automation.objects.filter(trigger=Trigger.INVOICE_DUE, is_active=True).order_by("pk")
    for automation in schedules:
        steps = list(automation.reminder_steps.order_by("position"))
        if not steps:
            continue
        # The last step's repetitions first, then the steps from the last to the first: an invoice
        # moves on by at most one step per scan (a step fired now waits its interval for the next).
        repeats = due_for_repeat(automation, steps, now=now, today=today)
        if repeats is not None:
            fired += _fire(automation, steps[-1], repeats, repetition=True, now=now)
        for index in reversed(range(len(steps))):
            fired += _fire(automation, steps[index], due_for_step(automation, steps, index, now=now, today=today),
                           repetition=False, now=now)
    if fired:
        log.info("Reminder scan: %d reminder step(s) due", fired)
    return fired


def _fire(automation: Automation, step: ReminderStep, invoices: QuerySet[Invoice], *, repetition: bool,
          now: dt.datetime) -> int:
    """Write the step's event for each of `invoices` (unless written before: the key) and move
    their progress on, in one transaction; wake the dispatcher on commit."""
    repeat = Cast("repetition", CharField()) if repetition else Value("0")
    # All columns are annotations, so the SQL names them (`ev_…`) for the statements below.
    columns = {
        "ev_kind": Value(Trigger.INVOICE_DUE.value, output_field=CharField()),
        "ev_key": Concat(Value(f"due:{automation.pk}:"), Cast("pk", CharField()), Value(":"),
                         Cast("due_date", CharField()), Value(f":{step.position}:"), repeat, output_field=CharField()),
        "ev_at": Value(now, output_field=DateTimeField()),
        "ev_contact": F("contact_id"),
        "ev_invoice": F("pk"),
        "ev_automation": Value(automation.pk, output_field=IntegerField()),
        "ev_step": Value(step.pk, output_field=IntegerField()),
        "ev_repeat": Cast("repetition", IntegerField()) if repetition else Value(0, output_field=IntegerField()),
        "ev_due": F("due_date"),  # for the progress, not the event
    }
    rows = invoices.annotate(**columns).values_list(*columns)
    select, params = rows.query.sql_with_params()
    events = Event._meta.db_table
    state = ReminderState._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    # (`WHERE true`: SQLite needs a WHERE before ON CONFLICT in an INSERT … SELECT.)
    insert = (f"INSERT INTO {events} (kind, key, occurred_at, contact_id, invoice_id, automation_id, reminder_step_id, "
              f"repeat) SELECT ev_kind, ev_key, ev_at, ev_contact, ev_invoice, ev_automation, ev_step, ev_repeat "
              f"FROM due WHERE true ON CONFLICT (key) DO NOTHING")
    progress = ("ON CONFLICT (automation_id, invoice_id) DO UPDATE SET due_date = EXCLUDED.due_date, "
                "position = EXCLUDED.position, repeats = EXCLUDED.repeats, fired_at = EXCLUDED.fired_at")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the rows due, read once; their events written; and the progress of
            # exactly those invoices whose event was new (its due date from the rows read).
            cursor.execute(
                f"WITH due AS MATERIALIZED ({select}), fired AS ({insert} RETURNING invoice_id, repeat) "
                f"INSERT INTO {state} (automation_id, invoice_id, due_date, position, repeats, fired_at) "
                f"SELECT %s, f.invoice_id, d.ev_due, %s, f.repeat, %s FROM fired f JOIN due d "
                f"ON d.ev_invoice = f.invoice_id {progress}",
                [*params, automation.pk, step.position, adapt(now)],
            )
            count = cursor.rowcount  # the progress rows written: one per new event (no rows fetched)
        else:
            # SQLite cannot feed RETURNING into an INSERT (and runs one writer at a time).
            cursor.execute(f"WITH due AS ({select}) {insert} RETURNING invoice_id, repeat", params)
            fired = cursor.fetchall()
            if fired:
                due_dates = dict(Invoice.objects.filter(pk__in=[row[0] for row in fired]).values_list("pk", "due_date"))
                cursor.executemany(
                    f"INSERT INTO {state} (automation_id, invoice_id, due_date, position, repeats, fired_at) "
                    f"VALUES (%s, %s, %s, %s, %s, %s) {progress}",
                    [(automation.pk, invoice_id, due_dates[invoice_id], step.position, repeat_no, adapt(now))
                     for invoice_id, repeat_no in fired],
                )
            count = len(fired)
        if count:
            transaction.on_commit(dispatch.request_dispatch, robust=True)
    return count


# --- What will go out, and why (not) --------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    """One step that will fire (or would, if nothing changes: no payment, no pause)."""

    automation: Automation
    step: ReminderStep
    repetition: int
    invoice: Invoice
    day: dt.date  # the day it fires (the scan's day)
    sends_at: dt.datetime  # when its emails go out (the sending hours and business days)


def _window() -> SendingWindow:
    return SendingWindow.of(get_profile())


def _next_days(automation: Automation, steps: list[ReminderStep], invoice: Invoice, state: ReminderState | None,
               *, today: dt.date, until: dt.date) -> Iterator[tuple[int, int, dt.date]]:
    """(step index, repetition, day) of the steps still to come for one invoice, up to `until`,
    by the scan's own rules: the step's day from the due date, and its interval after the step
    before it (which fires no earlier than today)."""
    if state is not None and state.due_date == invoice.due_date:
        if state.position >= len(steps):
            return  # the schedule lost steps since its last one fired here: none is left to come
        index, repetition, last = state.position, state.repeats, timezone.localdate(state.fired_at)
    else:
        index, repetition, last = -1, 0, None
    last_step = steps[-1]
    while True:
        if index + 1 < len(steps):
            index, repetition = index + 1, 0
            day = invoice.due_date + dt.timedelta(days=steps[index].days)
            if last is not None:
                day = max(day, last + dt.timedelta(days=gap_days(steps, index)))
        elif last_step.repeat_every_days and last_step.repeat_times and repetition < last_step.repeat_times:
            repetition += 1
            assert last is not None
            day = last + dt.timedelta(days=last_step.repeat_every_days)
        else:
            return
        day = max(day, today)
        if day > until:
            return
        yield index, repetition, day
        last = day


def forecast(*, today: dt.date | None = None, days: int = 30, automation: Automation | None = None,
             invoices: QuerySet[Invoice] | None = None) -> list[Upcoming]:
    """The reminder steps that will fire from today on for `days` days, in the order they go out.
    Built on `candidates` (the same invoices the scan looks at) and the scan's timing rules, so it
    agrees with what the scan then does when nothing changes meanwhile."""
    today = today or business_today()
    until = today + dt.timedelta(days=days - 1)
    window = _window()
    schedules = Automation.objects.filter(trigger=Trigger.INVOICE_DUE, is_active=True)
    if automation is not None:
        schedules = schedules.filter(pk=automation.pk)
    upcoming: list[Upcoming] = []
    for schedule in schedules.prefetch_related("reminder_steps"):
        steps = sorted(schedule.reminder_steps.all(), key=lambda step: step.position)
        if not steps:
            continue
        # An invoice can fire within the window only if its first step's day is by then.
        pool = candidates(schedule, today=today).filter(due_date__lte=until - dt.timedelta(days=steps[0].days))
        if invoices is not None:
            pool = pool.filter(pk__in=invoices.values("pk"))
        pool = pool.select_related("contact")
        states = {row.invoice_id: row for row in ReminderState.objects.filter(automation=schedule, invoice__in=pool.values("pk"))}
        for invoice in pool.iterator(chunk_size=2000):
            for index, repetition, day in _next_days(schedule, steps, invoice, states.get(invoice.pk),
                                                     today=today, until=until):
                moment = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
                upcoming.append(Upcoming(schedule, steps[index], repetition, invoice, day, window.next_open(moment)))
    upcoming.sort(key=lambda item: (item.sends_at, item.automation.pk, item.step.position, item.invoice.pk))
    return upcoming


@dataclass(frozen=True)
class Explanation:
    automation: Automation
    text: str  # what happened and what comes next, or why nothing will
    next: Upcoming | None


def explain(invoice: Invoice, *, today: dt.date | None = None) -> list[Explanation]:
    """For each reminder schedule, in words: the steps fired for this invoice, the next one and its
    day, or why none will (paid, paused, a condition, switched off, before its start day)."""
    today = today or business_today()
    explanations = []
    for schedule in Automation.objects.filter(trigger=Trigger.INVOICE_DUE).prefetch_related("reminder_steps").order_by("name"):
        steps = sorted(schedule.reminder_steps.all(), key=lambda step: step.position)
        state = ReminderState.objects.filter(automation=schedule, invoice=invoice).first()
        done = ""
        if state is not None and state.due_date == invoice.due_date and steps:
            done = _("Last reminder: %(step)s on %(date)s.") % {
                "step": steps[min(state.position, len(steps) - 1)].name,
                "date": formats.date_format(timezone.localtime(state.fired_at), "SHORT_DATE_FORMAT")}
        reason = ""
        if not schedule.is_active:
            reason = _("the automation is switched off")
        elif not steps:
            reason = _("the automation has no steps")
        elif invoice.kind != InvoiceKind.INVOICE or invoice.status not in OPEN:
            statuses: dict[str, str] = {InvoiceStatus.PAID: _("the invoice is paid"), InvoiceStatus.VOID: _("the invoice is void"),
                                        InvoiceStatus.DRAFT: _("the invoice is not sent yet")}
            reason = statuses.get(invoice.status, _("nothing is due on it"))
        elif schedule.schedule_from is not None and invoice.due_date < schedule.schedule_from:
            reason = _("it was due before the automation was switched on for new invoices only")
        else:
            reason = reminder_pause_reason(invoice, today=today)
            if not reason:
                failing = conditions.failing(invoice, schedule.conditions, today=today)
                if failing:
                    reason = _("a condition does not hold: %(conditions)s") % {"conditions": _(" and ").join(failing)}
        upcoming = None
        if not reason:
            items = forecast(today=today, days=3660, automation=schedule, invoices=Invoice.objects.filter(pk=invoice.pk))
            upcoming = items[0] if items else None
            if upcoming is None:
                reason = _("all its steps have been sent")
        if upcoming is not None:
            text = _("Next: %(step)s on %(date)s.") % {
                "step": upcoming.step.name + (f" ({upcoming.repetition}×)" if upcoming.repetition else ""),
                "date": formats.date_format(timezone.localtime(upcoming.sends_at), "SHORT_DATETIME_FORMAT")}
        else:
            text = _("No reminder will go out: %(reason)s.") % {"reason": reason}
        explanations.append(Explanation(schedule, " ".join(part for part in (done, text) if part), upcoming))
    return explanations


def backlog(automation: Automation, *, today: dt.date | None = None) -> int:
    """How many open invoices are already past the schedule's first step today: what switching it on
    "for invoices already due too" brings into the schedule at once."""
    first = automation.reminder_steps.order_by("position").values_list("days", flat=True).first()
    return backlog_for(automation.conditions, first_days=first, today=today)


def backlog_for(conditions_: list, *, first_days: int | None, today: dt.date | None = None) -> int:
    """`backlog` for a schedule not saved yet (the builder's question): its conditions and the days
    of its first step (None: no steps, nothing enters)."""
    if first_days is None:
        return 0
    today = today or business_today()
    plain = Automation(conditions=conditions_, schedule_from=None)
    return candidates(plain, today=today).filter(due_date__lt=today - dt.timedelta(days=first_days)).count()


def steps_summary(steps: Iterable[ReminderStep]) -> list[str]:
    """Each step in words: “Friendly reminder: 3 days after the due date; then every 7 days, at most 3 times”."""
    lines = []
    for step in steps:
        if step.days < 0:
            when = _("%(days)d days before the due date") % {"days": -step.days}
        elif step.days == 0:
            when = _("on the due date")
        else:
            when = _("%(days)d days after the due date") % {"days": step.days}
        line = f"{step.name}: {when}"
        if step.repeat_every_days and step.repeat_times:
            line += "; " + _("then every %(days)d days until paid, at most %(times)d times") % {
                "days": step.repeat_every_days, "times": step.repeat_times}
        lines.append(line)
    return lines


# --- The forecast, one page at a time (set-based) -------------------------------------------------
#
# For one invoice the steps to come are a chain: the first one's day is max(base, today), where the
# base comes from its progress (none: the due date + the first step's days; step p fired on day L:
# max(due date + step p+1's days, L + its interval); the last step fired: L + the repeat interval),
# and every later one follows its predecessor by a fixed number of days (its interval, or the
# repeat interval), because the day before it is never earlier than its own day from the due date.
# So per schedule each (start, item) pair has a fixed offset from the first day: a small table the
# database joins to the invoices (and their progress) to produce every item, count them and sort
# them, without one invoice passing through Python but the page's.


def _chain(steps: list[ReminderStep]) -> list[tuple[int, int, int]]:
    """The steps in the order they fire for one invoice: (step index, repetition, days after the one
    before it)."""
    chain = [(0, 0, 0)] + [(index, 0, gap_days(steps, index)) for index in range(1, len(steps))]
    last = steps[-1]
    if last.repeat_every_days and last.repeat_times:
        chain += [(len(steps) - 1, repetition, last.repeat_every_days) for repetition in range(1, last.repeat_times + 1)]
    return chain


def _pairs(steps: list[ReminderStep]) -> list[tuple[int, int, int, int]]:
    """(start, step position, repetition, days from the first day) for every item of every chain
    start: the invoices starting at `start` get the items from it on."""
    chain = _chain(steps)
    pairs = []
    for start in range(len(chain)):
        offset = 0
        for item in range(start, len(chain)):
            if item > start:
                offset += chain[item][2]
            index, repetition, _gap = chain[item]
            pairs.append((start, steps[index].position, repetition, offset))
    return pairs


class _Sql:
    """The few date expressions the forecast query needs, per database vendor."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"

    def date(self, param: str = "%s") -> str:
        return f"CAST({param} AS date)" if self.postgres else param

    def plus(self, sql: str, days: str | int) -> str:
        """`sql` (a date) plus `days` (an integer, or an integer SQL expression)."""
        if self.postgres:
            return f"({sql} + {days})"
        return f"date({sql}, ({days}) || ' days')"

    def greatest(self, *sqls: str) -> str:
        return f"{'GREATEST' if self.postgres else 'MAX'}({', '.join(sqls)})"


class ForecastList:
    """`forecast()`'s list for the next `days` days, as a sequence the paginator can page, built in
    the database: `len()` (and `count()`) is one query that groups the invoices by where they start
    in their schedule's chain and on which day (a few hundred groups at most), which gives the number
    of items per sending moment; a slice is one ORDER BY … LIMIT/OFFSET query over the items of the
    sending moments it falls in, and loads only its own invoices. The same items in the same order
    as `forecast()`."""

    def __init__(self, *, today: dt.date | None = None, days: int = 30, automation: Automation | None = None) -> None:
        self.today = today or business_today()
        self.until = self.today + dt.timedelta(days=days - 1)
        schedules = Automation.objects.filter(trigger=Trigger.INVOICE_DUE, is_active=True).order_by("pk")
        if automation is not None:
            schedules = schedules.filter(pk=automation.pk)
        self.schedules: dict[int, tuple[Automation, list[ReminderStep]]] = {}
        for schedule in schedules.prefetch_related("reminder_steps"):
            steps = sorted(schedule.reminder_steps.all(), key=lambda step: step.position)
            if steps:
                self.schedules[schedule.pk] = (schedule, steps)
        # Items further from an invoice's first day than the forecast is long never show.
        self.pairs = {pk: [pair for pair in _pairs(steps) if pair[3] <= days - 1] for pk, (_s, steps) in self.schedules.items()}
        self._per_rank: list[int] | None = None
        self._days: list[tuple[dt.date, int, dt.datetime]] | None = None
        self._total: int | None = None
        self._expected: tuple[int, int] | None = None
        self._prefetched: tuple[int, int, list[tuple]] | None = None

    def expect(self, start: int, stop: int) -> ForecastList:
        """Say which slice will be asked for (the page the request wants): the count then fetches
        it along, in one query that reads the invoices once."""
        self._expected = (start, stop)
        return self

    def _slots(self) -> list[tuple[dt.date, int, dt.datetime]]:
        """Each day of the forecast with the moment its emails go out and that moment's rank
        (`next_open` never goes back as the day moves on, so the ranks sort like the moments)."""
        if self._days is None:
            window = _window()
            self._days, rank, previous, day = [], -1, None, self.today
            while day <= self.until:
                sends_at = window.next_open(timezone.make_aware(dt.datetime.combine(day, dt.time.min)))
                if sends_at != previous:
                    rank, previous = rank + 1, sends_at
                self._days.append((day, rank, sends_at))
                day += dt.timedelta(days=1)
        return self._days

    def _firsts(self, pk: int) -> tuple[str, list]:
        """Per candidate invoice of schedule `pk`: its start in the chain (`s`) and the day of its
        first step to come (`first`); invoices with all steps fired left out."""
        sql = _Sql()
        schedule, steps = self.schedules[pk]
        pool = candidates(schedule, today=self.today).filter(
            due_date__lte=self.until - dt.timedelta(days=steps[0].days)).annotate(
            fc_id=F("pk"), fc_due=F("due_date")).values_list("fc_id", "fc_due")
        pool_sql, pool_params = pool.query.sql_with_params()
        chain = _chain(steps)
        last = len(steps) - 1
        fired, fired_params = connection.ops.datetime_cast_date_sql("b.fired_at", (), timezone.get_current_timezone_name())
        # Where an invoice starts in the chain: 0 without progress for its due date, the step after
        # the one fired, the repetition after the one fired; -1 when all have fired.
        start = (f"CASE WHEN st.id IS NULL THEN 0 WHEN st.position < {last} THEN st.position + 1 "
                 f"WHEN st.position = {last} AND st.repeats < {len(chain) - len(steps)} THEN {last + 1} + st.repeats "
                 "ELSE -1 END")
        bases = [f"WHEN 0 THEN {sql.plus('b.due', steps[0].days)}"]
        for index in range(1, len(chain)):
            step_index, repetition, gap = chain[index]
            if repetition:
                bases.append(f"WHEN {index} THEN {sql.plus(fired, gap)}")
            else:
                bases.append(f"WHEN {index} THEN {sql.greatest(sql.plus('b.due', steps[step_index].days), sql.plus(fired, gap))}")
        first = sql.greatest("CASE b.s " + " ".join(bases) + " END", sql.date())
        return (f"SELECT b.invoice_id, b.s, {first} AS first FROM ("
                f"SELECT c.fc_id AS invoice_id, c.fc_due AS due, st.fired_at, {start} AS s FROM ({pool_sql}) c "
                f"LEFT JOIN {ReminderState._meta.db_table} st "
                f"ON st.automation_id = {pk} AND st.invoice_id = c.fc_id AND st.due_date = c.fc_due) b WHERE b.s >= 0",
                [*fired_params * (len(chain) - 1), connection.ops.adapt_datefield_value(self.today), *pool_params])

    def _counts(self) -> list[int]:
        """How many items go out at each sending moment (by rank)."""
        if self._per_rank is None:
            slots = self._slots()
            rank_of = {day: rank for day, rank, _at in slots}
            self._per_rank = [0] * (slots[-1][1] + 1 if slots else 0)
            for pk in self.schedules:
                sql, params = self._firsts(pk)
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT f.s, f.first, COUNT(*) FROM ({sql}) f GROUP BY f.s, f.first", params)
                    groups = cursor.fetchall()
                offsets: dict[int, list[int]] = {}
                for start, _position, _repetition, offset in self.pairs[pk]:
                    offsets.setdefault(start, []).append(offset)
                for start, first, number in groups:
                    first = first if isinstance(first, dt.date) else dt.date.fromisoformat(first)
                    for offset in offsets.get(start, ()):
                        rank = rank_of.get(first + dt.timedelta(days=offset))
                        if rank is not None:
                            self._per_rank[rank] += number
        return self._per_rank

    def count(self) -> int:
        if self._total is None and self._expected is not None and self.schedules:
            self._count_with_page(*self._expected)
        if self._total is None:
            self._total = sum(self._counts())
        return self._total

    def _count_with_page(self, start: int, stop: int) -> None:
        """The number of items and the rows of the slice [start:stop] in one query: the invoices'
        first days computed once, the items per sending moment counted, and only the items of the
        moments the slice falls in numbered in order. Nothing when the slice is past the end."""
        sql = _Sql()
        firsts, params, pairs = [], [], []
        for pk in self.schedules:
            part, part_params = self._firsts(pk)
            firsts.append(f"SELECT {pk} AS automation_id, x.invoice_id, x.s, x.first FROM ({part}) x")
            params += part_params
            pairs += [f"({pk}, {s}, {p}, {r}, {o})" for s, p, r, o in self.pairs[pk]]
        slots = self._slots()
        days = ", ".join(f"({sql.date()}, {rank})" for _day, rank, _at in slots)
        params += [connection.ops.adapt_datefield_value(day) for day, _rank, _at in slots]
        # f: each invoice's start and first day (the invoices read once); g: how many share both;
        # buckets: the items per (sending moment, automation, step) from g, in the page order, with
        # the number of items before each; the page's rows come from the buckets it falls in only.
        query = (
            f"WITH f AS MATERIALIZED ({' UNION ALL '.join(firsts)}), "
            "g AS (SELECT automation_id, s, first, COUNT(*) AS n FROM f GROUP BY automation_id, s, first), "
            "p AS (SELECT column1 AS automation_id, column2 AS s, column3 AS pos, column4 AS rep, column5 AS off "
            f"FROM (VALUES {', '.join(pairs)}) v), "
            f"m AS (SELECT column1 AS d, column2 AS rank FROM (VALUES {days}) v), "
            "gi AS (SELECT g.automation_id, g.s, g.first, p.pos, p.rep, m.d AS day, m.rank, g.n FROM g "
            f"JOIN p ON p.automation_id = g.automation_id AND p.s = g.s JOIN m ON m.d = {sql.plus('g.first', 'p.off')}), "
            "buckets AS (SELECT rank, automation_id, pos, SUM(n) AS n FROM gi GROUP BY rank, automation_id, pos), "
            "placed AS (SELECT rank, automation_id, pos, n, "
            "SUM(n) OVER (ORDER BY rank, automation_id, pos) - n AS before FROM buckets), "
            "wanted AS (SELECT rank, automation_id, pos, before FROM placed WHERE before < %s AND before + n > %s), "
            "sel AS (SELECT gi.* FROM gi JOIN wanted w ON w.rank = gi.rank AND w.automation_id = gi.automation_id "
            "AND w.pos = gi.pos) "
            "SELECT sel.automation_id, f.invoice_id, sel.pos, sel.rep, sel.day, (SELECT SUM(n) FROM buckets) "
            "FROM f JOIN sel ON sel.automation_id = f.automation_id AND sel.s = f.s AND sel.first = f.first "
            "ORDER BY sel.rank, sel.automation_id, sel.pos, f.invoice_id, sel.rep "
            "LIMIT %s OFFSET (SELECT COALESCE(%s - MIN(before), 0) FROM wanted)"
        )
        postgres = connection.vendor == "postgresql"
        with transaction.atomic() if postgres else nullcontext(), connection.cursor() as cursor:
            if postgres:
                # The planner cannot know how many invoices share a start and first day, guesses one,
                # and loops over all invoices per bucket row; hashing is right at every size.
                cursor.execute("SET LOCAL enable_nestloop = off")
                cursor.execute("SET LOCAL work_mem = '32MB'")
            cursor.execute(query, [*params, stop, start, stop - start, start])
            rows = cursor.fetchall()
        if rows:
            self._total = int(rows[0][5])
            self._prefetched = (start, min(stop, self._total), [row[:5] for row in rows])

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Upcoming]:
        for start in range(0, self.count(), 500):
            yield from self[start:start + 500]

    @overload
    def __getitem__(self, key: int) -> Upcoming: ...

    @overload
    def __getitem__(self, key: slice) -> list[Upcoming]: ...

    def __getitem__(self, key: int | slice) -> Upcoming | list[Upcoming]:
        if isinstance(key, int):
            number = self.count()
            if not -number <= key < number:
                raise IndexError("forecast index out of range")
            return self[key % number:key % number + 1][0]
        if key.step not in (None, 1):
            raise TypeError("ForecastList takes no slice step")
        start, stop, _step = key.indices(self.count())
        if stop <= start:
            return []
        if self._prefetched is not None and self._prefetched[:2] == (start, stop):
            return self._upcoming(self._prefetched[2])
        # Only the sending moments the slice falls in: their days, and the items before them.
        per_rank, before, ranks = self._counts(), 0, set()
        for rank, number in enumerate(per_rank):
            if before + number > start and before < stop:
                ranks.add(rank)
            before += number
        skipped = sum(per_rank[:min(ranks)])
        slots = [(day, rank, at) for day, rank, at in self._slots() if rank in ranks]
        sql = _Sql()
        parts, params = [], []
        for pk in self.schedules:
            firsts, firsts_params = self._firsts(pk)
            values = ", ".join(f"({s}, {p}, {r}, {o})" for s, p, r, o in self.pairs[pk])
            parts.append(f"SELECT {pk} AS automation_id, f.invoice_id, p.pos, p.rep, {sql.plus('f.first', 'p.off')} AS day "
                         f"FROM ({firsts}) f JOIN (SELECT column1 AS s, column2 AS pos, column3 AS rep, column4 AS off "
                         f"FROM (VALUES {values}) v) p ON p.s = f.s")
            params += firsts_params
        days = ", ".join(f"({sql.date()}, {rank})" for _day, rank, _at in slots)
        params += [connection.ops.adapt_datefield_value(day) for day, _rank, _at in slots]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT u.automation_id, u.invoice_id, u.pos, u.rep, u.day FROM ({' UNION ALL '.join(parts)}) u "
                f"JOIN (SELECT column1 AS d, column2 AS rank FROM (VALUES {days}) v) m ON m.d = u.day "
                "ORDER BY m.rank, u.automation_id, u.pos, u.invoice_id, u.rep LIMIT %s OFFSET %s",
                [*params, stop - start, start - skipped])
            rows = cursor.fetchall()
        return self._upcoming(rows)

    def _upcoming(self, rows: list[tuple]) -> list[Upcoming]:
        """The items of `rows` (automation, invoice, step position, repetition, day), their
        invoices (and contacts) loaded in one query."""
        invoices = Invoice.objects.select_related("contact").in_bulk({row[1] for row in rows})
        sends_at = {day: at for day, _rank, at in self._slots()}
        steps = {pk: {step.position: step for step in steps} for pk, (_s, steps) in self.schedules.items()}
        page = []
        for automation_id, invoice_id, position, repetition, day in rows:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
            page.append(Upcoming(self.schedules[automation_id][0], steps[automation_id][position], repetition,
                                 invoices[invoice_id], day, sends_at[day]))
        return page


def forecast_pages(*, today: dt.date | None = None, days: int = 30, automation: Automation | None = None) -> ForecastList:
    """`forecast()` for paging: the same items in the same order, counted and sliced in the database."""
    return ForecastList(today=today, days=days, automation=automation)
