"""An index loaded for searching: postings merged in memory and BM25-ready.

Loading reads the live rows of every segment once; a query then touches only
the posting lists of its terms. Load once per process and reuse (the Python
API and ``plansok serve`` do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from plansok.index.bm25 import BM25
from plansok.index.store import IndexStore, merge
from plansok.models import DocumentMeta

logger = logging.getLogger(__name__)

MIN_LENGTH = 20
IDF = "lucene"  # see plansok.index.bm25: Okapi's idf finds nothing in a tiny index


@dataclass
class LoadedIndex:
    store: IndexStore
    bm25: BM25
    pids: np.ndarray  # row -> passage id in the store
    row_doc: np.ndarray  # row -> position in ``docs``
    docs: list[DocumentMeta]
    doc_pos: dict[str, int] = field(default_factory=dict)
    row_page_group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # row -> page id
    counts: sp.csr_matrix | None = field(default=None, repr=False)  # raw term counts

    @classmethod
    def load(cls, store: IndexStore) -> LoadedIndex:
        docs = store.documents()
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}
        seg = merge(store.live_segments())
        if seg is None or len(seg.pids) == 0:
            bm25 = BM25.from_counts(np.zeros((0, 0), dtype=np.float32), {})
            return cls(
                store,
                bm25,
                np.zeros(0, np.int64),
                np.zeros(0, np.int32),
                docs,
                doc_pos,
                np.zeros(0, np.int64),
                sp.csr_matrix((0, 0), dtype=np.float32),
            )
        row_doc = np.fromiter(
            (doc_pos.get(d, -1) for d in seg.doc_ids.tolist()), dtype=np.int32, count=len(seg.doc_ids)
        )
        # One id per (document, page): the unit of context for a passage.
        key = row_doc.astype(np.int64) * (int(seg.pages.max(initial=0)) + 1) + seg.pages
        _, page_group = np.unique(key, return_inverse=True)
        vocab = {t: i for i, t in enumerate(seg.vocab.tolist())}
        # A heading or caption that became a passage of its own would otherwise
        # outrank every paragraph that discusses the topic: BM25 sees at least
        # MIN_LENGTH words in a passage.
        bm25 = BM25.from_counts(seg.counts, vocab, np.maximum(seg.doc_len, MIN_LENGTH), idf=IDF)
        return cls(store, bm25, seg.pids, row_doc, docs, doc_pos, page_group.astype(np.int64), seg.counts)

    @cached_property
    def page_bm25(self) -> BM25:
        """BM25 over whole pages (the passages of a page summed): the context
        a passage is ranked in. Built on first use."""
        return self._grouped_bm25(self.row_page_group)

    def _grouped_bm25(self, group: np.ndarray) -> BM25:
        n = self.n_passages
        n_groups = int(group.max(initial=-1)) + 1
        grouping = sp.csr_matrix((np.ones(n, dtype=np.float32), (group, np.arange(n))), shape=(n_groups, n))
        return BM25.from_counts(
            grouping @ self.counts, self.bm25.vocab, grouping @ self.bm25.doc_len, idf=IDF
        )

    @property
    def n_passages(self) -> int:
        return int(self.pids.size)

    def doc_mask(self, keep_doc: np.ndarray) -> np.ndarray:
        """Rows whose document is kept by a per-document boolean array."""
        return keep_doc[self.row_doc]
