"""Benchmark data: the real passages of the sample corpus, and scaled-up
copies of them with perturbed tokens.

The sample index is read once into ``sample.json`` (passage texts and
provenance, document metadata, the stored word forms, the vocabulary) and
``sample.npz`` (every passage's analysed terms as one flat array of term ids
with offsets). A scaled corpus of N passages repeats the sample: copy ``i``
(0 is the original) replaces a random ~10% of its tokens with the variant
``f"{tok}{i % 97}"``, so the vocabulary grows and posting lists are not
identical copies. Every system reads the same scaled file.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

PERTURB_RATE = 0.10
VARIANTS = 97
SEED = 20240611

# Realistic queries (lemmas as plansok indexes them), used where every term
# occurs in the sample; random mid-frequency terms fill up the list.
REALISTIC_QUERIES = [
    "barnefattigdom",
    "sosialhjelp",
    "livskvalitet",
    "bolig",
    "folkehelse",
    "tidlig innsats",
    "frivillighet",
    "beredskap",
    "levekår",
    "psykisk helse",
    "universell utforming",
    "fattigdom barn",
]


@dataclass
class Corpus:
    """Passages as term ids: passage ``j`` holds ``tok[off[j]:off[j+1]]``."""

    tok: np.ndarray  # int32
    off: np.ndarray  # int64, n + 1
    vocab: list[str]
    src: np.ndarray | None = None  # original passage of each row (scaled corpora)
    copy: np.ndarray | None = None  # copy number of each row (scaled corpora)

    @property
    def n(self) -> int:
        return len(self.off) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.off[-1])

    def _split(self, flat: list[Any]) -> list[list[Any]]:
        bounds = self.off.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(bounds)]

    def token_lists(self) -> list[list[str]]:
        """One list of term strings per passage (strings shared, not copied)."""
        objs = np.asarray(self.vocab, dtype=object)
        return self._split(objs[self.tok].tolist())

    def id_lists(self) -> list[list[int]]:
        """One list of term ids per passage (int objects shared)."""
        objs = np.asarray(list(range(len(self.vocab))), dtype=object)
        return self._split(objs[self.tok].tolist())

    def texts(self) -> list[str]:
        return [" ".join(t) for t in self.token_lists()]

    def counts(self) -> sp.csr_matrix:
        """Passages x terms raw term counts."""
        ones = np.ones(self.n_tokens, dtype=np.float32)
        mat = sp.csr_matrix((ones, self.tok, self.off), shape=(self.n, len(self.vocab)))
        mat.sum_duplicates()
        return mat

    def save(self, path: Path) -> None:
        extra = {}
        if self.src is not None and self.copy is not None:
            extra = {"src": self.src, "copy": self.copy}
        vocab_bytes = np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8)
        np.savez(path, tok=self.tok, off=self.off, vocab=vocab_bytes, **extra)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        with np.load(path) as z:
            vocab = z["vocab"].tobytes().decode("utf-8").split("\n")
            src = z.get("src", None)
            copy = z.get("copy", None)
            return cls(z["tok"], z["off"], vocab, src, copy)


# -- the sample ---------------------------------------------------------------------
def extract_sample(index_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Read passages, terms and forms of an ingested index into ``out_dir``."""
    from plansok.index.segment_format import LiveMap
    from plansok.index.store import IndexStore

    st = IndexStore(index_dir)
    try:
        vocab: dict[str, int] = {}
        blocks, pids, doc_len = [], [], []
        for seg, live in st.live_segments():
            rows = LiveMap.of(seg.doc_rows, live)
            local = rows.to_local(np.arange(rows.n_live))
            remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in seg.terms()), np.int64, count=seg.n_terms)
            csr = seg.counts_csr()[local]
            blocks.append((csr.data, remap[csr.indices], csr.indptr, csr.shape[0]))
            pids.append(np.asarray(seg.row_pid)[local])
            doc_len.append(np.asarray(seg.row_len)[local])
        if not blocks or sum(b[3] for b in blocks) == 0:
            raise RuntimeError(f"{index_dir}: the sample index has no passages")
        counts = sp.vstack([sp.csr_matrix((d, i, p), shape=(n, len(vocab))) for d, i, p, n in blocks], format="csr")
        rows = st.db.execute(
            "SELECT pid, doc_id, ordinal, page_start, page_end, page_label, section, source, text FROM passages"
        ).fetchall()
        by_pid = {r[0]: r for r in rows}
        passages = []
        for pid in np.concatenate(pids).tolist():
            r = by_pid[pid]
            passages.append(
                {
                    "doc_id": r[1],
                    "ordinal": r[2],
                    "page_start": r[3],
                    "page_end": r[4],
                    "page_label": r[5],
                    "section": r[6],
                    "source": r[7],
                    "text": r[8],
                }
            )
        docs = {d.doc_id: d.to_dict() for d in st.documents()}
        forms = st.db.execute("SELECT form, terms FROM forms").fetchall()
    finally:
        st.close()
    counts.sort_indices()
    reps = counts.data.astype(np.int64)
    tok = np.repeat(counts.indices, reps).astype(np.int32)
    row_len = np.asarray(counts.sum(axis=1)).ravel().astype(np.int64)
    off = np.concatenate([[0], np.cumsum(row_len)]).astype(np.int64)
    corpus = Corpus(tok, off, list(vocab))
    corpus.save(out_dir / "sample.npz")
    meta = {
        "passages": passages,
        "docs": docs,
        "forms": [list(f) for f in forms],
        "doc_len": np.concatenate(doc_len).tolist(),
    }
    (out_dir / "sample.json").write_text(json.dumps(meta, ensure_ascii=False))
    logger.info("sample: %d passages, %d terms, %d tokens", corpus.n, len(corpus.vocab), corpus.n_tokens)
    return meta


# -- scaling up -----------------------------------------------------------------------
def scale(sample: Corpus, n: int, seed: int = SEED) -> Corpus:
    """``n`` passages: the sample repeated, copy i > 0 with ~10% of its tokens
    replaced by ``f"{tok}{i % 97}"``."""
    n0 = sample.n
    rows = np.arange(n, dtype=np.int64)
    src = (rows % n0).astype(np.int32)
    copy = (rows // n0).astype(np.int32)
    base_len = np.diff(sample.off)
    lens = base_len[src]
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    total = int(off[-1])
    # Position of every output token in the sample's flat array.
    pos = np.repeat(sample.off[:-1][src] - off[:-1], lens) + np.arange(total, dtype=np.int64)
    tok = sample.tok[pos]
    del pos
    tok_copy = np.repeat(copy, lens)
    rng = np.random.default_rng(seed)
    mask = (rng.random(total, dtype=np.float32) < PERTURB_RATE) & (tok_copy > 0)
    keys = tok[mask].astype(np.int64) * VARIANTS + (tok_copy[mask] % VARIANTS)
    del tok_copy
    uniq, inv = np.unique(keys, return_inverse=True)
    vocab = list(sample.vocab)
    ids = {t: i for i, t in enumerate(vocab)}
    target = np.empty(len(uniq), dtype=np.int32)
    for j, key in enumerate(uniq.tolist()):
        term = f"{vocab[key // VARIANTS]}{key % VARIANTS}"
        tid = ids.get(term)
        if tid is None:  # a variant may equal a real term ("3" + "5"); then it is that term
            tid = ids[term] = len(vocab)
            vocab.append(term)
        target[j] = tid
    tok[mask] = target[inv]
    return Corpus(tok.astype(np.int32), off, vocab, src, copy)


# -- queries ------------------------------------------------------------------------------
def make_queries(sample: Corpus, n_random: int = 12, seed: int = SEED) -> tuple[list[list[str]], list[str]]:
    """Term lists for the ranking benchmark and query strings for the full
    query, the same queries in both forms."""
    counts = sample.counts()
    df = np.bincount(counts.indices, minlength=len(sample.vocab))
    present = {t for t, d in zip(sample.vocab, df.tolist()) if d > 0}
    texts = [q for q in REALISTIC_QUERIES if all(w in present for w in q.split())]
    lo, hi = max(2, int(0.002 * sample.n)), max(3, int(0.03 * sample.n))
    mid = [t for t, d in zip(sample.vocab, df.tolist()) if lo <= d <= hi and t.isalpha() and len(t) > 3]
    rng = random.Random(seed)
    picks = rng.sample(mid, min(len(mid), n_random + n_random // 2))
    singles = picks[: n_random // 2]
    pairs = [f"{a} {b}" for a, b in zip(picks[n_random // 2 :: 2], picks[n_random // 2 + 1 :: 2])]
    texts += singles + pairs
    if not texts:
        texts = [sample.vocab[int(np.argmax(df))]]
    return [q.split() for q in texts], texts
