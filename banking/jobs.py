"""django-q2 entry points of the bank import (named jobs.py: we have a `tasks` app)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation

from . import services
from .models import BankStatement


def import_statement(statement_id: int, language: str | None = None) -> None:
    """Read a large uploaded statement; its messages in the uploader's language."""
    with translation.override(language or settings.LANGUAGE_CODE):
        services.read_statement(statement_id=statement_id)


def confirm_exact_matches(statement_id: int, user_id: int | None, language: str | None = None) -> None:
    """Record the exact matches of a statement too long to do in the request."""
    statement = BankStatement.objects.filter(pk=statement_id).first()
    if statement is None:
        return
    by = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with translation.override(language or settings.LANGUAGE_CODE):
        services.confirm_exact_matches(statement=statement, by=by)
