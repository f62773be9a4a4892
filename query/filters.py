"""Which documents a search looks in, and checks that every filter value means something.

An unknown municipality, document type or document id is an error that lists
close matches, never an empty answer the researcher could read as "the plans
never say so". Municipalities are matched through the national register
(:mod:`plansok.lang.no.register`): by number, including the numbers before
the 2020 and 2024 reforms, and by name without diacritics (Flaa = Flå).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from plansok.errors import PlansokError
from plansok.lang.no.register import fold, register
from plansok.models import DOC_TYPES, DocumentMeta


class FilterError(PlansokError):
    """A filter value that matches nothing the index or the register knows."""


class EmptySelection(PlansokError):
    """Valid filters that together leave no document (a view has nothing to compare)."""


@dataclass
class Filters:
    """Which documents a search looks in. Empty lists mean no restriction."""

    municipality: list[str] = field(default_factory=list)  # name or kommunenummer
    doc_type: list[str] = field(default_factory=list)
    year: tuple[int | None, int | None] | None = None  # plan period overlaps this range
    # The plan period's first year lies in this range (a plan of 2018-2030 starts in 2018):
    # periods are long and overlap any span of years, so "the plans of 2020-2024 against
    # those of 2014-2019" is said by when a plan starts, and each plan is on one side.
    start_year: tuple[int | None, int | None] | None = None
    doc_ids: list[str] = field(default_factory=list)
    standard: str | None = None  # "nb" or "nn"
    tags: list[str] = field(default_factory=list)

    def accepts_municipality(self, doc: DocumentMeta, value: str) -> bool:
        numbers = register().numbers_for(value)
        return doc.kommunenummer in numbers or (bool(doc.municipality) and fold(doc.municipality) == fold(value))

    def accepts(self, doc: DocumentMeta) -> bool:
        if self.municipality and not any(self.accepts_municipality(doc, m) for m in self.municipality):
            return False
        if self.doc_type and doc.doc_type not in self.doc_type:
            return False
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.standard and doc.standard != self.standard:
            return False
        if self.year:
            lo, hi = self.year
            d_lo = doc.year_from or doc.year_to
            d_hi = doc.year_to or doc.year_from
            if d_lo is None or d_hi is None:
                return False
            if (hi is not None and d_lo > hi) or (lo is not None and d_hi < lo):
                return False
        if self.start_year:
            lo, hi = self.start_year
            start = doc.year_from or doc.year_to
            if start is None or (lo is not None and start < lo) or (hi is not None and start > hi):
                return False
        return True

    def describe(self) -> list[str]:
        """The filters as the command line writes them."""
        out = [f"--kommune {m}" for m in self.municipality]
        out += [f"--type {t}" for t in self.doc_type]
        if self.year:
            lo, hi = self.year
            out.append(f"--year {lo or ''}-{hi or ''}" if lo != hi else f"--year {lo}")
        if self.start_year:
            lo, hi = self.start_year
            out.append(f"--start-year {lo or ''}-{hi or ''}" if lo != hi else f"--start-year {lo}")
        out += [f"--doc {d}" for d in self.doc_ids]
        if self.standard:
            out.append(f"--standard {self.standard}")
        out += [f"--tag {t}" for t in self.tags]
        return out

    def only(self, which: str) -> Filters:
        """A copy that keeps one kind of filter (for saying which one emptied a result)."""
        kept = Filters()
        setattr(kept, which, getattr(self, which))
        return kept

    @property
    def kinds(self) -> list[str]:
        kinds = ("municipality", "doc_type", "year", "start_year", "doc_ids", "standard")
        return [k for k in kinds if getattr(self, k)]


def _suggest(value: str, choices: Sequence[str], key=lambda s: s.casefold()) -> str:
    by_key = {key(c): c for c in choices}
    close = difflib.get_close_matches(key(value), list(by_key), n=4, cutoff=0.6)
    return f"; did you mean {', '.join(by_key[c] for c in close)}?" if close else ""


def check_filters(filters: Filters, docs: Sequence[DocumentMeta]) -> None:
    """Raise :class:`FilterError` for a filter value that can match no indexed document."""
    reg = register()
    indexed_names = sorted({d.municipality for d in docs if d.municipality})
    for value in filters.municipality:
        if any(filters.accepts_municipality(d, value) for d in docs):
            continue
        numbers = reg.numbers_for(value)
        if numbers:
            known = sorted({reg.name_of(n) or n for n in numbers if reg.by_nr[n].current} or {value})
            raise FilterError(
                f"--kommune {value}: no indexed document is from {', '.join(known)} "
                f"(kommunenummer {', '.join(sorted(numbers))}); indexed municipalities: "
                f"{', '.join(indexed_names) or 'none'}"
            )
        hint = _suggest(value, sorted(set(indexed_names) | set(reg.names())), key=fold)
        raise FilterError(f"--kommune {value}: not a Norwegian municipality name or number{hint}")
    for t in filters.doc_type:
        if t not in DOC_TYPES:
            raise FilterError(
                f"--type {t}: not a document type{_suggest(t, DOC_TYPES)} (types: {', '.join(DOC_TYPES)})"
            )
    if filters.start_year:
        _check_start_year(filters.start_year, docs)
    ids = [d.doc_id for d in docs]
    for d in filters.doc_ids:
        if d not in ids:
            raise FilterError(
                f"--doc {d}: no such document in the index{_suggest(d, ids)} (list them with `plansok docs`)"
            )


def _check_start_year(years: tuple[int | None, int | None], docs: Sequence[DocumentMeta]) -> None:
    lo, hi = years
    shown = f"{lo or ''}-{hi or ''}" if lo != hi else str(lo)
    if any(y is not None and not 1000 <= y <= 9999 for y in (lo, hi)):
        raise FilterError(f"--start-year {shown}: expected years of four digits, YEAR or FROM-TO (e.g. 2020-2024)")
    if lo is not None and hi is not None and lo > hi:
        raise FilterError(f"--start-year {shown}: the first year is after the last (did you mean {hi}-{lo}?)")
    if docs and not any(d.year_from or d.year_to for d in docs):
        raise FilterError(f"--start-year {shown}: no indexed document has a plan period to start from")


def start_years(docs: Sequence[DocumentMeta]) -> list[int]:
    """The first years of the indexed plans' periods, for saying what --start-year can select."""
    return sorted({y for d in docs if (y := d.year_from or d.year_to) is not None})


def explain_empty(filters: Filters | None, docs: Sequence[DocumentMeta]) -> str | None:
    """Why no document passes the filters, naming the filter(s) that leave none; None if some pass."""
    if filters is None or any(filters.accepts(d) for d in docs):
        return None
    alone = [k for k in filters.kinds if not any(filters.only(k).accepts(d) for d in docs)]
    shown = alone or filters.kinds
    flags = [f for k in shown for f in filters.only(k).describe()]
    if alone == ["start_year"]:
        years = ", ".join(map(str, start_years(docs)))
        return f"no indexed document passes {' '.join(flags)} (the indexed plans start in {years})"
    if alone:
        return f"no indexed document passes {' '.join(flags)}"
    return f"no indexed document passes {' and '.join(flags)} together (each alone leaves some)"
