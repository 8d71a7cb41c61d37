"""The invoices app's signals in a test: record them (`with receiving() as received: …`) or make a
receiver fail (`with failing_receiver(signals.invoice_sent): …`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal

from invoices import signals
from invoices.services import OverdueBatch

SIGNAL_NAMES: dict[Signal, str] = {
    value: name for name, value in vars(signals).items() if isinstance(value, Signal)
}


class Received:
    """Records every invoice signal sent while connected: `names` in order, `kwargs` per signal."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        self.calls.append((SIGNAL_NAMES[signal], {"sender": sender, **as_sent(kwargs)}))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def kwargs(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for signal_name, kwargs in self.calls if signal_name == name]


def as_sent(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The signal's arguments, with an overdue batch read now: its table lives only as long as the transaction."""
    return {name: list(value) if isinstance(value, OverdueBatch) else value for name, value in kwargs.items()}


@contextmanager
def receiving() -> Iterator[Received]:
    received = Received()
    for signal in SIGNAL_NAMES:
        signal.connect(received, weak=False)
    try:
        yield received
    finally:
        for signal in SIGNAL_NAMES:
            signal.disconnect(received)


@contextmanager
def failing_receiver(signal: Signal, *, after: int = 0) -> Iterator[None]:
    """A receiver that raises (after letting `after` calls through), like a broken outbox write."""
    calls = 0

    def boom(sender: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > after:
            raise RuntimeError("receiver failed")

    signal.connect(boom, weak=False)
    try:
        yield
    finally:
        signal.disconnect(boom)
