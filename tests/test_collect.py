"""Collections (the chain of evidence) and the CSV, XLSX, BibTeX and RIS exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from plansok.api import Index
from plansok.cli import main
from plansok.collect import export
from plansok.errors import PlansokError

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


def _codings(ix: Index) -> dict[str, set[str]]:
    """code -> passage ids it codes, over all collections."""
    out: dict[str, set[str]] = {}
    cols = ix.collections()
    for c in cols.names():
        for item in cols.get(c["name"]).items:
            for code in item.codes:
                out.setdefault(code, set()).add(f"{c['name']}:{item.passage_id}")
    return out


def test_codes_rename_merge_and_hierarchy_keep_every_coding(ix: Index) -> None:
    ix.collect("a", "barnefattigdom OR sosialhjelp OR utleieboliger", k=10)
    ix.collect("b", "sosialhjelp", k=5)
    cols = ix.collections()
    a, b = cols.get("a").items, cols.get("b").items
    assert len(a) == 3 and len(b) >= 1
    cols.code("a", a[0].passage_id, ["statleg ansvar", "NAV"])
    cols.code("a", a[1].passage_id, ["NAV-ansvar"])
    cols.code("b", b[0].passage_id, ["NAV-ansvar", "NAV"])
    listed = {c.name: c for c in ix.codes().codes}
    assert listed["NAV"].passages == 2 and listed["NAV"].collections == {"a": 1, "b": 1}
    before = _codings(ix)

    result = ix.rename_code("statleg ansvar", "statlig ansvar")
    assert "1 passages" in result.changed
    after = _codings(ix)
    assert after["statlig ansvar"] == before["statleg ansvar"] and "statleg ansvar" not in after

    ix.merge_codes("NAV-ansvar", "NAV")
    after = _codings(ix)
    assert after["NAV"] == before["NAV"] | before["NAV-ansvar"] and "NAV-ansvar" not in after
    assert {c.name for c in ix.codes().codes} == {"NAV", "statlig ansvar"}

    ix.set_code_parent("NAV", "ansvar")  # a new grouping code
    ix.set_code_parent("statlig ansvar", "ansvar")
    tree = [(c.name, c.depth, c.parent) for c in ix.codes().codes]
    assert tree == [("ansvar", 0, None), ("NAV", 1, "ansvar"), ("statlig ansvar", 1, "ansvar")]
    with pytest.raises(PlansokError, match="own ancestor"):
        ix.set_code_parent("ansvar", "NAV")
    with pytest.raises(PlansokError, match="exists already"):
        ix.rename_code("NAV", "statlig ansvar")
    with pytest.raises(PlansokError, match="did you mean 'NAV'"):
        ix.merge_codes("NAW", "NAV")
    # a rename of a parent keeps its children, a merge of a parent hands them on
    ix.rename_code("ansvar", "ansvarsplassering")
    assert {c.name: c.parent for c in ix.codes().codes}["NAV"] == "ansvarsplassering"
    assert _codings(ix)["NAV"] == before["NAV"] | before["NAV-ansvar"]


def test_old_collections_files_are_migrated(tmp_path: Path) -> None:
    import sqlite3

    from plansok.collect.collections import COLLECTIONS_FORMAT, SCHEMA, Collections

    db = sqlite3.connect(tmp_path / "collections.sqlite")
    db.executescript(SCHEMA.split("CREATE TABLE IF NOT EXISTS code_tree")[0])  # format 1: no code_tree
    db.execute("INSERT INTO collections VALUES ('gammal', 'memo', '2024-01-01', '2024-01-01')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    cols = Collections(tmp_path)
    assert cols.db.execute("PRAGMA user_version").fetchone()[0] == COLLECTIONS_FORMAT == 2
    assert cols.get("gammal").memo == "memo" and cols.codes() == []
    cols.close()


def test_codebook_qdc_validates_and_carries_the_hierarchy(ix: Index, tmp_path: Path) -> None:
    from lxml import etree

    from plansok.collect.qdpx import CODEBOOK_NS, validate_codebook

    ix.collect("a", "barnefattigdom", k=1)
    ix.collections().code("a", "1", ["NAV"])
    ix.set_code_parent("NAV", "ansvar")
    result = ix.export_codebook_qdc(tmp_path / "kodebok.qdc")
    xml = result.path.read_bytes()
    assert validate_codebook(xml) == []
    root = etree.fromstring(xml)
    q = {"c": CODEBOOK_NS}
    tops = [c.get("name") for c in root.findall("c:Codes/c:Code", q)]
    assert tops == ["Teoriar / theories", "Tema / themes", "Eigne kodar / own codes"]
    labels = {t.label for t in ix.codebook().tags}
    assert labels <= {c.get("name") for c in root.iter(f"{{{CODEBOOK_NS}}}Code")}
    nav = root.find(".//c:Code[@name='ansvar']/c:Code[@name='NAV']", q)
    assert nav is not None and nav.get("isCodable") == "true"
    # the same file from the CLI, and the codes command prints the tree
    out = tmp_path / "cli.qdc"
    assert main(["export", "--format", "qdc", "--out", str(out), "--index", str(ix.path)]) == 0
    assert validate_codebook(out.read_bytes()) == []


def test_cli_codes(ix: Index, capsys: pytest.CaptureFixture[str]) -> None:
    ix.collect("a", "barnefattigdom OR sosialhjelp", k=5)
    ix.collections().code("a", "1", ["statleg ansvar"])
    idx = str(ix.path)
    assert main(["codes", "--rename", "statleg ansvar", "statlig ansvar", "--index", idx]) == 0
    assert main(["codes", "--parent", "statlig ansvar", "ansvar", "--index", idx]) == 0
    capsys.readouterr()
    assert main(["codes", "--index", idx]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ansvar", "0"] and lines[1].split()[:3] == ["statlig", "ansvar", "1"]
    assert main(["codes", "--json", "--index", idx]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["codes"]] == ["ansvar", "statlig ansvar"]
    assert main(["codes", "--merge", "nosuch", "ansvar", "--index", idx]) == 2
    assert "no code 'nosuch'" in capsys.readouterr().err


def test_chain_of_evidence_markdown_and_docx(ix: Index, tmp_path: Path) -> None:
    from docx import Document

    ix.collect("funn", "barnefattigdom OR sosialhjelpsmottakere", k=5)
    cols = ix.collections()
    cols.code("funn", "1", ["tidlig innsats"])
    cols.item_memo("funn", "1", "Tiltak mot barnefattigdom, med NAV")
    cols.set_memo("funn", "Gol knyter barnefattigdom til NAV og skolen")
    col = cols.get("funn", ix.store)
    md_path = ix.export(tmp_path / "funn.md", "md", collection="funn").path
    md = md_path.read_text(encoding="utf-8")
    assert "## Memo\n\nGol knyter barnefattigdom til NAV og skolen" in md
    assert "`barnefattigdom OR sosialhjelpsmottakere`" in md
    assert "| tidlig innsats | 1 |" in md
    for item in col.items:
        assert item.citation in md and item.text.split()[0] in md
    assert "**Source:** https://www.gol.kommune.no/plan.pdf" in md
    assert "**Page:** 1" in md and "**Memo:** Tiltak mot barnefattigdom, med NAV" in md
    assert "**Found by:** barnefattigdom OR sosialhjelpsmottakere, rank 1" in md
    docx_path = ix.export(tmp_path / "funn.docx", "docx", collection="funn").path
    doc = Document(str(docx_path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Gol knyter barnefattigdom til NAV og skolen" in text
    assert all(item.text in text for item in col.items)
    assert "Memo: Tiltak mot barnefattigdom, med NAV" in text
    assert doc.tables[0].rows[1].cells[0].text == "tidlig innsats"
    # query results make a chain of evidence too
    q = ix.export(tmp_path / "q.md", "md", query="utleieboliger").path.read_text(encoding="utf-8")
    assert "Hol, " in q and "**Found by:** utleieboliger, rank 1" in q
