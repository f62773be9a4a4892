"""The spaCy pipeline for documents: ``spacy.blank("nb")`` with plansok's own
tokenizer and Norwegian analysis component, registered so a researcher can
build it from a config and add components of their own.

Queries skip spaCy (its import alone costs about a second) and call the same
:class:`~plansok.analysis.analyzer.Analyzer` directly; ``tests/test_analysis.py``
checks both paths give identical terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry

from plansok.analysis.analyzer import TOKEN_RE, Analyzer, TokenTerms
from plansok.analysis.analyzer import Token as PlainToken

_CHUNK_RE = re.compile(TOKEN_RE.pattern + r"|[^\w\s]|\s+", re.UNICODE)

# One list per Doc rather than an attribute per token: spaCy's ``._`` look-ups
# cost more than the analysis itself on long documents.
if not Doc.has_extension("plansok"):
    Doc.set_extension("plansok", default=None)


class PlansokTokenizer:
    """Words as :data:`TOKEN_RE` sees them ("NAV-kontoret" stays whole),
    punctuation as single tokens, and whitespace kept so ``doc.text == text``."""

    def __init__(self, vocab: Any) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        spaces: list[bool] = []
        for m in _CHUNK_RE.finditer(text):
            chunk = m.group()
            if chunk.isspace():
                if words and not spaces[-1] and chunk.startswith(" "):
                    spaces[-1] = True
                    chunk = chunk[1:]
                if chunk:
                    words.append(chunk)
                    spaces.append(False)
            else:
                words.append(chunk)
                spaces.append(False)
        return Doc(self.vocab, words=words, spaces=spaces)

    # spaCy serialises tokenizers with the pipeline; ours has no state.
    def to_bytes(self, **_: Any) -> bytes:
        return b""

    def from_bytes(self, _data: bytes, **_: Any) -> PlansokTokenizer:
        return self

    def to_disk(self, _path: Any, **_: Any) -> None:
        return None

    def from_disk(self, _path: Any, **_: Any) -> PlansokTokenizer:
        return self


@registry.tokenizers("plansok.Tokenizer.v1")
def create_tokenizer() -> Any:
    def make(nlp: Language) -> PlansokTokenizer:
        return PlansokTokenizer(nlp.vocab)

    return make


class NorwegianAnalysis:
    """Sets ``token.lemma_`` (bokmål-normalised) and ``doc._.plansok``: one
    :class:`TokenTerms` per word (stop flag and index terms: lemma, stem,
    compound parts, joined word)."""

    def __init__(self, analyzer: Analyzer, standard: str) -> None:
        self.analyzer = analyzer
        self.standard = standard

    def __call__(self, doc: Doc) -> Doc:
        words = [t for t in doc if not t.is_space and TOKEN_RE.fullmatch(t.text)]
        plain = [PlainToken(t.text, t.idx, t.idx + len(t.text)) for t in words]
        analysed = self.analyzer.analyze_tokens(plain, doc.text, self.standard)
        for tok, tt in zip(words, analysed):
            if tt.whole:
                tok.lemma_ = tt.whole[0]
        doc._.plansok = analysed
        return doc


@Language.factory(
    "plansok_norwegian",
    default_config={"standard": "nb", "split_compounds": True, "join_split_words": True},
)
def make_norwegian_analysis(
    nlp: Language, name: str, standard: str, split_compounds: bool, join_split_words: bool
) -> NorwegianAnalysis:
    analyzer = Analyzer(split_compounds=split_compounds, join_split_words=join_split_words)
    return NorwegianAnalysis(analyzer, standard)


def make_nlp(standard: str = "nb", analyzer: Analyzer | None = None) -> Language:
    """A blank Norwegian pipeline with plansok's tokenizer and analysis.

    Pass one ``analyzer`` to several pipelines (bokmål and nynorsk) so they
    share the loaded dictionaries and caches.
    """
    nlp = spacy.blank("nb", config={"nlp": {"tokenizer": {"@tokenizers": "plansok.Tokenizer.v1"}}})
    comp = nlp.add_pipe("plansok_norwegian", config={"standard": standard})
    if analyzer is not None:
        comp.analyzer = analyzer  # type: ignore[attr-defined]
    return nlp


def doc_terms(doc: Doc) -> tuple[list[str], int]:
    """Index terms of an analysed doc and its BM25 length (content words)."""
    analysed: list[TokenTerms] = doc._.plansok or []
    terms = [t for tt in analysed for t in tt.terms()]
    return terms, sum(1 for tt in analysed if tt.whole)


def pipe_terms(texts: Iterable[str], nlp: Language, batch_size: int = 256) -> Iterator[tuple[list[str], int, Doc]]:
    for doc in nlp.pipe(texts, batch_size=batch_size):
        terms, length = doc_terms(doc)
        yield terms, length, doc
