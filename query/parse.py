"""The query language, small on purpose:

    barnefattigdom sosialhjelp      words: ranked by BM25, more matched words first
    "tidlig innsats"                a phrase: these words in this order (inflections match)
    "fattigdom barn"~3              proximity: these words in any order, in one sentence,
                                    with at most 3 other words among them
    bolig OR bustad OR husvære      alternatives: count as one concept
    -arbeidsliv  -"helse og familie" exclude passages with the word or phrase

Case does not matter except for the operator ``OR``.

Proximity (``"a b c"~N``) takes Lucene's syntax with a simpler meaning than
Lucene's slop: the content words of the quotes, in any order, within one
window of ``len(words) + N`` words (first to last at most ``len(words) - 1 + N``
positions apart), in one sentence. Stop words in the quotes need not occur but
count for the window's width, so ``"fattigdom blant barn"~0`` finds "fattigdom
blant barn" and "barn i fattigdom". In word order Lucene agrees (N other words
among them is slop N); Lucene charges extra for words out of order, and here
order costs nothing: a researcher looking for "fattigdom" near "barn" wants
"barn som vokser opp i fattigdom" as much as "fattigdom blant barn".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plansok.errors import PlansokError

_PART_RE = re.compile(r'(-?)"([^"]*)"?(?:~(\S*))?|(\S+)')

PROXIMITY_HELP = (
    '"a b"~N: the quoted words in any order, in one sentence, spread over at most N words more than the quotes hold'
)


class QuerySyntaxError(PlansokError):
    """A query that cannot be read as written (rather than one that matches nothing)."""


@dataclass(frozen=True)
class Clause:
    text: str  # a word, or the words of a phrase
    phrase: bool = False
    # "a b"~N: the phrase's words near each other in any order (None: a phrase or a word)
    slop: int | None = None

    @property
    def proximity(self) -> bool:
        return self.slop is not None


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


def _slop(query: str, phrase: str, raw: str) -> int:
    if not raw.isdigit() or not raw.isascii():
        what = f"not {raw!r}" if raw else "and nothing follows it"
        raise QuerySyntaxError(
            f'query {query!r}: ~ after "{phrase}" takes a whole number of words, {what} '
            f'(for example "{phrase}"~5; {PROXIMITY_HELP})'
        )
    return int(raw)


def parse_query(query: str) -> ParsedQuery:
    """The query's concepts and exclusions. A ``~`` that is not a proximity's
    ``"..."~N`` is an error, not a word: "barn~3" would otherwise search for
    "barn" and the number 3, and the user would never learn why."""
    parsed = ParsedQuery()
    pending_or = False
    for m in _PART_RE.finditer(query):
        neg, phrase, slop, word = m.group(1), m.group(2), m.group(3), m.group(4)
        if word == "OR":
            pending_or = bool(parsed.concepts)
            continue
        if phrase is not None:
            n = _slop(query, phrase.strip(), slop) if slop is not None else None
            clause = Clause(phrase.strip(), phrase=True, slop=n)
            if not clause.text:
                continue
        else:
            if "~" in word:
                raise QuerySyntaxError(
                    f"query {query!r}: {word!r} — ~N goes right after a phrase's closing quote, "
                    f'as in "fattigdom barn"~5 ({PROXIMITY_HELP}); fuzzy words (word~) are not supported'
                )
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
