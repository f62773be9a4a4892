"""The analysed terms of every live passage, read back from the segments.

A distributed search engine (OpenSearch, Elasticsearch, Vespa, Quickwit) can
index plansok's passages only if it gets the same terms plansok ranks:
lemmas, compound parts (``~del``), stems (``^stam``) and joined words, after
Norwegian analysis. Those terms exist only as postings (term -> rows), so a
passage's terms are recovered by inverting the postings of a block of rows at
a time: every term of the segment is read once per block, and memory grows
with the block, not with the segment. Each term is repeated as often as it
occurs in the passage, so a whitespace analyzer over the joined string gives
the engine plansok's term frequencies (there are no positions to keep:
plansok stores none). A multi-word term of the dictionaries ("etter hvert")
is written with ``+`` for its spaces (``engine_term``), a character no
token of a text can hold; queries sent to the engine encode their terms
the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from plansok.errors import IndexError_
from plansok.index.segment_format import MERGE_CHUNK, SegmentFile
from plansok.index.store import IndexStore

logger = logging.getLogger(__name__)

# Postings inverted at once: a block's (row, term, tf) triples, 16 bytes each.
BLOCK_POSTINGS = 8_000_000


# Stands for the space inside a multi-word term: not a word character and not
# one a token joins words with (analyzer.TOKEN_RE), so no text term holds it.
SPACE_MARK = "+"


def engine_term(term: str) -> str:
    """A term as the engine indexes it: one whitespace-free token."""
    if not term or SPACE_MARK in term or any(c.isspace() and c != " " for c in term):
        raise ValueError(f"term {term!r} cannot be written as one token")
    return term.replace(" ", SPACE_MARK)


@dataclass(frozen=True)
class PassageTerms:
    """One passage as a distributed engine would index it: its id in the
    index, where it is (for citations and filters), and its terms."""

    pid: int
    doc_id: str
    ordinal: int
    page_start: int
    page_end: int
    page_label: str | None
    section: str
    terms: list[str]  # each term (as ``engine_term``) as often as it occurs, in the index's term order
    tags: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "passage_id": f"{self.doc_id}#{self.ordinal}",
            "doc_id": self.doc_id,
            "ordinal": self.ordinal,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "page_label": self.page_label,
            "section": self.section,
            "terms": " ".join(self.terms),
            "tags": self.tags,
        }


def row_terms(seg: SegmentFile, lo: int, hi: int) -> list[list[str]]:
    """The terms of rows [lo, hi) of a segment (each repeated by its
    frequency), from one pass over the segment's postings."""
    rows_parts, term_parts, tf_parts = [], [], []
    ptr = np.asarray(seg.post_ptr)
    a = 0
    while a < seg.n_terms:
        b = int(np.searchsorted(ptr, int(ptr[a]) + MERGE_CHUNK, side="right")) - 1
        b = min(max(b, a + 1), seg.n_terms)
        rows, tf = seg.postings_range(a, b, read=True)
        keep = (rows >= lo) & (rows < hi)
        if keep.any():
            term_of = np.repeat(np.arange(a, b, dtype=np.int64), np.diff(ptr[a : b + 1]))
            rows_parts.append(rows[keep])
            term_parts.append(term_of[keep])
            tf_parts.append(tf[keep])
        a = b
    out: list[list[str]] = [[] for _ in range(hi - lo)]
    if not rows_parts:
        return out
    rows = np.concatenate(rows_parts)
    terms = np.concatenate(term_parts)
    tfs = np.concatenate(tf_parts)
    order = np.argsort(rows, kind="stable")  # stable: a row's terms stay in term order
    rows, terms, tfs = rows[order], terms[order], tfs[order]
    names: dict[int, str] = {}
    for r, t, f in zip((rows - lo).tolist(), terms.tolist(), tfs.tolist()):
        name = names.get(t)
        if name is None:
            raw = seg.term_bytes(t).decode("utf-8")
            try:
                name = names[t] = engine_term(raw)
            except ValueError as exc:
                # A whitespace analyzer would split it: the export would not be the index.
                raise IndexError_(f"{seg.path}: {exc}; cannot export it") from exc
        out[r].extend([name] * f)
    return out


def passage_terms(store: IndexStore, doc_ids: Sequence[str] | None = None) -> Iterator[PassageTerms]:
    """Every live passage of one commit (or of ``doc_ids``), segment after
    segment, with its analysed terms and tags."""
    snapshot = store.snapshot()
    wanted = None if doc_ids is None else set(doc_ids)
    if wanted is not None:
        missing = sorted(wanted - set(snapshot[2]))
        if missing:
            raise IndexError_(f"{store.path}: no document {', '.join(missing[:5])} in this index")
    for seg, live in store.live_segments(snapshot):
        doc_rows = np.asarray(seg.doc_rows)
        per_row = max(1.0, len(seg.post_gap) / max(seg.n_rows, 1))
        block = max(1, int(BLOCK_POSTINGS / per_row))
        # Live documents' rows, as runs cut into blocks of about BLOCK_POSTINGS postings.
        runs = [
            (int(doc_rows[k]), int(doc_rows[k + 1]))
            for k, (name, keep) in enumerate(zip(seg.doc_names, live.tolist()))
            if keep and (wanted is None or name in wanted) and doc_rows[k + 1] > doc_rows[k]
        ]
        for lo, hi in _blocks(runs, block):
            terms = row_terms(seg, lo, hi)
            pids = np.asarray(seg.row_pid[lo:hi]).tolist()
            passages = store.passages_by_pid(pids)
            tags = store.tags_of(pids)
            for pid, t in zip(pids, terms):
                p = passages.get(pid)
                if p is None:
                    raise IndexError_(f"{store.path}: segment {seg.name} names passage {pid}, which is not stored")
                yield PassageTerms(
                    pid,
                    p.doc_id,
                    p.ordinal,
                    p.page_start,
                    p.page_end,
                    p.page_label,
                    p.section,
                    t,
                    [str(x["tag"]) for x in tags.get(pid, [])],
                )
        logger.debug("exported the terms of segment %s", seg.name)


def _blocks(runs: list[tuple[int, int]], size: int) -> Iterator[tuple[int, int]]:
    """Contiguous row ranges of at most ``size`` rows covering ``runs``
    (adjacent runs are joined, so a block is not one document)."""
    merged: list[list[int]] = []
    for lo, hi in runs:
        if merged and merged[-1][1] == lo:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    for lo, hi in merged:
        for a in range(lo, hi, size):
            yield a, min(a + size, hi)
