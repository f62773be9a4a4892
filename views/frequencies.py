"""Word frequencies, keyness and collocations over lemmas.

Every count is of content words by lemma: each word of a passage is read
through its stored word form (the analysis made at ingest, the same one search
matches on), counted under its first lemma, which is bokmål for both written
standards (*tenestene* and *tjenestene* are both ``tjeneste``). Stop words,
numbers and one-letter words are left out. Compound parts are not counted
separately: *barnefattigdommen* is one ``barnefattigdom``.

Keyness compares the lemma counts of a subset (a) with those of a reference
(b) in the 2×2 table

    ===========  ============  ============
                 subset        reference
    ===========  ============  ============
    the lemma    a             b
    other words  c − a         d − b
    ===========  ============  ============

where c and d are the numbers of content words. The log-likelihood (Dunning
1993) is ``G² = 2 Σ O·ln(O/E)`` over the four cells with ``E = row total ×
column total / (c + d)``; under independence it is χ² with one degree of
freedom (G² > 3.84: p < 0.05; > 10.83: p < 0.001). Rayson and Garside's
keyness calculator sums only the first row; the other row adds little for
words that are a small share of the text. The effect size is the log ratio
(Hardie 2014), ``log2((a/c) / (b/d))``, a zero count taken as 0.5: +1 means
twice as frequent in the subset, −1 half as frequent.

Collocations count the content words within ``window`` content words on either
side of each occurrence of a query (found as the concordance finds it, so with
the same analysis as search). With O the count of a lemma in those windows, W
the content words in the windows (each word counted once, the query's own
words not at all), C the lemma's count in the whole selection and N its
content words, ``E = W·C/N``; ``MI = log2(O/E)``, and G² as above over the
table [O, W − O; C − O, N − W − C + O]. Only lemmas found more often than
expected are listed.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy.stats import chi2

from plansok.errors import PlansokError
from plansok.index.store import IndexStore
from plansok.models import DocumentMeta, Passage
from plansok.query.filters import Filters
from plansok.query.plan import SearchOptions
from plansok.query.search import Searcher
from plansok.query.terms import FormCache
from plansok.views.kwic import BATCH, AnalysedText, Matcher, analyse_texts, candidate_rows, iter_occurrences
from plansok.views.tabular import write_rows

logger = logging.getLogger(__name__)

GROUPINGS = ("document", "municipality", "type", "year")
KEYNESS_SORTS = ("ll", "ratio")
MEASURES = ("ll", "mi")
PER = 10_000  # rates are per this many content words


# ---------------------------------------------------------------- counting


@dataclass
class DocCounts:
    """Lemma counts of the passages read from one document."""

    doc: DocumentMeta
    lemmas: Counter[str] = field(default_factory=Counter)
    words: int = 0  # content words
    pids: set[int] = field(default_factory=set)  # the passages read


def tagged_pids(store: IndexStore, tags: Sequence[str]) -> set[int] | None:
    """The passages carrying every tag (None: no tag filter)."""
    out: set[int] | None = None
    for tag in tags:
        pids = set(store.tagged(tag)[0].tolist())
        out = pids if out is None else out & pids
    return out


def iter_analysed(
    store: IndexStore,
    forms: FormCache,
    docs: Iterable[DocumentMeta],
    keep: Callable[[int], bool] | None = None,
    batch: int = BATCH,
) -> Iterator[tuple[DocumentMeta, int, Passage, AnalysedText]]:
    """Every passage of ``docs`` (those ``keep`` accepts by passage id), with
    its words analysed; stored forms are read once per batch of passages."""
    pending: list[tuple[DocumentMeta, int, Passage]] = []

    def flush() -> Iterator[tuple[DocumentMeta, int, Passage, AnalysedText]]:
        analysed = analyse_texts(forms, [(p.text, d.standard) for d, _, p in pending], joined=False)
        for (d, pid, p), a in zip(pending, analysed):
            yield d, pid, p, a
        pending.clear()

    for d in docs:
        for pid, p in store.passages_of(d.doc_id):
            if keep is None or keep(pid):
                pending.append((d, pid, p))
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def count_documents(
    searcher: Searcher, docs: Iterable[DocumentMeta], keep: Callable[[int], bool] | None = None
) -> dict[str, DocCounts]:
    """Lemma counts per document (only documents with a passage kept). Whole
    documents are counted once per loaded index and remembered, so a second
    view of the same plans reads nothing again."""
    cache: dict[str, DocCounts] = searcher.__dict__.setdefault("_lemma_counts", {})
    out: dict[str, DocCounts] = {}
    todo = []
    for d in docs:
        if keep is None and d.doc_id in cache:
            out[d.doc_id] = cache[d.doc_id]
        else:
            todo.append(d)
    for d, pid, _p, a in iter_analysed(searcher.ix.store, searcher.forms, todo, keep):
        dc = out.get(d.doc_id)
        if dc is None:
            dc = out[d.doc_id] = DocCounts(d)
        dc.pids.add(pid)
        for lemma in a.lemmas:
            if lemma is not None:
                dc.lemmas[lemma] += 1
                dc.words += 1
    if keep is None:
        cache.update({d.doc_id: out[d.doc_id] for d in todo if d.doc_id in out})
    return out


def _selection(store: IndexStore, docs: Sequence[DocumentMeta], filters: Filters) -> tuple[list[DocumentMeta], Any]:
    chosen = [d for d in docs if filters.accepts(d)]
    pids = tagged_pids(store, filters.tags)
    return chosen, (pids.__contains__ if pids is not None else None)


# ---------------------------------------------------------------- frequencies


@dataclass
class LemmaFrequency:
    lemma: str
    count: int
    per_10k: float  # per 10,000 content words of the group
    documents: int  # documents of the group using it

    def to_dict(self) -> dict[str, Any]:
        return {"lemma": self.lemma, "count": self.count, "per_10k": self.per_10k, "documents": self.documents}


@dataclass
class FrequencyGroup:
    key: str  # doc id, municipality, type or year ("all" without grouping)
    label: str
    words: int  # content words
    documents: int
    lemmas: list[LemmaFrequency]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "words": self.words,
            "documents": self.documents,
            "lemmas": [x.to_dict() for x in self.lemmas],
        }


@dataclass
class Frequencies:
    by: str | None
    filters: Filters
    top: int
    groups: list[FrequencyGroup]
    # Every lemma in some group's top list -> its count in each group (in
    # ``groups`` order), so groups can be compared where a lemma missed a top list.
    across: dict[str, list[int]] = field(default_factory=dict)
    message: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"group": g.key, "label": g.label, "group_words": g.words, "rank": i, **x.to_dict()}
            for g in self.groups
            for i, x in enumerate(g.lemmas, start=1)
        ]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "by": self.by,
            "filters": self.filters.__dict__,
            "top": self.top,
            "groups": [g.to_dict() for g in self.groups],
            "across": self.across,
        }
        if self.message:
            out["message"] = self.message
        return out

    def png(self, path: str | Path, n: int = 20) -> Path:
        """A chart: the top lemmas' rates, or with groups a heatmap of them."""
        from plansok.views.plots import frequencies_png

        return frequencies_png(self, path, n)

    def write(self, path: str | Path) -> Path:
        about = {"frequencies by": self.by or "all", "filters": " ".join(self.filters.describe()), "top": self.top}
        columns = ["group", "label", "group_words", "rank", "lemma", "count", "per_10k", "documents"]
        return write_rows(path, columns, self.rows(), about, self.to_dict())


def group_of(doc: DocumentMeta, by: str | None) -> tuple[str, str]:
    """(key, label) of the group a document falls in."""
    if by is None:
        return "all", "all documents"
    if by == "document":
        title = doc.title or doc.doc_id
        if doc.period and doc.period not in title:
            title += f" ({doc.period})"
        return doc.doc_id, f"{doc.municipality or '?'}: {title}"
    if by == "municipality":
        name = doc.municipality or doc.kommunenummer or "?"
        return name, name
    if by == "type":
        return doc.doc_type, doc.doc_type
    if by == "year":
        # The first year of the plan period: when the plan was made, the year it speaks from.
        year = doc.year_from or doc.year_to or (int(doc.adopted[:4]) if doc.adopted[:4].isdigit() else None)
        return (str(year), str(year)) if year else ("?", "no year")
    raise PlansokError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")


def frequencies(
    searcher: Searcher,
    filters: Filters | None = None,
    *,
    by: str | None = None,
    top: int = 30,
) -> Frequencies:
    """The ``top`` lemmas of the selection, overall or per group."""
    if by is not None and by not in GROUPINGS:
        raise PlansokError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    filters = filters or Filters()
    store = searcher.ix.store
    docs, keep = _selection(store, searcher.ix.docs, filters)
    counts = count_documents(searcher, docs, keep)
    merged: dict[str, tuple[str, Counter[str], Counter[str], list[int]]] = {}
    for dc in counts.values():
        key, label = group_of(dc.doc, by)
        _, lemmas, spread, sizes = merged.setdefault(key, (label, Counter(), Counter(), [0, 0]))
        lemmas.update(dc.lemmas)
        spread.update(dc.lemmas.keys())
        sizes[0] += dc.words
        sizes[1] += 1
    groups = []
    keys = sorted(merged, key=_group_order)
    for key in keys:
        label, lemmas, spread, (words, ndocs) = merged[key]
        best = sorted(lemmas.items(), key=lambda kv: (-kv[1], kv[0]))[: top or None]
        rows = [LemmaFrequency(lem, n, _rate(n, words), spread[lem]) for lem, n in best]
        groups.append(FrequencyGroup(key, label, words, ndocs, rows))
    listed = dict.fromkeys(x.lemma for g in groups for x in g.lemmas)
    across = {lem: [merged[k][1][lem] for k in keys] for lem in listed}
    message = None if groups else "no passage passes the filters"
    return Frequencies(by, filters, top, groups, across, message)


def _group_order(key: str) -> tuple[int, str]:
    return (0, key.zfill(8)) if key.isdigit() else (1, key.casefold())


def _rate(n: int, words: int) -> float:
    return round(PER * n / words, 2) if words else 0.0


# ---------------------------------------------------------------- statistics


def g2(table: Sequence[Sequence[float]]) -> float:
    """Dunning's log-likelihood G² of a 2×2 contingency table of counts."""
    (o11, o12), (o21, o22) = table
    n = o11 + o12 + o21 + o22
    rows = (o11 + o12, o21 + o22)
    cols = (o11 + o21, o12 + o22)
    total = 0.0
    for i, row in enumerate(table):
        for j, o in enumerate(row):
            if o > 0:
                total += o * math.log(o * n / (rows[i] * cols[j]))
    return 2.0 * total


def log_ratio(a: int, c: int, b: int, d: int) -> float:
    """log2 of the ratio of relative frequencies, a zero count as 0.5 (Hardie 2014)."""
    return math.log2(((a or 0.5) / c) / ((b or 0.5) / d))


# ---------------------------------------------------------------- keyness


@dataclass
class Keyword:
    lemma: str
    count: int  # in the subset
    count_ref: int  # in the reference
    per_10k: float
    per_10k_ref: float
    g2: float
    p: float
    log_ratio: float
    documents: int  # subset documents using it
    documents_ref: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lemma": self.lemma,
            "count": self.count,
            "count_ref": self.count_ref,
            "per_10k": self.per_10k,
            "per_10k_ref": self.per_10k_ref,
            "g2": round(self.g2, 3),
            "p": self.p,
            "log_ratio": round(self.log_ratio, 3),
            "documents": self.documents,
            "documents_ref": self.documents_ref,
        }


@dataclass
class Keyness:
    filters: Filters
    against: Filters | None  # None: every other indexed passage
    words: int  # content words in the subset
    words_ref: int
    documents: list[str]  # doc ids in the subset
    documents_ref: list[str]
    keywords: list[Keyword]  # more frequent in the subset, best first
    negative: list[Keyword]  # less frequent in the subset, best first
    min_freq: int
    sort: str = "ll"
    overlap: int = 0  # passages in both selections, counted in the subset only
    message: str | None = None
    min_docs: int = 1

    def describe(self) -> tuple[str, str]:
        subset = " ".join(self.filters.describe()) or "all passages"
        ref = " ".join(self.against.describe()) if self.against is not None else "the rest of the index"
        return subset, ref or "all passages"

    def rows(self) -> list[dict[str, Any]]:
        out = [{"direction": "+", "rank": i, **k.to_dict()} for i, k in enumerate(self.keywords, start=1)]
        out += [{"direction": "-", "rank": i, **k.to_dict()} for i, k in enumerate(self.negative, start=1)]
        return out

    def to_dict(self) -> dict[str, Any]:
        subset, ref = self.describe()
        out = {
            "subset": subset,
            "reference": ref,
            "filters": self.filters.__dict__,
            "against": self.against.__dict__ if self.against is not None else None,
            "words": self.words,
            "words_ref": self.words_ref,
            "documents": self.documents,
            "documents_ref": self.documents_ref,
            "overlap": self.overlap,
            "min_freq": self.min_freq,
            "min_docs": self.min_docs,
            "sort": self.sort,
            "keywords": [k.to_dict() for k in self.keywords],
            "negative": [k.to_dict() for k in self.negative],
        }
        if self.message:
            out["message"] = self.message
        return out

    def png(self, path: str | Path, n: int = 20) -> Path:
        """A bar chart of the ``n`` strongest keywords (and as many negative ones, below)."""
        from plansok.views.plots import keyness_png

        return keyness_png(self, path, n)

    def write(self, path: str | Path) -> Path:
        subset, ref = self.describe()
        about = {"keyness of": subset, "against": ref, "min_freq": self.min_freq, "sort": self.sort}
        columns = [
            "direction", "rank", "lemma", "count", "count_ref", "per_10k", "per_10k_ref", "g2", "p", "log_ratio",
            "documents", "documents_ref",
        ]  # fmt: skip
        return write_rows(path, columns, self.rows(), about, self.to_dict())


def keyness(
    searcher: Searcher,
    filters: Filters,
    against: Filters | None = None,
    *,
    min_freq: int = 5,
    top: int = 30,
    sort: str = "ll",
    max_p: float | None = None,
    min_docs: int = 1,
) -> Keyness:
    """Lemmas more (and less) frequent in the passages ``filters`` selects
    than in the reference: the passages ``against`` selects, or every other
    passage. A passage both select counts in the subset only. A lemma is
    listed when it occurs at least ``min_freq`` times on the side it is more
    frequent on (and, with ``max_p``, when p <= max_p), in at least
    ``min_docs`` of that side's documents: a range criterion, so a word of a
    whole group of plans is not drowned by one plan's place names."""
    if min_docs < 1:
        raise PlansokError(f"--min-docs must be 1 or more, not {min_docs}")
    if sort not in KEYNESS_SORTS:
        raise PlansokError(f"sort by one of {', '.join(KEYNESS_SORTS)}, not {sort!r}")
    store = searcher.ix.store
    docs = searcher.ix.docs
    subset_docs, subset_keep = _selection(store, docs, filters)
    subset_counts = count_documents(searcher, subset_docs, subset_keep)
    ref_filters = against or Filters()
    ref_docs, ref_keep = _selection(store, docs, ref_filters)
    subset_ids = {d.doc_id for d in subset_docs}
    if subset_keep is None and ref_keep is None:
        # Whole documents on both sides: the reference is its documents not in the subset.
        ref_counts = count_documents(searcher, [d for d in ref_docs if d.doc_id not in subset_ids])
        overlap = sum(len(subset_counts[d.doc_id].pids) for d in ref_docs if d.doc_id in subset_counts)
    else:
        in_subset = {pid for dc in subset_counts.values() for pid in dc.pids}
        dropped: set[int] = set()

        def ref_only(pid: int) -> bool:
            if pid in in_subset:
                dropped.add(pid)
                return False
            return ref_keep is None or ref_keep(pid)

        ref_counts = count_documents(searcher, ref_docs, ref_only)
        overlap = len(dropped)
    a_counts, a_spread, c = _pool(subset_counts.values())
    b_counts, b_spread, d = _pool(ref_counts.values())
    result = Keyness(
        filters, against, c, d, sorted(subset_counts), sorted(ref_counts), [], [], min_freq, sort,
        overlap if against is not None else 0, None, min_docs,
    )  # fmt: skip
    if not c or not d:
        if not c:
            result.message = "the subset's passages hold no content words"
        elif overlap:
            result.message = (
                f"nothing left to compare: the {overlap} passages the reference selects are all in the subset too, "
                "and a passage counts on one side only (--year selects plans whose period overlaps the years; "
                "--start-year puts each plan on one side by its first year)"
            )
        else:
            result.message = "the reference's passages hold no content words"
        return result
    over: list[Keyword] = []
    under: list[Keyword] = []
    for lemma in a_counts.keys() | b_counts.keys():
        a, b = a_counts[lemma], b_counts[lemma]
        more_here = a * d > b * c
        if (a if more_here else b) < min_freq or a * d == b * c:
            continue
        if (a_spread[lemma] if more_here else b_spread[lemma]) < min_docs:
            continue
        score = g2(((a, b), (c - a, d - b)))
        p = float(chi2.sf(score, 1))
        if max_p is not None and p > max_p:
            continue
        k = Keyword(lemma, a, b, _rate(a, c), _rate(b, d), score, p, log_ratio(a, c, b, d), a_spread[lemma],
                    b_spread[lemma])  # fmt: skip
        (over if more_here else under).append(k)
    if sort == "ll":
        over.sort(key=lambda k: (-k.g2, k.lemma))
        under.sort(key=lambda k: (-k.g2, k.lemma))
    else:
        over.sort(key=lambda k: (-k.log_ratio, -k.g2, k.lemma))
        under.sort(key=lambda k: (k.log_ratio, -k.g2, k.lemma))
    result.keywords, result.negative = over[: top or None], under[: top or None]
    return result


def _pool(counts: Iterable[DocCounts]) -> tuple[Counter[str], Counter[str], int]:
    lemmas: Counter[str] = Counter()
    spread: Counter[str] = Counter()
    words = 0
    for dc in counts:
        lemmas.update(dc.lemmas)
        spread.update(dc.lemmas.keys())
        words += dc.words
    return lemmas, spread, words


# ---------------------------------------------------------------- collocations


@dataclass
class Collocate:
    lemma: str
    together: int  # in the windows around the query
    left: int  # of which before the query
    right: int
    count: int  # in the whole selection
    expected: float
    g2: float
    mi: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "lemma": self.lemma,
            "together": self.together,
            "left": self.left,
            "right": self.right,
            "count": self.count,
            "expected": round(self.expected, 3),
            "g2": round(self.g2, 3),
            "mi": round(self.mi, 3),
        }


@dataclass
class Collocations:
    query: str
    filters: Filters
    window: int
    occurrences: int  # of the query
    window_words: int  # content words in the windows
    words: int  # content words in the selection
    min_freq: int
    measure: str
    collocates: list[Collocate]
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "query": self.query,
            "filters": self.filters.__dict__,
            "window": self.window,
            "occurrences": self.occurrences,
            "window_words": self.window_words,
            "words": self.words,
            "min_freq": self.min_freq,
            "measure": self.measure,
            "collocates": [x.to_dict() for x in self.collocates],
        }
        if self.message:
            out["message"] = self.message
        return out

    def write(self, path: str | Path) -> Path:
        about = {
            "collocations of": self.query,
            "filters": " ".join(self.filters.describe()),
            "window": self.window,
            "min_freq": self.min_freq,
            "measure": self.measure,
        }
        columns = ["rank", "lemma", "together", "left", "right", "count", "expected", "g2", "mi"]
        rows = [{"rank": i, **x.to_dict()} for i, x in enumerate(self.collocates, start=1)]
        return write_rows(path, columns, rows, about, self.to_dict())


def collocations(
    searcher: Searcher,
    query: str,
    filters: Filters | None = None,
    *,
    window: int = 5,
    min_freq: int = 3,
    measure: str = "ll",
    top: int = 30,
) -> Collocations:
    """Lemmas found near ``query`` more often than chance, by G² or MI."""
    if measure not in MEASURES:
        raise PlansokError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    if window < 1:
        raise PlansokError(f"window must be at least 1 word, not {window}")
    filters = filters or Filters()
    opts = SearchOptions()
    plan = searcher.plan(query, opts)
    matcher = Matcher(plan, opts)
    rows = candidate_rows(searcher, plan, opts, filters, None)
    together: Counter[str] = Counter()
    left: Counter[str] = Counter()
    occurrences = window_words = 0
    for batch in iter_occurrences(searcher, matcher, rows):
        for _doc, _p, a, occs in batch:
            occurrences += len(occs)
            content = [i for i, lemma in enumerate(a.lemmas) if lemma is not None]
            node = {i for o in occs for i in range(o.first, o.last + 1)}
            seen: set[int] = set()
            for o in occs:
                before = [i for i in content if i < o.first and i not in node][-window:]
                after = [i for i in content if i > o.last and i not in node][:window]
                for side, idx in ((True, before), (False, after)):
                    for i in idx:
                        if i in seen:
                            continue  # each word once, however many occurrences it stands near
                        seen.add(i)
                        lemma = a.lemmas[i]
                        assert lemma is not None
                        together[lemma] += 1
                        left[lemma] += side
            window_words += len(seen)
    store = searcher.ix.store
    docs, keep = _selection(store, searcher.ix.docs, filters)
    corpus, _spread, n = _pool(count_documents(searcher, docs, keep).values())
    out: list[Collocate] = []
    for lemma, o in together.items():
        cnt = corpus[lemma]
        expected = window_words * cnt / n if n else 0.0
        if o < min_freq or o <= expected:
            continue
        score = g2(((o, window_words - o), (cnt - o, n - window_words - cnt + o)))
        out.append(Collocate(lemma, o, left[lemma], o - left[lemma], cnt, expected, score, math.log2(o / expected)))
    if measure == "ll":
        out.sort(key=lambda x: (-x.g2, x.lemma))
    else:
        out.sort(key=lambda x: (-x.mi, -x.together, x.lemma))
    message = None
    if not occurrences and rows.size:
        message = (
            f"{rows.size} passage(s) match {query!r}, but only through words standing apart "
            "(the parts of a compound), which are not counted as occurrences"
        )
    elif occurrences and not out:
        message = f"no lemma occurs at least {min_freq} times near {query!r} more often than expected"
    return Collocations(query, filters, window, occurrences, window_words, n, min_freq, measure, out[: top or None],
                        message)  # fmt: skip
