"""Run calls in real threads at the same moment, each on its own database connection (for the
concurrency tests, which run on PostgreSQL: SQLite serialises every writer)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


def run_at_once(*calls: Callable[[], Any], timeout: float = 60.0) -> list[Any]:
    """The result of each call, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the barrier releases threads that are ready
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[index] = exc
        finally:
            connections.close_all()  # or the test database cannot be dropped

    threads = [threading.Thread(target=worker, args=(i, call), name=f"worker-{i}") for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread hung: a lock was never released (deadlock?)"
    return results
