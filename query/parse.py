"""The query language, small on purpose:

    barnefattigdom sosialhjelp      words: ranked by BM25, more matched words first
    "tidlig innsats"                a phrase: these words in this order (inflections match)
    bolig OR bustad OR husvære      alternatives: count as one concept
    -arbeidsliv  -"helse og familie" exclude passages with the word or phrase

Case does not matter except for the operator ``OR``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PART_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Clause:
    text: str  # a word, or the words of a phrase
    phrase: bool = False


@dataclass
class ParsedQuery:
    # Each concept is a list of alternatives (OR); concepts combine softly.
    concepts: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.concepts

    def clauses(self) -> list[Clause]:
        return [c for alts in self.concepts for c in alts]


def parse_query(query: str) -> ParsedQuery:
    parsed = ParsedQuery()
    pending_or = False
    for m in _PART_RE.finditer(query):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        if word == "OR":
            pending_or = bool(parsed.concepts)
            continue
        if phrase is not None:
            clause = Clause(phrase.strip(), phrase=True)
            if not clause.text:
                continue
        else:
            neg = "-" if word.startswith("-") and len(word) > 1 else ""
            word = word[1:] if neg else word
            clause = Clause(word.strip(), phrase=False)
        if neg:
            parsed.excluded.append(clause)
            continue
        if pending_or:
            parsed.concepts[-1].append(clause)
        else:
            parsed.concepts.append([clause])
        pending_or = False
    return parsed
