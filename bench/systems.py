"""The ranking systems under test, behind one small interface.

Each system takes the same :class:`~plansok.bench.data.Corpus` (analysed
terms per passage) and answers the same term-list queries with its top 10.
``prepare`` turns the corpus into the system's own input (not timed, kept
alive while measuring, so the index memory is what ``build`` adds);
``build`` makes the index (timed); ``query`` returns the top-10 row ids and
scores (ids are ``None`` where the system does not expose row numbers).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from plansok.bench.data import Corpus

K = 10


def _top(scores: np.ndarray, k: int = K) -> tuple[list[int], list[float]]:
    k = min(k, scores.size)
    if k == 0:
        return [], []
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return order.tolist(), scores[order].astype(float).tolist()


class System:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def prepare(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def build(self) -> None:
        raise NotImplementedError

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


class PlansokRanking(System):
    """plansok's vectorised BM25 (``BM25.from_counts`` + ``top_k``)."""

    name = "plansok"
    label = "plansok (ranking)"

    def prepare(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def build(self) -> None:
        from plansok.index.bm25 import BM25

        counts = self.corpus.counts()
        vocab = {t: i for i, t in enumerate(self.corpus.vocab)}
        doc_len = np.diff(self.corpus.off).astype(np.float32)  # = row sums, as rank_bm25 counts
        self.bm = BM25.from_counts(counts, vocab, doc_len)
        del counts

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        from plansok.index.bm25 import top_k

        rows, scores = top_k(self.bm.get_scores(terms), K)
        return rows.tolist(), scores.tolist()

    def info(self) -> dict[str, Any]:
        m = self.bm.tfn
        nbytes = m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.bm.idf.nbytes + self.bm.doc_len.nbytes
        return {"arrays_mb": nbytes / 2**20}


class RankBM25(System):
    name = "rank_bm25"
    label = "rank_bm25 BM25Okapi"

    def prepare(self, corpus: Corpus) -> None:
        self.docs = corpus.token_lists()

    def build(self) -> None:
        from rank_bm25 import BM25Okapi

        self.bm = BM25Okapi(self.docs)

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        return _top(np.asarray(self.bm.get_scores(terms)))


class BM25S(System):
    name = "bm25s"
    label = "bm25s (numpy backend)"

    def prepare(self, corpus: Corpus) -> None:
        from bm25s.tokenization import Tokenized

        self.tokens = Tokenized(ids=corpus.id_lists(), vocab={t: i for i, t in enumerate(corpus.vocab)})

    def build(self) -> None:
        import bm25s

        self.retriever = bm25s.BM25()  # defaults: method="lucene", k1=1.5, b=0.75
        self.retriever.index(self.tokens, show_progress=False)

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        res = self.retriever.retrieve([terms], k=K, show_progress=False, n_threads=0)
        return res.documents[0].tolist(), res.scores[0].astype(float).tolist()


class Tantivy(System):
    """tantivy over the same terms joined by spaces, whitespace tokenizer,
    term frequencies without positions, on-disk index in a temp dir."""

    name = "tantivy"
    label = "tantivy (1 writer thread)"
    FIELD = "body"

    def prepare(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.dir = Path(tempfile.mkdtemp(prefix="plansok-bench-tantivy-"))

    def build(self) -> None:
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_text_field(self.FIELD, stored=False, tokenizer_name="ws", index_option="freq")
        self.schema = sb.build()
        index = tantivy.Index(self.schema, path=str(self.dir))
        index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        writer = index.writer(heap_size=256_000_000, num_threads=1)
        vocab, tok, off = self.corpus.vocab, self.corpus.tok, self.corpus.off.tolist()
        objs = np.asarray(vocab, dtype=object)
        step = 50_000
        for lo in range(0, self.corpus.n, step):
            hi = min(lo + step, self.corpus.n)
            flat = objs[tok[off[lo] : off[hi]]].tolist()
            base = off[lo]
            for j in range(lo, hi):
                text = " ".join(flat[off[j] - base : off[j + 1] - base])
                writer.add_document(tantivy.Document(**{self.FIELD: text}))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        self.index = index
        self.searcher = index.searcher()

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        import tantivy

        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, self.FIELD, t)) for t in terms]
        )
        hits = self.searcher.search(q, K).hits
        return None, [float(s) for s, _addr in hits]

    def info(self) -> dict[str, Any]:
        size = sum(f.stat().st_size for f in self.dir.rglob("*") if f.is_file())
        return {"disk_mb": size / 2**20}

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


SYSTEMS: dict[str, type[System]] = {s.name: s for s in (PlansokRanking, RankBM25, BM25S, Tantivy)}
