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
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from plansok.errors import IndexError_
from plansok.index import migrations
from plansok.index.migrations import FORMAT_VERSION
from plansok.models import AnalysedDoc, DocumentMeta, Page, Passage, TagRow  # noqa: F401 (re-exported)
from plansok.sqlite import transaction

logger = logging.getLogger(__name__)

FORMAT = "plansok-index"
DB_NAME = "plansok.sqlite"
SEG_DIR = "segments"
# Merge all segments into one when a batch leaves more than this many; merging
# reuses stored postings, so no document is analysed again.
MAX_SEGMENTS = 8

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


@dataclass
class Segment:
    name: str
    pids: np.ndarray  # int64, one per row
    doc_index: np.ndarray  # int32, one per row: position in doc_names
    doc_names: np.ndarray  # str, the documents the segment holds
    pages: np.ndarray  # int32, first page of each row's passage
    counts: sp.csr_matrix  # rows x local terms, raw tf
    doc_len: np.ndarray  # float32
    vocab: np.ndarray  # str, local term id -> term

    @property
    def doc_ids(self) -> np.ndarray:
        return self.doc_names[self.doc_index]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
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
    def write_lock(self) -> Iterator[None]:
        """One writer at a time per index (readers never wait). Re-entrant for
        this store, so a step that holds it (training) may call one that takes
        it (retagging) without waiting for itself."""
        if self._lock_owner == threading.get_ident():
            yield
            return
        lock_path = self.path / "write.lock"
        with open(lock_path, "a+") as fh:
            # Another thread of this process opens its own file, so it waits here too.
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._lock_owner = threading.get_ident()
            try:
                yield
            finally:
                self._lock_owner = None
                fcntl.flock(fh, fcntl.LOCK_UN)

    def close(self) -> None:
        self.db.close()

    def model_stamp(self) -> str:
        """Changes whenever the tag model in ``<index>/tagger`` is replaced."""
        meta = self.path / "tagger" / "model.json"
        return str(meta.stat().st_mtime_ns) if meta.exists() else ""

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

    def tag_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT tag, COUNT(*) FROM tags GROUP BY tag").fetchall())

    def replace_tags(self, rows: Sequence[tuple[int, str, float, str, list[str]]], codebook_text: str) -> None:
        """Swap every passage's tags (after training or a new codebook) in one transaction."""
        with self.transaction():
            self.db.execute("DELETE FROM tags")
            self.db.executemany(
                "INSERT INTO tags VALUES (?, ?, ?, ?, ?)",
                [(p, t, c, s, json.dumps(e, ensure_ascii=False)) for p, t, c, s, e in rows],
            )
            self.set_meta("codebook", codebook_text)
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

    def read_segment(self, name: str) -> Segment:
        try:
            with np.load(self._segment_path(name), allow_pickle=False) as z:
                counts = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(len(z["pids"]), len(z["vocab"])))
                return Segment(
                    name, z["pids"], z["doc_index"], z["doc_names"], z["pages"], counts, z["doc_len"], z["vocab"]
                )
        except (OSError, ValueError, KeyError) as exc:
            raise IndexError_(f"{self._segment_path(name)}: unreadable segment ({exc})") from exc

    def _write_segment_file(self, seg: Segment) -> None:
        final = self._segment_path(seg.name)
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                pids=seg.pids.astype(np.int64),
                doc_index=seg.doc_index.astype(np.int32),
                doc_names=seg.doc_names.astype(str),
                pages=seg.pages.astype(np.int32),
                data=seg.counts.data.astype(np.float32),
                indices=seg.counts.indices.astype(np.int32),
                indptr=seg.counts.indptr.astype(np.int64),
                doc_len=seg.doc_len.astype(np.float32),
                vocab=seg.vocab.astype(str),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)

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
        vocab: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        pids: list[int] = []
        doc_index: list[int] = []
        pages: list[int] = []
        lengths: list[int] = []
        pid = start_pid
        for di, d in enumerate(docs):
            for passage, terms, length in zip(d.passages, d.terms, d.lengths):
                counts: dict[int, int] = {}
                for t in terms:
                    tid = vocab.setdefault(t, len(vocab))
                    counts[tid] = counts.get(tid, 0) + 1
                indices.extend(counts)
                data.extend(counts.values())
                indptr.append(len(indices))
                pids.append(pid)
                doc_index.append(di)
                pages.append(passage.page_start)
                lengths.append(length)
                pid += 1
        counts_m = sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
            shape=(len(pids), len(vocab)),
        )
        seg = Segment(
            name,
            np.asarray(pids, np.int64),
            np.asarray(doc_index, np.int32),
            np.asarray([d.meta.doc_id for d in docs], dtype=str),
            np.asarray(pages, np.int32),
            counts_m,
            np.asarray(lengths, np.float32),
            np.asarray(list(vocab), dtype=str) if vocab else np.zeros(0, dtype="<U1"),
        )
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
                for i, p in enumerate(d.passages):
                    rows.append(
                        (pid, p.doc_id, p.ordinal, p.page_start, p.page_end, p.page_label, p.section, p.source, p.text)
                    )
                    for tag, conf, source, evidence in d.tags[i] if i < len(d.tags) else ():
                        tag_rows.append((pid, tag, conf, source, json.dumps(evidence, ensure_ascii=False)))
                    pid += 1
                self.db.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self.db.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?)", tag_rows)
                self.db.executemany(
                    "INSERT OR REPLACE INTO forms VALUES (?, ?, ?)",
                    [(analysis or self.get_meta("analysis", "") or "", f, t) for f, t in d.forms.items()],
                )
            self.db.execute("INSERT INTO segments VALUES (?, ?, ?)", (name, len(pids), now))
            self.set_meta("next_pid", str(start_pid + len(pids)))
            self._drop_dead_segments()
            self.set_meta("generation", str(int(self.get_meta("generation", "0") or 0) + 1))
        self._remove_orphan_files()
        if len(self.segment_names()) > MAX_SEGMENTS:
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
        cur = self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM pages WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        return cur.rowcount > 0

    def _drop_dead_segments(self) -> None:
        self.db.execute("DELETE FROM segments WHERE name NOT IN (SELECT DISTINCT segment FROM documents)")

    def collect_garbage(self) -> None:
        """Delete segment files no commit refers to (call with the write lock held)."""
        self._remove_orphan_files()

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
    ) -> list[tuple[Segment, np.ndarray]]:
        """Each segment with a boolean mask of its rows that are still live (the
        document was not removed or replaced since)."""
        _docs, names, owner = snapshot or self.snapshot()
        out = []
        for name in names:
            seg = self.read_segment(name)
            doc_live = np.fromiter((owner.get(d) == name for d in seg.doc_names.tolist()), dtype=bool)
            out.append((seg, doc_live[seg.doc_index] if doc_live.size else np.zeros(0, dtype=bool)))
        return out

    def merge_segments(self) -> None:
        """Rewrite all live rows into one segment (postings only, no re-analysis)."""
        merged = merge(self.live_segments())
        if merged is None:
            return
        merged.name = f"seg-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}-m"
        self._write_segment_file(merged)
        with self.transaction():
            self.db.execute("UPDATE documents SET segment = ?", (merged.name,))
            self.db.execute("INSERT INTO segments VALUES (?, ?, ?)", (merged.name, len(merged.pids), _now()))
            self._drop_dead_segments()
        self._remove_orphan_files()
        logger.info("merged segments into %s (%d passages)", merged.name, len(merged.pids))


def merge(segments: Sequence[tuple[Segment, np.ndarray]]) -> Segment | None:
    """Stack the live rows of several segments over one shared vocabulary and
    document list. Rows are copied as CSR blocks with their term ids remapped,
    so a million passages merge without sorting."""
    if not segments:
        return None
    vocab: dict[str, int] = {}
    names: dict[str, int] = {}
    data, indices, indptr = [], [], [np.zeros(1, dtype=np.int64)]
    pids, doc_index, pages, lens = [], [], [], []
    nnz = 0
    for seg, live in segments:
        remap = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in seg.vocab.tolist()), dtype=np.int32, count=len(seg.vocab)
        )
        name_map = np.fromiter(
            (names.setdefault(d, len(names)) for d in seg.doc_names.tolist()), dtype=np.int32, count=len(seg.doc_names)
        )
        rows = seg.counts if live.all() else seg.counts[live]
        data.append(rows.data)
        indices.append(remap[rows.indices] if rows.nnz else rows.indices.astype(np.int32))
        indptr.append(rows.indptr[1:].astype(np.int64) + nnz)
        nnz += rows.nnz
        pids.append(seg.pids[live])
        doc_index.append(name_map[seg.doc_index[live]] if name_map.size else seg.doc_index[live])
        pages.append(seg.pages[live])
        lens.append(seg.doc_len[live])
    n_rows = sum(len(p) for p in pids)
    counts = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)), shape=(n_rows, len(vocab))
    )
    return Segment(
        "merged",
        np.concatenate(pids),
        np.concatenate(doc_index).astype(np.int32),
        np.asarray(list(names), dtype=str) if names else np.zeros(0, dtype="<U1"),
        np.concatenate(pages),
        counts,
        np.concatenate(lens),
        np.asarray(list(vocab), dtype=str) if vocab else np.zeros(0, dtype="<U1"),
    )
