"""A person's own settings that follow them to every browser: for now, the interface language."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Preference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(_("language"), max_length=2, choices=settings.LANGUAGES)

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user} · {self.language}"


class FormSubmission(models.Model):
    """A create form's one-time token, consumed in the transaction that saves the form.

    The token is a hidden field of the form page (`nonce`). Posting the same form again — a
    double click, a reload, Back and submit, two tabs posting at the same moment — finds the
    token taken and saves nothing a second time: the unique key makes the database decide,
    whichever request comes first (see accounts.submissions.save_once).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64)
    # Where the first submission's result is shown: the page a repeated post is sent to.
    result_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")
        constraints = [models.UniqueConstraint(fields=["user", "token"], name="form_submission_once")]

    def __str__(self) -> str:
        return f"{self.user} · {self.token}"
