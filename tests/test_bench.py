"""``plansok bench --quick`` runs end to end and reports every system with
positive numbers. Needs the shared sample corpus ($PLANSOK_SHARED or
<repo>/../shared); skipped without it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from plansok.bench.common import default_pdfs, percentile, quick_pdfs
from plansok.bench.data import Corpus, scale

RANK_SYSTEMS = ("plansok", "plansok-full", "rank_bm25", "bm25s", "tantivy")


def _pdfs() -> list[Path]:
    return [p for p in default_pdfs() if p.is_file()]


def _positive(v: object) -> bool:
    return isinstance(v, (int, float)) and not math.isnan(v) and v > 0


def test_scale_perturbs_copies_but_keeps_shape() -> None:
    sample = Corpus(
        tok=np.array([0, 1, 1, 2, 0, 2], dtype=np.int32),
        off=np.array([0, 3, 6], dtype=np.int64),
        vocab=["bolig", "barn", "helse"],
    )
    big = scale(sample, 2_000)
    assert big.n == 2_000
    assert big.n_tokens == 6_000
    # The first copy is the sample itself; later copies gain variant terms.
    assert big.tok[:6].tolist() == sample.tok.tolist()
    assert len(big.vocab) > len(sample.vocab)
    assert all(t[:-1] in sample.vocab or t[:-2] in sample.vocab for t in big.vocab[3:])
    lists = big.token_lists()
    assert len(lists) == 2_000 and all(len(x) == 3 for x in lists)
    assert big.counts().sum() == 6_000


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.95) == 5.0


@pytest.mark.skipif(not _pdfs(), reason="shared sample corpus not found (set PLANSOK_SHARED)")
def test_quick_bench_reports_every_system(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from plansok.bench.run import main

    pdfs = quick_pdfs(_pdfs(), 2)
    argv = [
        "--quick",
        "--json",
        "--sizes",
        "3k",
        "--queries",
        "30",
        "--workdir",
        str(tmp_path / "work"),
    ]
    argv += ["--pdfs", *map(str, pdfs)]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)

    ingest = {r["system"]: r for r in res["ingest"]}
    assert set(ingest) == {"plansok", "plansok-untagged", "pdfplumber", "pypdfium2"}
    assert ingest["plansok-untagged"]["tagging_overhead"] > -0.5
    for r in ingest.values():
        assert _positive(r["pages_per_s"]), r

    (size,) = res["sizes"]
    assert size["n"] == 3_000
    rows = {r["system"]: r for r in size["rows"]}
    assert set(rows) == set(RANK_SYSTEMS)
    for name, r in rows.items():
        assert not r.get("error"), (name, r.get("error"))
        for field in ("build_s", "passages_per_s", "p50_ms", "p95_ms", "peak_rss_mb"):
            assert _positive(r[field]), (name, field, r[field])
        assert r["n_queries"] >= 20
        assert r["index_mb"] is not None
    assert rows["plansok-full"]["n_hits"] > 0
    # The full query is also timed with a municipality filter, shown in its note.
    assert _positive(rows["plansok-full"]["filtered_p50_ms"])
    assert f"filtered to {rows['plansok-full']['filtered_by']}" in rows["plansok-full"]["note"]
    assert size["agreement"].startswith("5/5")
    # The cold `plansok query` subprocess is measured, or its failure reported.
    cold = res["cold_query"]
    assert cold.get("median_s", 0) > 0 or cold.get("error")
    assert {t["key"] for t in res["targets"]} >= {"ingest", "rank_1M", "cold"}


def test_a_run_that_starts_at_4m_skips_the_peers_that_would_not_fit() -> None:
    from plansok.bench.run import _peer_skip

    # No smaller size in this run: the peers' 1M footprint says 14-17 GB at 4M.
    assert "GB" in (_peer_skip("rank_bm25", 4_000_000, []) or "")
    assert "GB" in (_peer_skip("bm25s", 4_000_000, []) or "")
    assert _peer_skip("bm25s", 100_000, []) is None
    assert _peer_skip("tantivy", 4_000_000, []) is None
