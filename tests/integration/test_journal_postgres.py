"""The PostgreSQL journal on a real server: a station that joins a running line runs no DDL, so it
cannot deadlock with stations at work (CREATE INDEX takes a SHARE lock on its table even when the
index exists, which waited behind — and, with a second table, deadlocked against — the working
stations' row locks)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from cardkit.batch.journal import PostgresJournal


def test_a_station_joining_a_busy_line_takes_no_table_lock(postgres_server: Any) -> None:
    url = postgres_server.database("journal_join")
    PostgresJournal(url).close()  # the first station creates the schema
    with psycopg.connect(url) as busy:  # another station, mid-transaction on `cards`
        busy.execute("LOCK TABLE cards IN ROW EXCLUSIVE MODE")
        opened: list[object] = []

        def join() -> None:
            journal = PostgresJournal(url)
            opened.append(journal)
            journal.close()

        joiner = threading.Thread(target=join, daemon=True)
        joiner.start()
        joiner.join(timeout=10)
        joined = bool(opened)
        busy.rollback()
    joiner.join(timeout=10)
    assert joined, "opening the journal waited for a lock held by a working station"
