"""django-q2 entry points of the webhooks (the sweeper's schedule is created by a migration)."""

from __future__ import annotations

from . import services


def deliver(ids: list[int]) -> int:
    return services.deliver_many(ids)


def sweep() -> int:
    return services.sweep()
