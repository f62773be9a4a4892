"""SQLite helpers shared by the index and the collections."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction on a connection opened with ``isolation_level=None``.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so two writers wait for
    each other instead of failing half-way; a reader's plain ``BEGIN`` sees
    one commit throughout."""
    db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")
