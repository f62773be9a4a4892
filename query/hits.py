"""Hit building: ranked rows to cited hits, with near-duplicates folded under
the first copy, snippets around the matched words (or, for a search by tag
alone, around the tag's evidence) and the passage's tags."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plansok.index.searcher import LoadedIndex
from plansok.models import DocumentMeta, Hit, Passage, cite
from plansok.query import dedup
from plansok.query.plan import QueryPlan, SearchOptions
from plansok.query.ranking import has_term
from plansok.query.snippets import form_spans, make_snippet, match_spans
from plansok.query.terms import FormCache


class HitBuilder:
    def __init__(self, ix: LoadedIndex, forms: FormCache) -> None:
        self.ix = ix
        self.forms = forms
        self._shingle_cache: dict[str, frozenset[int]] = {}

    def build(
        self,
        plan: QueryPlan,
        rows: np.ndarray,
        row_scores: np.ndarray,
        opts: SearchOptions,
        evidence_of: Sequence[str] = (),
    ) -> list[Hit]:
        ix = self.ix
        pids = ix.pids[rows].tolist()
        passages = ix.store.passages_by_pid(pids)
        items: list[tuple[float, Passage, DocumentMeta]] = []
        item_rows: list[int] = []
        pids_of: list[int] = []
        for pid, r, s in zip(pids, rows.tolist(), row_scores.tolist()):
            p = passages.get(pid)
            if p is None:  # removed since the index was loaded
                continue
            items.append((s, p, ix.docs[ix.row_doc[r]]))
            item_rows.append(r)
            pids_of.append(pid)
        owners = (
            dedup.fold_signatures([self._shingles(p) for _, p, _ in items])
            if opts.fold_duplicates
            else list(range(len(items)))
        )
        also: dict[int, list[dict[str, object]]] = {}
        chosen: list[int] = []
        for i, owner in enumerate(owners):
            if owner != i:
                _, p, d = items[i]
                # Enough to name the copy's document, not just its municipality
                # (a municipality has many plans, often with the same title).
                also.setdefault(owner, []).append(
                    {
                        "doc_id": d.doc_id,
                        "municipality": d.municipality,
                        "kommunenummer": d.kommunenummer,
                        "title": d.title,
                        "period": d.period,
                        "page": p.page_start,
                        "page_label": p.page_label,
                        "passage_id": p.passage_id,
                        "citation": cite(p, d),
                    }
                )
            elif len(chosen) < opts.k:
                chosen.append(i)
        tags = ix.store.tags_of([pids_of[i] for i in chosen])
        texts = [(items[i][1].text, items[i][2].standard, self.highlight_terms(plan, item_rows[i])) for i in chosen]
        spans = match_spans(self.forms, texts)
        if evidence_of:
            # The evidence of a tag is the words as written ("låg inntekt"): mark those.
            for sp, i in zip(spans, chosen):
                words = {
                    w.lower()
                    for t in tags.get(pids_of[i], [])
                    if t["tag"] in evidence_of
                    for e in t["evidence"]  # type: ignore[union-attr]
                    for w in str(e).split()
                }
                sp[:] = sorted(set(sp) | set(form_spans(items[i][1].text, words)))
        hits = []
        for rank, (i, sp) in enumerate(zip(chosen, spans), start=1):
            score, p, d = items[i]
            snippet, hl = make_snippet(p.text, sp, opts.snippet_words)
            matched = sorted({p.text[s:e].lower() for s, e in sp})
            hits.append(Hit(rank, float(score), p, d, snippet, hl, matched, also.get(i, [])))
            hits[-1].tags = tags.get(pids_of[i], [])
        return hits

    def highlight_terms(self, plan: QueryPlan, row: int) -> set[str]:
        """The query's terms, plus compound parts where all of them occur in the row."""
        wanted = set(plan.highlight)
        bm = self.ix.bm25
        for c in plan.concepts:
            for group in c.groups:
                if all(has_term(bm, row, t) for t in group):
                    wanted.update(group)
        return wanted

    def _shingles(self, p: Passage) -> frozenset[int]:
        sig = self._shingle_cache.get(p.passage_id)
        if sig is None:
            if len(self._shingle_cache) > 100_000:
                self._shingle_cache.clear()
            sig = self._shingle_cache[p.passage_id] = dedup.shingles(p.text)
        return sig
