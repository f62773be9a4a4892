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
    """plansok's on-disk BM25: the corpus written as index segments (batches
    of documents as ingest commits them, merged by the index's policy), then
    memory-mapped and scored per query term (``MappedBM25.sparse_scores`` and
    ``top_k_sparse``): the scoring a search does, without query analysis."""

    name = "plansok"
    label = "plansok (ranking)"
    BATCH_PASSAGES = 125_000  # as the full index is written (bench.fullindex)
    DOC_ROWS = 2_000

    def prepare(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.dir = Path(tempfile.mkdtemp(prefix="plansok-bench-segments-"))

    def build(self) -> None:
        from plansok.index.searcher import LoadedIndex
        from plansok.index.segment_format import SegmentFile
        from plansok.index.store import MAX_SEGMENTS, plan_merge

        batches = -(-self.corpus.n // self.BATCH_PASSAGES)
        paths = write_segments(self.corpus, self.dir, batches, self.DOC_ROWS, MAX_SEGMENTS, plan_merge)
        segs = [SegmentFile(p) for p in paths]
        self.ix = LoadedIndex(None, [], [(s, np.ones(len(s.doc_names), dtype=bool)) for s in segs])  # type: ignore[arg-type]
        self.bm = self.ix.bm25

    def query(self, terms: list[str]) -> tuple[list[int] | None, list[float]]:
        # Every query reads its postings from the mapped files again, as a
        # first query would: the reader's cache of decoded postings is dropped.
        self.ix.drop_caches()
        weights: dict[int, float] = {}
        for t in terms:
            tid = self.bm.vocab.get(t)
            if tid is not None:
                weights[tid] = weights.get(tid, 0.0) + 1.0
        rows, best = self.bm.top_k(list(weights.items()), K)
        return rows.tolist(), best.astype(float).tolist()

    def info(self) -> dict[str, Any]:
        size = sum(f.stat().st_size for f in self.dir.glob("*.npz"))
        return {"disk_mb": size / 2**20, "segments": len(self.ix.views)}

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def write_segments(
    corpus: Corpus, folder: Path, batches: int, doc_rows: int, max_segments: int, plan: Any
) -> list[Path]:
    """Write ``corpus`` as segment files the way ingest does (one segment per
    batch of documents, merged by ``plan``); returns the live ones in order."""
    from plansok.index.segment_format import MergedSegment, SegmentFile, build_segment, write_segment_file

    objs = np.asarray(corpus.vocab, dtype=object)
    off = corpus.off.tolist()
    n_docs = -(-corpus.n // doc_rows)
    per_batch = -(-n_docs // batches)
    live: list[tuple[Path, int]] = []
    for b, d0 in enumerate(range(0, n_docs, per_batch)):
        docs = []
        for j in range(d0, min(d0 + per_batch, n_docs)):
            lo, hi = j * doc_rows, min((j + 1) * doc_rows, corpus.n)
            flat = objs[corpus.tok[off[lo] : off[hi]]].tolist()
            terms = [flat[off[r] - off[lo] : off[r + 1] - off[lo]] for r in range(lo, hi)]
            docs.append((f"doc{j}", [1] * (hi - lo), [len(t) for t in terms], terms))
        path = folder / f"seg-{b:04d}.npz"
        write_segment_file(path, build_segment(path.stem, docs, d0 * doc_rows + 1))
        live.append((path, sum(len(d[3]) for d in docs)))
        while pick := plan([n for _, n in live], max_segments):
            inputs = [SegmentFile(live[i][0]) for i in pick]
            out = folder / f"seg-{b:04d}-m{len(live)}.npz"
            merged = MergedSegment(out.stem, [(s, np.ones(len(s.doc_names), dtype=bool)) for s in inputs])
            write_segment_file(out, merged)
            for i in pick:
                live[i][0].unlink()
            live = [x for i, x in enumerate(live) if i not in pick[1:]]
            live[pick[0]] = (out, merged.n_rows)
    return [p for p, _ in live]


def exact_bm25_top(corpus: Corpus, terms: list[str], k: int = K) -> tuple[list[int], list[float]]:
    """Top ``k`` of BM25 as plansok defines it (k1 1.5, b 0.75, Lucene idf,
    passages counted as at least 20 words long), computed straight from the
    corpus tokens: a check of the on-disk scores that shares none of their code."""
    k1, b, min_len = 1.5, 0.75, 20
    lens = np.maximum(np.diff(corpus.off), min_len).astype(np.float64)
    avg = float(lens.mean())
    scores = np.zeros(corpus.n)
    for t in terms:
        if t not in corpus.vocab:
            continue
        pos = np.flatnonzero(corpus.tok == corpus.vocab.index(t))
        rows, tf = np.unique(np.searchsorted(corpus.off, pos, side="right") - 1, return_counts=True)
        idf = np.log(1 + (corpus.n - len(rows) + 0.5) / (len(rows) + 0.5))
        scores[rows] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens[rows] / avg))
    nz = np.flatnonzero(scores > 0)
    best = nz[np.lexsort((nz, -scores[nz]))][:k]
    return best.tolist(), scores[best].tolist()


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
