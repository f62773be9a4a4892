"""Ranked passage search: the orchestration of planning (``plan``), ranking
(``ranking``, pure), filters, phrase matching (``phrases``), optional
pseudo-relevance feedback and hit building (``hits``).

With ``page_context``, the passage's score is joined by the same score over its
whole page, so a passage on a page that keeps returning to the topic outranks a
lone mention elsewhere. With ``expand``, RM3-style feedback adds the terms most
typical of the first-pass top passages with a small weight; it is off by
default because it lowered nDCG@10 on the judged queries.
"""

from __future__ import annotations

import logging

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX
from plansok.index.bm25 import top_k, top_k_sparse
from plansok.index.searcher import LoadedIndex
from plansok.models import Hit
from plansok.query import ranking
from plansok.query.filters import Filters
from plansok.query.hits import HitBuilder
from plansok.query.phrases import PhraseMatcher
from plansok.query.plan import Concept, QueryPlan, SearchOptions, plan_query
from plansok.query.ranking import Sparse
from plansok.query.terms import FormCache, TermResolver, WordTerms

logger = logging.getLogger(__name__)

_EMPTY: Sparse = (np.zeros(0, np.int64), np.zeros(0, np.float32))


def _dense(sparse: Sparse, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    out[sparse[0]] = sparse[1]
    return out


__all__ = ["Concept", "Filters", "QueryPlan", "SearchOptions", "Searcher"]


class Searcher:
    """Searches one loaded index. Cheap to call repeatedly."""

    def __init__(self, loaded: LoadedIndex, resolver: TermResolver | None = None) -> None:
        self.ix = loaded
        self.resolver = resolver or TermResolver()
        self.forms = FormCache(loaded.store)
        self.phrases = PhraseMatcher(loaded, self.forms)
        self.hits = HitBuilder(loaded, self.forms)
        self._inv: list[str] | None = None  # term id -> term, for feedback; built on first use
        self._csr = None

    def plan(self, query: str, opts: SearchOptions) -> QueryPlan:
        return plan_query(query, self.resolver, opts)

    def has_any(self, w: WordTerms) -> bool:
        """Whether the index holds any of the word's terms (whole or as a compound part)."""
        vocab = self.ix.bm25.vocab
        return any(t in vocab or PART_PREFIX + t in vocab for t in w.whole)

    def score(self, plan: QueryPlan, opts: SearchOptions, filters: Filters | None = None) -> np.ndarray:
        """``score_sparse`` as one score per passage."""
        return _dense(self.score_sparse(plan, opts, filters), self.ix.n_passages)

    def score_sparse(self, plan: QueryPlan, opts: SearchOptions, filters: Filters | None = None) -> Sparse:
        """(rows ascending, scores above 0) of the passages the plan's words
        reach, with page context, filters and excluded words applied. Only the
        rows some query term occurs in are touched."""
        if not plan.concepts or self.ix.n_passages == 0:
            return _EMPTY
        ids, total = ranking.combined_sparse(self.ix.bm25, plan, opts)
        if opts.page_context and ids.size:
            p_ids, p_vals = ranking.combined_sparse(self.ix.page_bm25, plan, opts)
            groups = self.ix.page_group[ids]
            total = total + np.float32(opts.page_context) * ranking.values_at(groups, p_ids, p_vals)
        keep = self._filter_keep(filters, ids)
        if plan.excluded_terms:
            out = ~ranking.ids_with_any(self.ix.bm25, ids, plan.excluded_terms)
            keep = out if keep is None else keep & out
        return (ids, total) if keep is None else (ids[keep], total[keep])

    def search(self, query: str, opts: SearchOptions | None = None, filters: Filters | None = None) -> list[Hit]:
        opts = opts or SearchOptions()
        plan = self.plan(query, opts)
        if not plan.concepts:
            if not (filters and filters.tags):
                return []
            return self._tagged_only(plan, self._tag_scores(filters), opts, filters)
        ids, scores = self.ranked(plan, opts, filters)
        fetch = opts.k * 4 + 20 if opts.fold_duplicates else opts.k
        rows, row_scores = top_k_sparse(ids, scores, fetch, positive=True)
        return self.hits.build(plan, rows, row_scores, opts)

    def match(
        self, query: str, opts: SearchOptions | None = None, filters: Filters | None = None
    ) -> tuple[QueryPlan, np.ndarray]:
        """The plan and every passage's score: the passages scoring above 0 are
        the query's hits. ``search`` ranks them; totals, hits grouped by
        document and matrices (``plansok.views``) count the same rows, so a
        count never disagrees with the list it summarises. Without words, the
        scores are the confidence of the ``filters``' tags."""
        plan, sparse = self.match_sparse(query, opts, filters)
        return plan, _dense(sparse, self.ix.n_passages)

    def match_sparse(
        self, query: str, opts: SearchOptions | None = None, filters: Filters | None = None
    ) -> tuple[QueryPlan, Sparse]:
        """``match`` as (rows ascending, scores above 0)."""
        opts = opts or SearchOptions()
        plan = self.plan(query, opts)
        if not plan.concepts and filters and filters.tags:
            scores = self._tag_scores(filters)
            rows = np.flatnonzero(scores > 0)
            return plan, (rows, scores[rows])
        return plan, self.ranked(plan, opts, filters)

    def ranked(self, plan: QueryPlan, opts: SearchOptions, filters: Filters | None = None) -> Sparse:
        """The scores of a planned query: words, phrases, filters and (with
        ``expand``) feedback from its first-pass top passages."""
        if not plan.concepts:
            return _EMPTY
        ids, scores = self.phrases.apply_sparse(plan, *self.score_sparse(plan, opts, filters))
        if opts.expand and any(not c.positional for c in plan.concepts):
            rows, top_scores = top_k_sparse(ids, scores, opts.expand_docs, positive=True)
            if rows.size >= 2:
                plan.expansion = self._expansion(plan, rows, top_scores, opts)
                if plan.expansion:
                    ids, scores = self.phrases.apply_sparse(plan, *self.score_sparse(plan, opts, filters))
        return ids, scores

    def _tag_scores(self, filters: Filters) -> np.ndarray:
        """Without words: per passage, its tags' confidence summed, where it passes the filters."""
        mask = self._filter_mask(filters)
        scores = sum(self.ix.tag_scores(t) for t in filters.tags)
        return np.where(mask, scores, 0) if mask is not None else scores

    def _filter_keep(self, filters: Filters | None, ids: np.ndarray) -> np.ndarray | None:
        """For each of the rows ``ids``, whether it passes ``filters`` (None: all
        do), looked up for those rows only: their documents and their tags."""
        if filters is None or ids.size == 0:
            return None
        keep_doc = np.fromiter((filters.accepts(d) for d in self.ix.docs), dtype=bool, count=len(self.ix.docs))
        keep = None
        if not keep_doc.all():
            pos = self.ix.row_doc[ids]  # -1: a document this commit does not list (as doc_mask reads it)
            keep = np.where(pos >= 0, keep_doc[np.maximum(pos, 0)], False)
        for tag in filters.tags:
            has = self.ix.tag_scores(tag)[ids] > 0
            keep = has if keep is None else keep & has
        return keep

    def _filter_mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        keep = np.fromiter((filters.accepts(d) for d in self.ix.docs), dtype=bool, count=len(self.ix.docs))
        mask = None if keep.all() else self.ix.doc_mask(keep)
        for tag in filters.tags:
            has = self.ix.tag_scores(tag) > 0
            mask = has if mask is None else mask & has
        return mask

    def _tagged_only(self, plan: QueryPlan, scores: np.ndarray, opts: SearchOptions, filters: Filters) -> list[Hit]:
        """No words, only --tag: the passages with the tags, most confident first."""
        rows, row_scores = top_k(scores, opts.k * 4 + 20)
        return self.hits.build(plan, rows, row_scores, opts, evidence_of=filters.tags)

    def _expansion(
        self, plan: QueryPlan, rows: np.ndarray, scores: np.ndarray, opts: SearchOptions
    ) -> dict[str, float]:
        bm = self.ix.bm25
        if self._csr is None:
            self._csr = bm.tfn.tocsr()
        if self._inv is None:
            inv = [""] * len(bm.vocab)
            for t, i in bm.vocab.items():
                inv[i] = t
            self._inv = inv
        return ranking.expansion_terms(bm, self._csr, self._inv, plan, rows, scores, opts)
