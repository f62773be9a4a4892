"""Comparing plans by their units: one plan's revisions, and many plans on one theme.

- :func:`compare_structures`: the goals, strategies and measures added, removed and
  reworded between two versions of a plan. Units of one kind are paired by the overlap
  of their lemmas (bokmål-normalised, so a nynorsk revision of a bokmål plan pairs too):
  the pairing that maximises total overlap (Hungarian assignment), keeping pairs at or
  above ``threshold``. A pair with the same words is unchanged; a pair with other words
  is reworded; what is left over was added or removed.
- :func:`commitments`: per plan, the units that address a theme given as a query (the
  search's own query language and term resolution: inflections, both standards,
  compounds) or as a codebook tag (the tag's rules run over each unit), with their
  quotes and citations, and the plans that state no such unit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, Analyzer, TokenTerms
from plansok.models import DocumentMeta
from plansok.query.phrases import contains_phrase
from plansok.query.plan import Concept, QueryPlan, SearchOptions, plan_query
from plansok.query.terms import TermResolver
from plansok.views.structure import UNIT_KINDS, PlanStructure, PlanUnit, _tokens

logger = logging.getLogger(__name__)

REWORDED = 0.5  # lemma overlap (Dice) at which two units are one unit reworded


# -- lemmas ------------------------------------------------------------------------------


class UnitLemmas:
    """Content lemmas of unit texts, through the shared analysis (cached per text)."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer()
        self._cache: dict[tuple[str, str], list[TokenTerms]] = {}

    def analysed(self, text: str, standard: str) -> list[TokenTerms]:
        key = (text, standard)
        if key not in self._cache:
            self._cache[key] = self.analyzer.analyze(text, standard)
        return self._cache[key]

    def lemmas(self, text: str, standard: str) -> set[str]:
        out = set()
        for tt in self.analysed(text, standard):
            whole = [t for t in tt.whole if not t.startswith(STEM_PREFIX)]
            if whole and not tt.stop:
                out.add(whole[0])
        return out


def lemma_overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


# -- revisions -----------------------------------------------------------------------------


@dataclass
class UnitChange:
    change: str  # added, removed, reworded, unchanged
    kind: str
    old: PlanUnit | None
    new: PlanUnit | None
    similarity: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "kind": self.kind,
            "similarity": round(self.similarity, 3),
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
        }


@dataclass
class PlanComparison:
    old: DocumentMeta
    new: DocumentMeta
    changes: list[UnitChange]
    threshold: float
    kinds: tuple[str, ...] = UNIT_KINDS

    def of(self, change: str, kind: str | None = None) -> list[UnitChange]:
        return [c for c in self.changes if c.change == change and (kind is None or c.kind == kind)]

    @property
    def added(self) -> list[UnitChange]:
        return self.of("added")

    @property
    def removed(self) -> list[UnitChange]:
        return self.of("removed")

    @property
    def reworded(self) -> list[UnitChange]:
        return self.of("reworded")

    @property
    def unchanged(self) -> list[UnitChange]:
        return self.of("unchanged")

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            k: {c: len(self.of(c, k)) for c in ("added", "removed", "reworded", "unchanged")}
            for k in self.kinds
            if any(ch.kind == k for ch in self.changes)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "threshold": self.threshold,
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
        }


def _same_words(a: str, b: str) -> bool:
    return _tokens(a) == _tokens(b)


def compare_structures(
    old: PlanStructure,
    new: PlanStructure,
    *,
    threshold: float = REWORDED,
    kinds: Sequence[str] = UNIT_KINDS,
    lemmas: UnitLemmas | None = None,
) -> PlanComparison:
    """What changed between two versions of a plan, unit kind by unit kind."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], not {threshold}")
    lemmas = lemmas or UnitLemmas()
    changes: list[UnitChange] = []
    for kind in kinds:
        a, b = old.of_kind(kind), new.of_kind(kind)
        la = [lemmas.lemmas(u.text, old.doc.standard) for u in a]
        lb = [lemmas.lemmas(u.text, new.doc.standard) for u in b]
        sim = np.zeros((len(a), len(b)))
        for i, x in enumerate(la):
            for j, y in enumerate(lb):
                sim[i, j] = 1.0 if _same_words(a[i].text, b[j].text) else lemma_overlap(x, y)
        paired_a: set[int] = set()
        paired_b: set[int] = set()
        if a and b:
            rows, cols = linear_sum_assignment(-sim)
            for i, j in zip(rows, cols, strict=True):
                if sim[i, j] < threshold:
                    continue
                paired_a.add(i)
                paired_b.add(j)
                same = _same_words(a[i].text, b[j].text)
                changes.append(UnitChange("unchanged" if same else "reworded", kind, a[i], b[j], float(sim[i, j])))
        changes += [UnitChange("removed", kind, u, None) for i, u in enumerate(a) if i not in paired_a]
        changes += [UnitChange("added", kind, None, u) for j, u in enumerate(b) if j not in paired_b]
    order = {"added": 0, "removed": 1, "reworded": 2, "unchanged": 3}
    changes.sort(key=lambda c: (UNIT_KINDS.index(c.kind), order[c.change], (c.new or c.old).page))  # type: ignore[union-attr]
    return PlanComparison(old.doc, new.doc, changes, threshold, tuple(kinds))


# -- themes ----------------------------------------------------------------------------------


@dataclass
class Commitment:
    unit: PlanUnit
    matched: list[str]  # the unit's words that made it address the theme

    def to_dict(self) -> dict[str, Any]:
        return self.unit.to_dict() | {"matched": self.matched}


@dataclass
class PlanCommitments:
    doc: DocumentMeta
    units: int  # units the plan states at all
    commitments: list[Commitment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc.doc_id,
            "municipality": self.doc.municipality,
            "kommunenummer": self.doc.kommunenummer,
            "title": self.doc.title,
            "doc_type": self.doc.doc_type,
            "period": self.doc.period,
            "units": self.units,
            "counts": {k: sum(1 for c in self.commitments if c.unit.kind == k) for k in UNIT_KINDS},
            "commitments": [c.to_dict() for c in self.commitments],
        }


@dataclass
class CommitmentReport:
    theme: str  # the query, the tags, or both, as given
    query: str
    tags: list[str]
    filters: dict[str, Any]
    kinds: tuple[str, ...]
    plans: list[PlanCommitments]  # plans with at least one unit on the theme
    without: list[PlanCommitments]  # plans that state units, none on the theme
    no_units: list[DocumentMeta]  # plans where no unit was found at all
    message: str | None = None  # why nothing was found, when nothing was

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "theme": self.theme,
            "query": self.query,
            "tags": self.tags,
            "filters": self.filters,
            "kinds": list(self.kinds),
            "plans": [p.to_dict() for p in self.plans],
            "without": [p.to_dict() for p in self.without],
            "no_units": [{"doc_id": d.doc_id, "municipality": d.municipality, "title": d.title} for d in self.no_units],
        }

    def write_png(self, path: str | Path) -> Path:
        """A bar per plan: its units on the theme by kind; plans stating none, and plans where no
        unit was found, are listed too, so an empty bar is read as what it is."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [(p.doc, p.commitments, "") for p in self.plans]
        rows += [(p.doc, [], f"none of {p.units} units") for p in self.without]
        rows += [(d, [], "no units found") for d in self.no_units]
        labels = [_plan_label(d) for d, _, _ in rows]
        fig, ax = plt.subplots(figsize=(9, max(2.2, 0.42 * len(rows) + 1.3)), dpi=110)
        left = np.zeros(len(rows))
        colours = {"mål": "#1f4e79", "delmål": "#5b9bd5", "strategi": "#70ad47", "tiltak": "#ed7d31"}
        for kind in self.kinds:
            counts = np.array([sum(1 for c in found if c.unit.kind == kind) for _, found, _ in rows], dtype=float)
            if counts.any():
                ax.barh(range(len(rows)), counts, left=left, color=colours[kind], label=kind)
            left += counts
        for i, (_, _, note) in enumerate(rows):
            if note:
                ax.text(0.05, i, note, va="center", fontsize=7, color="#555555")
        ax.set_yticks(range(len(rows)), labels=labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("units (goals, strategies, measures) on the theme")
        ax.set_xlim(0, max(4.0, float(left.max()) * 1.15 if len(left) else 4.0))
        ax.xaxis.get_major_locator().set_params(integer=True)
        if left.any():
            ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"Plans committing to {self.theme}", fontsize=10)
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
        plt.close(fig)
        return out


def _plan_label(doc: DocumentMeta) -> str:
    title = doc.title if len(doc.title) <= 42 else doc.title[:41] + "…"
    period = f" ({doc.period})" if doc.period and doc.period not in title else ""
    return f"{doc.municipality}: {title}{period}"


Matcher = Callable[[PlanUnit, DocumentMeta], list[str]]


def query_matcher(query: str, lemmas: UnitLemmas, require_all: bool = True) -> Matcher:
    """A unit addresses the query when its words meet the query's concepts the way search
    meets them: lemma, compound part, a compound's parts as words of their own, phrases in
    order; words after ``-`` leave a unit out."""
    plan = plan_query(query, TermResolver(lambda: lemmas.analyzer), SearchOptions())
    if not plan.concepts:
        return lambda unit, doc: []

    def match(unit: PlanUnit, doc: DocumentMeta) -> list[str]:
        analysed = lemmas.analysed(unit.text, doc.standard)
        return _plan_matches(plan, analysed, require_all)

    return match


def _terms_of(tt: TokenTerms) -> set[str]:
    out = {t for t in tt.whole if not t.startswith(STEM_PREFIX)}
    out |= {PART_PREFIX + p for p in tt.parts}
    if tt.joined:
        out.add(tt.joined)
    return out


def _plan_matches(plan: QueryPlan, analysed: list[TokenTerms], require_all: bool) -> list[str]:
    terms = [_terms_of(tt) for tt in analysed]
    if any(t & plan.excluded_terms for t in terms):
        return []
    seq = [(tt.token.form, {t for t in terms[i] if not t.startswith(PART_PREFIX)}) for i, tt in enumerate(analysed)]
    if any(contains_phrase(seq, ph) for ph in plan.excluded_phrases):
        return []
    found: list[str] = []
    hits = 0
    for concept in plan.concepts:
        words = _concept_words(concept, analysed, terms, seq)
        if words:
            hits += 1
            found += [w for w in words if w not in found]
    if not hits or (require_all and hits < len(plan.concepts)):
        return []
    return found


def _concept_words(
    concept: Concept, analysed: list[TokenTerms], terms: list[set[str]], seq: list[tuple[str, set[str]]]
) -> list[str]:
    """The unit's words that meet one concept (any of its alternatives)."""
    if concept.phrases and all(len(c.text.split()) > 1 and c.phrase for c in concept.clauses):
        hit = [ph for ph in concept.phrases if contains_phrase(seq, ph)]
        if not hit:
            return []
        wanted = {t for ph in hit for w in ph for t in w.whole}
        return [tt.token.text for tt, ts in zip(analysed, terms, strict=True) if ts & wanted]
    # Whole words and compound parts of the query's words (stems are too loose for a list).
    keys = {t for t, w in concept.weights.items() if not t.startswith(STEM_PREFIX) and w >= 0.5}
    words = [tt.token.text for tt, ts in zip(analysed, terms, strict=True) if ts & keys]
    if words:
        return words
    # "fattigdom blant barn" for barnefattigdom: all of a compound's parts as words of their own.
    for group in concept.groups:
        present = [tt.token.text for tt, ts in zip(analysed, terms, strict=True) if ts & set(group)]
        if all(any(p in ts for ts in terms) for p in group):
            return present
    return []


def tag_matcher(tags: Sequence[str], codebook: Any, lemmas: UnitLemmas) -> Matcher:
    """A unit addresses the tags when each tag's codebook rules find evidence in its words
    (one term is enough in a unit: units are a sentence long, passages a paragraph)."""
    from plansok.tag.rules import Word
    from plansok.tag.tagger import Tagger

    rules = Tagger.build(codebook, lemmas.analyzer).rules

    def match(unit: PlanUnit, doc: DocumentMeta) -> list[str]:
        words = [Word.from_token_terms(tt) for tt in lemmas.analysed(unit.text, doc.standard)]
        hits = rules.tag(words, unit.text)
        if not all(t in hits for t in tags):
            return []
        return list(dict.fromkeys(e for t in tags for e in hits[t].evidence))

    return match


def commitments(
    structures: Sequence[PlanStructure],
    matchers: Sequence[Matcher],
    *,
    theme: str,
    query: str = "",
    tags: Sequence[str] = (),
    filters: dict[str, Any] | None = None,
    kinds: Sequence[str] = UNIT_KINDS,
) -> CommitmentReport:
    """Per plan, the units of ``kinds`` that every matcher accepts."""
    if not matchers:
        raise ValueError("commitments need a query or a tag")
    plans, without, no_units = [], [], []
    for st in structures:
        units = [u for u in st.units if u.kind in kinds]
        if not st.units:
            no_units.append(st.doc)
            continue
        pc = PlanCommitments(st.doc, len(units))
        for u in units:
            found: list[str] = []
            for m in matchers:
                words = m(u, st.doc)
                if not words:
                    break
                found += [w for w in words if w not in found]
            else:
                pc.commitments.append(Commitment(u, found))
        (plans if pc.commitments else without).append(pc)
    plans.sort(key=lambda p: (-len(p.commitments), p.doc.municipality, p.doc.doc_id))
    report = CommitmentReport(theme, query, list(tags), filters or {}, tuple(kinds), plans, without, no_units)
    if not plans:
        searched = len(without)
        report.message = f"no plan states a {'/'.join(kinds)} on {theme}: {searched} plan(s) with units searched" + (
            f", {len(no_units)} without any unit found" if no_units else ""
        )
    return report
