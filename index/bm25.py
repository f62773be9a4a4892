"""Okapi BM25 over a sparse passage-term matrix, scored with vectorised numpy.

With ``idf="okapi"`` scoring follows rank_bm25's ``BM25Okapi`` exactly (same
idf with the epsilon floor for terms in more than half the passages), so its
scores can be checked against that library, but a query costs one gather over
the query terms' posting lists instead of a Python loop over every passage.

    idf(t)   = ln((N - df + 0.5) / (df + 0.5)), floored at epsilon * mean(idf)

The index uses ``idf="lucene"``, ln(1 + (N - df + 0.5) / (df + 0.5)), which is
never zero or negative: Okapi's idf is 0 for a word in half the passages and
negative (then floored by a mean that can itself be negative) in a one- or
two-document index, so a word that is there would find nothing.
    tfn(t,d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avglen))
    score(d) = sum over query terms t (with their weights) of idf(t) * tfn(t,d)

``tfn`` depends on the corpus only through ``avglen``. This in-memory class
computes it once and stores it column-wise (CSC): a term's postings are one
slice. The on-disk index (``plansok.index.searcher``) uses the same formulas
(``tfn_values``, ``lucene_idf``) on memory-mapped postings, per query term.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # scipy is imported where a matrix is built: a cold `plansok query` never needs it
    import scipy.sparse as sp

K1 = 1.5
B = 0.75
EPSILON = 0.25


def length_norm(length: np.ndarray, avg: float, k1: float = K1, b: float = B) -> np.ndarray:
    """k1 * (1 - b + b * len(d) / avglen) for float32 lengths: the part of
    ``tfn`` that depends on the passage, not the term."""
    return (k1 * (1.0 - b + b * length / avg)).astype(np.float32, copy=False)


def tfn_from_norm(tf: np.ndarray, norm: np.ndarray, k1: float = K1) -> np.ndarray:
    return (tf * (k1 + 1.0) / (tf + norm)).astype(np.float32, copy=False)


def tfn_values(tf: np.ndarray, length: np.ndarray, avg: float, k1: float = K1, b: float = B) -> np.ndarray:
    """BM25's term-frequency part for float32 ``tf`` and ``length`` (the same
    operations in the same order everywhere, so in-memory and on-disk scores agree)."""
    return tfn_from_norm(tf, length_norm(length, avg, k1, b), k1)


def lucene_idf(df: np.ndarray | float, n: int) -> np.ndarray:
    """ln(1 + (N - df + 0.5) / (df + 0.5)): never zero or negative."""
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n - df + 0.5) / (df + 0.5))


class ScoringUnit(Protocol):
    """What ranking needs of a BM25 unit: the in-memory ``BM25`` below, or the
    memory-mapped ``plansok.index.searcher.MappedBM25``."""

    vocab: Mapping[str, int]
    idf: Any  # idf[term id] -> float32
    n_docs: int

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]: ...

    def sparse_scores(self, weighted: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]: ...

    def weighted_scores(self, weighted: Sequence[tuple[int, float]]) -> np.ndarray: ...


@dataclass
class BM25:
    vocab: dict[str, int]
    tfn: sp.csc_matrix  # passages x terms, float32 BM25 term-frequency part
    idf: np.ndarray  # per term, float32
    doc_len: np.ndarray
    k1: float = K1
    b: float = B

    @property
    def n_docs(self) -> int:
        return int(self.tfn.shape[0])

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_counts(
        cls,
        counts: sp.spmatrix,
        vocab: dict[str, int],
        doc_len: np.ndarray | None = None,
        *,
        k1: float = K1,
        b: float = B,
        epsilon: float = EPSILON,
        idf: str = "okapi",
    ) -> BM25:
        """Build from a passages x terms matrix of raw term frequencies.

        ``doc_len`` defaults to the row sums; the index passes the number of
        content words instead so compound parts do not lengthen a passage.
        """
        import scipy.sparse as sp

        csr = sp.csr_matrix(counts, dtype=np.float32)
        n = csr.shape[0]
        if doc_len is None:
            doc_len = np.asarray(csr.sum(axis=1)).ravel()
        doc_len = np.asarray(doc_len, dtype=np.float32)
        avg = float(doc_len.mean()) if n else 0.0
        avg = avg or 1.0
        # Normalise each stored tf in place: row i's entries share len(d_i).
        row_of = np.repeat(np.arange(n), np.diff(csr.indptr))
        csr.data = tfn_values(csr.data, doc_len[row_of], avg, k1, b)
        df = np.bincount(csr.indices, minlength=csr.shape[1]).astype(np.float64)
        if idf == "lucene":
            weights = lucene_idf(df, n)
        elif idf == "okapi":
            weights = np.log(n - df + 0.5) - np.log(df + 0.5)
            if weights.size:
                # rank_bm25 floors negative idf at epsilon * the mean idf over the vocabulary.
                weights = np.where(weights < 0, epsilon * weights.mean(), weights)
        else:
            raise ValueError(f"idf must be 'okapi' or 'lucene', not {idf!r}")
        return cls(vocab=vocab, tfn=csr.tocsc(), idf=weights.astype(np.float32), doc_len=doc_len, k1=k1, b=b)

    @classmethod
    def from_token_lists(cls, corpus: Sequence[Sequence[str]], **kw: Any) -> BM25:
        """Build from tokenised passages (the same input rank_bm25 takes)."""
        counts, vocab = count_matrix(corpus)
        return cls.from_counts(counts, vocab, **kw)  # type: ignore[arg-type]

    # -- scoring -------------------------------------------------------------------
    def term_ids(self, terms: Iterable[str]) -> list[int]:
        return [self.vocab[t] for t in terms if t in self.vocab]

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, tfn values) of one term."""
        lo, hi = self.tfn.indptr[tid], self.tfn.indptr[tid + 1]
        return self.tfn.indices[lo:hi], self.tfn.data[lo:hi]

    def weighted_scores(self, weighted: Sequence[tuple[int, float]]) -> np.ndarray:
        """Dense scores for (term id, weight) pairs: sum of weight * idf * tfn."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        if not weighted:
            return scores
        idx_parts, val_parts = [], []
        for tid, w in weighted:
            ids, vals = self.postings(tid)
            idx_parts.append(ids)
            val_parts.append(vals * np.float32(w * self.idf[tid]))
        idx = np.concatenate(idx_parts)
        vals = np.concatenate(val_parts)
        if len(weighted) == 1:
            scores[idx] = vals
        else:
            scores += np.bincount(idx, weights=vals, minlength=self.n_docs).astype(np.float32)
        return scores

    def sparse_scores(self, weighted: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, scores) where ``weighted_scores`` is not zero."""
        scores = self.weighted_scores(weighted)
        ids = np.flatnonzero(scores)
        return ids, scores[ids]

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        """Scores of every passage for a token list, like ``BM25Okapi.get_scores``
        (a repeated query token counts again; unknown tokens count nothing)."""
        weights: dict[int, float] = {}
        for t in query:
            tid = self.vocab.get(t)
            if tid is not None:
                weights[tid] = weights.get(tid, 0.0) + 1.0
        return self.weighted_scores(list(weights.items())).astype(np.float64)

    def top_k(self, query: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return top_k(self.get_scores(query), k)


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best positive scores, best first."""
    if mask is not None:
        scores = np.where(mask, scores, 0)
    nz = np.flatnonzero(scores > 0)
    if nz.size == 0:
        return nz, scores[nz]
    if nz.size > k:
        part = np.argpartition(-scores[nz], k - 1)[:k]
        nz = nz[part]
    order = np.lexsort((nz, -scores[nz]))  # ties broken by position, for stable output
    best = nz[order]
    return best, scores[best]


def top_k_sparse(ids: np.ndarray, scores: np.ndarray, k: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` over scores given only where they may be non-zero (``ids``
    ascending): the same rows, order and tie-breaking as on the dense array.
    ``positive``: every score is known to be above 0 (scores of postings)."""
    if not positive:
        pos = scores > 0
        ids, scores = ids[pos], scores[pos]
    if ids.size > k:
        part = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[part], scores[part]
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


def count_matrix(
    corpus: Sequence[Sequence[str]], vocab: dict[str, int] | None = None
) -> tuple[sp.csr_matrix, dict[str, int]]:
    """A passages x terms count matrix, growing ``vocab`` as new terms appear."""
    vocab = {} if vocab is None else vocab
    indptr = [0]
    indices: list[int] = []
    data: list[int] = []
    for tokens in corpus:
        counts: dict[int, int] = {}
        for t in tokens:
            tid = vocab.setdefault(t, len(vocab))
            counts[tid] = counts.get(tid, 0) + 1
        indices.extend(counts.keys())
        data.extend(counts.values())
        indptr.append(len(indices))
    import scipy.sparse as sp

    mat = sp.csr_matrix(
        (
            np.asarray(data, dtype=np.float32),
            np.asarray(indices, dtype=np.int32),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(corpus), len(vocab)),
    )
    return mat, vocab
