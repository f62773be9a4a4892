"""An index loaded for searching: postings merged in memory and BM25-ready.

Loading reads the live rows of every segment once; a query then touches only
the posting lists of its terms. Load once per process and reuse (the Python
API and ``plansok serve`` do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from plansok.index.bm25 import BM25
from plansok.index.store import IndexStore, merge

from plansok.models import DocumentMeta

logger = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    store: IndexStore
    bm25: BM25
    pids: np.ndarray  # row -> passage id in the store
    row_doc: np.ndarray  # row -> position in ``docs``
    docs: list[DocumentMeta]
    doc_pos: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, store: IndexStore) -> LoadedIndex:
        docs = store.documents()
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}
        seg = merge(store.live_segments())
        if seg is None or len(seg.pids) == 0:
            bm25 = BM25.from_counts(np.zeros((0, 0), dtype=np.float32), {})
            return cls(store, bm25, np.zeros(0, np.int64), np.zeros(0, np.int32), docs, doc_pos)
        vocab = {t: i for i, t in enumerate(seg.vocab.tolist())}
        bm25 = BM25.from_counts(seg.counts, vocab, seg.doc_len)
        row_doc = np.fromiter(
            (doc_pos.get(d, -1) for d in seg.doc_ids.tolist()), dtype=np.int32, count=len(seg.doc_ids)
        )
        return cls(store, bm25, seg.pids, row_doc, docs, doc_pos)

    @property
    def n_passages(self) -> int:
        return int(self.pids.size)

    def doc_mask(self, keep_doc: np.ndarray) -> np.ndarray:
        """Rows whose document is kept by a per-document boolean array."""
        return keep_doc[self.row_doc]
