"""Ranking: pure functions from a query plan and a BM25 unit to scores.

Per concept c, ``s_c(d) = sum over its terms t of w_t * idf(t) * tfn(t, d)``.
The passage score is ``sum_c s_c * matched / n_concepts`` (coordination:
passages meeting more concepts rank first, partial matches still count). The
searcher adds ``page_context`` times the same score over the passage's page.
Nothing here reads the store or keeps state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX
from plansok.index.bm25 import ScoringUnit as BM25  # in memory or memory-mapped
from plansok.query.plan import QueryPlan, SearchOptions

# A sparse score vector: (ids ascending, float32 scores) over a BM25 unit.
Sparse = tuple[np.ndarray, np.ndarray]


def _term_pairs(bm: BM25, weights: dict[str, float]) -> list[tuple[int, float]]:
    pairs: list[tuple[int, float]] = []
    for term, wt in weights.items():
        tid = bm.vocab.get(term)
        if tid is None:
            continue
        if term.startswith(PART_PREFIX):
            # A compound part never outweighs the whole word (its idf is
            # often higher only because parts are rarer than words).
            whole = bm.vocab.get(term[len(PART_PREFIX) :])
            if whole is not None and bm.idf[tid] > bm.idf[whole] > 0:
                wt = wt * float(bm.idf[whole] / bm.idf[tid])
        pairs.append((tid, wt))
    return pairs


def _union_sum(parts: Sequence[Sparse]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, sums, how many parts hold each id) of sparse vectors with distinct
    ids each; sums in float64 in part order, as adding dense arrays would."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64)
    if len(parts) == 1:
        ids, vals = parts[0]
        return ids, vals, np.ones(ids.size, np.int64)
    ids = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts]).astype(np.float64)
    order = np.argsort(ids, kind="stable")  # each part ascends: the sort merges runs
    ids = ids[order]
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    sums = np.add.reduceat(vals[order], starts).astype(np.float32)
    return ids[starts], sums, np.diff(np.append(starts, ids.size))


def concept_sparse(bm: BM25, weights: dict[str, float]) -> Sparse:
    """s_c = sum over the concept's terms of w_t * idf(t) * tfn(t, d), where any term occurs."""
    return bm.sparse_scores(_term_pairs(bm, weights))


def group_sparse(bm: BM25, group: dict[str, float]) -> Sparse:
    """The group's terms' scores summed, only where every term of the group occurs."""
    parts = [concept_sparse(bm, {term: wt}) for term, wt in group.items()]
    if not parts or any(p[0].size == 0 for p in parts):
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids, sums, count = _union_sum(parts)
    every = count == len(parts)
    return ids[every], sums[every]


def concept_scores(bm: BM25, weights: dict[str, float]) -> np.ndarray:
    """Dense ``concept_sparse`` (one score per unit)."""
    out = np.zeros(bm.n_docs, dtype=np.float32)
    ids, vals = concept_sparse(bm, weights)
    out[ids] = vals
    return out


def combined_sparse(bm: BM25, plan: QueryPlan, opts: SearchOptions) -> Sparse:
    """Concept scores summed, with coordination, on one BM25 unit (passages or
    pages), over the units some term occurs in: the cost follows the query's
    postings, not the size of the index."""
    concepts = []
    for c in plan.concepts:
        ids, vals, _ = _union_sum([concept_sparse(bm, c.weights), *(group_sparse(bm, g) for g in c.groups)])
        keep = vals > 0
        concepts.append((ids[keep], vals[keep]))
    ids, total, matched = _union_sum(concepts)
    n = len(plan.concepts)
    if opts.coordination and n > 1:
        total = total * (matched.astype(np.float32) / n)
    if opts.require_all:
        total = np.where(matched < n, np.float32(0), total)
    if plan.expansion:
        e_ids, extra = concept_sparse(bm, plan.expansion)
        if e_ids.size:
            # Feedback terms re-rank what the query found and may add passages it
            # missed, at half weight, so they never outweigh the query itself.
            all_ids = np.union1d(ids, e_ids)
            out = np.zeros(all_ids.size, dtype=np.float32)
            out[np.searchsorted(all_ids, ids)] = total
            at = np.searchsorted(all_ids, e_ids)
            out[at] += np.where(out[at] > 0, extra, np.float32(0.5) * extra)
            ids, total = all_ids, out
    keep = total > 0
    return ids[keep], total[keep]


def _find_sorted(ids: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``ids``: its position in ``rows`` (ascending, not empty), or
    a neighbour's, and whether it is there."""
    pos = np.minimum(np.searchsorted(rows, ids), rows.size - 1)
    return pos, rows[pos] == ids


def isin_sorted(ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``ids``, whether it is in ``rows`` (ascending)."""
    if rows.size == 0:
        return np.zeros(ids.size, dtype=bool)
    return _find_sorted(ids, rows)[1]


def values_at(ids: np.ndarray, rows: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """For each of ``ids``, the value of the sparse vector (``rows`` ascending,
    ``vals``) there, 0 where it has none."""
    if rows.size == 0:
        return np.zeros(ids.size, dtype=vals.dtype)
    pos, found = _find_sorted(ids, rows)
    return np.where(found, vals[pos], vals.dtype.type(0))


def ids_with_any(bm: BM25, ids: np.ndarray, terms: set[str]) -> np.ndarray:
    """For each of ``ids``, whether its unit holds any of ``terms``."""
    mask = np.zeros(ids.size, dtype=bool)
    for t in terms:
        tid = bm.vocab.get(t)
        if tid is not None:
            mask |= isin_sorted(ids, bm.postings(tid)[0])
    return mask


def has_term(bm: BM25, row: int, term: str) -> bool:
    """Whether passage ``row`` contains ``term`` (posting lists are sorted)."""
    tid = bm.vocab.get(term)
    if tid is None:
        return False
    rows = bm.postings(tid)[0]
    i = int(np.searchsorted(rows, row))
    return i < rows.size and int(rows[i]) == row


def expansion_terms(
    bm: BM25,
    csr,  # scipy CSR of bm.tfn: one row per passage
    inverse_vocab: Sequence[str],
    plan: QueryPlan,
    rows: np.ndarray,
    scores: np.ndarray,
    opts: SearchOptions,
) -> dict[str, float]:
    """RM3-style feedback: terms weighted by their share of each top passage,
    times the passage's score, times idf; only terms found in at least two of
    the feedback passages, so one odd passage adds nothing."""
    query_terms = {t for c in plan.concepts for t in c.weights}
    acc: dict[int, float] = {}
    seen: dict[int, int] = {}
    norm = scores / scores.sum()
    for row, w in zip(rows, norm):
        lo, hi = csr.indptr[row], csr.indptr[row + 1]
        tids, vals = csr.indices[lo:hi], csr.data[lo:hi]
        share = vals / vals.sum() if vals.sum() else vals
        for tid, v in zip(tids.tolist(), share.tolist()):
            acc[tid] = acc.get(tid, 0.0) + w * v
            seen[tid] = seen.get(tid, 0) + 1
    cands = []
    for tid, v in acc.items():
        term = inverse_vocab[tid]
        if seen[tid] < 2 or term in query_terms or not term.isalpha():
            continue
        cands.append((v * float(bm.idf[tid]), term))
    cands.sort(reverse=True)
    best = cands[: opts.expand_terms]
    if not best:
        return {}
    top = best[0][0]
    return {term: opts.expand_weight * v / top for v, term in best}
