"""From text to index terms: the one analysis shared by documents and queries.

Terms are plain strings in one vocabulary:

- ``lemma``: the bokmål-normalised lemma of a word (``tjeneste`` for
  "tenestene" and "tjenestene");
- ``~part``: a part of a compound (``~fattigdom`` for "barnefattigdommen").
  Queries match parts with a lower weight, so whole-word matches rank first.
- ``^stem``: the Snowball stem of the lemma, where it differs from the lemma
  (``^frivil`` for frivillighet and frivillig): a low-weight back-off that
  meets derivations the dictionaries keep apart.

A word split in two by a bad PDF ("livs kvalitet") also yields the joined
lemma (``livskvalitet``) when the joined form is a dictionary word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from plansok.analysis.lexicon import Lexicon

PART_PREFIX = "~"
STEM_PREFIX = "^"


def form_key(standard: str, form: str) -> str:
    """The key of a word form in the index's form table ("nn:tenestene")."""
    return f"{standard}:{form}"


def encode_terms(whole: Sequence[str], parts: Sequence[str]) -> str:
    """A form's stored terms: its lemmas, then its compound parts marked with PART_PREFIX."""
    return " ".join([*whole, *(PART_PREFIX + p for p in parts)])


# Words with inner hyphens or apostrophes stay one token ("NAV-kontoret",
# "EU-60"); a trailing hyphen ("helse- og") is not part of the word.
TOKEN_RE = re.compile(r"\w+(?:[-‐'’]\w+)*", re.UNICODE)
_INNER = "-‐'’"
_INNER_RE = re.compile(r"[-‐'’]")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def form(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


@dataclass
class TokenTerms:
    """The analysis of one token: its whole-word terms and compound parts."""

    token: Token
    whole: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    stop: bool = False
    joined: str | None = None  # lemma of this token joined with the next one

    def terms(self) -> Iterator[str]:
        yield from self.whole
        for p in self.parts:
            yield PART_PREFIX + p
        if self.joined:
            yield self.joined


@dataclass
class Analyzer:
    """Norwegian analysis for bokmål and nynorsk.

    ``standard`` picks which dictionary is asked first ("nb" or "nn"); the
    output is bokmål-normalised either way, so both standards share terms.
    """

    lexicon: Lexicon = field(default_factory=Lexicon)
    split_compounds: bool = True
    join_split_words: bool = True
    stems: bool = True
    _form_cache: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], bool]] = field(
        default_factory=dict, repr=False
    )

    def analyze_form(self, form: str, standard: str = "nb") -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        """(whole-word terms, compound parts, is_stop) for a lower-case form.

        ``standard`` is the document's ("nb"/"nn"), or "auto" for queries."""
        key = (form, standard)
        hit = self._form_cache.get(key)
        if hit is not None:
            return hit
        lex = self.lexicon
        if form in lex.stop_words:
            result: tuple[tuple[str, ...], tuple[str, ...], bool] = ((), (), True)
        elif any(c in form for c in _INNER):
            result = self._analyze_hyphenated(form, standard)
        else:
            w = lex.word(form, standard)
            if w.lemma in lex.stop_words:
                result = ((), (), True)
            else:
                parts = w.parts if self.split_compounds else ()
                result = (self._with_stem(w.whole), parts, False)
        self._form_cache[key] = result
        return result

    def prepare(self, forms: list[str], standard: str) -> None:
        """Analyse many forms in one batch (hyphenated words by their pieces)."""
        todo: list[str] = []
        for f in dict.fromkeys(forms):
            if (f, standard) in self._form_cache or f in self.lexicon.stop_words:
                continue
            if any(c in f for c in _INNER):
                pieces = [p for p in _INNER_RE.split(f) if p]
                todo.extend(pieces)
                todo.append("".join(pieces))
            else:
                todo.append(f)
        self.lexicon.prepare(todo, standard)

    def _analyze_hyphenated(self, form: str, standard: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        # "NAV-kontoret" is the compound navkontor with the parts nav and kontor,
        # so it meets "Nav-kontor", "navkontoret" and a query for "nav".
        pieces = [p for p in _INNER_RE.split(form) if p]
        if len(pieces) == 1:
            return self.analyze_form(pieces[0], standard)
        joined = "".join(pieces)
        if not joined.isalpha():
            whole = joined  # "eu-60"
        else:
            # The last piece carries the inflection: RE-modellen -> re + modell.
            known = self.lexicon.word(joined, standard)
            head = self.lexicon.word(pieces[-1], standard).lemma
            whole = known.lemma if known.known and not known.compound else "".join(pieces[:-1]) + head
        parts: list[str] = []
        for piece in pieces:
            w, p, stop = self.analyze_form(piece, standard)
            for t in (*w, *p):
                if not stop and t not in parts and t != whole and not t.startswith(STEM_PREFIX):
                    parts.append(t)
        return (self._with_stem((whole,)), tuple(parts), False)

    def _with_stem(self, lemmas: tuple[str, ...]) -> tuple[str, ...]:
        if not self.stems or not lemmas:
            return lemmas
        stem = self.lexicon.stem(lemmas[0])
        return lemmas if stem in lemmas else (*lemmas, STEM_PREFIX + stem)

    def analyze(self, text: str, standard: str = "nb") -> list[TokenTerms]:
        return self.analyze_tokens(tokenize(text), text, standard)

    def analyze_tokens(self, tokens: list[Token], text: str, standard: str = "nb") -> list[TokenTerms]:
        """Analyse tokens found in ``text`` (offsets into it); the spaCy
        component calls this too, so both paths give the same terms."""
        self.prepare([t.form for t in tokens], standard)
        out: list[TokenTerms] = []
        for tok in tokens:
            whole, parts, stop = self.analyze_form(tok.form, standard)
            out.append(TokenTerms(tok, whole, parts, stop))
        if self.join_split_words:
            self._join_split_words(text, out, standard)
        return out

    def _join_split_words(self, text: str, toks: list[TokenTerms], standard: str) -> None:
        """A word split in two by a bad PDF ("livs kvalitet") also yields the
        joined word, when the dictionary knows it as one word."""
        lex = self.lexicon
        pairs = []
        for a, b in itertools.pairwise(toks):
            if a.stop or b.stop or not a.whole or not b.whole:
                continue
            fa, fb = a.token.form, b.token.form
            if len(fa) < 3 or len(fb) < 3 or not fa.isalpha() or not fb.isalpha():
                continue
            # Only across plain spaces: "livs kvalitet", not "livs. Kvalitet".
            if text[a.token.end : b.token.start] != " ":
                continue
            pairs.append((a, b, fa + fb))
        if not pairs:
            return
        # Lexicalised words only: any two nouns make a compound reading.
        listed = lex.listed_lemmas([j for _, _, j in pairs], standard)
        for a, b, joined in pairs:
            lemma = listed.get(joined)
            if lemma and lemma not in a.whole and lemma not in b.whole:
                a.joined = lemma

    def terms(self, text: str, standard: str = "nb") -> list[str]:
        """All index terms of a text, in order (stop words dropped)."""
        return [t for tt in self.analyze(text, standard) for t in tt.terms()]

    def doc_terms(self, text: str, standard: str = "nb") -> tuple[list[str], int]:
        """Index terms of a passage and its BM25 length (number of content words;
        compound parts and joined words do not make a passage longer)."""
        analysed = self.analyze(text, standard)
        terms = [t for tt in analysed for t in tt.terms()]
        length = sum(1 for tt in analysed if tt.whole)
        return terms, length
