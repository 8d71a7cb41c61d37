"""What an action raises when it cannot be carried out for a run (see automations.actions)."""

from __future__ import annotations


class ActionError(Exception):
    """An action could not be carried out; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = str(message)
        self.permanent = permanent


class ActionSkipped(Exception):
    """The action does not apply to this run (a contact without an email address)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)
