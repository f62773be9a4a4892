"""Parallel and distributed ingest give the same index as a serial run; a
document that overruns its deadline is reported and the batch goes on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plansok.api import Index

REPO = Path(__file__).resolve().parent.parent
DOCS = [
    "3324_gol_samfunnsdel_2018-2030.pdf",
    "3330_hol_handlingsplan_folkehelse_2021-2033.md",
    "3334_flesberg_boligsosial_strategi_2022-2026.pdf",
]
QUERIES = ["folkehelse", "bolig OR bustad", '"tidlig innsats"', "barnefattigdom"]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("src")
    for name in DOCS:
        shutil.copy(REPO / "corpus" / name, folder / name)
    return folder


def snapshot(ix: Index) -> dict:
    """Everything a researcher sees: documents, passages, tags, rankings."""
    docs = []
    for d in ix.documents():
        meta = d.to_dict()
        meta.pop("path")
        passages = [(p.ordinal, p.page_start, p.section, p.text) for _pid, p in ix.store.passages_of(d.doc_id)]
        tags = ix.store.tags_of([pid for pid, _ in ix.store.passages_of(d.doc_id)])
        docs.append((meta, passages, sorted((t["tag"], t["confidence"]) for ts in tags.values() for t in ts)))
    rankings = {q: [(h.passage.passage_id, round(h.score, 4)) for h in ix.search(q, k=10)] for q in QUERIES}
    return {"docs": docs, "rankings": rankings}


@pytest.fixture(scope="module")
def serial(src: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    ix = Index.open(tmp_path_factory.mktemp("serial") / "ix", create=True)
    assert ix.ingest([src]).ok
    return snapshot(ix)


def test_local_workers_give_the_same_index(src: Path, serial: dict, tmp_path: Path) -> None:
    ix = Index.open(tmp_path / "ix", create=True)
    report = ix.ingest([src], workers=2)
    assert report.ok and sorted(report.added) == sorted(Path(d).stem for d in DOCS)
    assert snapshot(ix) == serial


def test_dask_local_cluster_gives_the_same_index(src: Path, serial: dict, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        ix = Index.open(tmp_path / "ix", create=True)
        report = ix.ingest([src], dask_client=client)
    assert report.ok
    assert snapshot(ix) == serial


def test_a_document_over_its_deadline_fails_alone(tmp_path: Path, write_plan) -> None:
    # The 100-page thesis takes seconds; a one-paragraph plan milliseconds.
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(REPO / "corpus" / "thesis.pdf", batch / "a_thesis.pdf")
    write_plan(
        batch, "b_plan", ["Kommunen skal styrke folkehelsearbeidet og tilbudet til barn og unge i hele kommunen."]
    )
    ix = Index.open(tmp_path / "ix", create=True)
    report = ix.ingest([batch], workers=2, timeout=0.4)
    assert [Path(p).name for p, _ in report.failed] == ["a_thesis.pdf"]
    assert "took longer than 0.4 s" in report.failed[0][1]
    assert report.added == ["b_plan"]
