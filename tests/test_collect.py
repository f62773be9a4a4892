"""Collections (the chain of evidence) and the CSV, XLSX, BibTeX and RIS exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from plansok.api import Index
from plansok.cli import main
from plansok.collect import export

P1 = (
    "Kommunen skal redusere barnefattigdom gjennom tidlig innsats og gratis fritidsaktiviteter for barn i "
    "familier med lav inntekt. NAV og skolene samarbeider om tiltakene."
)
P2 = (
    "Antallet sosialhjelpsmottakere har gått ned, men langtidsmottakere av økonomisk sosialhjelp trenger "
    "tettere oppfølging fra NAV-kontoret og kvalifiseringsprogrammet."
)
P3 = "Kommunen har 40 kommunale utleieboliger, og ventelisten for vanskeligstilte på boligmarkedet er lang i år."


@pytest.fixture
def ix(tmp_path: Path, write_plan) -> Index:
    src = tmp_path / "src"
    src.mkdir()
    write_plan(src, "3324_gol_plan_2020-2030", [P1, P2], {"Kilde": "<https://www.gol.kommune.no/plan.pdf>"})
    write_plan(src, "3330_hol_plan_2021", [P3])
    index = Index.open(tmp_path / "ix", create=True)
    assert index.ingest([src]).ok
    index.src = src  # type: ignore[attr-defined]
    return index


def test_collect_code_memo_and_show(ix: Index) -> None:
    hits = ix.collect("funn", "barnefattigdom sosialhjelp", k=5, ranks=[1, 2])
    assert len(hits) == 2
    cols = ix.collections()
    cols.code("funn", "1", ["statlig ansvar", "tiltak"])
    cols.code("funn", "1", ["tiltak"], remove=True)
    cols.item_memo("funn", hits[0].passage.passage_id, "NAV nevnes som ansvarlig")
    cols.set_memo("funn", "Planene legger ansvaret hos NAV")
    col = cols.get("funn", ix.store)
    assert col.memo == "Planene legger ansvaret hos NAV"
    assert [q["query"] for q in col.queries] == ["barnefattigdom sosialhjelp"]
    first = col.items[0]
    assert first.codes == ["statlig ansvar"] and first.memo == "NAV nevnes som ansvarlig"
    assert first.status == "current" and first.citation.startswith("Gol, ")
    assert first.query == "barnefattigdom sosialhjelp" and first.rank == 1
    # Saving the same passage again keeps one copy.
    ix.collect("funn", "barnefattigdom", k=1)
    assert len(cols.get("funn").items) == 2
    assert cols.remove("funn", ["2"]) == 1 and len(cols.get("funn").items) == 1


def test_collections_survive_reindexing_and_report_changes(ix: Index, write_plan) -> None:
    ix.collect("funn", "barnefattigdom OR sosialhjelpsmottakere OR utleieboliger", k=10)
    assert len(ix.collections().get("funn").items) == 3
    ix.ingest([ix.src])  # unchanged files: nothing happens to the collection
    assert {i.status for i in ix.collections().get("funn", ix.store).items} == {"current"}

    # Gol: the first paragraph is rewritten, the second moves to another page.
    write_plan(ix.src, "3324_gol_plan_2020-2030", ["Nytt innhald om kommunen sine vegar og bruer.", "Side to.", P2])
    ix.ingest([ix.src])
    ix.remove(["3330_hol_plan_2021"])
    status = {i.text[:20]: (i.status, i.now) for i in ix.collections().get("funn", ix.store).items}
    assert status[P1[:20]][0] == "changed"
    assert status[P2[:20]][0] == "moved" and status[P2[:20]][1]["page"] == 3
    assert status[P3[:20]] == ("vanished", None)


def test_csv_and_xlsx_exports_round_trip(ix: Index, tmp_path: Path) -> None:
    hits = ix.collect("funn", "sosialhjelp", k=3)
    ix.collections().code("funn", "1", ["oppfølging"])
    col = ix.collections().get("funn", ix.store)
    docs = {d.doc_id: d for d in ix.documents()}
    table = export.collection_table(col, docs)
    path = export.write_csv(table, tmp_path / "funn.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
        rows = list(csv.DictReader(fh))
    assert first.startswith("# collection: funn") and "exported:" in first
    assert rows[0]["text"] == hits[0].passage.text and rows[0]["codes"] == "oppfølging"
    assert rows[0]["citation"] == hits[0].citation and rows[0]["source_url"] == "https://www.gol.kommune.no/plan.pdf"

    from openpyxl import load_workbook

    xlsx = export.write_xlsx(export.hits_table(hits, "sosialhjelp", {"municipality": ["Gol"]}), tmp_path / "q.xlsx")
    wb = load_workbook(xlsx)
    sheet = wb["passages"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("text") + 1).value == hits[0].passage.text
    about = {r[0].value: r[1].value for r in wb["about"].iter_rows()}
    assert about["query"] == "sosialhjelp" and "Gol" in about["filters"] and about["exported"]


def test_bibtex_and_ris_name_the_documents(ix: Index) -> None:
    docs = ix.documents()
    bib = export.bibtex(docs)
    assert bib.count("@techreport{") == 2 and "author = {{Gol kommune}}" in bib
    assert "url = {https://www.gol.kommune.no/plan.pdf}" in bib and "year = {2020}" in bib
    ris = export.ris(docs)
    assert ris.count("TY  - RPRT") == 2 and "AU  - Hol kommune" in ris and ris.strip().endswith("ER  -")


def test_cli_collect_show_and_export(ix: Index, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = str(ix.path)
    assert main(["collect", "funn", "utleieboliger", "--ranks", "1", "--index", idx]) == 0
    assert main(["collect", "funn", "--code", "1", "bolig", "--memo", "Lite om bustader", "--index", idx]) == 0
    capsys.readouterr()
    assert main(["show-collection", "funn", "--index", idx]) == 0
    out = capsys.readouterr().out
    assert "memo: Lite om bustader" in out and "codes: bolig" in out and "«Kommunen har 40 kommunale" in out
    assert main(["collections", "--index", idx, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["passages"] == 1
    out_file = tmp_path / "funn.ris"
    assert main(["export", "--collection", "funn", "--format", "ris", "--out", str(out_file), "--index", idx]) == 0
    assert "TI  - " in out_file.read_text(encoding="utf-8")
    assert main(["show-collection", "nosuch", "--index", idx]) == 2
    assert "no collection 'nosuch'" in capsys.readouterr().err


def test_qdpx_export_codes_the_exact_passages(ix: Index, tmp_path: Path, write_plan) -> None:
    import zipfile

    from plansok.collect.qdpx import read_qdpx, validate
    from plansok.collect.qdpx_project import Quote, write_project

    ix.collect("funn", "barnefattigdom OR sosialhjelpsmottakere OR utleieboliger", k=10)
    cols = ix.collections()
    cols.code("funn", "1", ["ansvar"])
    cols.item_memo("funn", "1", "NAV har ansvaret")
    ix.remove(["3330_hol_plan_2021"])  # one quote's document is gone: it must still be exported
    col = cols.get("funn", ix.store)
    quotes = [Quote(i.doc_id, i.ordinal, i.text, [t["tag"] for t in i.tags], i.codes, i.memo, i.citation)
              for i in col.items]  # fmt: skip
    path = write_project(ix, quotes, tmp_path / "funn.qdpx", "funn", "Funn om ansvar", ["barnefattigdom"])
    with zipfile.ZipFile(path) as z:
        assert validate(z.read("project.qde")) == []
    project = read_qdpx(path)
    saved = {i.text for i in col.items}
    coded = {s.text[c.start : c.end] for s in project.sources for c in s.codings}
    assert coded == saved
    names = {c.name for top in project.codes for c in [top, *top.children]}
    assert {"plansok: funn", "ansvar", "Barnefattigdom", "Sosialhjelp"} <= names
    memo = next(n for n in project.notes if n.text == "NAV har ansvaret")
    source = next(s for s in project.sources if s.guid == memo.source_guid)
    assert source.text[memo.start : memo.end] in saved
    assert any("no longer in the index" in s.name for s in project.sources)
    assert any("Funn om ansvar" in n.text for n in project.notes)
