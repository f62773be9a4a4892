"""BM25 scores equal rank_bm25's BM25Okapi for the same token lists, and the
vectorised top-k agrees with a full sort."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from plansok.index.bm25 import BM25, top_k


def _corpus(seed: int, n_docs: int = 400) -> list[list[str]]:
    rng = random.Random(seed)
    # Zipf-like vocabulary with some very common words, so negative idf (the
    # epsilon floor) is exercised too.
    vocab = [f"ord{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(300)]
    docs = [rng.choices(vocab, weights, k=rng.randint(1, 60)) for _ in range(n_docs)]
    for d in docs[: n_docs * 2 // 3]:
        d.append("kommune")
    return docs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_equal_rank_bm25(seed: int) -> None:
    corpus = _corpus(seed)
    ref = BM25Okapi(corpus)
    ours = BM25.from_token_lists(corpus)
    queries = [["ord1"], ["ord5", "ord17", "ord5"], ["kommune", "ord250"], ["finnes-ikke", "ord3"]]
    for q in queries:
        np.testing.assert_allclose(ours.get_scores(q), ref.get_scores(q), rtol=1e-5, atol=1e-5)


def test_scores_equal_rank_bm25_on_real_norwegian_tokens() -> None:
    texts = [
        "Barnefattigdom er en av de største utfordringene for kommunen",
        "Kommunen skal redusere barnefattigdom og sosiale forskjeller",
        "Tenestene til innbyggjarane skal vere gode",
        "Sosialhjelpsmottakere får økonomisk rådgivning fra NAV-kontoret",
        "Livskvalitet og folkehelse i kommunen",
    ]
    corpus = [t.lower().split() for t in texts]
    ref = BM25Okapi(corpus)
    ours = BM25.from_token_lists(corpus)
    for q in (["barnefattigdom"], ["kommunen", "livskvalitet"], ["nav-kontoret"]):
        np.testing.assert_allclose(ours.get_scores(q), ref.get_scores(q), rtol=1e-5, atol=1e-6)


def test_top_k_matches_full_sort() -> None:
    corpus = _corpus(7, 2000)
    ours = BM25.from_token_lists(corpus)
    scores = ours.get_scores(["ord3", "ord40"])
    rows, vals = top_k(scores, 10)
    expected = np.argsort(-scores, kind="stable")[:10]
    assert list(rows) == list(expected)
    assert np.all(np.diff(vals) <= 0)


def test_top_k_ignores_non_matching_and_masked() -> None:
    scores = np.array([0.0, 2.0, 0.0, 3.0, 1.0], dtype=np.float32)
    rows, _ = top_k(scores, 10)
    assert list(rows) == [3, 1, 4]
    mask = np.array([True, True, True, False, True])
    rows, _ = top_k(scores, 10, mask)
    assert list(rows) == [1, 4]


def test_lucene_idf_finds_words_in_a_one_document_index() -> None:
    corpus = [["barnefattigdom", "kommune"]]
    okapi = BM25.from_token_lists(corpus)
    lucene = BM25.from_token_lists(corpus, idf="lucene")
    assert okapi.get_scores(["barnefattigdom"])[0] <= 0  # why the index does not use Okapi's idf
    assert lucene.get_scores(["barnefattigdom"])[0] > 0
