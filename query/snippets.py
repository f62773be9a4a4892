"""Snippets with every matched word highlighted, inflected and compound
matches included: a passage's words are mapped to index terms through the
stored word forms, so "barnefattigdommen" lights up for the query "fattigdom".
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from typing import Protocol

from plansok.analysis.analyzer import TOKEN_RE, form_key, tokenize

SNIPPET_WORDS = 45


class FormSource(Protocol):
    def forms(self, keys: Sequence[str]) -> dict[str, list[str]]: ...


def match_spans(store: FormSource, texts: Iterable[tuple[str, str, set[str]]]) -> list[list[tuple[int, int]]]:
    """For each (text, standard, wanted terms), the character spans of words
    whose terms meet the wanted ones; one look-up for all texts."""
    tokenised = []
    keys: dict[str, None] = {}
    for text, std, wanted in texts:
        toks = _words(text)
        pairs = [(a, b) for a, b in itertools.pairwise(toks) if text[a[2] : b[1]] == " "]
        # A passage repeats its words: each distinct form (and pair) is looked up once.
        forms = dict.fromkeys(t[0] for t in toks)
        forms.update(dict.fromkeys(f"{a[0]} {b[0]}" for a, b in pairs))
        tokenised.append((std, wanted, toks, pairs, forms))
        keys.update(dict.fromkeys(form_key(std, f) for f in forms))
    terms = store.forms(list(keys))
    out = []
    for std, wanted, toks, pairs, forms in tokenised:
        hit = {f for f in forms if wanted.intersection(terms.get(form_key(std, f), ()))}
        spans = [(start, end) for form, start, end in toks if form in hit]
        for a, b in pairs:
            if f"{a[0]} {b[0]}" in hit:
                spans.extend([(a[1], a[2]), (b[1], b[2])])
        out.append(sorted(set(spans)))
    return out


def _words(text: str) -> list[tuple[str, int, int]]:
    """(form, start, end) of each token, as :func:`tokenize` finds them, without
    building a Token each: snippets read every word of every hit."""
    return [(m.group().lower(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def form_spans(text: str, forms: set[str]) -> list[tuple[int, int]]:
    """The spans of the words of ``text`` written as one of ``forms`` (lower case)."""
    return [(t.start, t.end) for t in tokenize(text) if t.form in forms]


def make_snippet(
    text: str, spans: list[tuple[int, int]], words: int = SNIPPET_WORDS
) -> tuple[str, list[tuple[int, int]]]:
    """A window of about ``words`` words with the most matches, and the
    highlight spans shifted into it. Short passages are returned whole."""
    found = [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
    if len(found) <= words * 1.3:
        return text, spans
    starts = [a for a, _ in found]
    ends = [b for _, b in found]
    # The words a span overlaps (s < end and e > start) are a run between two
    # bisections: tokens do not overlap, so both lists are sorted.
    hit_tok = [0] * len(found)
    for s, e in spans:
        for j in range(bisect.bisect_right(ends, s), bisect.bisect_left(starts, e)):
            hit_tok[j] = 1
    best, best_i = -1, 0
    run = sum(hit_tok[:words])
    for i in range(len(found) - words + 1):
        if i:
            run += hit_tok[i + words - 1] - hit_tok[i - 1]
        if run > best:
            best, best_i = run, i
    # Start a little before the first match so the reader gets its context.
    first_hit = next((j for j in range(best_i, best_i + words) if hit_tok[j]), best_i)
    lo_tok = max(0, min(best_i, first_hit - 8))
    hi_tok = min(len(found), lo_tok + words)
    lo = starts[lo_tok]
    hi = ends[hi_tok - 1]
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
