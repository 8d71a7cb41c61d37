"""Forms of the Tasks & Reminders pages. They check input; `tasks.services` makes the change."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from core.forms import SubmitOnceMixin
from invoices.models import Contact, Invoice

from .models import Task


class TaskForm(SubmitOnceMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=Task._meta.get_field("title").max_length)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        max_length=Task._meta.get_field("description").max_length,
    )
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=get_user_model().objects.none(), required=False,
        empty_label=_("Team (everyone)"), help_text=_("Choose “Team (everyone)” to give the task to the whole team."),
    )
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), required=False, empty_label=_("(none)"),
    )
    # A number, not a list: invoices pile up year after year.
    invoice = forms.CharField(
        label=_("Invoice number"), required=False, max_length=Invoice._meta.get_field("number").max_length,
        help_text=_("Optional. A task about an invoice is also about its contact."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["assignee"].queryset = users
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
        self.fields["contact"].queryset = Contact.objects.order_by("name", "pk")

    def clean_invoice(self) -> Invoice | None:
        number = self.cleaned_data["invoice"].strip()
        if not number:
            return None
        invoice = Invoice.objects.select_related("contact").filter(number__iexact=number).first()
        if invoice is None:
            raise forms.ValidationError(_("There is no invoice with the number “%(number)s”."),
                                        code="unknown", params={"number": number})
        return invoice


class TaskFilterForm(forms.Form):
    """The filters of the task list (GET); invalid values are ignored, not errors."""

    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), required=False, empty_label=_("All contacts"),
    )
    done = forms.BooleanField(label=_("Show done"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The contacts that have tasks, plus the one asked for (a link from a contact page).
        wanted = self.data.get("contact") if self.is_bound else None
        with_tasks = Contact.objects.filter(tasks__isnull=False).values("pk")
        queryset = Contact.objects.filter(pk__in=with_tasks)
        if wanted and str(wanted).isdigit():
            queryset = Contact.objects.filter(pk__in=with_tasks) | Contact.objects.filter(pk=int(wanted))
        self.fields["contact"].queryset = queryset.distinct().order_by("name", "pk")
