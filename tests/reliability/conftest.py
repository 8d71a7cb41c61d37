"""The fault suite prints one row per scenario, and the whole table at the end of the session
(also written to var/reliability/fault-table.md, or $FAULT_TABLE_DIR, for the release note)."""

from __future__ import annotations

import pytest

from tests.reliability.harness import ROWS, SmtpSink, fault_table_path, format_table, install_card_move_log, write_table


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not ROWS:
        return
    ROWS.sort(key=lambda row: row.scenario)  # scenario order (they start with their number)
    path = write_table(fault_table_path())
    terminalreporter.write_sep("=", "fault table (tests/reliability)")
    terminalreporter.write_line(format_table(ROWS))
    terminalreporter.write_line(f"(written to {path})")


@pytest.fixture
def sink():
    server = SmtpSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def card_move_log(transactional_db):
    install_card_move_log()
