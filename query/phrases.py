"""Phrase and proximity matching: which passages hold a phrase, word by word
in order, or a proximity's words close together.

Candidates are the rows holding every content word of a phrase (from the
postings, so over the whole index with no cap); each candidate's text is then
tokenised and its words analysed through the index's form cache, and the
phrase must occur as a contiguous sequence. Stop words in a phrase must match
as written; content words match by lemma, so "låg inntekt" finds "lav inntekt".

A proximity (``"fattigdom barn"~3``, see :mod:`plansok.query.parse`) takes the
same candidates and the same per-word matching (a query word meets a passage
word through its lemma, in either written standard, never as a compound part),
and asks for its content words, each on a word of its own, in any order, in one
sentence, at most ``Proximity.span`` positions from the first to the last
(:func:`near_spans`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, Token, form_key, tokenize
from plansok.index.searcher import LoadedIndex
from plansok.query.plan import Proximity, QueryPlan
from plansok.query.ranking import ids_with_any
from plansok.query.terms import FormCache, WordTerms

# Words on either side of a sentence end are not said together.
SENTENCE_END = re.compile(r"[.!?]\s|\n\s*\n")


class PhraseMatcher:
    def __init__(self, ix: LoadedIndex, forms: FormCache) -> None:
        self.ix = ix
        self.forms = forms

    def apply(self, plan: QueryPlan, scores: np.ndarray) -> np.ndarray:
        """``apply_sparse`` on dense scores (one per passage)."""
        ids = np.flatnonzero(scores > 0)
        kept, vals = self.apply_sparse(plan, ids, scores[ids])
        out = np.zeros_like(scores)
        out[kept] = vals
        return out

    def apply_sparse(self, plan: QueryPlan, ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of the scored rows (``ids`` ascending), keep only those that satisfy
        every concept holding a phrase or a proximity (that itself, or one of
        the concept's plain-word alternatives: a phrase stays a phrase inside
        OR), and drop rows with an excluded phrase or proximity."""
        positional = [c for c in plan.concepts if c.positional]
        excluded = plan.excluded_phrases or plan.excluded_proximity
        if not positional and not excluded:
            return ids, scores
        bm = self.ix.bm25
        keep = scores > 0
        for c in positional:
            ok = np.zeros_like(keep)
            cand = keep & self.with_all_words(ids, [*c.phrases, *(p.words for p in c.proximity)])
            ok[np.searchsorted(ids, self.rows(ids[cand], c.phrases, c.proximity))] = True
            plain = [w for clause in c.clauses if not c.is_positional(clause) for w in c.clause_words(clause)]
            if plain:
                ok |= ids_with_any(bm, ids, {t for w in plain for t in w.whole if not t.startswith(STEM_PREFIX)})
                ok |= ids_with_any(bm, ids, {PART_PREFIX + t for w in plain for t in w.whole})
            keep &= ok
        if excluded:
            words = [*plan.excluded_phrases, *(p.words for p in plan.excluded_proximity)]
            cand = keep & self.with_all_words(ids, words)
            keep[np.searchsorted(ids, self.rows(ids[cand], plan.excluded_phrases, plan.excluded_proximity))] = False
        return ids[keep], scores[keep]

    def with_all_words(self, ids: np.ndarray, phrases: Sequence[list[WordTerms]]) -> np.ndarray:
        """For each of ``ids``, whether its row holds every content word of at
        least one of the phrases."""
        bm = self.ix.bm25
        out = np.zeros(ids.size, dtype=bool)
        for ph in phrases:
            rows = np.ones(ids.size, dtype=bool)
            for w in ph:
                if not w.stop:
                    rows &= ids_with_any(bm, ids, {t for t in w.whole if not t.startswith(STEM_PREFIX)})
            out |= rows
        return out

    def rows(self, rows: np.ndarray, phrases: list[list[WordTerms]], proximity: Sequence[Proximity] = ()) -> np.ndarray:
        """The rows among ``rows`` whose text holds one of the phrases or proximities."""
        if (not phrases and not proximity) or rows.size == 0:
            return rows if not phrases and not proximity else rows[:0]
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
            if any(contains_phrase(seq, ph) for ph in phrases) or any(
                near_spans(p.text, tokens[r], [terms for _, terms in seq], proximity_elements(px), px.span)
                for px in proximity
            ):
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


def proximity_elements(px: Proximity) -> list[set[str]]:
    """The term sets a proximity's words must each find a passage word for:
    a content word's whole-word terms, as a phrase word matches."""
    return [set(w.whole) for w in px.content]


def near_spans(
    text: str, tokens: Sequence[Token], terms: Sequence[Collection[str]], elements: Sequence[set[str]], span: int
) -> list[tuple[int, int]]:
    """The token ranges (first, last) where every element (a set of terms) has
    a word of its own, in any order, at most ``span`` positions from the first
    to the last, with no sentence end between: the tightest such ranges (none
    holds another), in text order. ``terms``: each token's index terms."""
    if not elements or not tokens:
        return []
    k = len(elements)
    fits = [[e for e, want in enumerate(elements) if not want.isdisjoint(ts)] for ts in terms]
    out: list[tuple[int, int]] = []
    start = 0
    for stop in [*_sentence_breaks(text, tokens), len(tokens)]:
        best: list[tuple[int, int]] = []
        for i in range(start, stop):
            if not fits[i]:
                continue
            last = min(stop - 1, i + span)
            for j in range(i + k - 1, last + 1):
                if fits[j] and _assignable(fits, i, j, k):
                    # The tightest range from i; one from an earlier start that
                    # ends at the same word holds this one, so it gives way.
                    while best and best[-1][1] >= j:
                        best.pop()
                    best.append((i, j))
                    break
        out.extend(best)
        start = stop
    return out


def _sentence_breaks(text: str, tokens: Sequence[Token]) -> list[int]:
    """Indices of the tokens that start a new sentence (after the first)."""
    return [i for i in range(1, len(tokens)) if SENTENCE_END.search(text, tokens[i - 1].end, tokens[i].start)]


def _assignable(fits: Sequence[list[int]], lo: int, hi: int, k: int) -> bool:
    """Whether each of the k elements can have its own token among lo..hi
    (bipartite matching by augmenting paths: a word fitting two elements, as
    in "barn barn"~3, is counted once)."""
    owner: dict[int, int] = {}  # element -> token

    def place(tok: int, seen: set[int]) -> bool:
        for e in fits[tok]:
            if e in seen:
                continue
            seen.add(e)
            if e not in owner or place(owner[e], seen):
                owner[e] = tok
                return True
        return False

    for tok in range(lo, hi + 1):
        if fits[tok]:
            place(tok, set())
            if len(owner) == k:
                return True
    return False
