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
from plansok.index.bm25 import BM25
from plansok.query.plan import QueryPlan, SearchOptions


def concept_scores(bm: BM25, weights: dict[str, float]) -> np.ndarray:
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
    return bm.weighted_scores(pairs)


def group_scores(bm: BM25, group: dict[str, float]) -> np.ndarray:
    """Scores where every term of the group occurs, zero elsewhere."""
    total = np.zeros(bm.n_docs, dtype=np.float32)
    present = np.ones(bm.n_docs, dtype=bool)
    for term, wt in group.items():
        s = concept_scores(bm, {term: wt})
        total += s
        present &= s > 0
    return total * present


def combined(bm: BM25, plan: QueryPlan, opts: SearchOptions) -> np.ndarray:
    """Concept scores summed, with coordination, on one BM25 unit (passages or pages)."""
    total = np.zeros(bm.n_docs, dtype=np.float32)
    matched = np.zeros(bm.n_docs, dtype=np.float32)
    for c in plan.concepts:
        s = concept_scores(bm, c.weights)
        for group in c.groups:
            s += group_scores(bm, group)
        total += s
        matched += s > 0
    if opts.coordination and len(plan.concepts) > 1:
        total *= matched / len(plan.concepts)
    if opts.require_all:
        total[matched < len(plan.concepts)] = 0
    if plan.expansion:
        extra = concept_scores(bm, plan.expansion)
        # Feedback terms re-rank what the query found and may add passages it
        # missed, at half weight, so they never outweigh the query itself.
        total += np.where(total > 0, extra, 0.5 * extra)
    return total


def rows_with_any(bm: BM25, terms: set[str]) -> np.ndarray:
    mask = np.zeros(bm.n_docs, dtype=bool)
    for t in terms:
        tid = bm.vocab.get(t)
        if tid is not None:
            mask[bm.postings(tid)[0]] = True
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
