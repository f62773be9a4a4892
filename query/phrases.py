"""Phrase matching: which passages hold a phrase, word by word, in order.

Candidates are the rows holding every content word of a phrase (from the
postings, so over the whole index with no cap); each candidate's text is then
tokenised and its words analysed through the index's form cache, and the
phrase must occur as a contiguous sequence. Stop words in a phrase must match
as written; content words match by lemma, so "låg inntekt" finds "lav inntekt".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, form_key, tokenize
from plansok.index.searcher import LoadedIndex
from plansok.query.plan import QueryPlan
from plansok.query.ranking import rows_with_any
from plansok.query.terms import FormCache, WordTerms


class PhraseMatcher:
    def __init__(self, ix: LoadedIndex, forms: FormCache) -> None:
        self.ix = ix
        self.forms = forms

    def apply(self, plan: QueryPlan, scores: np.ndarray) -> np.ndarray:
        """Keep only rows that satisfy every concept holding a phrase (the phrase
        itself, or one of the concept's plain-word alternatives: a phrase stays a
        phrase inside OR), and drop rows with an excluded phrase."""
        phrase_concepts = [c for c in plan.concepts if c.phrases]
        if not phrase_concepts and not plan.excluded_phrases:
            return scores
        bm = self.ix.bm25
        keep = scores > 0
        for c in phrase_concepts:
            ok = np.zeros_like(keep)
            ok[self.rows(np.flatnonzero(keep & self.rows_with_all_words(c.phrases)), c.phrases)] = True
            plain = [w for clause in c.clauses if not clause.phrase for w in c.clause_words(clause)]
            if plain:
                ok |= rows_with_any(bm, {t for w in plain for t in w.whole if not t.startswith(STEM_PREFIX)})
                ok |= rows_with_any(bm, {PART_PREFIX + t for w in plain for t in w.whole})
            keep &= ok
        if plan.excluded_phrases:
            cand = np.flatnonzero(keep & self.rows_with_all_words(plan.excluded_phrases))
            keep[self.rows(cand, plan.excluded_phrases)] = False
        return np.where(keep, scores, 0).astype(scores.dtype)

    def rows_with_all_words(self, phrases: list[list[WordTerms]]) -> np.ndarray:
        """Rows holding every content word of at least one of the phrases."""
        bm = self.ix.bm25
        out = np.zeros(self.ix.n_passages, dtype=bool)
        for ph in phrases:
            rows = np.ones(self.ix.n_passages, dtype=bool)
            for w in ph:
                if not w.stop:
                    rows &= rows_with_any(bm, {t for t in w.whole if not t.startswith(STEM_PREFIX)})
            out |= rows
        return out

    def rows(self, rows: np.ndarray, phrases: list[list[WordTerms]]) -> np.ndarray:
        """The rows among ``rows`` whose text holds one of the phrases."""
        if not phrases or rows.size == 0:
            return rows
        passages = self.ix.store.passages_by_pid(self.ix.pids[rows].tolist())
        std_of = {d.doc_id: d.standard for d in self.ix.docs}
        texts = [(r, passages.get(int(self.ix.pids[r]))) for r in rows.tolist()]
        keys = set()
        tokens = {}
        for r, p in texts:
            if p is None:
                continue
            tokens[r] = toks = tokenize(p.text)
            std = std_of.get(p.doc_id, "nb")
            keys.update(form_key(std, t.form) for t in toks)
        forms = self.forms.forms(list(keys))
        keep = []
        for r, p in texts:
            if p is None:
                continue
            std = std_of.get(p.doc_id, "nb")
            seq = [(t.form, set(forms.get(form_key(std, t.form), ()))) for t in tokens[r]]
            if any(contains_phrase(seq, ph) for ph in phrases):
                keep.append(r)
        return np.asarray(keep, dtype=np.int64)


def contains_phrase(seq: Sequence[tuple[str, set[str]]], phrase: list[WordTerms]) -> bool:
    """Whether the analysed token sequence holds the phrase contiguously."""
    n = len(phrase)
    for i in range(len(seq) - n + 1):
        for j, w in enumerate(phrase):
            form, terms = seq[i + j]
            if w.stop:
                if form != w.form:
                    break
            elif not terms.intersection(w.whole):
                break
        else:
            return True
    return False
