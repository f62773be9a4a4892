"""The on-disk index: add, replace, remove, merge, and crash safety."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plansok.api import Index
from plansok.errors import IndexError_
from plansok.index import store as store_mod

PARA = (
    "Kommunen skal redusere barnefattigdom gjennom tidlig innsats og gode fritidstilbud. "
    "Barn i familier med lav inntekt skal kunne delta i aktiviteter på lik linje med andre barn."
)
OTHER = (
    "Kommunen har 40 kommunale utleieboliger. Behovet for flere boliger til vanskeligstilte "
    "på boligmarkedet er stort, og ventelisten er lang."
)


def _docs(ix: Index) -> list[str]:
    return [d.doc_id for d in ix.documents()]


def test_ingest_search_replace_and_remove(tmp_path: Path, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    a = write_plan(src, "3324_gol_plan_2020", [PARA, OTHER])
    b = write_plan(src, "3326_hemsedal_plan_2021", [OTHER])
    ix = Index.open(tmp_path / "ix", create=True)
    report = ix.ingest([src])
    assert sorted(report.added) == ["3324_gol_plan_2020", "3326_hemsedal_plan_2021"]
    assert [h.doc.doc_id for h in ix.search("barnefattigdom")] == ["3324_gol_plan_2020"]

    again = ix.ingest([src])
    assert sorted(again.unchanged) == ["3324_gol_plan_2020", "3326_hemsedal_plan_2021"] and not again.added

    a.write_text(a.read_text(encoding="utf-8").replace("barnefattigdom", "sosialhjelp"), encoding="utf-8")
    changed = ix.ingest([a])
    assert changed.updated == ["3324_gol_plan_2020"]
    assert ix.search("barnefattigdom") == []
    assert [h.doc.doc_id for h in ix.search("sosialhjelp")] == ["3324_gol_plan_2020"]

    assert ix.remove(["3326_hemsedal_plan_2021"]) == ["3326_hemsedal_plan_2021"]
    assert _docs(ix) == ["3324_gol_plan_2020"]
    assert {h.doc.doc_id for h in ix.search("utleieboliger")} == {"3324_gol_plan_2020"}
    assert b.exists()


def test_a_second_process_sees_new_documents(tmp_path: Path, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_plan(src, "a", [PARA])
    reader = Index.open(tmp_path / "ix", create=True)
    writer = Index.open(tmp_path / "ix")
    writer.ingest([src])
    assert reader.search("barnefattigdom"), "the reader reloads when the index generation changes"


def test_crash_before_commit_leaves_the_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_plan(src, "a", [PARA])
    ix = Index.open(tmp_path / "ix", create=True)
    ix.ingest([src])
    write_plan(src, "b", [OTHER])

    def boom(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt("killed between segment write and commit")

    monkeypatch.setattr(store_mod.IndexStore, "_drop_dead_segments", boom)
    with pytest.raises(KeyboardInterrupt):
        ix.ingest([src])
    monkeypatch.undo()

    fresh = Index.open(tmp_path / "ix")
    assert _docs(fresh) == ["a"]
    assert fresh.search("barnefattigdom") and not fresh.search("utleieboliger")
    # The orphaned segment file is cleaned up by the next writer, and the re-run completes.
    report = fresh.ingest([src])
    assert report.added == ["b"]
    names = {p.stem for p in (tmp_path / "ix" / "segments").glob("*")}
    assert names == set(fresh.store.segment_names())


def test_many_batches_merge_into_one_segment_without_changing_results(tmp_path: Path, write_plan) -> None:
    ix = Index.open(tmp_path / "ix", create=True)
    for i in range(store_mod.MAX_SEGMENTS + 2):
        src = tmp_path / f"batch{i}"
        src.mkdir()
        write_plan(src, f"doc{i}", [PARA if i % 2 else OTHER])
        ix.ingest([src])
    assert len(ix.store.segment_names()) <= store_mod.MAX_SEGMENTS
    hits = ix.search("barnefattigdom", k=50, fold_duplicates=False)
    assert sorted(h.doc.doc_id for h in hits) == sorted(f"doc{i}" for i in range(1, store_mod.MAX_SEGMENTS + 2, 2))


def test_not_an_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="no plansok index here"):
        Index.open(tmp_path / "nothing")
    bad = tmp_path / "bad"
    bad.mkdir()
    sqlite3.connect(bad / store_mod.DB_NAME).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    with pytest.raises(IndexError_, match="not a plansok index"):
        Index.open(bad)
