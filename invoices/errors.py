"""The one exception every service raises for a change the business rules do not allow.

Views, forms, admin actions and commands catch it and show `message` as it is: it is written for
the person who tried, and it is already translated.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.field = field

    def __str__(self) -> str:
        return self.message
