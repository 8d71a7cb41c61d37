"""The automation builder: one step per screen, as in the help article we follow.

name → trigger (category Invoices) → Limit frequency → action(s) → review, where **Activate**
saves through `services.create_automation` / `update_automation` and switches the automation on
("Save as draft (off)" saves it switched off).

It is a django-formtools `SessionWizardView` with a few changes:

* Every builder has its own id (`wid`, in its URL) and its own session storage, so two tabs — a
  new automation here, an edit there — do not overwrite each other. A builder is started by
  `start_wizard` (empty, from a template, or from an automation being edited) and lives until it
  saves; the oldest ones are dropped when a session holds more than MAX_OPEN.
* Post/redirect/get: a step that validates redirects to the builder's URL, which shows the current
  step; Back and the step links keep what was typed on the step being left, valid or not (the final
  check before saving sends the person back to any step that is not valid).
* The actions step is a formset; adding, removing and moving an action up or down are buttons
  that post the step and come back to it (`actions_op`), so no JavaScript is needed.
* Saving is once only: the builder's id is a one-time token. The save runs under a lock on the
  user's row and re-reads the session inside it, so a double-clicked Activate — two requests at the
  same moment — saves one automation and sends the second request to it.
* An edit remembers the automation's `updated_at` when it starts; if the automation changed
  elsewhere since then, saving is refused and nothing is overwritten.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import transaction
from django.forms import BaseFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import View
from formtools.wizard.forms import ManagementForm
from formtools.wizard.storage import get_storage
from formtools.wizard.views import SessionWizardView, StepsHelper

from core import placeholders
from core.dates import business_today
from core.errors import DomainError

from . import conditions, reminders, services
from .forms import (
    KIND_FIELDS, KIND_ICONS, PLAIN_KINDS, STEP_FIELDS, ActionForm, ActionFormSet, ConditionsForm, FrequencyForm,
    NameForm, ReviewForm, ScheduleFormSet, TriggerForm, fits_builder, invoice_choices_queryset, step_rows,
)
from .models import Action, ActionKind, Automation, ReminderStep
from .triggers import FREQUENCY_HELP, SCHEDULE_TRIGGERS, Frequency, Trigger

STEPS: list[tuple[str, type]] = [
    ("name", NameForm),
    ("trigger", TriggerForm),
    ("frequency", FrequencyForm),
    ("actions", ActionFormSet),
    # A reminder schedule (trigger invoice_due) has steps and conditions instead of a frequency
    # limit and one list of actions.
    ("schedule", ScheduleFormSet),
    ("conditions", ConditionsForm),
    ("review", ReviewForm),
]
STEP_TITLES = {
    "name": gettext_lazy("Name"),
    "trigger": gettext_lazy("Trigger"),
    "frequency": gettext_lazy("Limit frequency"),
    "actions": gettext_lazy("Actions"),
    "schedule": gettext_lazy("Schedule"),
    "conditions": gettext_lazy("Conditions"),
    "review": gettext_lazy("Review"),
}
ACTION_FIELDS = tuple(ActionForm.base_fields)
MAX_ACTIONS = services.MAX_ACTIONS
# Where each error of automations.services belongs.
ERROR_STEP = {"name": "name", "trigger": "trigger", "frequency": "frequency", "actions": "actions",
              "steps": "schedule", "conditions": "conditions"}
MAX_STEPS = services.MAX_STEPS

SESSION_OPEN = "automation_wizards"  # ids of the builders open in this session, oldest first
SESSION_DONE = "automation_wizards_done"  # builder id → pk of the automation it saved
MAX_OPEN = 10
MAX_DONE = 30
MANAGEMENT_PREFIX = "wizard"


def _storage_prefix(wid: str) -> str:
    return f"automation_{wid}"


def _session_key(wid: str) -> str:
    # As formtools' storage names it.
    return f"wizard_{_storage_prefix(wid)}"


def _valid_wid(wid: str) -> bool:
    return 10 <= len(wid) <= 64 and all(c.isalnum() or c in "-_" for c in wid)


# --- The steps' data as the forms post it -------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def formset_data(prefix: str, fields: tuple[str, ...], limit: int, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """A formset step's data (as the formset posts it) for these rows, in order. A checked box posts
    "on", an unchecked one nothing."""
    data = {
        f"{prefix}-TOTAL_FORMS": [str(len(rows))], f"{prefix}-INITIAL_FORMS": ["0"],
        f"{prefix}-MIN_NUM_FORMS": ["0"], f"{prefix}-MAX_NUM_FORMS": [str(limit)],
    }
    for index, row in enumerate(rows):
        for name in fields:
            value = row.get(name)
            if value is not False:
                data[f"{prefix}-{index}-{name}"] = ["on" if value is True else _text(value)]
    return data


def formset_rows(prefix: str, fields: tuple[str, ...], limit: int, data) -> list[dict[str, str]]:
    """A formset step's rows as posted (raw strings), for adding, removing and moving one."""
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        total = 0
    total = max(0, min(total, limit))
    return [{name: data.get(f"{prefix}-{index}-{name}", "") for name in fields} for index in range(total)]


def actions_data(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The actions step's data (as its formset posts it) for these actions, in order."""
    return formset_data("actions", ACTION_FIELDS, MAX_ACTIONS, rows)


def action_rows(data) -> list[dict[str, str]]:
    return formset_rows("actions", ACTION_FIELDS, MAX_ACTIONS, data)


def reorder(rows: list, verb: str, argument: str) -> None:
    """Remove row `argument` or move it up or down one place (a builder list's buttons)."""
    if verb not in ("remove", "up", "down") or not argument.isdigit() or int(argument) >= len(rows):
        return
    index = int(argument)
    if verb == "remove":
        rows.pop(index)
    elif verb == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif verb == "down" and index + 1 < len(rows):
        rows[index + 1], rows[index] = rows[index], rows[index + 1]


def schedule_data(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The schedule step's data (as its formset posts it) for these steps, in order."""
    return formset_data("schedule", STEP_FIELDS, MAX_STEPS, rows)


def schedule_rows(data) -> list[dict[str, str]]:
    return formset_rows("schedule", STEP_FIELDS, MAX_STEPS, data)


def conditions_data(stored: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {f"conditions-{name}": [_text(value)] for name, value in ConditionsForm.initial_of(stored).items()}


def steps_data(values: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Every step's data for a builder prefilled with `values` (name, trigger, frequency, actions;
    a reminder schedule's steps and conditions)."""
    data = {
        "name": {"name-name": [_text(values.get("name"))]},
        "trigger": {"trigger-trigger": [_text(values.get("trigger"))]},
        "frequency": {"frequency-frequency": [_text(values.get("frequency") or Frequency.UNLIMITED)]},
        "actions": actions_data(values.get("actions") or []),
    }
    if values.get("trigger") in SCHEDULE_TRIGGERS:
        data["schedule"] = schedule_data(step_rows(values.get("steps") or []))
        data["conditions"] = conditions_data(values.get("conditions") or [])
    return data


def schedule_steps_of(automation: Automation) -> list[dict[str, Any]]:
    """A reminder schedule's steps as the services take them."""
    steps = []
    for step in automation.reminder_steps.order_by("position").prefetch_related("actions"):
        actions = []
        for action in sorted(step.actions.all(), key=lambda a: (a.position, a.pk)):
            row: dict[str, Any] = {"kind": action.kind}
            for name in KIND_FIELDS.get(action.kind, ()):
                row[name] = getattr(action, name if name != "workflow" else "step_id")
            if action.kind == ActionKind.SEND_EMAIL:
                row.update(subject_de=action.subject_de, body_de=action.body_de, digest=action.digest)
            elif action.kind == ActionKind.CHARGE_FEE:
                row["fee"] = action.fee
            elif action.kind == ActionKind.CREATE_TASK:
                row["assignee"] = action.assignee_id
            actions.append(row)
        steps.append({"name": step.name, "days": step.days, "repeat_every_days": step.repeat_every_days,
                      "repeat_times": step.repeat_times, "actions": actions})
    return steps


class DoesNotFitBuilder(DomainError):
    pass


def values_of(automation: Automation) -> dict[str, Any]:
    """An automation as the builder's values."""
    if automation.trigger in SCHEDULE_TRIGGERS:
        steps = schedule_steps_of(automation)
        if not fits_builder(steps):
            raise DoesNotFitBuilder(_(
                "This reminder schedule has step actions the builder cannot show (more than one of a kind, or a "
                "webhook call). Change it in the admin or by exporting and importing it."))
        return {"name": automation.name, "trigger": automation.trigger, "frequency": automation.frequency,
                "steps": steps, "conditions": automation.conditions}
    actions = []
    for action in automation.actions.select_related("step").order_by("position", "pk"):
        row: dict[str, Any] = {"kind": action.kind}
        for name in KIND_FIELDS.get(action.kind, ()):
            if name == "workflow":
                row["workflow"] = action.step.workflow_id if action.step_id else None
            elif name == "assignee":
                row["assignee"] = action.assignee_id
            elif name == "step":
                row["step"] = action.step_id
            else:
                row[name] = getattr(action, name)
        actions.append(row)
    return {"name": automation.name, "trigger": automation.trigger, "frequency": automation.frequency,
            "actions": actions}


def start_wizard(request: HttpRequest, values: dict[str, Any] | None = None, *,
                 automation: Automation | None = None, source: str = "") -> str:
    """Open a new builder in the session, prefilled with `values` (or `automation`'s, to edit it).
    Returns its id for the builder's URL."""
    wid = secrets.token_urlsafe(12)
    storage = get_storage(AutomationWizard.storage_name, _storage_prefix(wid), request, None)
    storage.init_data()
    if automation is not None:
        values = values_of(automation)
    step_data = steps_data(values) if values else {}
    for step, data in step_data.items():
        storage.set_step_data(step, data)
    storage.current_step = STEPS[0][0]
    storage.extra_data = {
        "automation_id": automation.pk if automation is not None else None,
        "updated_at": automation.updated_at.isoformat() if automation is not None else None,
        "source": source,
    }
    opened = [w for w in request.session.get(SESSION_OPEN, []) if w != wid] + [wid]
    for old in opened[:-MAX_OPEN]:
        request.session.pop(_session_key(old), None)
    request.session[SESSION_OPEN] = opened[-MAX_OPEN:]
    return wid


def wizard_url(wid: str) -> str:
    return reverse("automations:automation-wizard", args=[wid])


# --- Rendering a step without errors ----------------------------------------------------------


def unbound(form):
    """The same step form showing the values of a bound form, without its errors: a step that is
    entered shows what was typed before, and errors only after the person presses Next."""
    if not form.is_bound:
        return form
    if isinstance(form, BaseFormSet):
        initial = [{name: sub[name].value() for name in sub.fields} for sub in form.forms]
        return form.__class__(initial=initial, prefix=form.prefix)
    return form.__class__(initial={name: form[name].value() for name in form.fields}, prefix=form.prefix)


class StaleEdit(Exception):
    pass


def _fresh_session(request: HttpRequest) -> dict[str, Any]:
    """The session as stored now (another request may have changed it since this one began)."""
    if not request.session.session_key:
        return {}
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=request.session.session_key).load()


def _stored_trigger(wizard: "AutomationWizard") -> str:
    return (wizard.storage.get_step_data("trigger") or {}).get("trigger-trigger") or ""


def is_schedule(wizard: "AutomationWizard") -> bool:
    return _stored_trigger(wizard) in SCHEDULE_TRIGGERS


def is_plain(wizard: "AutomationWizard") -> bool:
    return not is_schedule(wizard)


class AutomationWizard(SessionWizardView):
    form_list = STEPS
    condition_dict = {"frequency": is_plain, "actions": is_plain, "schedule": is_schedule, "conditions": is_schedule}
    template_name = "automations/wizard.html"

    # --- Set-up: one storage per builder id ---------------------------------------------------

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.wid = kwargs["wid"]
        if not _valid_wid(self.wid) or _session_key(self.wid) not in request.session:
            done = request.session.get(SESSION_DONE, {}).get(self.wid) if _valid_wid(self.wid) else None
            if done and Automation.objects.filter(pk=done).exists():
                messages.info(request, _("This automation has already been saved."))
                return redirect("automations:automation-detail", pk=done)
            messages.warning(request, _("This builder has expired or was closed. Please start again."))
            return redirect("automations:automation-new")
        self.prefix = MANAGEMENT_PREFIX
        self.storage = get_storage(self.storage_name, _storage_prefix(self.wid), request, None)
        self.steps = StepsHelper(self)
        response = View.dispatch(self, request, *args, **kwargs)
        self.storage.update_response(response)
        return response

    def get_prefix(self, request, *args, **kwargs) -> str:
        return MANAGEMENT_PREFIX

    @property
    def extra(self) -> dict[str, Any]:
        return self.storage.extra_data or {}

    @property
    def editing(self) -> Automation | None:
        if not hasattr(self, "_editing"):
            pk = self.extra.get("automation_id")
            self._editing = Automation.objects.filter(pk=pk).first() if pk else None
        return self._editing

    def get_form_initial(self, step: str):
        return None if step in ("actions", "schedule") else {}

    def get_form_step_data(self, form) -> dict[str, list[str]]:
        # Only the step's own fields: not the CSRF token, not the other buttons.
        return self.raw_step_data(form.prefix, form.data)

    @staticmethod
    def raw_step_data(step: str, data) -> dict[str, list[str]]:
        return {key: data.getlist(key) for key in data if key.startswith(f"{step}-")}

    def display_form(self, step: str):
        data = self.storage.get_step_data(step)
        if step == "schedule" and data is None:  # a new schedule starts with one step to fill in
            data = MultiValueDict(schedule_data([{"name": _("Friendly reminder"), "timing": "after", "days": 3}]))
        return unbound(self.get_form(step=step, data=data)) if data is not None else self.get_form(step=step)

    # --- Requests -------------------------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Unlike formtools, a GET shows the current step again (after a redirect, a reload).
        return self.render(self.display_form(self.steps.current))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        management = ManagementForm(request.POST, prefix=self.prefix)
        form_list = self.get_form_list()
        if not management.is_valid() or management.cleaned_data["current_step"] not in form_list:
            return HttpResponseBadRequest(_("This page was changed or is incomplete. Reload it and try again."))
        # The page posted may be an older one (the Back button of the browser): its step wins.
        self.storage.current_step = management.cleaned_data["current_step"]
        current = self.steps.current
        goto = request.POST.get("wizard_goto_step")
        operation = request.POST.get("actions_op") or request.POST.get("schedule_op")
        if goto in form_list or operation:
            # Keep what was typed on this step, valid or not; the final check catches the rest.
            self.storage.set_step_data(current, self.raw_step_data(current, request.POST))
            if operation and current == "actions":
                self.change_actions(operation)
            elif operation and current == "schedule":
                self.change_steps(operation)
            elif goto in form_list:
                self.storage.current_step = goto
            return redirect(wizard_url(self.wid))
        return super().post(request, *args, **kwargs)

    def change_actions(self, operation: str) -> None:
        rows = action_rows(self.storage.get_step_data("actions") or {})
        verb, _sep, argument = operation.partition(":")
        if verb == "add" and argument in dict(PLAIN_KINDS):
            if len(rows) >= MAX_ACTIONS:
                messages.error(self.request, _("An automation can have at most %(max)d actions.") % {"max": MAX_ACTIONS})
            else:
                rows.append({"kind": argument})
        else:
            reorder(rows, verb, argument)
        self.storage.set_step_data("actions", actions_data(rows))

    def change_steps(self, operation: str) -> None:
        rows = schedule_rows(self.storage.get_step_data("schedule") or {})
        verb, _sep, argument = operation.partition(":")
        if verb == "add":
            if len(rows) >= MAX_STEPS:
                messages.error(self.request, _("A reminder schedule can have at most %(max)d steps.") % {"max": MAX_STEPS})
            else:
                rows.append({"timing": "after", "name": _("Reminder %(n)d") % {"n": len(rows) + 1}})
        else:
            reorder(rows, verb, argument)
        self.storage.set_step_data("schedule", schedule_data(rows))

    def render_next_step(self, form, **kwargs: Any) -> HttpResponse:
        self.storage.current_step = self.steps.next
        return redirect(wizard_url(self.wid))

    def render_goto_step(self, goto_step: str, **kwargs: Any) -> HttpResponse:
        self.storage.current_step = goto_step
        return redirect(wizard_url(self.wid))

    def render_done(self, form, **kwargs: Any) -> HttpResponse:
        final_forms = OrderedDict()
        for step in self.get_form_list():
            step_form = self.get_form(step=step, data=self.storage.get_step_data(step))
            if not step_form.is_valid():
                return self.render_revalidation_failure(step, step_form, **kwargs)
            final_forms[step] = step_form
        return self.done(list(final_forms.values()), form_dict=final_forms, **kwargs)

    # --- Saving ---------------------------------------------------------------------------------

    def done(self, form_list, form_dict, **kwargs: Any) -> HttpResponse:
        activate = form_dict["review"].cleaned_data["activate"] == ReviewForm.ACTIVATE
        include_backlog = form_dict["review"].cleaned_data.get("backlog") == ReviewForm.BACKLOG
        fields: dict[str, Any] = {
            "name": form_dict["name"].cleaned_data["name"],
            "trigger": form_dict["trigger"].cleaned_data["trigger"],
            "is_active": activate,
        }
        if "schedule" in form_dict:
            fields["frequency"] = self.schedule_frequency()
            fields["steps"] = form_dict["schedule"].step_dicts()
            fields["conditions"] = form_dict["conditions"].condition_values()
        else:
            fields["frequency"] = form_dict["frequency"].cleaned_data["frequency"]
            fields["actions"] = form_dict["actions"].action_dicts()
        user = self.request.user
        try:
            with transaction.atomic():
                # Two submits of this builder (a double click) queue here, one after the other;
                # the second finds the first one's mark in the session as stored now.
                get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
                done = dict(_fresh_session(self.request).get(SESSION_DONE, {}))
                if self.wid in done:
                    self.request.session[SESSION_DONE] = done
                    return self.finish(done[self.wid], already=True)
                automation_id = self.extra.get("automation_id")
                if automation_id:
                    automation = Automation.objects.select_for_update().filter(pk=automation_id).first()
                    if automation is None:
                        raise DomainError(_("This automation has been deleted meanwhile; nothing was saved."))
                    if automation.updated_at.isoformat() != self.extra.get("updated_at"):
                        raise StaleEdit
                    if fields["trigger"] in SCHEDULE_TRIGGERS and activate and not automation.is_active:
                        # Switched on now: the answer to "and the invoices already overdue?"
                        fields["schedule_from"] = None if include_backlog else business_today()
                    if automation.trigger in SCHEDULE_TRIGGERS and fields["trigger"] not in SCHEDULE_TRIGGERS:
                        fields["steps"], fields["conditions"] = [], []
                    elif automation.trigger not in SCHEDULE_TRIGGERS and fields["trigger"] in SCHEDULE_TRIGGERS:
                        fields["actions"] = []
                    services.update_automation(automation=automation, by=user, **fields)
                else:
                    automation = services.create_automation(by=user, include_backlog=include_backlog, **fields)
                done[self.wid] = automation.pk
                self.request.session[SESSION_DONE] = dict(list(done.items())[-MAX_DONE:])
                try:
                    self.request.session.save()
                except UpdateError:  # the session ended meanwhile (a logout in another tab)
                    raise SessionInterrupted(_("Your session ended; nothing was saved. Please log in again.")) from None
        except StaleEdit:
            return self.render_error("review", form_dict["review"], _(
                "This automation was changed elsewhere (in another tab or by someone else) after you started "
                "editing it. Nothing was saved, so those changes are kept. Start the edit again to see the "
                "current version."), stale=True)
        except services.AutomationInvalid as exc:
            return self.render_service_errors(exc, form_dict)
        except DomainError as exc:
            return self.render_error("review", form_dict["review"], exc.message)
        return self.finish(automation.pk, activated=activate, created=not self.extra.get("automation_id"))

    def schedule_frequency(self) -> str:
        """A reminder schedule's frequency limit: not asked (its steps are the limit); an edited one keeps its own."""
        stored = (self.storage.get_step_data("frequency") or {}).get("frequency-frequency")
        return stored if stored in Frequency.values else Frequency.UNLIMITED

    def finish(self, pk: int, *, already: bool = False, activated: bool = False, created: bool = True) -> HttpResponse:
        self.request.session.pop(_session_key(self.wid), None)
        self.request.session[SESSION_OPEN] = [w for w in self.request.session.get(SESSION_OPEN, []) if w != self.wid]
        if already:
            messages.info(self.request, _("This automation has already been saved."))
        else:
            automation = Automation.objects.get(pk=pk)
            if activated:
                message = _("“%(name)s” is saved and switched on.")
            else:
                message = _("“%(name)s” is saved as a draft; it is switched off.")
            messages.success(self.request, message % {"name": automation.name})
        return redirect("automations:automation-detail", pk=pk)

    def render_error(self, step: str, form, message: str, **context: Any) -> HttpResponse:
        self.storage.current_step = step
        form.add_error(None, message)
        return self.render(form, **context)

    def render_service_errors(self, exc: services.AutomationInvalid, form_dict) -> HttpResponse:
        """Errors found while saving (e.g. a step deleted meanwhile), shown at their fields."""
        steps = [ERROR_STEP.get(field, "review") for field in exc.errors] + (["actions"] if exc.action_errors else [])
        order = list(self.get_form_list())
        steps = [step for step in steps if step in order]
        step = min(steps, key=order.index) if steps else "review"
        form = self.get_form(step=step, data=self.storage.get_step_data(step))
        form.is_valid()
        if step == "schedule":
            for messages_ in exc.errors.values():
                form._non_form_errors.extend(messages_)
        elif step == "actions":
            for field, messages_ in exc.errors.items():
                if field == "actions":
                    form._non_form_errors.extend(messages_)
            for index, fields in exc.action_errors.items():
                target = form.forms[index] if index < len(form.forms) else None
                for field, messages_ in fields.items():
                    for message in messages_:
                        if target is not None and field in target.fields and field != "kind":
                            target.add_error(field, message)
                        elif target is not None:
                            target.add_error(None, message)
                        else:
                            form._non_form_errors.append(message)
        else:
            for field, messages_ in exc.errors.items():
                for message in messages_:
                    form.add_error(field if field in form.fields else None, message)
        self.storage.current_step = step
        return self.render(form)

    # --- Context ----------------------------------------------------------------------------------

    def get_context_data(self, form, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        current = self.steps.current
        stored_name = (self.storage.get_step_data("name") or {}).get("name-name") or ""
        context.update({
            "wid": self.wid,
            "automation": self.editing,
            "editing": bool(self.extra.get("automation_id")),
            "automation_name": stored_name.strip() if isinstance(stored_name, str) else "",
            "step_titles": STEP_TITLES,
            "step_nav": [
                {"name": step, "title": STEP_TITLES[step], "number": index + 1, "current": step == current,
                 "reachable": step == current or self.storage.get_step_data(step) is not None
                 or index < self.steps.step0}
                for index, step in enumerate(self.get_form_list())
            ],
            "is_schedule": is_schedule(self),
            "current_title": STEP_TITLES[current],
        })
        if current == "frequency":
            context["frequency_help"] = FREQUENCY_HELP
        if current == "actions":
            context.update({
                "action_kinds": [(kind, label, KIND_ICONS[kind]) for kind, label in PLAIN_KINDS],
                "placeholders": list(placeholders.PLACEHOLDERS.items()),
                "preview_invoices": list(invoice_choices_queryset()[:50]),
                "max_actions": MAX_ACTIONS,
                "trigger_label": self._trigger_label(),
            })
        if current == "schedule":
            context.update({
                "placeholders": list(placeholders.PLACEHOLDERS.items()),
                "preview_invoices": list(invoice_choices_queryset()[:50]),
                "max_steps": MAX_STEPS,
            })
        if current == "conditions":
            context["known_tags"] = conditions.known_tags()[:50]
        if current == "review":
            context["summary"] = self.summary()
            if is_schedule(self):
                context.update(self.schedule_summary())
        return context

    def schedule_summary(self) -> dict[str, Any]:
        """The schedule and its conditions in words, and the backlog question's count."""
        formset = self.get_form(step="schedule", data=self.storage.get_step_data("schedule"))
        conditions_form = self.get_form(step="conditions", data=self.storage.get_step_data("conditions"))
        steps_valid, conditions_valid = formset.is_valid(), conditions_form.is_valid()
        schedule: list[dict[str, Any]] = []
        first_days = None
        if steps_valid:
            step_dicts = formset.step_dicts()
            first_days = step_dicts[0]["days"]
            built = [ReminderStep(name=step["name"], days=step["days"], repeat_every_days=step["repeat_every_days"],
                                  repeat_times=step["repeat_times"]) for step in step_dicts]
            for line, step in zip(reminders.steps_summary(built), step_dicts):
                schedule.append({"line": line, "actions": [
                    {"label": ActionKind(action["kind"]).label, "icon": KIND_ICONS.get(action["kind"], "bi-lightning"),
                     "lines": action_lines(action)} for action in step["actions"]]})
        stored_conditions = conditions_form.condition_values() if conditions_valid else []
        editing = self.editing
        ask_backlog = steps_valid and conditions_valid and not (editing is not None and editing.is_active)
        return {
            "schedule": schedule, "steps_valid": steps_valid, "conditions_valid": conditions_valid,
            "conditions_text": conditions.describe(stored_conditions) if conditions_valid else "",
            "ask_backlog": ask_backlog,
            "backlog_count": reminders.backlog_for(stored_conditions, first_days=first_days) if ask_backlog else 0,
        }

    def _trigger_label(self) -> str:
        data = self.get_cleaned_data_for_step("trigger")
        return Trigger(data["trigger"]).label if data else ""

    def summary(self) -> dict[str, Any]:
        name = self.get_cleaned_data_for_step("name")
        trigger = self.get_cleaned_data_for_step("trigger")
        plain = "actions" in self.get_form_list()
        frequency = self.get_cleaned_data_for_step("frequency") if plain else None
        actions = []
        actions_valid = False
        if plain:
            formset = self.get_form(step="actions", data=self.storage.get_step_data("actions"))
            actions_valid = formset.is_valid()
        if actions_valid:
            for form in formset.forms:
                actions.append({"label": form.kind_label, "icon": form.kind_icon,
                                "lines": action_lines(form.as_service_dict())})
        return {
            "name": name["name"] if name else None,
            "trigger": Trigger(trigger["trigger"]).label if trigger else None,
            "frequency": Frequency(frequency["frequency"]).label if frequency else None,
            "frequency_help": FREQUENCY_HELP[frequency["frequency"]] if frequency else None,
            "actions": actions,
            "actions_valid": actions_valid,
        }


def action_lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    """What an action does, as (label, value) lines for the review and the detail page."""
    kind = data.get("kind")
    if kind == ActionKind.SEND_EMAIL:
        lines = [(_("Subject"), data.get("subject") or "")]
        if data.get("sender_name"):
            lines.append((_("Sender name"), data["sender_name"]))
        if data.get("reply_to"):
            lines.append((_("Reply-to address"), data["reply_to"]))
        return lines
    if kind == ActionKind.CREATE_TASK:
        assignee = data.get("assignee")
        days = data.get("due_in_days")
        return [
            (_("Task title"), data.get("title") or ""),
            (_("Assign to"), assignee.get_username() if assignee is not None else _("The whole team")),
            (_("Due"), ngettext("%(days)d day after the trigger", "%(days)d days after the trigger", days) % {"days": days}
             if days is not None else _("No due date")),
        ]
    if kind == ActionKind.MOVE_CARD:
        step = data.get("step")
        return [(_("Workflow"), step.workflow.name if step else ""), (_("Step"), step.name if step else "")]
    if kind == ActionKind.CHARGE_FEE:
        return [(_("Fee"), formats.number_format(data.get("fee"), 2) if data.get("fee") is not None else "")]
    if kind == ActionKind.CALL_WEBHOOK:
        return [(_("Webhook URL"), data.get("webhook_url") or "")]
    return []


def action_summary(action: Action) -> list[tuple[str, str]]:
    data: dict[str, Any] = {"kind": action.kind}
    for name in KIND_FIELDS.get(action.kind, ()):
        if name != "workflow":
            data[name] = getattr(action, name)
    if action.kind == ActionKind.CHARGE_FEE:
        data["fee"] = action.fee
    lines = action_lines(data)
    if action.kind == ActionKind.SEND_EMAIL:
        if action.subject_de:
            lines.insert(1, (_("Subject (German)"), action.subject_de))
        if action.digest:
            lines.append((_("Sent as"), _("one email per customer listing all their open reminders of this level")))
    return lines

