"""Reference retrieval systems over PAGE units of raw pypdfium2 page text.

These are the peers of ``shared/eval/README.md`` ("Reference numbers"): each PDF page is one
retrieval unit and its text is PDFium's raw text layer, with no cleaning. Systems:

- ``rank_bm25``: rank_bm25 ``BM25Okapi`` over ``text.lower().split()``.
- ``rank_bm25_w``: rank_bm25 ``BM25Okapi`` over ``\\w+`` lower-case tokens.
- ``bm25s``: bm25s (Lucene BM25) over ``\\w+`` lower-case tokens, spaCy nb stop words removed,
  Snowball Norwegian stems (PyStemmer).
- ``tantivy``: tantivy with its simple tokenizer, lower-case and the Norwegian Snowball stemmer
  (a custom ``TextAnalyzerBuilder`` analyzer), queries through tantivy's query parser.

Page texts are cached in memory per (path, size, mtime), so building several systems over the
same PDFs in one run reads each PDF once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .qrels import PageKey

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------- page texts


@lru_cache(maxsize=256)
def _page_texts_cached(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return tuple(texts)
    finally:
        pdf.close()


def page_texts(pdf: Path) -> tuple[str, ...]:
    """Raw pypdfium2 text of every page of ``pdf`` (index 0 = physical page 1)."""
    st = Path(pdf).stat()
    return _page_texts_cached(str(Path(pdf).resolve()), st.st_size, st.st_mtime_ns)


@dataclass
class PageCorpus:
    """Pages of a set of PDFs, in file order then page order."""

    keys: list[PageKey] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @classmethod
    def from_pdfs(cls, pdfs: Sequence[Path]) -> PageCorpus:
        corpus = cls()
        for pdf in pdfs:
            for i, text in enumerate(page_texts(pdf)):
                corpus.keys.append((Path(pdf).stem, i + 1))
                corpus.texts.append(text)
        return corpus

    def __len__(self) -> int:
        return len(self.keys)


# --------------------------------------------------------------------------- tokenizers


def split_tokens(text: str) -> list[str]:
    return text.lower().split()


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class StemTokenizer:
    """``\\w+`` lower-case tokens, spaCy nb stop words removed, Snowball Norwegian stems."""

    def __init__(self) -> None:
        import Stemmer
        from spacy.lang.nb.stop_words import STOP_WORDS

        self._stop = frozenset(STOP_WORDS)
        self._stemmer = Stemmer.Stemmer("norwegian")

    def __call__(self, text: str) -> list[str]:
        words = [w for w in word_tokens(text) if w not in self._stop]
        return self._stemmer.stemWords(words)


# --------------------------------------------------------------------------- systems


class ReferenceSystem(Protocol):
    name: str

    def search(self, query: str, k: int = 100) -> list[PageKey]: ...


def _top_k(keys: list[PageKey], scores: np.ndarray, k: int) -> list[PageKey]:
    """Pages by descending score (ties in corpus order); pages scoring 0 are not retrieved."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [keys[i] for i in order if scores[i] > 0]


class RankBM25System:
    """rank_bm25 ``BM25Okapi`` (k1=1.5, b=0.75, epsilon=0.25) with a given tokenizer."""

    def __init__(self, name: str, corpus: PageCorpus, tokenize: Callable[[str], list[str]]):
        from rank_bm25 import BM25Okapi

        self.name = name
        self._keys = corpus.keys
        self._tokenize = tokenize
        self._bm25 = BM25Okapi([tokenize(t) for t in corpus.texts])

    def search(self, query: str, k: int = 100) -> list[PageKey]:
        tokens = self._tokenize(query)
        if not tokens:
            return []
        return _top_k(self._keys, np.asarray(self._bm25.get_scores(tokens)), k)


class BM25sSystem:
    """bm25s (method "lucene", k1=1.5, b=0.75) over stemmed, stop-word-filtered tokens."""

    def __init__(self, name: str, corpus: PageCorpus):
        import bm25s

        # bm25s sets its own logger to DEBUG on import; keep its chatter out of our logs.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.name = name
        self._keys = corpus.keys
        self._tokenize = StemTokenizer()
        self._bm25 = bm25s.BM25()
        self._bm25.index([self._tokenize(t) for t in corpus.texts], show_progress=False)

    def search(self, query: str, k: int = 100) -> list[PageKey]:
        vocab = self._bm25.vocab_dict
        tokens = [t for t in self._tokenize(query) if t in vocab]
        if not tokens:
            return []
        return _top_k(self._keys, np.asarray(self._bm25.get_scores(tokens)), k)


class TantivySystem:
    """In-memory tantivy index, simple tokenizer + lower-case + Norwegian stemmer."""

    ANALYZER = "no_stem"

    def __init__(self, name: str, corpus: PageCorpus):
        import tantivy

        self.name = name
        self._keys = corpus.keys
        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("norwegian"))
            .build()
        )
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("text", stored=False, tokenizer_name=self.ANALYZER)
        builder.add_unsigned_field("pid", stored=True)
        self._index = tantivy.Index(builder.build())
        self._index.register_tokenizer(self.ANALYZER, analyzer)
        writer = self._index.writer(heap_size=50_000_000, num_threads=1)
        for pid, text in enumerate(corpus.texts):
            writer.add_document(tantivy.Document(text=text, pid=pid))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()

    def search(self, query: str, k: int = 100) -> list[PageKey]:
        try:
            q = self._index.parse_query(query, ["text"])
        except ValueError:
            q, errors = self._index.parse_query_lenient(query, ["text"])
            log.debug("tantivy: lenient parse of %r (%s)", query, errors)
        searcher = self._index.searcher()
        result = searcher.search(q, k)
        return [self._keys[searcher.doc(addr)["pid"][0]] for _score, addr in result.hits]


def _rank_bm25(corpus: PageCorpus) -> ReferenceSystem:
    return RankBM25System("rank_bm25", corpus, split_tokens)


def _rank_bm25_w(corpus: PageCorpus) -> ReferenceSystem:
    return RankBM25System("rank_bm25_w", corpus, word_tokens)


def _bm25s(corpus: PageCorpus) -> ReferenceSystem:
    return BM25sSystem("bm25s", corpus)


def _tantivy(corpus: PageCorpus) -> ReferenceSystem:
    return TantivySystem("tantivy", corpus)


REFERENCE_SYSTEMS: dict[str, Callable[[PageCorpus], ReferenceSystem]] = {
    "rank_bm25": _rank_bm25,
    "rank_bm25_w": _rank_bm25_w,
    "bm25s": _bm25s,
    "tantivy": _tantivy,
}

REFERENCE_DESCRIPTIONS: dict[str, str] = {
    "rank_bm25": "rank_bm25 BM25Okapi, text.lower().split()",
    "rank_bm25_w": r"rank_bm25 BM25Okapi, \w+ lower-case",
    "bm25s": r"bm25s, \w+, spaCy nb stop words, Snowball Norwegian",
    "tantivy": "tantivy, lower-case + Norwegian stemmer",
}


def build_reference_system(name: str, pdfs: Sequence[Path]) -> ReferenceSystem:
    """Build reference system ``name`` over the pages of ``pdfs``."""
    try:
        factory = REFERENCE_SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown reference system {name!r}; have {sorted(REFERENCE_SYSTEMS)}") from None
    t0 = time.perf_counter()
    corpus = PageCorpus.from_pdfs(pdfs)
    system = factory(corpus)
    log.info("built %s over %d pages of %d PDFs in %.2fs", name, len(corpus), len(pdfs), time.perf_counter() - t0)
    return system
