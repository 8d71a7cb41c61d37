"""Helpers for the tests of the automations pages and the builder (no tests here).

`stub_urls` lets the pages render while the other apps' pages that base.html links to (invoices,
contacts, tasks, workflows) do not exist yet: it serves a placeholder under each missing URL name.
Once those pages exist it changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.urls import NoReverseMatch, include, path, reverse

from automations import services
from automations.models import Automation

# The URL names base.html needs besides ours.
NAV_NAMES = ["invoices:invoice-list", "invoices:contact-list", "invoices:recurring-list", "tasks:task-list",
             "workflows:workflow-list"]


def _missing() -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for name in NAV_NAMES:
        try:
            reverse(name, urlconf="config.urls")
        except NoReverseMatch:
            namespace, _sep, url_name = name.partition(":")
            missing.setdefault(namespace, []).append(url_name)
    return missing


def _stub(request, *args, **kwargs):
    return HttpResponse("stub")


def _urlpatterns() -> list:
    from importlib import import_module

    from config import urls as config_urls

    patterns = []
    for namespace, names in _missing().items():
        real = list(import_module(f"{namespace}.urls").urlpatterns)
        stubs = [path(f"{name}/", _stub, name=name) for name in names]
        # Listed first, so this namespace (stubs + the app's real patterns) is the one reversed.
        patterns.append(path(f"__stub__/{namespace}/", include((stubs + real, namespace))))
    return patterns + list(config_urls.urlpatterns)


NEEDS_STUBS = bool(_missing())
urlpatterns = _urlpatterns()


@pytest.fixture(autouse=True)
def stub_urls(settings):
    if NEEDS_STUBS:
        settings.ROOT_URLCONF = __name__


EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}",
         "body": "Hello {{ contact.first_name }}, you owe {{ invoice.amount_due }}.", "sender_name": "Acme",
         "reply_to": "billing@acme.test"}
TASK = {"kind": "create_task", "title": "Call {{ contact.name }}", "description": "About {{ invoice.number }}",
        "due_in_days": 2, "assignee": None}


def make_automation(name: str = "Overdue reminder", **overrides: Any) -> Automation:
    fields: dict[str, Any] = {"name": name, "trigger": "invoice_overdue", "frequency": "unlimited",
                              "actions": [dict(EMAIL)]}
    fields.update(overrides)
    return services.create_automation(**fields)


# --- Driving the builder as a browser would ---------------------------------------------------


def action_post_data(actions: list[dict[str, Any]]) -> dict[str, Any]:
    """The actions step's POST data for these actions (values as a form posts them)."""
    data: dict[str, Any] = {"actions-TOTAL_FORMS": str(len(actions)), "actions-INITIAL_FORMS": "0",
                            "actions-MIN_NUM_FORMS": "0", "actions-MAX_NUM_FORMS": "20"}
    for index, action in enumerate(actions):
        for key, value in action.items():
            data[f"actions-{index}-{key}"] = "" if value is None else getattr(value, "pk", value)
    return data


class Builder:
    """One open builder: its URL, and posting its steps."""

    def __init__(self, client, start_url: str) -> None:
        self.client = client
        response = client.get(start_url)
        assert response.status_code == 302, response
        self.url = response["Location"]
        assert self.url.startswith("/automations/builder/"), self.url

    def get(self):
        return self.client.get(self.url)

    def post(self, step: str, data: dict[str, Any] | None = None, **extra: Any):
        return self.client.post(self.url, {"wizard-current_step": step, **(data or {})}, **extra)

    def next(self, step: str, data: dict[str, Any] | None = None):
        """Post a step that must validate (→ redirect to the next step)."""
        response = self.post(step, data)
        if response.status_code != 302:
            form = response.context["wizard"]["form"]
            errors = form.errors if not hasattr(form, "non_form_errors") else (form.errors, form.non_form_errors())
            raise AssertionError(f"step {step} did not validate: {errors}")
        assert response["Location"] == self.url
        return response

    def current(self):
        response = self.get()
        assert response.status_code == 200
        return response.context["wizard"]["steps"].current, response.context["wizard"]["form"]

    def activate(self, value: str = "on"):
        return self.post("review", {"review-activate": value})


def build(client, *, name: str = "Overdue reminder", trigger: str = "invoice_overdue",
          frequency: str = "once_per_contact", actions: list[dict[str, Any]] | None = None,
          activate: str = "on", start_url: str | None = None):
    """Go through every step of a new builder and press Activate (or "off": Save as draft)."""
    builder = Builder(client, start_url or reverse("automations:automation-custom"))
    builder.next("name", {"name-name": name})
    builder.next("trigger", {"trigger-trigger": trigger})
    builder.next("frequency", {"frequency-frequency": frequency})
    builder.next("actions", action_post_data(actions if actions is not None else [dict(EMAIL)]))
    return builder, builder.activate(activate)


def errors_of(response) -> Any:
    form = response.context["wizard"]["form"]
    if hasattr(form, "non_form_errors"):
        return [dict(f.errors) for f in form.forms], list(form.non_form_errors())
    return dict(form.errors)


def rows_of(formset) -> list[dict[str, Any]]:
    """The actions a shown actions step holds, as its page would post them back."""
    return [{name: form[name].value() for name in form.fields} for form in formset.forms]


def post_data_of(form) -> dict[str, Any]:
    """What the page of a shown step posts when Next is pressed without changing anything."""
    if hasattr(form, "forms"):
        return action_post_data(rows_of(form))
    return {f"{form.prefix}-{name}": "" if form[name].value() is None else form[name].value() for name in form.fields}
