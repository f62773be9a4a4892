"""Concordance (KWIC): every occurrence of a query in its context, one line each.

Occurrences are found with the query's own analysis, so a concordance agrees
with ``plansok query``:

- the query is planned as search plans it (:func:`plansok.query.plan.plan_query`):
  the same lemmas in both written standards, compound parts and stems;
- the candidate passages are the ones search scores above zero with the same
  filters and exclusions, phrases checked by the same phrase matcher;
- in a candidate, a word is an occurrence when its stored word form (the
  analysis made at ingest, ``IndexStore.forms``) carries one of the terms
  search highlights for it; a phrase when
  :func:`plansok.query.phrases.contains_phrase` accepts it at that place.

Each occurrence says how it matched: ``word`` (the lemma: *barnefattigdomen*
for barnefattigdom), ``compound`` (the word inside a compound:
*barnefattigdommen* for fattigdom), ``stem`` (the Snowball back-off:
*frivilligheten* for frivillig), ``phrase``, or ``near``: a proximity
(``"fattigdom barn"~3``, the words in any order within the phrase's length plus
3 words, in one sentence, as search filters it; the line's keyword is the span
from the first of the words to the last), or with ``within`` the content words
of a phrase, or the parts of a compound query word standing as words of their
own, at most ``within`` words apart in any order, so ``barnefattigdom`` with
``within=3`` also finds "fattigdom blant barn" and "barn i fattigdom". Both
use :func:`plansok.query.phrases.near_spans`.

Lines are cited to the page the keyword stands on (a passage that runs over a
page break is placed by the words around the keyword), and contexts never
leave the passage.
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, Token, form_key, tokenize
from plansok.errors import PlansokError
from plansok.models import DocumentMeta, Page, Passage, cite
from plansok.query.filters import Filters, explain_empty
from plansok.query.phrases import contains_phrase, near_spans, proximity_elements
from plansok.query.plan import Concept, Proximity, QueryPlan, SearchOptions, word_weights
from plansok.query.search import Searcher
from plansok.query.terms import FormCache, WordTerms
from plansok.views.tabular import write_rows

logger = logging.getLogger(__name__)

SORTS = ("doc", "left", "right")
DEFAULT_WIDTH = 60  # characters of context on each side
BATCH = 400  # passages analysed per look-up of stored word forms

COLUMNS = [
    "doc_id", "passage_id", "municipality", "title", "page", "page_label", "section", "citation",
    "left", "keyword", "right", "match", "standard", "start", "end",
]  # fmt: skip


# ---------------------------------------------------------------- analysed passages


@dataclass
class AnalysedText:
    """A passage's tokens with the index terms of each (from the stored forms)."""

    text: str
    tokens: list[Token]
    terms: list[frozenset[str]]
    # each word's lemma: its first whole-word term as stored (None: a stop word or number)
    lemmas: list[str | None] = field(default_factory=list)
    # i -> terms of the two words i, i+1 read as one ("livs kvalitet": livskvalitet)
    joined: dict[int, frozenset[str]] = field(default_factory=dict)

    def lemma(self, i: int) -> str | None:
        return self.lemmas[i]


def lemma_of(terms: Sequence[str]) -> str | None:
    """The first whole-word term of a stored form's terms (in their stored
    order), if it is a word: not a number, not a single letter."""
    for t in terms:
        if t[:1] in (PART_PREFIX, STEM_PREFIX):
            continue
        return t if len(t) > 1 and any(c.isalpha() for c in t) else None
    return None


def analyse_texts(forms: FormCache, items: Sequence[tuple[str, str]], joined: bool = True) -> list[AnalysedText]:
    """Tokenise ``(text, standard)`` pairs and give each word its stored terms,
    with one look-up of the stored forms for the whole batch. ``joined``: also
    read two words as one where the index stored them so ("livs kvalitet")."""
    tokenised = []
    keys: set[str] = set()
    for text, std in items:
        toks = tokenize(text)
        lower = [f"{std}:{t.text.lower()}" for t in toks]  # form_key, without a call per word
        pairs = []
        if joined:
            pairs = [i for i in range(len(toks) - 1) if text[toks[i].end : toks[i + 1].start] == " "]
            keys.update(form_key(std, f"{toks[i].form} {toks[i + 1].form}") for i in pairs)
        keys.update(lower)
        tokenised.append((text, std, toks, lower, pairs))
    found = forms.forms(list(keys))
    # Terms as a set for matching; the lemma from the stored order, where the
    # analysis puts its preferred reading first.
    empty: tuple[frozenset[str], str | None] = (frozenset(), None)
    cache = {k: (frozenset(v), lemma_of(v)) for k, v in found.items()}
    out = []
    for text, std, toks, lower, pairs in tokenised:
        analysed = [cache.get(k, empty) for k in lower]
        pair_terms = {}
        for i in pairs:
            t = cache.get(form_key(std, f"{toks[i].form} {toks[i + 1].form}"))
            if t and t[0]:
                pair_terms[i] = t[0]
        out.append(AnalysedText(text, toks, [a[0] for a in analysed], [a[1] for a in analysed], pair_terms))
    return out


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class Occurrence:
    first: int  # token index of the first word
    last: int  # token index of the last word (inclusive)
    match: str  # word, compound, stem, phrase or near


@dataclass
class Matcher:
    """What counts as an occurrence of one planned query, token by token."""

    plan: QueryPlan
    opts: SearchOptions
    within: int | None = None

    def __post_init__(self) -> None:
        self.words: list[set[str]] = []  # per concept: the terms of its plain words
        self.phrases: list[list[WordTerms]] = []
        self.near: list[list[set[str]]] = []  # each: term sets that must stand close together
        self.proximity: list[Proximity] = []
        for c in self.plan.concepts:
            self.words.append(self._plain_terms(c))
            self.phrases.extend(c.phrases)
            self.proximity.extend(c.proximity)
            if self.within is not None:
                for ph in c.phrases:
                    content = [set(w.whole) for w in ph if not w.stop]
                    if len(content) > 1:
                        self.near.append(content)
                # A compound query word's parts as words of their own (the groups search scores).
                self.near.extend([{t} for t in group] for group in c.groups if len(group) > 1)

    def _plain_terms(self, c: Concept) -> set[str]:
        out: set[str] = set()
        for clause in c.clauses:
            if c.is_positional(clause):
                continue
            for w in c.clause_words(clause):
                out.update(word_weights(w, self.opts))
        return out

    def find(self, a: AnalysedText) -> list[Occurrence]:
        found: list[Occurrence] = []
        wanted = set().union(*self.words) if self.words else set()
        if wanted:
            for i, terms in enumerate(a.terms):
                hit = terms & wanted
                if hit:
                    found.append(Occurrence(i, i, _kind(hit)))
            for i, terms in a.joined.items():
                if terms & wanted:
                    found.append(Occurrence(i, i + 1, "word"))
        if self.phrases:
            seq = [(t.form, set(terms)) for t, terms in zip(a.tokens, a.terms)]
            for ph in self.phrases:
                n = len(ph)
                for i in range(len(seq) - n + 1):
                    if contains_phrase(seq[i : i + n], ph):
                        found.append(Occurrence(i, i + n - 1, "phrase"))
        for px in self.proximity:
            found.extend(_near(a, proximity_elements(px), px.span))
        for elements in self.near:
            found.extend(_near(a, elements, self.within or 0))
        return _without_overlaps(found)


def _kind(hit: set[str]) -> str:
    if any(t[:1] not in (PART_PREFIX, STEM_PREFIX) for t in hit):
        return "word"
    return "compound" if any(t.startswith(PART_PREFIX) for t in hit) else "stem"


def _near(a: AnalysedText, elements: list[set[str]], within: int) -> list[Occurrence]:
    """Places where every element (a set of terms) has a word, all at most
    ``within`` words from first to last, in any order, in one sentence."""
    return [Occurrence(i, j, "near") for i, j in near_spans(a.text, a.tokens, a.terms, elements, within)]


def _without_overlaps(found: list[Occurrence]) -> list[Occurrence]:
    """The longest of overlapping occurrences, in text order (a phrase over its words)."""
    kept: list[Occurrence] = []
    taken: set[int] = set()
    for occ in sorted(set(found), key=lambda o: (-(o.last - o.first), o.first)):
        span = range(occ.first, occ.last + 1)
        if not taken.intersection(span):
            kept.append(occ)
            taken.update(span)
    return sorted(kept, key=lambda o: o.first)


# ---------------------------------------------------------------- result


@dataclass
class KwicLine:
    left: str
    keyword: str
    right: str
    doc: DocumentMeta
    passage: Passage
    page: int  # the physical page the keyword stands on
    page_label: str | None
    start: int  # the keyword's character offsets in the passage text
    end: int
    match: str

    @property
    def short_citation(self) -> str:
        """The citation with only the innermost section (for one-line listings)."""
        section = self.passage.section.rsplit(" > ", 1)[-1]
        on_page = dataclasses.replace(
            self.passage, page_start=self.page, page_end=self.page, page_label=self.page_label, section=section
        )
        return cite(on_page, self.doc)

    @property
    def citation(self) -> str:
        on_page = dataclasses.replace(
            self.passage, page_start=self.page, page_end=self.page, page_label=self.page_label
        )
        return cite(on_page, self.doc)

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "keyword": self.keyword,
            "right": self.right,
            "match": self.match,
            "doc_id": self.doc.doc_id,
            "passage_id": self.passage.passage_id,
            "municipality": self.doc.municipality,
            "kommunenummer": self.doc.kommunenummer,
            "title": self.doc.title,
            "doc_type": self.doc.doc_type,
            "year_from": self.doc.year_from,
            "year_to": self.doc.year_to,
            "standard": self.doc.standard,
            "page": self.page,
            "page_label": self.page_label,
            "section": self.passage.section,
            "citation": self.citation,
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Concordance:
    query: str
    filters: Filters
    lines: list[KwicLine]
    total: int  # occurrences found (``lines`` may be fewer: ``limit``)
    passages: int  # passages with at least one occurrence
    documents: int
    within: int | None = None
    sort: str = "doc"
    width: int = DEFAULT_WIDTH
    candidates: int = 0  # passages the query matched (some may hold no occurrence to show)
    message: str | None = None  # why there are no lines

    def about(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "filters": " ".join(self.filters.describe()),
            "within": self.within,
            "sort": self.sort,
            "occurrences": self.total,
            "shown": len(self.lines),
        }

    def to_dict(self) -> dict[str, Any]:
        out = {
            "query": self.query,
            "filters": self.filters.__dict__,
            "within": self.within,
            "sort": self.sort,
            "width": self.width,
            "total": self.total,
            "shown": len(self.lines),
            "passages": self.passages,
            "documents": self.documents,
            "lines": [ln.to_dict() for ln in self.lines],
        }
        if self.message:
            out["message"] = self.message
        return out

    def write(self, path: str | Path) -> Path:
        """The lines as CSV or JSON (by the suffix of ``path``)."""
        return write_rows(path, COLUMNS, [ln.to_dict() for ln in self.lines], self.about(), self.to_dict())


# ---------------------------------------------------------------- building


def concordance(
    searcher: Searcher,
    query: str,
    filters: Filters | None = None,
    *,
    within: int | None = None,
    width: int = DEFAULT_WIDTH,
    sort: str = "doc",
    limit: int | None = None,
) -> Concordance:
    """Every occurrence of ``query`` in the passages search finds for it."""
    if sort not in SORTS:
        raise PlansokError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if within is not None and within < 1:
        raise PlansokError(f"within must be at least 1 word, not {within}")
    filters = filters or Filters()
    opts = SearchOptions()
    plan = searcher.plan(query, opts)
    matcher = Matcher(plan, opts, within)
    rows = candidate_rows(searcher, plan, opts, filters, within)
    lines: list[KwicLine] = []
    pages = _PageFinder(searcher)
    for occ_batch in iter_occurrences(searcher, matcher, rows):
        for doc, passage, analysed, occs in occ_batch:
            for occ in occs:
                lines.append(_line(doc, passage, analysed, occ, width, pages))
    passages = len({ln.passage.passage_id for ln in lines})
    documents = len({ln.doc.doc_id for ln in lines})
    total = len(lines)
    lines.sort(key=_sort_key(sort))
    if limit:
        lines = lines[:limit]
    message = None
    proximity = [px for c in plan.concepts for px in c.proximity]
    if not total and not rows.size and proximity:
        # Said here: the API's general reason would suggest --within, which a proximity ignores.
        missing = [w.form for px in proximity for w in px.content if not searcher.has_any(w)]
        message = explain_empty(filters, searcher.ix.docs) or (
            f"no passages match {query!r}: the index has no word like {', '.join(missing)}"
            if missing
            else f"no passage has the words of {query!r} close enough: in one sentence, in any order, "
            f"first to last within {' / '.join(str(px.span + 1) for px in proximity)} words; a larger ~N widens that"
        )
    elif not total and rows.size:
        message = (
            f"{rows.size} passage(s) match {query!r}, but only through words standing apart "
            "(the parts of a compound, or a phrase's words out of order)"
            + ("; try a larger --within" if within else "; add --within N to see those within N words")
        )
    return Concordance(query, filters, lines, total, passages, documents, within, sort, width, int(rows.size), message)


def candidate_rows(
    searcher: Searcher, plan: QueryPlan, opts: SearchOptions, filters: Filters | None, within: int | None
) -> np.ndarray:
    """Rows search finds for the plan (any score), in index order. With
    ``within``, phrase concepts are not held to their exact word order here:
    the matcher looks for their words close together instead."""
    if not plan.concepts:
        return np.zeros(0, dtype=np.int64)
    scores = searcher.score(plan, opts, filters)
    if within is None:
        scores = searcher.phrases.apply(plan, scores)
    else:
        # Excluded phrases still exclude; phrase concepts are judged by the matcher.
        loose = dataclasses.replace(plan, concepts=[c for c in plan.concepts if not c.phrases])
        scores = searcher.phrases.apply(loose, scores)
    return np.flatnonzero(scores > 0)


def iter_occurrences(
    searcher: Searcher, matcher: Matcher, rows: np.ndarray, batch: int = BATCH
) -> Iterable[list[tuple[DocumentMeta, Passage, AnalysedText, list[Occurrence]]]]:
    """Per batch of rows: each passage with occurrences, its analysis and them."""
    ix = searcher.ix
    for lo in range(0, rows.size, batch):
        chunk = rows[lo : lo + batch]
        pids = ix.pids[chunk].tolist()
        docs = [ix.docs[i] for i in ix.row_doc[chunk].tolist()]
        passages = ix.store.passages_by_pid(pids)
        present = [(d, passages[pid]) for pid, d in zip(pids, docs) if pid in passages]
        analysed = analyse_texts(searcher.forms, [(p.text, d.standard) for d, p in present])
        out = []
        for (d, p), a in zip(present, analysed):
            occs = matcher.find(a)
            if occs:
                out.append((d, p, a, occs))
        yield out


def _line(
    doc: DocumentMeta, passage: Passage, a: AnalysedText, occ: Occurrence, width: int, pages: _PageFinder
) -> KwicLine:
    start, end = a.tokens[occ.first].start, a.tokens[occ.last].end
    left = " ".join(a.text[:start].split())
    right = " ".join(a.text[end:].split())
    if len(left) > width:
        cut = left[-width:]
        # Whole words only: drop the word the cut went through.
        left = cut.split(" ", 1)[1] if " " in cut and not left[-width - 1].isspace() else cut
    if len(right) > width:
        cut = right[:width]
        right = cut.rsplit(" ", 1)[0] if " " in cut and not right[width].isspace() else cut
    page, label = pages.locate(doc, passage, a, occ)
    keyword = " ".join(a.text[start:end].split())
    return KwicLine(left, keyword, right, doc, passage, page, label, start, end, occ.match)


# Norwegian alphabetical order: æ, ø, å after z (code points put å first),
# other accents sorted with their letter (òg with og, é with e).
_COLLATE = str.maketrans({"æ": "z{", "ø": "z|", "å": "z}", "ä": "z{", "ö": "z|"})


def _collate(form: str) -> str:
    folded = unicodedata.normalize("NFD", form.translate(_COLLATE))
    return "".join(c for c in folded if not unicodedata.combining(c))


def _words_key(text: str, reverse: bool = False) -> tuple[str, ...]:
    words = [_collate(t.form) for t in tokenize(text)]
    return tuple(reversed(words) if reverse else words)


def _sort_key(sort: str):
    def doc_order(ln: KwicLine) -> tuple:
        return (ln.doc.doc_id, ln.passage.ordinal, ln.start)

    if sort == "left":
        return lambda ln: (_words_key(ln.left, reverse=True), _words_key(ln.keyword), doc_order(ln))
    if sort == "right":
        return lambda ln: (_words_key(ln.right), _words_key(ln.keyword), doc_order(ln))
    return doc_order


class _PageFinder:
    """The page a keyword stands on. Passages are split at page breaks, so
    almost every passage lies on one page; for one that runs over a break, the
    page whose text holds the keyword with most of its neighbouring words."""

    def __init__(self, searcher: Searcher) -> None:
        self.store = searcher.ix.store
        self._pages: dict[str, dict[int, Page]] = {}
        self._words: dict[tuple[str, int], str] = {}

    def locate(self, doc: DocumentMeta, passage: Passage, a: AnalysedText, occ: Occurrence) -> tuple[int, str | None]:
        if passage.page_end <= passage.page_start:
            return passage.page_start, passage.page_label
        pages = self._pages.get(doc.doc_id)
        if pages is None:
            pages = self._pages[doc.doc_id] = {p.number: p for p in self.store.pages(doc.doc_id)}
        forms = [t.form for t in a.tokens]
        best, best_page = -1, passage.page_start
        for number in range(passage.page_start, passage.page_end + 1):
            if number not in pages:
                continue
            key = (doc.doc_id, number)
            words = self._words.get(key)
            if words is None:
                words = self._words[key] = " " + " ".join(t.form for t in tokenize(pages[number].text)) + " "
            score = _context_match(forms, occ.first, occ.last, words)
            if score > best:
                best, best_page = score, number
        if best_page == passage.page_start:
            return best_page, passage.page_label
        return best_page, pages[best_page].label


def _context_match(forms: list[str], first: int, last: int, page_words: str, reach: int = 6) -> int:
    """How many words around tokens first..last stand in ``page_words`` in the
    same order with them (-1: not even the keyword)."""
    best = -1
    for left in range(0, min(reach, first) + 1):
        for right in range(0, min(reach, len(forms) - 1 - last) + 1):
            if left + right <= best:
                continue
            gram = " " + " ".join(forms[first - left : last + right + 1]) + " "
            if gram in page_words:
                best = left + right
    return best
