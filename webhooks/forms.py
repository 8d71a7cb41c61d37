"""The subscription form: an address (checked as it will be at sending time) and its events."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import SubmitOnceMixin

from .models import SUBSCRIBABLE, Subscription
from .safety import MAX_URL_LENGTH, validate_webhook_url


class SubscriptionForm(SubmitOnceMixin, forms.ModelForm):
    # A plain text field: Django's URLField would add "http://" to "example.com" and cap the length
    # at its own 200 characters; the checks are safety's, the same as at sending time.
    url = forms.CharField(label=_("URL"), max_length=MAX_URL_LENGTH, validators=[validate_webhook_url],
                          help_text=_("Where the events are posted, e.g. https://hooks.example.com/invoices. "
                                      "Only public addresses; redirects are not followed."))
    event_types = forms.MultipleChoiceField(label=_("Events"), choices=SUBSCRIBABLE,
                                            widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Subscription
        fields = ["url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        return self.cleaned_data["url"].strip()

    def clean_description(self) -> str:
        value = self.cleaned_data["description"]
        if "\n" in value or "\r" in value:
            raise forms.ValidationError(_("This field cannot contain line breaks."))
        return value.strip()
