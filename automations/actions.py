"""One class per action kind, as healthchecks has one per transport.

Each kind says which of the Action's fields it needs (`clean_settings`). Executing actions is the
engine's job and is added to these classes by the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .models import Action as ActionRow


class ActionError(Exception):
    """An action could not be carried out; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = str(message)
        self.permanent = permanent


class Action:
    kind: str
    label: str
    # Fields of the Action row this kind uses; the others must stay empty.
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @classmethod
    def clean_settings(cls, action: ActionRow) -> None:
        errors = {}
        for name in cls.required:
            value = getattr(action, name if name != "step" else "step_id")
            if value in (None, ""):
                errors[name] = ValidationError(_("This field is required for this action."), code="required")
        if errors:
            raise ValidationError(errors)


class SendEmail(Action):
    kind = "send_email"
    label = _("Send email to customer")
    fields = ("subject", "body", "sender_name", "reply_to")
    required = ("subject", "body")


class CreateTask(Action):
    kind = "create_task"
    label = _("Create a task")
    fields = ("title", "description", "due_in_days", "assignee")
    required = ("title",)


class MoveCard(Action):
    kind = "move_card"
    label = _("Move card on workflow")
    fields = ("step",)
    required = ("step",)


ACTIONS: dict[str, type[Action]] = {cls.kind: cls for cls in (SendEmail, CreateTask, MoveCard)}
