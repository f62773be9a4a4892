"""Named migrations of the on-disk index (the sqlite-utils ``Migrations`` pattern).

Every change to any file of an index (the SQLite schema, the segment files,
the tagger, the collections) is one named, idempotent step appended to
``MIGRATIONS``; the index's format version is the number of steps it has had.
Opening an older index applies the missing steps in order, each in its own
transaction under the writer lock, and records them in the ``migrations``
table; opening a newer one is refused with the version this plansok reads.
Steps are never edited or reordered once released: a new change is a new step.
"""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    name: str
    why: str
    apply: Callable[[sqlite3.Connection, Path], None]


def _tags_table(db: sqlite3.Connection, path: Path) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS tags (
    pid INTEGER NOT NULL,
    tag TEXT NOT NULL,
    confidence REAL NOT NULL,
    source TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (pid, tag)
)"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag)")


def _next_pid(db: sqlite3.Connection, path: Path) -> None:
    used = db.execute("SELECT COALESCE(MAX(pid), 0) FROM passages").fetchone()[0] + 1
    db.execute("INSERT OR IGNORE INTO meta VALUES ('next_pid', ?)", (str(used),))


def _analysis_in_meta(db: sqlite3.Connection, path: Path) -> None:
    """The analysis version used to hide in ``documents.sha256`` only
    (``<file hash>@<analysis>[+manifest]``); meta names it now."""
    if db.execute("SELECT 1 FROM meta WHERE key = 'analysis'").fetchone():
        return
    versions = {sha.split("@", 1)[-1].split("+", 1)[0] for (sha,) in db.execute("SELECT sha256 FROM documents")}
    if len(versions) == 1:
        db.execute("INSERT INTO meta VALUES ('analysis', ?)", (versions.pop(),))


def _forms_by_analysis(db: sqlite3.Connection, path: Path) -> None:
    """Word forms keyed by (analysis, form): a form's terms under one analysis
    are wrong under another, so a reader must only see its own analysis's."""
    cols = [r[1] for r in db.execute("PRAGMA table_info(forms)")]
    if "analysis" in cols:
        return
    row = db.execute("SELECT value FROM meta WHERE key = 'analysis'").fetchone()
    db.execute(
        "CREATE TABLE forms_new (analysis TEXT NOT NULL, form TEXT NOT NULL, terms TEXT NOT NULL, "
        "PRIMARY KEY (analysis, form))"
    )
    if row:
        # Forms of an index whose analysis is unknown are dropped: the next ingest rebuilds them.
        db.execute("INSERT INTO forms_new SELECT ?, form, terms FROM forms", (row[0],))
    db.execute("DROP TABLE forms")
    db.execute("ALTER TABLE forms_new RENAME TO forms")


def _tagger_format(db: sqlite3.Connection, path: Path) -> None:
    """The tagger's ``model.json`` carries a format number of its own."""
    meta = path / "tagger" / "model.json"
    if not meta.is_file():
        return
    data = json.loads(meta.read_text(encoding="utf-8"))
    if "format" in data:
        return
    data["format"] = 1
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(meta)


def _segments(db: sqlite3.Connection, path: Path) -> None:
    """Segment files in the current segment format (``index/segment_format.py``), when it defines one."""
    try:
        mod = importlib.import_module("plansok.index.segment_format")
    except ImportError:
        return
    upgrade = getattr(mod, "upgrade_segments", None)
    if upgrade is not None:
        upgrade(path)


def _passage_kinds(db: sqlite3.Connection, path: Path) -> None:
    """Reference lists and contents pages recorded per passage, so results
    leave them out without reading every match's text."""
    from plansok.analysis.prose import left_out_kind

    db.execute("CREATE TABLE IF NOT EXISTS passage_kinds (pid INTEGER PRIMARY KEY, kind TEXT NOT NULL)")
    rows = []
    for pid, text in db.execute("SELECT pid, text FROM passages"):
        kind = left_out_kind(text)
        if kind is not None:
            rows.append((pid, kind))
    db.executemany("INSERT OR REPLACE INTO passage_kinds VALUES (?, ?)", rows)


MIGRATIONS: list[Migration] = [
    Migration("0001_tags_table", "passage tags live in the index", _tags_table),
    Migration("0002_next_pid", "passage ids are never reused", _next_pid),
    Migration("0003_analysis_in_meta", "the analysis version is recorded in meta", _analysis_in_meta),
    Migration("0004_forms_by_analysis", "word forms are keyed by analysis version", _forms_by_analysis),
    Migration("0005_tagger_format", "the tagger model carries a format number", _tagger_format),
    Migration("0006_segments", "segments in the current segment format", _segments),
    Migration("0007_passage_kinds", "reference lists and contents pages recorded at ingest", _passage_kinds),
]
# Format 1 is every index written before migrations were named; each step adds one.
FORMAT_VERSION = 1 + len(MIGRATIONS)

MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)"


def applied(db: sqlite3.Connection) -> set[str]:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'migrations'").fetchone():
        return set()
    return {r[0] for r in db.execute("SELECT name FROM migrations")}


def pending(db: sqlite3.Connection) -> list[Migration]:
    done = applied(db)
    return [m for m in MIGRATIONS if m.name not in done]


def mark_all_applied(db: sqlite3.Connection) -> None:
    """A new index is created in the current format: every step counts as applied."""
    db.execute(MIGRATIONS_TABLE)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    db.executemany("INSERT OR IGNORE INTO migrations VALUES (?, ?)", [(m.name, now) for m in MIGRATIONS])


def migrate(db: sqlite3.Connection, path: Path) -> list[str]:
    """Apply the pending steps, each in one transaction; returns their names.
    The caller holds the writer lock."""
    done = []
    for m in pending(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(MIGRATIONS_TABLE)
            m.apply(db, path)
            db.execute(
                "INSERT INTO migrations VALUES (?, ?)", (m.name, datetime.now(UTC).isoformat(timespec="seconds"))
            )
            version = 1 + len(applied(db))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(version),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        logger.info("%s: migrated (%s: %s)", path, m.name, m.why)
        done.append(m.name)
    return done
