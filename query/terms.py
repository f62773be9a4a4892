"""Word forms to index terms at query time.

Query words are analysed by the lexicon itself, in both written standards
("auto"), never looked up among the forms the indexed documents happen to
contain: "bustøtte" means bostøtte whether or not a nynorsk plan is indexed.
The ``forms`` table (each document form with its terms) serves snippets and
phrase matching, where the document's own analysis is what counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from plansok.analysis.analyzer import Analyzer
from plansok.index.store import IndexStore

# Queries may be typed in either written standard.
QUERY_STANDARD = "auto"


@dataclass
class WordTerms:
    form: str
    whole: tuple[str, ...]
    parts: tuple[str, ...]  # compound parts of the word itself (without "~")

    @property
    def stop(self) -> bool:
        return not self.whole


class FormCache:
    """Stored word forms, remembered once looked up: the snippets of every
    query ask for the same few thousand common words again."""

    def __init__(self, store: IndexStore, max_size: int = 200_000) -> None:
        self.store = store
        self.max_size = max_size
        self._known: dict[str, list[str] | None] = {}

    def forms(self, keys: Sequence[str]) -> dict[str, list[str]]:
        missing = [k for k in dict.fromkeys(keys) if k not in self._known]
        if missing:
            found = self.store.forms(missing)
            if len(self._known) + len(missing) > self.max_size:
                self._known.clear()
            for k in missing:
                self._known[k] = found.get(k)
        out = {}
        for k in keys:
            v = self._known.get(k)
            if v is not None:
                out[k] = v
        return out


@dataclass
class TermResolver:
    """Query words to terms, by the lexicon alone (no index needed)."""

    analyzer_factory: Callable[[], Analyzer] = Analyzer
    _analyzer: Analyzer | None = field(default=None, repr=False)

    @property
    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            self._analyzer = self.analyzer_factory()
        return self._analyzer

    def words(self, forms: Sequence[str]) -> list[WordTerms]:
        forms = [f.lower() for f in forms]
        self.analyzer.prepare(forms, QUERY_STANDARD)
        out = []
        for f in forms:
            whole, parts, _stop = self.analyzer.analyze_form(f, QUERY_STANDARD)
            out.append(WordTerms(f, tuple(whole), tuple(parts)))
        return out
