"""Word forms to index terms at query time.

Every form seen while indexing is stored with its terms in the index
(``forms`` table), so most queries and all snippets need no dictionary:
the Norwegian lexicon (half a second to load) is only consulted for a word
form the corpus has never contained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from plansok.analysis.analyzer import PART_PREFIX, Analyzer
from plansok.index.store import IndexStore


def form_key(standard: str, form: str) -> str:
    return f"{standard}:{form}"


def encode_terms(whole: Sequence[str], parts: Sequence[str]) -> str:
    return " ".join([*whole, *(PART_PREFIX + p for p in parts)])


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
    store: IndexStore
    analyzer_factory: Callable[[], Analyzer] = Analyzer
    _analyzer: Analyzer | None = field(default=None, repr=False)

    @property
    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            self._analyzer = self.analyzer_factory()
        return self._analyzer

    def words(self, forms: Sequence[str]) -> list[WordTerms]:
        forms = [f.lower() for f in forms]
        keys = [form_key(s, f) for f in forms for s in ("nb", "nn")]
        stored = self.store.forms(keys)
        out = []
        for f in forms:
            terms = stored.get(form_key("nb", f))
            if terms is None:
                terms = stored.get(form_key("nn", f))
            if terms is None:
                whole, parts, _stop = self.analyzer.analyze_form(f, "nb")
                out.append(WordTerms(f, tuple(whole), tuple(parts)))
                continue
            whole_t = tuple(t for t in terms if not t.startswith(PART_PREFIX))
            parts_t = tuple(t[1:] for t in terms if t.startswith(PART_PREFIX))
            out.append(WordTerms(f, whole_t, parts_t))
        return out
