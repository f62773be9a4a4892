"""Query planning: the parsed query turned into concepts with weighted terms.

A concept is one word, one phrase, one proximity (``"a b"~N``, the rule in
:mod:`plansok.query.parse`), or alternatives joined by OR. Each analysed
word contributes its lemma (weight 1), the lemma standing inside a compound
(``part_weight``) and its Snowball stem (``stem_weight``); a compound query
word also contributes its parts standing alone as a group that counts only
where all of them occur (``subpart_weight``). The plan never looks at the
index: the same query gives the same plan whatever is indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, tokenize
from plansok.query.parse import Clause, ParsedQuery, parse_query
from plansok.query.terms import TermResolver, WordTerms


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
class Proximity:
    """``"a b c"~N``: the content words in any order, in one sentence, at most
    ``span`` positions from the first to the last."""

    words: list[WordTerms]  # every quoted word; stop words only widen the window
    slop: int

    @property
    def content(self) -> list[WordTerms]:
        return [w for w in self.words if not w.stop]

    @property
    def span(self) -> int:
        return len(self.words) - 1 + self.slop


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
    # Alternatives filtered like phrases: their content words close together.
    proximity: list[Proximity] = field(default_factory=list)

    @property
    def positional(self) -> bool:
        """Whether a passage must show the words in place (a phrase or a proximity), not just hold them."""
        return bool(self.phrases or self.proximity)

    def clause_words(self, clause: Clause) -> list[WordTerms]:
        forms = {t.form for t in tokenize(clause.text)}
        return [w for w in self.words if w.form in forms]

    def is_positional(self, clause: Clause) -> bool:
        """Whether the clause is held to where its words stand (a phrase of two
        or more words, a proximity of two or more content words), rather than
        being a word (or words) that count wherever they stand."""
        if clause.proximity:
            return len(self.clause_words(clause)) > 1
        return clause.phrase and len(tokenize(clause.text)) > 1


@dataclass
class QueryPlan:
    parsed: ParsedQuery
    concepts: list[Concept]
    excluded_terms: set[str]
    excluded_phrases: list[list[WordTerms]]
    expansion: dict[str, float] = field(default_factory=dict)
    excluded_proximity: list[Proximity] = field(default_factory=list)

    @property
    def highlight(self) -> set[str]:
        out: set[str] = set()
        for c in self.concepts:
            out |= c.highlight
        return out


def word_weights(w: WordTerms, opts: SearchOptions) -> dict[str, float]:
    out: dict[str, float] = {}
    for term in w.whole:
        if term.startswith(STEM_PREFIX):
            out[term] = opts.stem_weight
            continue
        out[term] = 1.0
        out[PART_PREFIX + term] = opts.part_weight
    return out


def plan_query(query: str, resolver: TermResolver, opts: SearchOptions) -> QueryPlan:
    parsed = parse_query(query)
    words: list[str] = []
    for clause in [*parsed.clauses(), *parsed.excluded]:
        words.extend(t.text for t in tokenize(clause.text))
    analysed = {w.form: w for w in resolver.words(words)}

    def seq(text: str) -> list[WordTerms]:
        return [analysed[t.form] for t in tokenize(text)]

    concepts = []
    for alts in parsed.concepts:
        weights: dict[str, float] = {}
        highlight: set[str] = set()
        phrases = []
        proximity = []
        groups = []
        for clause in alts:
            words_c = seq(clause.text)
            # Scored as a phrase is (its words' terms); only the filter differs.
            if clause.proximity and len([w for w in words_c if not w.stop]) > 1:
                proximity.append(Proximity(words_c, clause.slop or 0))
            elif clause.phrase and len(words_c) > 1 and not clause.proximity:
                phrases.append(words_c)
            for w in words_c:
                for term, wt in word_weights(w, opts).items():
                    weights[term] = max(weights.get(term, 0.0), wt)
                    highlight.add(term)
                # parts[:2] is the outermost split: modifier and head.
                if opts.subpart_weight and not clause.phrase and len(w.parts) >= 2:
                    groups.append({p: opts.subpart_weight for p in w.parts[:2]})
        if weights:
            words_all = [w for clause in alts for w in seq(clause.text) if not w.stop]
            concepts.append(Concept(alts, weights, phrases, highlight, groups, words_all, proximity))
    excluded_terms: set[str] = set()
    excluded_phrases = []
    excluded_proximity = []
    for clause in parsed.excluded:
        words_c = seq(clause.text)
        if clause.proximity and len([w for w in words_c if not w.stop]) > 1:
            excluded_proximity.append(Proximity(words_c, clause.slop or 0))
        elif clause.phrase and len(words_c) > 1 and not clause.proximity:
            excluded_phrases.append(words_c)
        else:
            for w in words_c:
                excluded_terms.update(w.whole)
                excluded_terms.update(PART_PREFIX + t for t in w.whole)
    return QueryPlan(parsed, concepts, excluded_terms, excluded_phrases, excluded_proximity=excluded_proximity)
