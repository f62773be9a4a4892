"""Ranked passage search: query analysis, BM25 scoring, filters, phrases,
pseudo-relevance feedback, near-duplicate folding, snippets and citations.

Scoring, per query concept c (a word, a phrase, or alternatives joined by OR):

    s_c(d) = sum over the concept's terms t of  w_t * idf(t) * tfn(t, d)

with weight 1 for the word's lemma (bokmål-normalised, so nynorsk forms meet),
``part_weight`` for the lemma standing inside a compound ("fattigdom" in
"barnefattigdom", its idf capped at the whole word's so whole words rank
first), ``stem_weight`` for its Snowball stem, and ``subpart_weight`` for the
parts of a compound query word standing alone ("barn" and "fattigdom" for
"barnefattigdom"), counted only where all of them occur. The passage score is
``sum_c s_c * matched / n_concepts`` (coordination: passages meeting more
concepts rank first, but partial matches still count), plus ``page_context``
times the same score computed over the passage's whole page. With
``expand``, pseudo-relevance feedback (RM3-style) adds the terms most typical
of the first-pass top passages with a small weight; it is off by default
because it lowered nDCG@10 on the judged queries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, tokenize
from plansok.index.bm25 import BM25, top_k
from plansok.index.searcher import LoadedIndex
from plansok.models import DocumentMeta, Hit, Passage
from plansok.query import dedup
from plansok.query.filters import Filters
from plansok.query.parse import Clause, ParsedQuery, parse_query
from plansok.query.snippets import form_spans, make_snippet, match_spans
from plansok.query.terms import FormCache, TermResolver, WordTerms, form_key

logger = logging.getLogger(__name__)


@dataclass
class SearchOptions:
    k: int = 10
    part_weight: float = 0.5
    stem_weight: float = 0.3
    subpart_weight: float = 0.25
    coordination: bool = True
    require_all: bool = False
    expand: bool = False
    expand_docs: int = 10
    expand_terms: int = 8
    expand_weight: float = 0.3
    fold_duplicates: bool = True
    page_context: float = 2.0
    snippet_words: int = 45


@dataclass
class Concept:
    clauses: list[Clause]
    weights: dict[str, float]  # term -> weight
    phrases: list[list[WordTerms]]  # the phrase alternatives (word sequences)
    highlight: set[str]
    # The parts of a compound query word, standing as words of their own
    # ("fattigdom blant barn" for barnefattigdom): they count only together.
    groups: list[dict[str, float]] = field(default_factory=list)
    words: list[WordTerms] = field(default_factory=list)  # the analysed query words


@dataclass
class QueryPlan:
    parsed: ParsedQuery
    concepts: list[Concept]
    excluded_terms: set[str]
    excluded_phrases: list[list[WordTerms]]
    expansion: dict[str, float] = field(default_factory=dict)

    @property
    def highlight(self) -> set[str]:
        out: set[str] = set()
        for c in self.concepts:
            out |= c.highlight
        return out


class Searcher:
    """Searches one loaded index. Cheap to call repeatedly."""

    def __init__(self, loaded: LoadedIndex, resolver: TermResolver | None = None) -> None:
        self.ix = loaded
        self.resolver = resolver or TermResolver()
        self.forms = FormCache(loaded.store)
        self._inv: list[str] | None = None  # term id -> term, for feedback; built on first use
        self._shingle_cache: dict[str, frozenset[int]] = {}
        self._csr = None

    # -- planning --------------------------------------------------------------------
    def plan(self, query: str, opts: SearchOptions) -> QueryPlan:
        parsed = parse_query(query)
        words: list[str] = []
        for clause in [*parsed.clauses(), *parsed.excluded]:
            words.extend(t.text for t in tokenize(clause.text))
        analysed = {w.form: w for w in self.resolver.words(words)}

        def seq(text: str) -> list[WordTerms]:
            return [analysed[t.form] for t in tokenize(text)]

        concepts = []
        for alts in parsed.concepts:
            weights: dict[str, float] = {}
            highlight: set[str] = set()
            phrases = []
            groups = []
            for clause in alts:
                words_c = seq(clause.text)
                if clause.phrase and len(words_c) > 1:
                    phrases.append(words_c)
                for w in words_c:
                    for term, wt in self._word_weights(w, opts).items():
                        weights[term] = max(weights.get(term, 0.0), wt)
                        highlight.add(term)
                    # parts[:2] is the outermost split: modifier and head.
                    if opts.subpart_weight and not clause.phrase and len(w.parts) >= 2:
                        groups.append({p: opts.subpart_weight for p in w.parts[:2]})
            if weights:
                words_all = [w for clause in alts for w in seq(clause.text) if not w.stop]
                concepts.append(Concept(alts, weights, phrases, highlight, groups, words_all))
        excluded_terms: set[str] = set()
        excluded_phrases = []
        for clause in parsed.excluded:
            words_c = seq(clause.text)
            if clause.phrase and len(words_c) > 1:
                excluded_phrases.append(words_c)
            else:
                for w in words_c:
                    excluded_terms.update(w.whole)
                    excluded_terms.update(PART_PREFIX + t for t in w.whole)
        return QueryPlan(parsed, concepts, excluded_terms, excluded_phrases)

    def _word_weights(self, w: WordTerms, opts: SearchOptions) -> dict[str, float]:
        out: dict[str, float] = {}
        for term in w.whole:
            if term.startswith(STEM_PREFIX):
                out[term] = opts.stem_weight
                continue
            out[term] = 1.0
            out[PART_PREFIX + term] = opts.part_weight
        return out

    def has_any(self, w: WordTerms) -> bool:
        """Whether the index holds any of the word's terms (whole or as a compound part)."""
        vocab = self.ix.bm25.vocab
        return any(t in vocab or PART_PREFIX + t in vocab for t in w.whole)

    # -- scoring ---------------------------------------------------------------------
    def _concept_scores(self, weights: dict[str, float], bm: BM25 | None = None) -> np.ndarray:
        bm = bm or self.ix.bm25
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

    def _group_scores(self, group: dict[str, float], bm: BM25) -> np.ndarray:
        """Scores where every term of the group occurs, zero elsewhere."""
        total = np.zeros(bm.n_docs, dtype=np.float32)
        present = np.ones(bm.n_docs, dtype=bool)
        for term, wt in group.items():
            s = self._concept_scores({term: wt}, bm)
            total += s
            present &= s > 0
        return total * present

    def _combined(self, plan: QueryPlan, opts: SearchOptions, bm: BM25) -> np.ndarray:
        """Concept scores summed, with coordination, on one BM25 unit (passages or pages)."""
        total = np.zeros(bm.n_docs, dtype=np.float32)
        matched = np.zeros(bm.n_docs, dtype=np.float32)
        for c in plan.concepts:
            s = self._concept_scores(c.weights, bm)
            for group in c.groups:
                s += self._group_scores(group, bm)
            total += s
            matched += s > 0
        if opts.coordination and len(plan.concepts) > 1:
            total *= matched / len(plan.concepts)
        if opts.require_all:
            total[matched < len(plan.concepts)] = 0
        if plan.expansion:
            extra = self._concept_scores(plan.expansion, bm)
            # Feedback terms re-rank what the query found and may add passages it
            # missed, at half weight, so they never outweigh the query itself.
            total += np.where(total > 0, extra, 0.5 * extra)
        return total

    def _rows_with_any(self, terms: set[str]) -> np.ndarray:
        mask = np.zeros(self.ix.n_passages, dtype=bool)
        for t in terms:
            tid = self.ix.bm25.vocab.get(t)
            if tid is not None:
                mask[self.ix.bm25.postings(tid)[0]] = True
        return mask

    def _filter_mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        keep = np.fromiter((filters.accepts(d) for d in self.ix.docs), dtype=bool, count=len(self.ix.docs))
        mask = None if keep.all() else self.ix.doc_mask(keep)
        for tag in filters.tags:
            has = self.ix.tag_scores(tag) > 0
            mask = has if mask is None else mask & has
        return mask

    def score(self, plan: QueryPlan, opts: SearchOptions, filters: Filters | None = None) -> np.ndarray:
        if not plan.concepts or self.ix.n_passages == 0:
            return np.zeros(self.ix.n_passages, dtype=np.float32)
        total = self._combined(plan, opts, self.ix.bm25)
        if opts.page_context:
            # Passage retrieval with context: the BM25 score of the passage's
            # whole page is added, so a passage on a page that keeps returning
            # to the topic outranks a lone mention of it elsewhere.
            page_scores = self._combined(plan, opts, self.ix.page_bm25)
            total += np.float32(opts.page_context) * page_scores[self.ix.row_page_group] * (total > 0)
        mask = self._filter_mask(filters)
        if mask is not None:
            total[~mask] = 0
        if plan.excluded_terms:
            total[self._rows_with_any(plan.excluded_terms)] = 0
        return total

    def _expansion_terms(
        self, plan: QueryPlan, rows: np.ndarray, scores: np.ndarray, opts: SearchOptions
    ) -> dict[str, float]:
        """RM3-style feedback: terms weighted by their share of each top
        passage, times the passage's score, times idf; only terms found in at
        least two of the feedback passages, so one odd passage adds nothing."""
        if self._csr is None:
            self._csr = self.ix.bm25.tfn.tocsr()
        csr = self._csr
        bm = self.ix.bm25
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
        inv = self._inverse_vocab()
        cands = []
        for tid, v in acc.items():
            term = inv[tid]
            if seen[tid] < 2 or term in query_terms or not term.isalpha():
                continue
            cands.append((v * float(bm.idf[tid]), term))
        cands.sort(reverse=True)
        best = cands[: opts.expand_terms]
        if not best:
            return {}
        top = best[0][0]
        return {term: opts.expand_weight * v / top for v, term in best}

    def _inverse_vocab(self) -> list[str]:
        inv = self._inv
        if inv is None:
            inv = [""] * len(self.ix.bm25.vocab)
            for t, i in self.ix.bm25.vocab.items():
                inv[i] = t
            self._inv = inv
        return inv

    # -- phrases -------------------------------------------------------------------------
    def _phrase_rows(self, rows: np.ndarray, phrases: list[list[WordTerms]]) -> np.ndarray:
        """The rows among ``rows`` whose text holds one of the phrases."""
        if not phrases or rows.size == 0:
            return rows
        passages = self.ix.store.passages_by_pid(self.ix.pids[rows].tolist())
        std_of = {d.doc_id: d.standard for d in self.ix.docs}
        keep = []
        texts = [(r, passages.get(int(self.ix.pids[r]))) for r in rows.tolist()]
        keys = set()
        tok_cache = {}
        for r, p in texts:
            if p is None:
                continue
            toks = tokenize(p.text)
            tok_cache[r] = toks
            std = std_of.get(p.doc_id, "nb")
            keys.update(form_key(std, t.form) for t in toks)
        forms = self.forms.forms(list(keys))
        for r, p in texts:
            if p is None:
                continue
            std = std_of.get(p.doc_id, "nb")
            seq = [(t.form, set(forms.get(form_key(std, t.form), ()))) for t in tok_cache[r]]
            if any(_contains_phrase(seq, ph) for ph in phrases):
                keep.append(r)
        return np.asarray(keep, dtype=np.int64)

    # -- the search ------------------------------------------------------------------------
    def search(self, query: str, opts: SearchOptions | None = None, filters: Filters | None = None) -> list[Hit]:
        opts = opts or SearchOptions()
        plan = self.plan(query, opts)
        if not plan.concepts:
            return self._tagged_only(plan, opts, filters) if filters and filters.tags else []
        scores = self.score(plan, opts, filters)
        scores = self._apply_phrases(plan, scores)
        if opts.expand and any(not c.phrases for c in plan.concepts):
            rows, top_scores = top_k(scores, opts.expand_docs)
            if rows.size >= 2:
                plan.expansion = self._expansion_terms(plan, rows, top_scores, opts)
                if plan.expansion:
                    scores = self.score(plan, opts, filters)
                    scores = self._apply_phrases(plan, scores)
        fetch = opts.k * 4 + 20 if opts.fold_duplicates else opts.k
        rows, row_scores = top_k(scores, fetch)
        return self._hits(plan, rows, row_scores, opts)

    def _shingles(self, p: Passage) -> frozenset[int]:
        sig = self._shingle_cache.get(p.passage_id)
        if sig is None:
            if len(self._shingle_cache) > 100_000:
                self._shingle_cache.clear()
            sig = self._shingle_cache[p.passage_id] = dedup.shingles(p.text)
        return sig

    def _tagged_only(self, plan: QueryPlan, opts: SearchOptions, filters: Filters) -> list[Hit]:
        """No words, only --tag: the passages with the tags, most confident first."""
        mask = self._filter_mask(filters)
        scores = sum(self.ix.tag_scores(t) for t in filters.tags)
        rows, row_scores = top_k(np.where(mask, scores, 0) if mask is not None else scores, opts.k * 4 + 20)
        return self._hits(plan, rows, row_scores, opts, evidence_of=filters.tags)

    def _highlight_terms(self, plan: QueryPlan, row: int) -> set[str]:
        """The query's terms, plus compound parts where all of them occur in the row."""
        wanted = set(plan.highlight)
        bm = self.ix.bm25
        for c in plan.concepts:
            for group in c.groups:
                if all(_has_term(bm, row, t) for t in group):
                    wanted.update(group)
        return wanted

    def _apply_phrases(self, plan: QueryPlan, scores: np.ndarray) -> np.ndarray:
        """Keep only rows that satisfy every concept holding a phrase (the phrase
        itself, or one of the concept's plain-word alternatives: a phrase stays a
        phrase inside OR), and drop rows with an excluded phrase. Phrases are
        looked for among all rows that contain their words, with no cap."""
        phrase_concepts = [c for c in plan.concepts if c.phrases]
        if not phrase_concepts and not plan.excluded_phrases:
            return scores
        keep = scores > 0
        for c in phrase_concepts:
            ok = np.zeros_like(keep)
            rows = self._phrase_rows(np.flatnonzero(keep & self._rows_with_all_words(c.phrases)), c.phrases)
            ok[rows] = True
            plain = [w for clause in c.clauses if not clause.phrase for w in self._clause_words(c, clause)]
            if plain:
                ok |= self._rows_with_any({t for w in plain for t in w.whole if not t.startswith(STEM_PREFIX)})
                ok |= self._rows_with_any({PART_PREFIX + t for w in plain for t in w.whole})
            keep &= ok
        if plan.excluded_phrases:
            cand = np.flatnonzero(keep & self._rows_with_all_words(plan.excluded_phrases))
            keep[self._phrase_rows(cand, plan.excluded_phrases)] = False
        return np.where(keep, scores, 0).astype(scores.dtype)

    def _clause_words(self, c: Concept, clause: Clause) -> list[WordTerms]:
        forms = {t.form for t in tokenize(clause.text)}
        return [w for w in c.words if w.form in forms]

    def _rows_with_all_words(self, phrases: list[list[WordTerms]]) -> np.ndarray:
        """Rows holding every content word of at least one of the phrases."""
        out = np.zeros(self.ix.n_passages, dtype=bool)
        for ph in phrases:
            rows = np.ones(self.ix.n_passages, dtype=bool)
            for w in ph:
                if not w.stop:
                    rows &= self._rows_with_any({t for t in w.whole if not t.startswith(STEM_PREFIX)})
            out |= rows
        return out

    def _hits(
        self,
        plan: QueryPlan,
        rows: np.ndarray,
        row_scores: np.ndarray,
        opts: SearchOptions,
        evidence_of: Sequence[str] = (),
    ) -> list[Hit]:
        """Hits for the ranked rows: folded near-duplicates, snippets around the
        matched words (or, for a search by tag alone, around the tag's evidence)."""
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
                also.setdefault(owner, []).append(
                    {
                        "doc_id": d.doc_id,
                        "municipality": d.municipality,
                        "title": d.title,
                        "page": p.page_start,
                        "passage_id": p.passage_id,
                    }
                )
            elif len(chosen) < opts.k:
                chosen.append(i)
        tags = ix.store.tags_of([pids_of[i] for i in chosen])
        texts = [(items[i][1].text, items[i][2].standard, self._highlight_terms(plan, item_rows[i])) for i in chosen]
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
        for h, i in zip(hits, chosen):
            h.tags = tags.get(pids_of[i], [])
        return hits


def _has_term(bm: BM25, row: int, term: str) -> bool:
    """Whether passage ``row`` contains ``term`` (posting lists are sorted)."""
    tid = bm.vocab.get(term)
    if tid is None:
        return False
    rows = bm.postings(tid)[0]
    i = int(np.searchsorted(rows, row))
    return i < rows.size and int(rows[i]) == row


def _contains_phrase(seq: Sequence[tuple[str, set[str]]], phrase: list[WordTerms]) -> bool:
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
