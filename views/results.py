"""Results as a researcher counts them: the total number of passages a query
matches (not only the k shown), hits grouped by document (one best passage
per plan, with the number of hits in that plan), and reference lists and
contents pages left out unless asked for.

What a hit is, here and in matrices (:mod:`plansok.views.matrix`): a passage
the query matches under the filters, i.e. one that ``Searcher.match`` scores
above 0 (a lemma, stem or compound part of a query word; a phrase only as a
phrase; none of the excluded words). With only tags and no words, a passage
carrying all the tags. Each passage counts once, including near-duplicate
copies in other plans: folding copies under one hit is how the ranked list is
shown, not what is counted, because each copy stands in its own plan.

Reference lists and contents pages are recognised by their form alone
(:func:`plansok.analysis.prose.why_not_prose`: "references" or "contents"); they
match the words of almost any query without saying anything about them.
They are left out of the hits, the totals and the matrices by default, and
the number left out is reported. Tables and lists are kept: a plan's
measures are often a list, its targets a table.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plansok.analysis.analyzer import TOKEN_RE
from plansok.analysis.prose import LEFT_OUT  # the kinds of non-prose left out of results by default
from plansok.index.searcher import LoadedIndex
from plansok.models import Hit
from plansok.query.filters import Filters
from plansok.query.plan import QueryPlan, SearchOptions
from plansok.query.search import Searcher

LEFT_OUT_NAMES = {"references": "reference lists", "contents": "contents pages"}


class PassageFacts:
    """Per passage of one loaded index: its number of words and whether it
    is a reference list or contents page. Read from the stored text on first
    use and kept, since the passages of one commit never change."""

    def __init__(self, ix: LoadedIndex) -> None:
        self.ix = ix
        self._words: dict[int, int] = {}
        self._lock = threading.Lock()
        self._row_of_pid: tuple[np.ndarray, np.ndarray] | None = None
        self._left_out: tuple[np.ndarray, list[str]] | None = None

    def _load(self, pids: list[int]) -> None:
        missing = [p for p in pids if p not in self._words]
        if not missing:
            return
        passages = self.ix.store.passages_by_pid(missing)
        with self._lock:
            for pid in missing:
                p = passages.get(pid)
                text = p.text if p is not None else ""
                # Words as the analysis reads them, numbers aside: a table of
                # figures should not dilute a rate per 10,000 words.
                self._words[pid] = sum(1 for m in TOKEN_RE.finditer(text) if not m.group().isdigit())

    def words(self, rows: np.ndarray) -> np.ndarray:
        pids = self.ix.pids[rows].tolist() if len(rows) else []
        self._load(pids)
        return np.fromiter((self._words[p] for p in pids), dtype=np.int64, count=len(pids))

    def kinds(self, rows: np.ndarray) -> list[str | None]:
        """Per row, "references", "contents" or None (a passage results may
        show), as recorded at ingest: no passage text is read."""
        left_pids, left_kinds = self._left_out_pids()
        if not len(rows) or not len(left_pids):
            return [None] * len(rows)
        pids = np.asarray(self.ix.pids)[rows]
        at = np.minimum(np.searchsorted(left_pids, pids), len(left_pids) - 1)
        found = left_pids[at] == pids
        return [left_kinds[i] if f else None for f, i in zip(found.tolist(), at.tolist())]

    def _left_out_pids(self) -> tuple[np.ndarray, list[str]]:
        with self._lock:
            if self._left_out is None:
                self._left_out = self.ix.store.left_out_kinds()
            return self._left_out

    def rows_of_pids(self, pids: Sequence[int]) -> dict[int, int]:
        """pid -> row in this commit, for the pids that are live in it."""
        if self._row_of_pid is None:
            all_pids = np.asarray(self.ix.pids)
            order = np.argsort(all_pids, kind="stable")
            self._row_of_pid = (all_pids[order], order)
        sorted_pids, order = self._row_of_pid
        out = {}
        for pid in pids:
            i = int(np.searchsorted(sorted_pids, pid))
            if i < len(sorted_pids) and sorted_pids[i] == pid:
                out[int(pid)] = int(order[i])
        return out


_FACTS: weakref.WeakKeyDictionary[LoadedIndex, PassageFacts] = weakref.WeakKeyDictionary()
_FACTS_LOCK = threading.Lock()


def facts(ix: LoadedIndex) -> PassageFacts:
    with _FACTS_LOCK:
        f = _FACTS.get(ix)
        if f is None:
            f = _FACTS[ix] = PassageFacts(ix)
        return f


@dataclass
class Matches:
    """Every passage a query matches, best first."""

    plan: QueryPlan
    rows: np.ndarray
    scores: np.ndarray
    left_out: dict[str, int] = field(default_factory=dict)  # kind -> passages left out

    @property
    def total(self) -> int:
        return len(self.rows)


def find_matches(
    searcher: Searcher,
    query: str,
    opts: SearchOptions,
    filters: Filters | None = None,
    include_references: bool = False,
) -> Matches:
    plan, (rows, scores) = searcher.match_sparse(query, opts, filters)
    # Best first, ties by position: the order search() ranks them in.
    order = np.lexsort((rows, -scores))
    rows, scores = rows[order], scores[order]
    left_out: dict[str, int] = {}
    if not include_references and rows.size:
        kinds = facts(searcher.ix).kinds(rows)
        keep = np.fromiter((k is None for k in kinds), dtype=bool, count=len(kinds))
        left_out = dict(Counter(k for k in kinds if k is not None))
        rows = rows[keep]
        scores = scores[keep]
    return Matches(plan, rows, scores, left_out)


def left_out_text(left_out: dict[str, int]) -> str:
    """ "2 reference lists and 1 contents page" (empty when none)."""
    parts = []
    for kind in LEFT_OUT:
        n = left_out.get(kind, 0)
        if n:
            name = LEFT_OUT_NAMES[kind]
            parts.append(f"{n} {name if n != 1 else name[:-1]}")
    return " and ".join(parts)


@dataclass
class DocumentGroup:
    """A plan's best passage for a query, and how many of its passages match."""

    hit: Hit
    passages: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.hit.to_dict(), "hits_in_document": self.passages}


@dataclass
class SearchResults:
    """A query's hits with the total behind them: the ranked passages, or one
    group per document (``by_document``)."""

    query: str
    filters: Filters
    total: int  # passages that match (after leaving out reference lists and contents)
    documents: int  # documents with at least one match
    hits: list[Hit] = field(default_factory=list)
    groups: list[DocumentGroup] = field(default_factory=list)
    by_document: bool = False
    include_references: bool = False
    left_out: dict[str, int] = field(default_factory=dict)
    message: str | None = None  # why nothing matched

    @property
    def shown(self) -> int:
        return len(self.groups) if self.by_document else len(self.hits)

    def summary(self) -> str:
        """One line: how many passages match in how many documents, what is shown, what was left out."""
        p = "passage" if self.total == 1 else "passages"
        d = "document" if self.documents == 1 else "documents"
        line = f"{self.total} {p} match in {self.documents} {d}"
        if self.by_document:
            line += f"; the best passage of {self.shown} {'plan' if self.shown == 1 else 'plans'} shown"
        elif self.shown < self.total:
            line += f"; {self.shown} shown"
        dropped = left_out_text(self.left_out)
        if dropped:
            line += f" ({dropped} left out; --include-references keeps them)"
        return line

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "query": self.query,
            "filters": dataclasses.asdict(self.filters),
            "total": self.total,
            "documents": self.documents,
            "left_out": {k: self.left_out.get(k, 0) for k in LEFT_OUT},
            "include_references": self.include_references,
            "by_document": self.by_document,
        }
        if self.by_document:
            out["groups"] = [g.to_dict() for g in self.groups]
        else:
            out["hits"] = [h.to_dict() for h in self.hits]
        if self.message:
            out["message"] = self.message
        return out


def search_results(
    searcher: Searcher,
    query: str,
    opts: SearchOptions,
    filters: Filters | None = None,
    *,
    by_document: bool = False,
    include_references: bool = False,
) -> SearchResults:
    """The hits of ``query`` (the first ``opts.k``, or the best passage of the
    first ``opts.k`` documents) with the total count behind them."""
    filters = filters or Filters()
    m = find_matches(searcher, query, opts, filters, include_references)
    ix = searcher.ix
    doc_of = np.asarray(ix.row_doc[m.rows], dtype=np.int64) if m.total else np.zeros(0, np.int64)
    docs, first, counts = np.unique(doc_of, return_index=True, return_counts=True)
    evidence = filters.tags if not m.plan.concepts else ()
    out = SearchResults(
        query,
        filters,
        m.total,
        len(docs),
        by_document=by_document,
        include_references=include_references,
        left_out=m.left_out,
    )
    if not m.total:
        return out
    if by_document:
        order = np.argsort(first, kind="stable")[: opts.k]  # documents by their best passage
        rows = m.rows[first[order]]
        n_of = {ix.docs[int(docs[i])].doc_id: int(counts[i]) for i in order}
        # Each plan shows its own best passage even when another plan has the same text.
        group_opts = dataclasses.replace(opts, k=len(rows), fold_duplicates=False)
        hits = searcher.hits.build(m.plan, rows, m.scores[first[order]], group_opts, evidence_of=evidence)
        out.groups = [DocumentGroup(h, n_of[h.doc.doc_id]) for h in hits]
    else:
        fetch = opts.k * 4 + 20 if opts.fold_duplicates else opts.k
        out.hits = searcher.hits.build(m.plan, m.rows[:fetch], m.scores[:fetch], opts, evidence_of=evidence)
    return out
