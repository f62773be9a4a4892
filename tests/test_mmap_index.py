"""The memory-mapped index (issue 10): opening reads no postings, scores equal
an in-memory BM25 and an independent library's, a reader keeps its commit
across a merge, removed documents never come back, merges are tiered, and
format-1 segments are migrated."""

from __future__ import annotations

import gc
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from plansok.api import Index
from plansok.errors import IndexError_
from plansok.index import store as store_mod
from plansok.index.bm25 import BM25
from plansok.index.searcher import MIN_LENGTH, LoadedIndex
from plansok.index.segment_format import (
    SegmentFile,
    build_segment,
    is_format_1,
    segment_version,
    upgrade_segments,
    write_segment_file,
)
from plansok.index.store import IndexStore, plan_merge
from plansok.models import AnalysedDoc, DocumentMeta, Page, Passage

SEED = 20261205
WORDS = [f"ord{i}" for i in range(400)] + ["barnefattigdom", "sosialhjelp", "levekår", "bolig", "æøå", "x" * 30]


def _doc(doc_id: str, rng: random.Random, n_passages: int, extra: list[str] = (), min_words: int = 3) -> AnalysedDoc:
    """A document of random passages: Zipf-like words, a few pages, some short passages."""
    passages, terms, lengths = [], [], []
    for i in range(n_passages):
        n = rng.randint(min_words, 60)
        words = [WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] for _ in range(n)] + list(extra)
        rng.shuffle(words)
        passages.append(Passage(doc_id, i, " ".join(words), 1 + i // 3, 1 + i // 3, "1 Innledning"))
        terms.append(words)
        lengths.append(len(words))
    pages = [Page(p, "") for p in range(1, 2 + n_passages // 3)]
    meta = DocumentMeta(doc_id=doc_id, sha256=f"{doc_id}@test")
    return AnalysedDoc(meta, pages, passages, terms, lengths, {})


def _store(path: Path, batches: list[list[AnalysedDoc]]) -> IndexStore:
    store = IndexStore(path, create=True)
    for batch in batches:
        store.add_documents(batch)
    return store


def _reference(ix: LoadedIndex, docs: dict[str, AnalysedDoc]) -> tuple[BM25, BM25, np.ndarray]:
    """What plansok computed before segments were mapped: the live passages'
    counts in one matrix, in row order, with BM25 weights precomputed, and the
    page-level BM25 over (document, page) sums."""
    pids = np.asarray(ix.pids)
    by_pid = {}
    for d in docs.values():
        for p, t, n in zip(d.passages, d.terms, d.lengths):
            by_pid[(d.meta.doc_id, p.ordinal)] = (t, n, p.page_start)
    stored = ix.store.passages_by_pid(pids.tolist())
    rows = [by_pid[(stored[pid].doc_id, stored[pid].ordinal)] for pid in pids.tolist()]
    vocab: dict[str, int] = {}
    ri, ci = [], []
    for r, (t, _, _) in enumerate(rows):
        for w in t:
            ri.append(r)
            ci.append(vocab.setdefault(w, len(vocab)))
    counts = sp.csr_matrix((np.ones(len(ri), np.float32), (ri, ci)), shape=(len(rows), len(vocab)))
    counts.sum_duplicates()
    lengths = np.maximum(np.asarray([n for _, n, _ in rows], np.float32), MIN_LENGTH)
    key = [(stored[pid].doc_id, page) for pid, (_, _, page) in zip(pids.tolist(), rows)]
    group_ids: dict[tuple[str, int], int] = {}
    groups = np.asarray([group_ids.setdefault(k, len(group_ids)) for k in key])
    grouping = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (groups, np.arange(len(rows)))), shape=(len(group_ids), len(rows))
    )
    passages = BM25.from_counts(counts, vocab, lengths, idf="lucene")
    pages = BM25.from_counts(grouping @ counts, vocab, grouping @ lengths, idf="lucene")
    return passages, pages, groups


@pytest.fixture
def corpus_index(tmp_path: Path) -> tuple[IndexStore, dict[str, AnalysedDoc]]:
    """Three batches (three segments), then two documents removed and one
    replaced, so segments hold dead rows."""
    rng = random.Random(SEED)
    docs = {f"d{i}": _doc(f"d{i}", rng, rng.randint(5, 40)) for i in range(12)}
    names = list(docs)
    store = _store(tmp_path / "ix", [[docs[n] for n in names[i : i + 4]] for i in (0, 4, 8)])
    store.remove_documents(["d1", "d6"])
    docs["d9"] = _doc("d9", rng, 17, extra=["sosialhjelp"])
    store.add_documents([docs["d9"]])
    del docs["d1"], docs["d6"]
    return store, docs


def test_scores_equal_the_in_memory_bm25_for_passages_and_pages(corpus_index) -> None:
    store, docs = corpus_index
    ix = LoadedIndex.load(store)
    assert len(ix.views) == 4 and not all(v.rows.all_live for v in ix.views)
    ref, ref_pages, groups = _reference(ix, docs)
    assert ix.n_passages == ref.n_docs and ix.page_bm25.n_docs == ref_pages.n_docs
    for term in [*WORDS[:40], "barnefattigdom", "sosialhjelp", "æøå", "x" * 30, "missing"]:
        for query in ([term], [term, "ord1"], [term, term, "ord7", "bolig"]):
            np.testing.assert_allclose(ix.bm25.get_scores(query), ref.get_scores(query), rtol=2e-6, atol=1e-6)
            # Page context: a row's page score equals the reference page's score.
            np.testing.assert_allclose(
                ix.page_bm25.get_scores(query)[np.asarray(ix.page_group)],
                ref_pages.get_scores(query)[groups],
                rtol=2e-6,
                atol=1e-6,
            )
    # The top k (rarest terms first, the rest looked up for the candidates only
    # once they cannot change the top k) equals sorting every score.
    rng = random.Random(SEED + 6)
    for _ in range(40):
        words = rng.sample([*WORDS[:60], "sosialhjelp", "æøå"], rng.randint(1, 4))
        pairs = [(ix.bm25.vocab[w], rng.choice([1.0, 0.5, 0.25])) for w in words if w in ix.bm25.vocab]
        dense = ix.bm25.weighted_scores(pairs)
        k = rng.choice([1, 5, 10, 50])
        rows, scores = ix.bm25.top_k(pairs, k)
        best = np.lexsort((np.arange(len(dense)), -dense))[: min(k, int((dense > 0).sum()))]
        np.testing.assert_allclose(scores, dense[best], rtol=1e-5)
        assert len(set(rows.tolist())) == len(rows)
        np.testing.assert_allclose(dense[rows], scores, rtol=1e-5)


def test_scores_equal_bm25s_lucene(tmp_path: Path) -> None:
    """An independent implementation: bm25s's Lucene BM25 is plansok's without
    the constant factor k1 + 1 (passages of 20 words or more, so the minimum
    length plays no part)."""
    bm25s = pytest.importorskip("bm25s")
    rng = random.Random(SEED + 1)
    docs = [_doc(f"d{i}", rng, 30, min_words=MIN_LENGTH) for i in range(6)]
    store = _store(tmp_path / "ix", [docs[:3], docs[3:]])
    ix = LoadedIndex.load(store)
    other = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    other.index([t for d in docs for t in d.terms], show_progress=False)
    # Segments committed in the same second come in name order: map rows to the corpus by passage.
    position = {(d.meta.doc_id, p.ordinal): i for i, (d, p) in enumerate((d, p) for d in docs for p in d.passages)}
    stored = store.passages_by_pid(ix.pids.tolist())
    order = [position[(stored[pid].doc_id, stored[pid].ordinal)] for pid in ix.pids.tolist()]
    for query in (["ord2"], ["ord5", "bolig"], ["levekår", "ord30", "ord2"]):
        expected = np.asarray(other.get_scores(query))[order] * 2.5
        np.testing.assert_allclose(ix.bm25.get_scores(query), expected, rtol=1e-5, atol=1e-5)


def _mapped_mb(folder: Path) -> float:
    """Resident memory of this process's mappings of the files in ``folder``
    (from /proc/self/smaps: pages this process has touched)."""
    total, current = 0, False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head[0]):  # a mapping's first line; a file's ends with its path
                current = len(head) >= 6 and head[5].startswith(str(folder))
            elif current and line.startswith("Rss:"):
                total += int(head[1])
    return total / 1024


def _big_docs(n_docs: int, per_doc: int, words: int) -> list[AnalysedDoc]:
    """Documents of random passages over a large vocabulary, made with numpy."""
    rng = np.random.default_rng(SEED)
    vocab = np.asarray([f"w{i}" for i in range(20_000)], dtype=object)
    out = []
    for j in range(n_docs):
        ids = np.minimum(rng.zipf(1.3, size=(per_doc, words)), len(vocab)) - 1
        terms = vocab[ids].tolist()
        passages = [Passage(f"d{j}", i, " ".join(t), 1 + i // 4, 1 + i // 4, "") for i, t in enumerate(terms)]
        meta = DocumentMeta(doc_id=f"d{j}", sha256=f"d{j}@test")
        out.append(AnalysedDoc(meta, [Page(1, "")], passages, terms, [words] * per_doc, {}))
    return out


def test_opening_maps_the_postings_instead_of_reading_them(tmp_path: Path) -> None:
    docs = _big_docs(30, 1_000, 60)  # 30,000 passages
    store = _store(tmp_path / "ix", [docs[:15], docs[15:]])
    files = sum(f.stat().st_size for f in (tmp_path / "ix" / "segments").glob("*.npz")) / 2**20
    store.close()
    seg_dir = tmp_path / "ix" / "segments"
    for f in seg_dir.glob("*.npz"):  # out of the page cache, as after a reboot: pages come back one by one
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    ix = LoadedIndex.load(IndexStore(tmp_path / "ix"))
    opened = _mapped_mb(seg_dir)
    for v in ix.views:
        for arr in (v.seg.post_gap, v.seg.post_tf8, v.seg.row_len):
            assert not arr.flags.owndata and not arr.flags.writeable, "postings must be views of the mapped file"
    tid = ix.bm25.vocab["w3000"]
    assert ix.bm25.df(tid) < 2_000
    ix.bm25.get_scores(["w3000"])
    queried = _mapped_mb(seg_dir)
    assert files > 3, files
    # Opening maps the files without reading them; a query of a rarer word reads
    # its postings and the lengths of its rows, a fraction of what is on disk.
    assert opened < 0.2, (opened, files)
    assert queried < files / 5, (queried, files)


def test_a_reader_keeps_answering_from_its_commit_across_a_merge(tmp_path: Path) -> None:
    rng = random.Random(SEED + 3)
    docs = [_doc(f"d{i}", rng, 20) for i in range(8)]
    store = _store(tmp_path / "ix", [[d] for d in docs[:4]])
    reader = LoadedIndex.load(IndexStore(tmp_path / "ix"))
    before = reader.bm25.get_scores(["ord4", "ord9"])
    before_pids = reader.pids.tolist()
    old_files = {p.name for p in (tmp_path / "ix" / "segments").glob("*.npz")}

    store.add_documents(docs[4:6])
    store.remove_documents(["d0"])
    store.merge_segments(everything=True)
    assert len(store.segment_names()) == 1
    now = {p.name for p in (tmp_path / "ix" / "segments").glob("*.npz")}
    assert not old_files & now, "the merge removed the files the reader has mapped"

    np.testing.assert_array_equal(reader.bm25.get_scores(["ord4", "ord9"]), before)
    assert reader.pids.tolist() == before_pids
    hits = reader.store.passages_by_pid(np.asarray(reader.pids)[reader.bm25.get_scores(["ord4"]) > 0].tolist())
    assert {p.doc_id for p in hits.values()} <= {"d1", "d2", "d3"}  # d0's passages are gone from the store

    fresh = LoadedIndex.load(IndexStore(tmp_path / "ix"))
    assert fresh.n_passages == sum(len(d.passages) for d in docs[1:6])
    stored = fresh.store.passages_by_pid(fresh.pids.tolist())
    assert {p.doc_id for p in stored.values()} == {f"d{i}" for i in range(1, 6)}


def test_removed_and_replaced_documents_never_appear(tmp_path: Path, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    common = "Kommunen skal styrke tilbudet til barn og unge med lav inntekt."
    write_plan(src, "a_plan", [common + " Sosialhjelp og bolig."])
    write_plan(src, "b_plan", [common + " Hemsedal har egen fjellskole."])
    write_plan(src, "c_plan", [common + " Fritidskort for alle."])
    ix = Index.open(tmp_path / "ix", create=True)
    ix.ingest([src])
    assert len(ix.store.segment_names()) == 1
    assert {h.doc.doc_id for h in ix.search("fjellskole")} == {"b_plan"}
    ix.remove(["b_plan"])
    write_plan(src, "c_plan", [common + " Fritidskort og fjellskole for alle."])
    ix.ingest([src / "c_plan.md"])
    # One segment holds the removed b_plan and the old c_plan as dead rows.
    assert any(v.rows.n_live < v.seg.n_rows for v in ix.searcher().ix.views)
    for q in ("fjellskole", "barn", "inntekt", "fritidskort"):
        for h in ix.search(q, k=50, fold_duplicates=False):
            assert h.doc.doc_id != "b_plan" and h.passage.doc_id == h.doc.doc_id
            assert h.passage.text in {p.text for _, p in ix.store.passages_of(h.doc.doc_id)}
    assert [h.doc.doc_id for h in ix.search("fjellskole")] == ["c_plan"]

    # The statistics are those of the live documents: the same scores as an index built without them.
    other = tmp_path / "src2"
    other.mkdir()
    shutil.copy(src / "a_plan.md", other)
    shutil.copy(src / "c_plan.md", other)
    fresh = Index.open(tmp_path / "ix2", create=True)
    fresh._analyser = ix._analyser  # loaded once (as tests/faults/ingest_server.py does)
    fresh.ingest([other])
    for q in ("barn", "fjellskole", "sosialhjelp"):
        a = sorted((h.doc.doc_id, h.passage.text, round(h.score, 4)) for h in ix.search(q, fold_duplicates=False))
        b = sorted((h.doc.doc_id, h.passage.text, round(h.score, 4)) for h in fresh.search(q, fold_duplicates=False))
        assert a == b


def test_merges_are_tiered() -> None:
    # Eight segments of one size tier are merged; more than MAX_SEGMENTS, the smallest ones.
    assert plan_merge([1000] * 7, 8, 8) == []
    assert plan_merge([1000] * 8, 8, 8) == list(range(8))
    assert plan_merge([64_000, 9_000, 1000, 1000, 1000], 8, 8) == []
    assert plan_merge([64_000, *([1000] * 9)], 8, 8) == list(range(1, 9))
    assert plan_merge([500_000, 70_000, 9_000, 1_100, 150, 20, 3, 1, 1], 8, 8) == [7, 8]
    assert plan_merge([5, 3], 1, 8) == [0, 1]
    assert plan_merge([5], 1, 8) == []


def test_many_small_commits_keep_few_segments_and_the_same_results(tmp_path: Path) -> None:
    rng = random.Random(SEED + 4)
    docs = [_doc(f"d{i}", rng, rng.randint(1, 6)) for i in range(40)]
    store = _store(tmp_path / "ix", [[d] for d in docs])
    assert len(store.segment_names()) <= store_mod.MAX_SEGMENTS
    ix = LoadedIndex.load(store)
    ref, _, _ = _reference(ix, {d.meta.doc_id: d for d in docs})
    for q in (["ord1"], ["ord2", "bolig"]):
        np.testing.assert_allclose(ix.bm25.get_scores(q), ref.get_scores(q), rtol=2e-6, atol=1e-6)


def test_a_merge_killed_before_its_commit_leaves_the_index_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(SEED + 5)
    docs = [_doc(f"d{i}", rng, 10) for i in range(3)]
    store = _store(tmp_path / "ix", [[d] for d in docs])
    before = LoadedIndex.load(store).bm25.get_scores(["ord2"])

    def killed(*_a: object) -> None:
        raise KeyboardInterrupt("killed between the merged segment's rename and its commit")

    monkeypatch.setattr(store_mod.IndexStore, "_drop_dead_segments", killed)
    with pytest.raises(KeyboardInterrupt):
        store.merge_segments(everything=True)
    monkeypatch.undo()
    reopened = IndexStore(tmp_path / "ix")
    assert len(reopened.segment_names()) == 3
    np.testing.assert_array_equal(LoadedIndex.load(reopened).bm25.get_scores(["ord2"]), before)
    reopened.collect_garbage()
    on_disk = {p.stem for p in (tmp_path / "ix" / "segments").iterdir()}
    assert on_disk == set(reopened.segment_names())


def _as_format_1(path: Path) -> None:
    """Rewrite a segment as plansok wrote them before format 2 (CSR counts, string
    vocabulary), in place (plansok itself never writes over a mapped file)."""
    seg = SegmentFile(path)
    csr = seg.counts_csr()
    doc_index = np.searchsorted(seg.doc_rows, np.arange(seg.n_rows), side="right") - 1
    arrays = {
        "pids": np.array(seg.row_pid),  # copies: the file is rewritten in place below
        "doc_index": doc_index.astype(np.int32),
        "doc_names": np.asarray(seg.doc_names, dtype=str),
        "pages": np.asarray(seg.group_page)[np.asarray(seg.row_group)],
        "data": csr.data.astype(np.float32),
        "indices": csr.indices.astype(np.int32),
        "indptr": csr.indptr.astype(np.int64),
        "doc_len": np.array(seg.row_len),
        "vocab": np.asarray(seg.terms(), dtype=str),
    }
    del seg, csr
    gc.collect()
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_format_1_segments_are_migrated_on_first_use(corpus_index, tmp_path: Path) -> None:
    store, _ = corpus_index
    expected = LoadedIndex.load(store).bm25.get_scores(["ord3", "sosialhjelp"])
    path = store.path
    store.close()
    copy = tmp_path / "old"
    shutil.copytree(path, copy)
    for seg in (copy / "segments").glob("*.npz"):
        _as_format_1(seg)
    assert all(is_format_1(p) for p in (copy / "segments").glob("*.npz"))
    with pytest.raises(IndexError_, match=r"segment in format 1, before segment format 3"):
        SegmentFile(next((copy / "segments").glob("*.npz")))
    got = LoadedIndex.load(IndexStore(copy)).bm25.get_scores(["ord3", "sosialhjelp"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not any(is_format_1(p) for p in (copy / "segments").glob("*.npz"))
    upgrade_segments(copy)  # idempotent
    np.testing.assert_allclose(LoadedIndex.load(IndexStore(copy)).bm25.get_scores(["ord3", "sosialhjelp"]), got)


def _as_format_2(path: Path) -> None:
    """Rewrite a segment in format 2 (rows as int32 and frequencies as uint16, no gaps)."""
    import json
    import zipfile

    seg = SegmentFile(path)
    rows, tf = seg.postings_range(0, seg.n_terms)
    arrays = {name: np.array(getattr(seg, name)) for name in ("doc_rows", "doc_groups", "doc_lensum", "row_pid")}
    for name in ("row_len", "row_group", "group_len", "group_page", "term_blob", "term_off", "term_key", "post_ptr"):
        arrays[name] = np.array(getattr(seg, name))
    arrays["post_row"] = rows.astype(np.int32)
    arrays["post_tf"] = tf.astype(np.uint16)
    meta = dict(seg.meta, version=2)
    del seg
    gc.collect()
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w") as out:
                np.lib.format.write_array(out, arr)
    tmp.replace(path)


def test_format_2_segments_are_migrated_on_first_use(corpus_index, tmp_path: Path) -> None:
    store, _ = corpus_index
    expected = LoadedIndex.load(store).bm25.get_scores(["ord3", "sosialhjelp"])
    copy = tmp_path / "v2"
    shutil.copytree(store.path, copy)
    for seg in (copy / "segments").glob("*.npz"):
        _as_format_2(seg)
    assert {segment_version(p) for p in (copy / "segments").glob("*.npz")} == {2}
    got = LoadedIndex.load(IndexStore(copy)).bm25.get_scores(["ord3", "sosialhjelp"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert {segment_version(p) for p in (copy / "segments").glob("*.npz")} == {3}


def test_wide_row_gaps_and_frequent_words_keep_their_postings(tmp_path: Path) -> None:
    """Rows are stored as 16-bit gaps and frequencies as bytes, with the rest
    beside them: a word in rows far apart, and one said 300 times, come back exact."""
    n = 200_000
    terms = [["fyll"] for _ in range(n)]
    for r in (0, 1, 70_000, 70_001, 199_999):
        terms[r] = ["sjelden", "fyll"]
    terms[123_456] = ["gjentatt"] * 300 + ["sjelden"]
    docs = [("a", [1] * 100_000, [len(t) for t in terms[:100_000]], terms[:100_000])]
    docs.append(("b", [1] * 100_000, [len(t) for t in terms[100_000:]], terms[100_000:]))
    write_segment_file(tmp_path / "seg-a.npz", build_segment("seg-a", docs, 1))
    seg = SegmentFile(tmp_path / "seg-a.npz")
    rows, tf = seg.postings(seg.lookup(b"sjelden"))
    assert rows.tolist() == [0, 1, 70_000, 70_001, 123_456, 199_999] and tf.tolist() == [1] * 6
    rows, tf = seg.postings(seg.lookup(b"gjentatt"))
    assert rows.tolist() == [123_456] and tf.tolist() == [300]
    all_rows, all_tf = seg.postings_range(0, seg.n_terms)
    start = int(seg.post_ptr[seg.lookup(b"sjelden")])
    assert all_rows[start : start + 6].tolist() == [0, 1, 70_000, 70_001, 123_456, 199_999]
    assert int(all_tf.max()) == 300 and len(all_rows) == seg.meta["n_postings"]
    # A merge with the second document removed keeps the first's postings exact.
    from plansok.index.segment_format import MergedSegment

    merged = MergedSegment("seg-m", [(seg, np.array([True, False]))])
    write_segment_file(tmp_path / "seg-m.npz", merged)
    m = SegmentFile(tmp_path / "seg-m.npz")
    assert m.postings(m.lookup(b"sjelden"))[0].tolist() == [0, 1, 70_000, 70_001]
    assert m.lookup(b"gjentatt") == -1 and m.n_rows == 100_000
