"""Snippets with every matched word highlighted, inflected and compound
matches included: a passage's words are mapped to index terms through the
stored word forms, so "barnefattigdommen" lights up for the query "fattigdom".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Protocol

from plansok.analysis.analyzer import Token, form_key, tokenize

SNIPPET_WORDS = 45


class FormSource(Protocol):
    def forms(self, keys: Sequence[str]) -> dict[str, list[str]]: ...


def match_spans(store: FormSource, texts: Iterable[tuple[str, str, set[str]]]) -> list[list[tuple[int, int]]]:
    """For each (text, standard, wanted terms), the character spans of words
    whose terms meet the wanted ones; one look-up for all texts."""
    tokenised = []
    keys: list[str] = []
    for text, std, wanted in texts:
        toks = tokenize(text)
        pairs = [(a, b) for a, b in itertools.pairwise(toks) if text[a.end : b.start] == " "]
        tokenised.append((text, std, wanted, toks, pairs))
        keys.extend(form_key(std, t.form) for t in toks)
        keys.extend(form_key(std, f"{a.form} {b.form}") for a, b in pairs)
    terms = store.forms(keys)
    out = []
    for _text, std, wanted, toks, pairs in tokenised:
        spans: list[tuple[int, int]] = []
        for t in toks:
            if wanted.intersection(terms.get(form_key(std, t.form), ())):
                spans.append((t.start, t.end))
        for a, b in pairs:
            if wanted.intersection(terms.get(form_key(std, f"{a.form} {b.form}"), ())):
                spans.extend([(a.start, a.end), (b.start, b.end)])
        out.append(sorted(set(spans)))
    return out


def form_spans(text: str, forms: set[str]) -> list[tuple[int, int]]:
    """The spans of the words of ``text`` written as one of ``forms`` (lower case)."""
    return [(t.start, t.end) for t in tokenize(text) if t.form in forms]


def make_snippet(
    text: str, spans: list[tuple[int, int]], words: int = SNIPPET_WORDS
) -> tuple[str, list[tuple[int, int]]]:
    """A window of about ``words`` words with the most matches, and the
    highlight spans shifted into it. Short passages are returned whole."""
    toks: list[Token] = tokenize(text)
    if len(toks) <= words * 1.3:
        return text, spans
    starts = [t.start for t in toks]
    hit_tok = [any(s < t.end and e > t.start for s, e in spans) for t in toks]
    best, best_i = -1, 0
    run = sum(hit_tok[:words])
    for i in range(len(toks) - words + 1):
        if i:
            run += hit_tok[i + words - 1] - hit_tok[i - 1]
        if run > best:
            best, best_i = run, i
    # Start a little before the first match so the reader gets its context.
    first_hit = next((j for j in range(best_i, best_i + words) if hit_tok[j]), best_i)
    lo_tok = max(0, min(best_i, first_hit - 8))
    hi_tok = min(len(toks), lo_tok + words)
    lo = starts[lo_tok]
    hi = toks[hi_tok - 1].end
    # Extend to the end of the sentence when it is close.
    stop = text.find(". ", hi, hi + 80)
    if stop != -1:
        hi = stop + 1
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    snippet = prefix + text[lo:hi].strip() + suffix
    shift = len(prefix) - lo - (len(text[lo:hi]) - len(text[lo:hi].lstrip()))
    moved = [(s + shift, e + shift) for s, e in spans if s >= lo and e <= hi]
    return snippet, moved
