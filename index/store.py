"""The on-disk index: one SQLite file as the commit point, plus immutable
postings segments. The format is documented in README.md ("On-disk index").

    <index>/
      plansok.sqlite          documents, pages, passages, word forms, segment list, meta
      segments/seg-<id>.npz   one immutable postings segment per ingest batch

Why this shape: SQLite gives atomic, crash-safe commits and concurrent readers
(WAL) for free; postings live in numpy files because scoring wants them as
arrays. A segment file is written and fsynced under a temporary name, renamed
into place, and only then referenced in the same SQLite transaction that adds
its documents, so a crash leaves either the old index or the new one; an
unreferenced segment file is garbage and is removed by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plansok.analysis.prose import left_out_kind
from plansok.errors import IndexError_
from plansok.index import migrations
from plansok.index.migrations import FORMAT_VERSION
from plansok.index.segment_format import (
    SEGMENT_VERSION,
    MergedSegment,
    NewSegment,
    OldSegmentFormat,
    SegmentFile,
    build_segment,
    upgrade_segments,
    write_segment_file,
)
from plansok.models import AnalysedDoc, DocumentMeta, Page, Passage, TagRow  # noqa: F401 (re-exported)
from plansok.sqlite import transaction

logger = logging.getLogger(__name__)

FORMAT = "plansok-index"
DB_NAME = "plansok.sqlite"
SEG_DIR = "segments"
# Segment merging (``plan_merge``): MERGE_FACTOR segments of one size tier
# are merged into one, and a commit leaves at most MAX_SEGMENTS (simulated:
# 4M passages in commits of 6,400 end in 7 segments, each passage rewritten
# 3.5 times; a cap of 8 would rewrite each 20 times). Merging streams stored
# postings, so no document is analysed again.
MAX_SEGMENTS = 16
MERGE_FACTOR = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    segment TEXT NOT NULL,
    meta_json TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    label TEXT,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (doc_id, number)
);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    page_label TEXT,
    section TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id, ordinal);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, n_rows INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS forms (
    analysis TEXT NOT NULL,
    form TEXT NOT NULL,
    terms TEXT NOT NULL,
    PRIMARY KEY (analysis, form)
);
CREATE TABLE IF NOT EXISTS tags (
    pid INTEGER NOT NULL,
    tag TEXT NOT NULL,
    confidence REAL NOT NULL,
    source TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (pid, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag);
CREATE TABLE IF NOT EXISTS passage_kinds (pid INTEGER PRIMARY KEY, kind TEXT NOT NULL);
"""

# The passages table's columns in the order of Passage's fields (after pid).
PASSAGE_COLUMNS = "pid, doc_id, ordinal, text, page_start, page_end, section, page_label, source"


@dataclass(frozen=True)
class IndexedSource:
    """Where an indexed document came from, for recognising duplicates at ingest."""

    doc_id: str
    fingerprint: str  # the documents.sha256 column: "<file sha256>@<analysis>[+<manifest hash>]"
    path: str  # the file it was read from, as given to ingest
    text_sha256: str = ""  # hash of its extracted pages ("" when not recorded)

    @property
    def content(self) -> str:
        """The SHA-256 of the file's bytes."""
        return self.fingerprint.split("@", 1)[0]


# A segment about to be written: one ingest batch or a merge (``segment_format``).
Segment = NewSegment


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class IndexStore:
    """Reads and writes one index directory."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        self._lock_owner: int | None = None  # the thread holding the writer lock
        db = self.path / DB_NAME
        if not db.exists():
            if not create:
                raise IndexError_(
                    f"{self.path}: no plansok index here (run `plansok ingest PATH... --index {self.path}` first)"
                )
            (self.path / SEG_DIR).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(db, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        if create:
            self._init_schema()
        self._check_format()
        from plansok.index.model_folder import settle_on_open

        settle_on_open(self)  # a training or undo killed after its commit: its model folders finished

    # -- schema --------------------------------------------------------------------
    def _init_schema(self) -> None:
        with self.transaction():
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return  # an existing index: opened, checked and migrated below
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(
                "INSERT INTO meta VALUES ('format', ?), ('version', ?), ('created', ?)",
                (FORMAT, str(FORMAT_VERSION), _now()),
            )
            migrations.mark_all_applied(self.db)

    def _check_format(self) -> None:
        try:
            rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"{self.path}: not a readable plansok index ({exc})") from exc
        if rows.get("format") != FORMAT:
            raise IndexError_(f"{self.path}: not a plansok index")
        version = int(rows.get("version", 0))
        if version > FORMAT_VERSION:
            raise IndexError_(
                f"{self.path}: index format {version} was written by a newer plansok (this one reads up to "
                f"format {FORMAT_VERSION}); upgrade plansok (`pip install -U plansok`)"
            )
        if migrations.pending(self.db):
            try:
                with self.write_lock():
                    done = migrations.migrate(self.db, self.path)
            except (OSError, sqlite3.Error) as exc:
                raise IndexError_(
                    f"{self.path}: index format {version} needs migrating to {FORMAT_VERSION}, which failed ({exc}); "
                    f"make the folder writable and run `plansok docs --index {self.path}` once, or rebuild it with "
                    f"`plansok ingest FOLDER --index {self.path}`"
                ) from exc
            if done:
                logger.warning("%s: index migrated to format %d (%s)", self.path, FORMAT_VERSION, ", ".join(done))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def transaction(self, immediate: bool = True) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db, immediate)

    @contextlib.contextmanager
    def write_lock(self, wait: bool = True) -> Iterator[bool]:
        """One writer at a time per index (readers never wait). Re-entrant for
        this store, so a step that holds it (training) may call one that takes
        it (retagging) without waiting for itself. With ``wait=False`` it
        yields False at once if another writer holds it."""
        if self._lock_owner == threading.get_ident():
            yield True
            return
        lock_path = self.path / "write.lock"
        with open(lock_path, "a+") as fh:
            # Another thread of this process opens its own file, so it waits here too.
            try:
                fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            self._lock_owner = threading.get_ident()
            try:
                yield True
            finally:
                self._lock_owner = None
                fcntl.flock(fh, fcntl.LOCK_UN)

    def close(self) -> None:
        self.db.close()

    def model_stamp(self) -> str:
        """Changes whenever the tag model in ``<index>/tagger``, or the one the tags were made with, is replaced."""
        meta = self.path / "tagger" / "model.json"
        return f"{self.get_meta('tag_model', '')}:{meta.stat().st_mtime_ns if meta.exists() else ''}"

    # -- documents -----------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, sha256 FROM documents").fetchall())

    def document_sources(self) -> dict[str, IndexedSource]:
        """What ingest needs to recognise a file it has seen under another name:
        each document's fingerprint, source path and text hash. Read from the
        existing columns and ``meta_json``, so indexes written before content
        hashes were compared need no migration (a document without a text hash
        is simply never matched by text)."""
        rows = self.db.execute(
            "SELECT doc_id, sha256, json_extract(meta_json, '$.path'), "
            "json_extract(meta_json, '$.extra.text_sha256') FROM documents"
        ).fetchall()
        return {d: IndexedSource(d, sha, path or "", text or "") for d, sha, path, text in rows}

    def documents(self) -> list[DocumentMeta]:
        rows = self.db.execute("SELECT meta_json FROM documents ORDER BY doc_id").fetchall()
        return [DocumentMeta.from_dict(json.loads(r[0])) for r in rows]

    def document_segments(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, segment FROM documents").fetchall())

    def pages(self, doc_id: str) -> list[Page]:
        rows = self.db.execute(
            "SELECT number, text, label, source FROM pages WHERE doc_id = ? ORDER BY number", (doc_id,)
        ).fetchall()
        return [Page(number=r[0], text=r[1], label=r[2], source=r[3]) for r in rows]

    def passages_of(self, doc_id: str) -> list[tuple[int, Passage]]:
        rows = self.db.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
        return [(r[0], Passage(*r[1:])) for r in rows]

    def passages_by_pid(self, pids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        pids = [int(p) for p in pids]
        for i in range(0, len(pids), 900):
            chunk = pids[i : i + 900]
            q = ",".join("?" * len(chunk))
            for r in self.db.execute(
                f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE pid IN ({q})",
                chunk,
            ):
                out[r[0]] = Passage(*r[1:])
        return out

    def left_out_kinds(self) -> tuple[np.ndarray, list[str]]:
        """The passages results leave out by default (reference lists and
        contents pages): their ids, sorted, and each one's kind."""
        rows = self.db.execute("SELECT pid, kind FROM passage_kinds ORDER BY pid").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), [r[1] for r in rows]

    def forms(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """Stored terms of word forms, under the analysis the index was built with."""
        analysis = self.get_meta("analysis", "") or ""
        out: dict[str, list[str]] = {}
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 900):
            chunk = keys[i : i + 900]
            q = ",".join("?" * len(chunk))
            sql = f"SELECT form, terms FROM forms WHERE analysis = ? AND form IN ({q})"
            for form, terms in self.db.execute(sql, [analysis, *chunk]):
                out[form] = terms.split(" ") if terms else []
        return out

    # -- tags --------------------------------------------------------------------------
    def tags_of(self, pids: Sequence[int]) -> dict[int, list[dict[str, object]]]:
        out: dict[int, list[dict[str, object]]] = {}
        pids = [int(p) for p in pids]
        for i in range(0, len(pids), 900):
            chunk = pids[i : i + 900]
            q = ",".join("?" * len(chunk))
            for pid, tag, conf, source, evidence in self.db.execute(
                f"SELECT pid, tag, confidence, source, evidence FROM tags WHERE pid IN ({q}) "
                "ORDER BY pid, confidence DESC",
                chunk,
            ):
                out.setdefault(pid, []).append(
                    {"tag": tag, "confidence": round(conf, 3), "source": source, "evidence": json.loads(evidence)}
                )
        return out

    def tagged(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """Passage ids carrying ``tag``, and the tag's confidence on each."""
        rows = self.db.execute("SELECT pid, confidence FROM tags WHERE tag = ?", (tag,)).fetchall()
        pids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        conf = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
        return pids, conf

    def tag_sets(self) -> dict[int, set[str]]:
        """Every tagged passage's tags, to compare before and after a retag."""
        out: dict[int, set[str]] = {}
        for pid, tag in self.db.execute("SELECT pid, tag FROM tags"):
            out.setdefault(pid, set()).add(tag)
        return out

    def tag_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT tag, COUNT(*) FROM tags GROUP BY tag").fetchall())

    def replace_tags(
        self,
        rows: Sequence[tuple[int, str, float, str, list[str]]],
        codebook_text: str,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Swap every passage's tags (after training or a new codebook) in one
        transaction, which also records ``meta`` (the tag model that made them)."""
        with self.transaction():
            self.db.execute("DELETE FROM tags")
            self.db.executemany(
                "INSERT INTO tags VALUES (?, ?, ?, ?, ?)",
                [(p, t, c, s, json.dumps(e, ensure_ascii=False)) for p, t, c, s, e in rows],
            )
            self.set_meta("codebook", codebook_text)
            for key, value in (meta or {}).items():
                self.set_meta(key, value)
            self.set_meta("generation", str(int(self.get_meta("generation", "0") or 0) + 1))

    def all_passages(self) -> list[tuple[int, Passage, str]]:
        """(pid, passage, written standard) of every passage, in document order."""
        std = {d.doc_id: d.standard for d in self.documents()}
        rows = self.db.execute(f"SELECT {PASSAGE_COLUMNS} FROM passages ORDER BY doc_id, ordinal").fetchall()
        return [(r[0], Passage(*r[1:]), std.get(r[1], "nb")) for r in rows]

    # -- segments --------------------------------------------------------------------
    def segment_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM segments ORDER BY created, name")]

    def _segment_path(self, name: str) -> Path:
        return self.path / SEG_DIR / f"{name}.npz"

    def _segment_cache(self) -> dict[str, SegmentFile]:
        return self.__dict__.setdefault("_open_segments", {})

    def read_segment(self, name: str) -> SegmentFile:
        """The segment, memory-mapped; kept open while commits use it (a
        segment file never changes once written)."""
        cache = self._segment_cache()
        seg = cache.get(name)
        if seg is None:
            path = self._segment_path(name)
            try:
                seg = SegmentFile(path)
            except OldSegmentFormat:
                # Written in an older segment format: migrated on first use, as opening an older index is.
                try:
                    with self.write_lock():
                        upgrade_segments(self.path)
                except OSError as exc:
                    raise OldSegmentFormat(
                        f"{path}: segment in an older format than segment format {SEGMENT_VERSION}, and it could "
                        f"not be rewritten ({exc}); make {self.path} writable and search again"
                    ) from exc
                seg = SegmentFile(path)
            cache[name] = seg
        return seg

    def _write_segment_file(self, seg: Segment) -> None:
        write_segment_file(self._segment_path(seg.name), seg)

    # -- writing -----------------------------------------------------------------------
    def add_documents(self, docs: Sequence[AnalysedDoc], analysis: str = "", lexicon: str = "") -> None:
        """Add (or replace) documents as one new segment in one transaction.

        ``analysis`` and ``lexicon`` name the analysis version and the lexicon
        resources the terms were made with; they are recorded in ``meta``."""
        if not docs:
            return
        name = f"seg-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        # Passage ids are never reused: a reader loaded before a remove still holds
        # the old ids, and must find nothing under them rather than another plan's text.
        start_pid = self._next_pid()
        for d in docs:
            if not len(d.passages) == len(d.terms) == len(d.lengths):
                raise IndexError_(
                    f"{d.meta.doc_id}: {len(d.passages)} passages but {len(d.terms)} term lists "
                    f"and {len(d.lengths)} lengths; nothing was written"
                )
        seg = build_segment(
            name, [(d.meta.doc_id, [p.page_start for p in d.passages], d.lengths, d.terms) for d in docs], start_pid
        )
        pids = seg.row_pid  # the passage ids handed out, one per row
        self._write_segment_file(seg)
        with self.transaction():
            if analysis and self.get_meta("analysis") != analysis:
                # Forms of another analysis are never read again (they are keyed by it).
                self.db.execute("DELETE FROM forms WHERE analysis != ?", (analysis,))
                self.set_meta("analysis", analysis)
            if lexicon:
                self.set_meta("lexicon", lexicon)
            for d in docs:
                self._delete_rows(d.meta.doc_id)
            pid = start_pid
            now = _now()
            for d in docs:
                self.db.execute(
                    "INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
                    (
                        d.meta.doc_id,
                        d.meta.sha256,
                        name,
                        json.dumps(d.meta.to_dict(), ensure_ascii=False),
                        now,
                    ),
                )
                self.db.executemany(
                    "INSERT INTO pages VALUES (?, ?, ?, ?, ?)",
                    [(d.meta.doc_id, p.number, p.label, p.source, p.text) for p in d.pages],
                )
                rows = []
                tag_rows = []
                kind_rows = []
                # Recorded at ingest, so a query never reads texts to leave them out.
                kinds = d.kinds if d.kinds is not None else [left_out_kind(p.text) for p in d.passages]
                for i, p in enumerate(d.passages):
                    rows.append(
                        (pid, p.doc_id, p.ordinal, p.page_start, p.page_end, p.page_label, p.section, p.source, p.text)
                    )
                    if kinds[i] is not None:
                        kind_rows.append((pid, kinds[i]))
                    for tag, conf, source, evidence in d.tags[i] if i < len(d.tags) else ():
                        tag_rows.append((pid, tag, conf, source, json.dumps(evidence, ensure_ascii=False)))
                    pid += 1
                self.db.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self.db.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?)", tag_rows)
                self.db.executemany("INSERT INTO passage_kinds VALUES (?, ?)", kind_rows)
                self.db.executemany(
                    "INSERT OR REPLACE INTO forms VALUES (?, ?, ?)",
                    [(analysis or self.get_meta("analysis", "") or "", f, t) for f, t in d.forms.items()],
                )
            self.db.execute("INSERT INTO segments VALUES (?, ?, ?)", (name, len(pids), now))
            self.set_meta("next_pid", str(start_pid + len(pids)))
            self._drop_dead_segments()
            self.set_meta("generation", str(int(self.get_meta("generation", "0") or 0) + 1))
        self._remove_orphan_files()
        if self._merge_plan():
            self.merge_segments()

    def _next_pid(self) -> int:
        """The first passage id never handed out (kept in ``meta`` because the
        largest id in ``passages`` falls when the newest documents are removed)."""
        used = self.db.execute("SELECT COALESCE(MAX(pid), 0) FROM passages").fetchone()[0] + 1
        return max(used, int(self.get_meta("next_pid", "1") or 1))

    def stale_documents(self, analysis: str) -> list[str]:
        """Documents whose terms came from an analysis other than ``analysis``
        (the fingerprint ends in ``@<analysis>`` and an optional manifest hash)."""
        rows = self.db.execute("SELECT doc_id, sha256 FROM documents").fetchall()
        return [d for d, sha in rows if sha.split("@", 1)[-1].split("+", 1)[0] != analysis]

    def remove_documents(self, doc_ids: Sequence[str]) -> list[str]:
        removed = []
        with self.transaction():
            for doc_id in doc_ids:
                if self._delete_rows(doc_id):
                    removed.append(doc_id)
            self._drop_dead_segments()
            self.set_meta("generation", str(int(self.get_meta("generation", "0") or 0) + 1))
        self._remove_orphan_files()
        return removed

    def _delete_rows(self, doc_id: str) -> bool:
        self.db.execute("DELETE FROM tags WHERE pid IN (SELECT pid FROM passages WHERE doc_id = ?)", (doc_id,))
        self.db.execute("DELETE FROM passage_kinds WHERE pid IN (SELECT pid FROM passages WHERE doc_id = ?)", (doc_id,))
        cur = self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM pages WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        return cur.rowcount > 0

    def _drop_dead_segments(self) -> None:
        self.db.execute("DELETE FROM segments WHERE name NOT IN (SELECT DISTINCT segment FROM documents)")

    def collect_garbage(self) -> None:
        """Delete segment files no commit refers to, rewrite any segment still
        in an older segment format, and finish a merge that a killed writer
        left undone (its commit was in; a re-run of that ingest has nothing to
        write, so would otherwise leave the segments unmerged until the next
        new document). Call with the write lock held."""
        from plansok.index.model_folder import settle

        settle(self)  # before an ingest tags anything: the model its tags were made with in tagger/
        self._remove_orphan_files()
        upgrade_segments(self.path)
        if self._merge_plan():
            self.merge_segments()

    def _remove_orphan_files(self) -> None:
        live = set(self.segment_names())
        for f in (self.path / SEG_DIR).glob("seg-*"):
            if f.suffix == ".npz" and f.stem in live:
                continue
            with contextlib.suppress(OSError):
                f.unlink()

    def snapshot(self) -> tuple[list[DocumentMeta], list[str], dict[str, str]]:
        """Documents, segment names and which segment holds each document, read
        in one transaction, so they belong to the same commit."""
        with self.transaction(immediate=False):
            return self.documents(), self.segment_names(), self.document_segments()

    def live_segments(
        self, snapshot: tuple[list[DocumentMeta], list[str], dict[str, str]] | None = None
    ) -> list[tuple[SegmentFile, np.ndarray]]:
        """Each segment of one commit, memory-mapped, with a boolean per document
        it holds: live (not removed or replaced since it was written)."""
        _docs, names, owner = snapshot or self.snapshot()
        out = []
        for name in names:
            seg = self.read_segment(name)
            live = np.fromiter((owner.get(d) == name for d in seg.doc_names), dtype=bool, count=len(seg.doc_names))
            out.append((seg, live))
        cache = self._segment_cache()
        for gone in set(cache) - set(names):  # readers that mapped them keep them
            cache.pop(gone, None)
        return out

    def _merge_plan(self) -> list[str]:
        rows = self.db.execute("SELECT name, n_rows FROM segments ORDER BY created, name").fetchall()
        return [rows[i][0] for i in plan_merge([r[1] for r in rows], MAX_SEGMENTS)]

    def merge_segments(self, everything: bool = False) -> None:
        """Merge segments while ``plan_merge`` finds some to merge (with
        ``everything``, first all of them into one). Postings are streamed from
        the mapped files in chunks, so memory grows with the rows and the
        vocabulary, not the postings; readers of earlier commits keep theirs.
        Call with the write lock held."""
        while True:
            with self.transaction(immediate=False):
                rows = self.db.execute("SELECT name, created FROM segments ORDER BY created, name").fetchall()
                owner = self.document_segments()
            names = [r[0] for r in rows] if everything else self._merge_plan()
            everything = False
            if len(names) < 2:
                return
            inputs = []
            for n in names:
                seg = self.read_segment(n)
                inputs.append((seg, np.fromiter((owner.get(d) == n for d in seg.doc_names), dtype=bool)))
            merged = MergedSegment(f"seg-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}-m", inputs)
            self._write_segment_file(merged)
            created = min(c for n, c in rows if n in names)  # keeps the rows' place in commit order
            with self.transaction():
                marks = ",".join("?" * len(names))
                self.db.execute(f"UPDATE documents SET segment = ? WHERE segment IN ({marks})", (merged.name, *names))
                self.db.execute("INSERT INTO segments VALUES (?, ?, ?)", (merged.name, merged.n_rows, created))
                self._drop_dead_segments()
                self.set_meta("generation", str(int(self.get_meta("generation", "0") or 0) + 1))
            self._remove_orphan_files()
            logger.info("merged %d segments into %s (%d passages)", len(names), merged.name, merged.n_rows)


def plan_merge(sizes: Sequence[int], max_segments: int, factor: int = MERGE_FACTOR) -> list[int]:
    """Which segments (indices into ``sizes``, rows per segment in commit
    order) to merge next: the first ``factor`` of one size tier (sizes within a
    factor of ``factor`` of each other, so a row is rewritten about
    log_factor(N) times in the index's life), else, when there are more than
    ``max_segments``, the smallest ones; [] when nothing needs merging."""
    n = len(sizes)
    if n < 2:
        return []
    tier = [int(math.log(max(size, 1), factor)) if factor > 1 else 0 for size in sizes]
    for t in sorted(set(tier)):
        members = [i for i in range(n) if tier[i] == t]
        if len(members) >= factor:
            return members[:factor]
    if n > max_segments:
        return sorted(sorted(range(n), key=lambda i: (sizes[i], i))[: n - max_segments + 1])
    return []
