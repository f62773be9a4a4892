"""An index loaded for searching: postings merged in memory and BM25-ready.

Loading reads the live rows of every segment once; a query then touches only
the posting lists of its terms. Load once per process and reuse (the Python
API and ``plansok serve`` do).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from plansok.errors import IndexError_
from plansok.index.bm25 import BM25
from plansok.index.store import IndexStore, merge
from plansok.models import DocumentMeta

logger = logging.getLogger(__name__)

MIN_LENGTH = 20
IDF = "lucene"  # see plansok.index.bm25: Okapi's idf finds nothing in a tiny index


@dataclass
class LoadedIndex:
    store: IndexStore
    bm25: BM25  # over passages
    page_bm25: BM25  # over whole pages (a page's passages summed): a passage's context
    pids: np.ndarray  # row -> passage id in the store
    row_doc: np.ndarray  # row -> position in ``docs``
    row_page_group: np.ndarray  # row -> row of page_bm25
    docs: list[DocumentMeta]
    doc_pos: dict[str, int] = field(default_factory=dict)
    _tag_scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, store: IndexStore, attempts: int = 5) -> LoadedIndex:
        """Load the index as of one commit. A writer that merges or replaces
        documents deletes old segment files after its commit; if one vanishes
        between our snapshot and our reading it, the snapshot is taken again."""
        for attempt in range(attempts):
            snapshot = store.snapshot()
            try:
                segments = store.live_segments(snapshot)
            except IndexError_:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
                continue
            return cls._build(store, snapshot[0], segments)
        raise AssertionError("unreachable")

    @classmethod
    def _build(cls, store: IndexStore, docs: list[DocumentMeta], segments) -> LoadedIndex:
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}
        seg = merge(segments)
        if seg is None or len(seg.pids) == 0:
            empty = BM25.from_counts(sp.csr_matrix((0, 0), dtype=np.float32), {})
            return cls(store, empty, empty, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), docs)
        name_pos = np.fromiter((doc_pos.get(d, -1) for d in seg.doc_names.tolist()), dtype=np.int32)
        row_doc = name_pos[seg.doc_index]
        # One id per (document, page): the unit of context for a passage.
        key = row_doc.astype(np.int64) * (int(seg.pages.max(initial=0)) + 1) + seg.pages
        _, page_group = np.unique(key, return_inverse=True)
        page_group = page_group.astype(np.int64)
        vocab = {t: i for i, t in enumerate(seg.vocab.tolist())}
        # A heading or caption that became a passage of its own would otherwise
        # outrank every paragraph that discusses the topic: BM25 sees at least
        # MIN_LENGTH words in a passage.
        lengths = np.maximum(seg.doc_len, MIN_LENGTH)
        bm25 = BM25.from_counts(seg.counts, vocab, lengths, idf=IDF)
        n = len(seg.pids)
        grouping = sp.csr_matrix(
            (np.ones(n, dtype=np.float32), (page_group, np.arange(n))), shape=(int(page_group.max()) + 1, n)
        )
        page_bm25 = BM25.from_counts(grouping @ seg.counts, vocab, grouping @ lengths, idf=IDF)
        # The raw counts are not kept: the two BM25 matrices are all a search needs.
        return cls(store, bm25, page_bm25, seg.pids, row_doc, page_group, docs, doc_pos)

    def tag_scores(self, tag: str) -> np.ndarray:
        """Per row, the confidence of ``tag`` (0 where the passage lacks it).
        Read from the store on first use and kept."""
        cache = self._tag_scores
        if tag not in cache:
            pids, conf = self.store.tagged(tag)
            scores = np.zeros(self.n_passages, dtype=np.float32)
            if pids.size and self.n_passages:
                order = np.argsort(self.pids)
                pos = np.searchsorted(self.pids, pids, sorter=order)
                pos = np.clip(pos, 0, len(order) - 1)
                rows = order[pos]
                found = self.pids[rows] == pids
                scores[rows[found]] = conf[found]
            cache[tag] = scores
        return cache[tag]

    @property
    def n_passages(self) -> int:
        return int(self.pids.size)

    def doc_mask(self, keep_doc: np.ndarray) -> np.ndarray:
        """Rows whose document is kept by a per-document boolean array."""
        return keep_doc[self.row_doc]
