"""A real on-disk plansok index of a scaled corpus, for the full query path
(filters, feedback, folding, snippets, citations).

Scaled passages are grouped into synthetic documents of ``DOC_PASSAGES``
passages, each borrowing the metadata of one real document. A passage keeps
its original provenance (pages, section) and text, with ~10% of the text's
words replaced by ``f"{word}{copy % 97}"`` in copies after the first, like
its terms; its terms are exactly the scaled corpus's, so the ranking data
equals the peers'. The stored word forms of the sample are reused as is.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from plansok.analysis import ANALYSIS_VERSION
from plansok.bench.data import PERTURB_RATE, SEED, VARIANTS, Corpus

logger = logging.getLogger(__name__)

DOC_PASSAGES = 2_000
# Written in batches of about this many passages (eight at 1M: one size tier,
# merged into one segment by the index's policy; at 4M, four such segments).
BATCH_PASSAGES = 125_000


def _perturb(words: list[str], copy: int, rnd: random.Random) -> str:
    if copy == 0 or not words:
        return " ".join(words)
    k = max(1, round(len(words) * PERTURB_RATE))
    out = list(words)
    suffix = str(copy % VARIANTS)
    for i in rnd.sample(range(len(words)), min(k, len(words))):
        if out[i]:
            out[i] += suffix
    return " ".join(out)


def _doc_meta(j: int, template: dict[str, Any]) -> Any:
    from plansok.models import DocumentMeta

    meta = DocumentMeta.from_dict(template)
    meta.doc_id = f"bench-{j:05d}-{template['doc_id']}"[:80]
    meta.path = ""
    meta.sha256 = f"bench{j:059d}@{ANALYSIS_VERSION}"
    meta.title = f"{meta.title or template['doc_id']} (kopi {j})"
    return meta


def build_full_index(corpus: Corpus, sample: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Write ``corpus`` as a plansok index in ``out_dir``; returns counts,
    sizes and ``write_s``, the time spent in ``IndexStore.add_documents``
    (segments, SQLite, merges), apart from making the batches' documents."""
    from plansok.analysis.prose import left_out_kind
    from plansok.index.store import IndexStore
    from plansok.models import AnalysedDoc, Page, Passage

    assert corpus.src is not None and corpus.copy is not None
    passages = sample["passages"]
    words = [p["text"].split(" ") for p in passages]
    doc_len = sample["doc_len"]
    templates = list(sample["docs"].values())
    forms = {f: t for f, t in sample["forms"]}
    objs = np.asarray(corpus.vocab, dtype=object)
    # What results leave out, classified at analysis as ingest does (outside the
    # timed writes, like the terms); a scaled copy has its source passage's form.
    kinds = [left_out_kind(p["text"]) for p in passages]
    rnd = random.Random(SEED)
    n_docs = math.ceil(corpus.n / DOC_PASSAGES)
    per_batch = math.ceil(n_docs / math.ceil(corpus.n / BATCH_PASSAGES))
    store = IndexStore(out_dir, create=True)
    src, copy, off = corpus.src.tolist(), corpus.copy.tolist(), corpus.off.tolist()
    write_s = 0.0
    try:
        for b0 in range(0, n_docs, per_batch):
            batch = []
            for j in range(b0, min(b0 + per_batch, n_docs)):
                lo, hi = j * DOC_PASSAGES, min((j + 1) * DOC_PASSAGES, corpus.n)
                meta = _doc_meta(j, templates[j % len(templates)])
                flat = objs[corpus.tok[off[lo] : off[hi]]].tolist()
                terms, lengths, plist, kind = [], [], [], []
                for r in range(lo, hi):
                    s = src[r]
                    p = passages[s]
                    terms.append(flat[off[r] - off[lo] : off[r + 1] - off[lo]])
                    lengths.append(int(doc_len[s]))
                    kind.append(kinds[s])
                    plist.append(
                        Passage(
                            meta.doc_id,
                            r - lo,
                            _perturb(words[s], copy[r], rnd),
                            p["page_start"],
                            p["page_end"],
                            p["section"],
                            p["page_label"],
                            p["source"],
                        )
                    )
                n_pages = max(p.page_end for p in plist)
                meta.n_pages = n_pages
                pages = [Page(number=i, text="", label=None, source="text") for i in range(1, n_pages + 1)]
                batch.append(AnalysedDoc(meta, pages, plist, terms, lengths, forms if j == 0 else {}, [], kind))
            t0 = time.perf_counter()
            store.add_documents(batch)
            write_s += time.perf_counter() - t0
            logger.debug("wrote documents %d-%d", b0, b0 + len(batch) - 1)
            del batch
        n_segments = len(store.segment_names())
    finally:
        store.close()
    disk = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    seg_disk = sum(f.stat().st_size for f in (out_dir / "segments").glob("*.npz"))
    return {
        "documents": n_docs,
        "segments": n_segments,
        "disk_mb": disk / 2**20,
        "segments_mb": seg_disk / 2**20,
        "write_s": write_s,
    }


def load_sample_meta(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
