"""Kanban workflow boards: a Workflow has ordered Steps (columns); a contact has one Card per board."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Workflow(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("workflow")
        verbose_name_plural = _("workflows")
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(name=""), name="workflow_name_not_empty")]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps", verbose_name=_("workflow"))
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["workflow", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="step_name_unique_per_workflow"),
            models.CheckConstraint(condition=~Q(name=""), name="step_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name} → {self.name}"


class Card(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="cards", verbose_name=_("workflow"))
    # PROTECT: a column that still holds cards is emptied (cards moved elsewhere) before it goes.
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="cards", verbose_name=_("step"))
    contact = models.ForeignKey(
        "invoices.Contact", on_delete=models.CASCADE, related_name="cards", verbose_name=_("contact")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    moved_at = models.DateTimeField(_("moved"), auto_now_add=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        ordering = ["step__position", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "contact"], name="card_one_per_contact_per_workflow"),
        ]
        indexes = [models.Index(fields=["step", "position"], name="card_step_position_idx")]

    def __str__(self) -> str:
        return f"{self.contact.name} · {self.step.name}"
