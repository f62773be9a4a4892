"""The codebook's lexical rules over analysed words.

A passage is a list of :class:`Word` (its lemmas and compound parts, the same
terms the index holds). A codebook term is analysed the same way and matches
where its lemmas follow each other (stop words skipped), or, for a one-word
term, inside a compound at half weight ("fattigdom" in "barnefattigdommen").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, TokenTerms
from plansok.tag.codebook import Codebook, Tag

PART_FACTOR = 0.5
WEAK_WEIGHT = 0.5
REPEAT_BONUS = 0.25  # each repeat of a term adds a quarter, up to four repeats


@dataclass(frozen=True)
class Word:
    """A word's lemmas in the analyzer's order (best reading first, a joined
    word last) and its compound parts. Ordered, not sets: which lemma a
    codebook term is filed under, and the order of evidence, must not depend
    on the process's string hashing (worker processes tag too)."""

    form: str
    whole: tuple[str, ...]
    parts: tuple[str, ...]

    @property
    def stop(self) -> bool:
        return not self.whole

    @classmethod
    def from_terms(cls, form: str, terms: Sequence[str]) -> Word:
        whole = tuple(dict.fromkeys(t for t in terms if not t.startswith((PART_PREFIX, STEM_PREFIX))))
        parts = tuple(dict.fromkeys(t[1:] for t in terms if t.startswith(PART_PREFIX)))
        return cls(form, whole, parts)

    @classmethod
    def from_token_terms(cls, tt: TokenTerms) -> Word:
        whole = [t for t in tt.whole if not t.startswith(STEM_PREFIX)]
        if tt.joined:
            whole.append(tt.joined)
        return cls(tt.token.form, tuple(dict.fromkeys(whole)), tuple(dict.fromkeys(tt.parts)))


@dataclass
class RuleHit:
    score: float = 0.0
    evidence: list[str] = field(default_factory=list)

    def confidence(self) -> float:
        return 1.0 - 0.5**self.score


@dataclass
class _Term:
    tag: int
    text: str
    lemmas: tuple[str, ...]
    weight: float
    negative: bool = False
    role: str = "term"  # "term", "negative", or "context"/"exclude" (sense only, no evidence)


class RuleTagger:
    """Tags passages by the codebook's terms, patterns and negative phrases."""

    def __init__(self, codebook: Codebook, analyse: Callable[[str], list[Word]]) -> None:
        self.codebook = codebook
        self._by_first: dict[str, list[_Term]] = {}
        self._patterns: list[tuple[int, re.Pattern[str]]] = []
        self._ambiguous: dict[int, set[str]] = {}
        self.unanalysable: list[tuple[str, str]] = []  # (tag id, term) that yield no words
        for i, tag in enumerate(codebook.tags):
            self._compile(i, tag, analyse)

    def _compile(self, i: int, tag: Tag, analyse: Callable[[str], list[Word]]) -> None:
        entries = [(t, 1.0, "term") for t in tag.terms]
        entries += [(t, WEAK_WEIGHT, "term") for t in tag.weak]
        entries += [(t, 0.0, "negative") for t in tag.negative]
        entries += [(t, 0.0, "context") for t in tag.context]
        entries += [(t, 0.0, "exclude") for t in tag.exclude]
        for text, weight, role in entries:
            words = [w for w in analyse(text) if not w.stop]
            if not words:
                self.unanalysable.append((tag.id, text))
                continue
            lemmas = tuple(_main_lemma(w) for w in words)
            self._by_first.setdefault(lemmas[0], []).append(_Term(i, text, lemmas, weight, role == "negative", role))
        self._ambiguous[i] = set(tag.ambiguous)
        self._patterns += [(i, re.compile(p)) for p in tag.patterns]

    def term_lemmas(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        """Tag id -> (term as written, its analysed lemmas), for `codebook check`."""
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = {t.id: [] for t in self.codebook.tags}
        for terms in self._by_first.values():
            for term in terms:
                if term.role == "term":
                    out[self.codebook.tags[term.tag].id].append((term.text, term.lemmas))
        return out

    def tag(self, words: Sequence[Word], text: str = "") -> dict[str, RuleHit]:
        """Tag id -> score and evidence, for the tags with any evidence."""
        content = [i for i, w in enumerate(words) if not w.stop]
        matches: list[tuple[_Term, int, int, bool]] = []  # term, first word, last word, inside a compound
        for ci, wi in enumerate(content):
            word = words[wi]
            for lemma in word.whole:
                for term in self._by_first.get(lemma, ()):
                    end = _match_rest(term.lemmas, words, content, ci)
                    if end is not None:
                        matches.append((term, wi, end, False))
            for part in word.parts:
                for term in self._by_first.get(part, ()):
                    if len(term.lemmas) == 1:
                        matches.append((term, wi, wi, True))
        blocked: dict[int, set[int]] = {}
        context: set[int] = set()
        excluded: set[int] = set()
        for term, a, b, _ in matches:
            if term.negative:
                blocked.setdefault(term.tag, set()).update(range(a, b + 1))
            elif term.role == "context":
                context.add(term.tag)
            elif term.role == "exclude":
                excluded.add(term.tag)
        found: dict[int, dict[str, tuple[float, int, list[str]]]] = {}
        for term, a, b, inside in matches:
            if term.role != "term" or blocked.get(term.tag, set()).intersection(range(a, b + 1)):
                continue
            if term.text in self._ambiguous.get(term.tag, ()) and (term.tag not in context or term.tag in excluded):
                continue  # the word in another sense
            weight = term.weight * (PART_FACTOR if inside else 1.0)
            per_tag = found.setdefault(term.tag, {})
            best, count, forms = per_tag.get(term.text, (0.0, 0, []))
            surface = " ".join(words[k].form for k in range(a, b + 1) if not words[k].stop or a < k < b)
            per_tag[term.text] = (max(best, weight), count + 1, [*forms, surface])
        out: dict[str, RuleHit] = {}
        for tag_i, per_term in found.items():
            hit = RuleHit()
            for weight, count, forms in per_term.values():
                hit.score += weight * (1 + REPEAT_BONUS * min(count - 1, 4))
                hit.evidence.extend(dict.fromkeys(forms))
            out[self.codebook.tags[tag_i].id] = hit
        for tag_i, pattern in self._patterns:
            found_text = pattern.findall(text)
            if found_text:
                hit = out.setdefault(self.codebook.tags[tag_i].id, RuleHit())
                hit.score += 1.0
                first = pattern.search(text)
                hit.evidence.append(first.group(0) if first else str(found_text[0]))
        for hit in out.values():
            hit.evidence = list(dict.fromkeys(hit.evidence))[:8]
        return out

    def fired(self, hits: dict[str, RuleHit]) -> dict[str, RuleHit]:
        """The hits whose score reaches their tag's threshold."""
        thresholds = {t.id: t.threshold for t in self.codebook.tags}
        return {k: h for k, h in hits.items() if h.score >= thresholds[k]}


def _main_lemma(w: Word) -> str:
    # The analyzer's best reading; a joined word ("livs" + "kvalitet") comes last.
    return w.whole[0]


def _match_rest(lemmas: tuple[str, ...], words: Sequence[Word], content: list[int], ci: int) -> int | None:
    """The index of the last word if the content words from ``ci`` on carry the
    term's lemmas in order; None otherwise."""
    if ci + len(lemmas) > len(content):
        return None
    for k, lemma in enumerate(lemmas[1:], start=1):
        if lemma not in words[content[ci + k]].whole:
            return None
    return content[ci + len(lemmas) - 1]
