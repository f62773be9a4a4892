"""What the tag classifier sees of a passage, besides its index terms.

- The codebook rules' score for every tag (capped, scaled to 0..1): the rules
  know the vocabulary; the classifier learns how far to trust each of them
  and in which company of words.
- Whether the passage is prose (``prose.py``): a table or a reference list
  holds a theory's words without its language.
- The words of the passage's section path, marked with ``§``: "Tiltak mot
  barnefattigdom" tells what the bullet points under it are about.

Training and tagging both build the features here, so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from plansok.analysis.analyzer import encode_terms, form_key, tokenize
from plansok.analysis.prose import is_prose
from plansok.tag.codebook import Codebook
from plansok.tag.rules import RuleTagger, Word

SECTION_PREFIX = "§"
RULE_SCORE_CAP = 3.0
_SECTION_WORD = re.compile(r"[^\W\d_]{3,}")


def extra_names(codebook: Codebook) -> list[str]:
    return [f"rule:{t}" for t in codebook.ids] + ["not_prose"]


def extra_features(
    rules: RuleTagger, words: Sequence[Sequence[Word]], texts: Sequence[str], names: Sequence[str]
) -> np.ndarray:
    """docs x features, in the order of ``names`` (a model's ``extra_names``)."""
    col = {n: j for j, n in enumerate(names)}
    out = np.zeros((len(texts), len(names)), dtype=np.float32)
    for i, (ws, text) in enumerate(zip(words, texts)):
        for tag_id, hit in rules.tag(ws, text).items():
            j = col.get(f"rule:{tag_id}")
            if j is not None:
                out[i, j] = min(hit.score, RULE_SCORE_CAP) / RULE_SCORE_CAP
        j = col.get("not_prose")
        if j is not None:
            out[i, j] = 0.0 if is_prose(text) else 1.0
    return out


def section_terms(section: str) -> list[str]:
    """The heading words of a section path as features of their own."""
    return [SECTION_PREFIX + w.lower() for w in _SECTION_WORD.findall(section or "")]


def forms_of(analysed: Sequence, standard: str) -> dict[str, list[str]]:  # analysed: list[TokenTerms]
    """Each word form's terms as the index stores them (its first analysis in
    the text), from the analyser's output."""
    out: dict[str, list[str]] = {}
    for tt in analysed:
        key = form_key(standard, tt.token.form)
        if key not in out:
            encoded = encode_terms(tt.whole, tt.parts)
            out[key] = encoded.split(" ") if encoded else []  # stop words have no terms
    return out


def words_and_terms(text: str, standard: str, forms: dict[str, list[str]]) -> tuple[list[Word], list[str]]:
    """A passage's words (for the rules) and terms (for the classifier), built
    from word forms the same way at ingest, at re-tagging (forms read back from
    the index) and in training, so the same passage always gets the same tags."""
    words: list[Word] = []
    terms: list[str] = []
    for tok in tokenize(text):
        t = forms.get(form_key(standard, tok.form), [])
        words.append(Word.from_terms(tok.form, t))
        terms.extend(t)
    return words, terms
