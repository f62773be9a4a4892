"""Matrices, totals and results by document, as a researcher checks them:
a matrix cell counts exactly the hits the same query and filters give,
reference lists are left out (and counted) by default, copies count in their
own plan, and a plan indexed under a pre-reform number stands beside today's
statistics."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import _write_plan

from plansok.api import Filters, Index
from plansok.cli import main
from plansok.errors import PlansokError

SSB = Path(__file__).resolve().parent / "data" / "ssb"
SHARED_PLANS = [
    "3324_gol_samfunnsdel_2018-2030.md",
    "3326_hemsedal_samfunnsdel_2019-2030.md",
    "3330_hol_handlingsplan_folkehelse_2021-2033.md",
]
HUGE = 1_000_000

# A plan from old Drammen (0602, before the 2020 merger) with a reference list,
# and a draft of it that copies one paragraph word for word.
COPIED = (
    "Barnefattigdom er en av de største utfordringene i Drammen. Andelen barn som vokser opp i familier "
    "med vedvarende lavinntekt har økt, og kommunen vil styrke samarbeidet mellom NAV, skole og barnehage "
    "for å redusere barnefattigdommen og sikre at alle barn kan delta i fritidsaktiviteter."
)
DRAMMEN_2015 = [
    "Boligsosial handlingsplan for Drammen kommune 2015-2019\n\nVedtatt av bystyret 2015.",
    "1 Innledning\n\n" + COPIED + "\n\nStartlån og bostøtte skal gjøre det mulig for flere å eie egen bolig.",
    "2 Tiltak\n\nKommunen skal tilby tidlig innsats i barnehagen og bygge flere kommunale utleieboliger "
    "for barnefamilier med lav inntekt. Sosialhjelp skal ikke være en varig inntektskilde.",
    "Referanser\n\nFløtten, T. (2009). Barnefattigdom og sosial ulikhet. Oslo: Gyldendal Akademisk.\n"
    "Hood, C. (1991). A public management for all seasons? Public Administration, 69(1), 3-19.\n"
    "Nadim, M. og Nielsen, R. (2009). Barnefattigdom i Norge. Oslo: Fafo.",
]
DRAMMEN_DRAFT = [
    "Utkast til boligsosial plan for Drammen 2015\n\nHøringsutkast.",
    "Bakgrunn\n\n" + COPIED + "\n\nPlanen er på høring til 1. juni.",
]
HEADER = {"Kommunenr": "0602", "Dokumenttype": "handlingsplan"}


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Index:
    src = tmp_path_factory.mktemp("matrix") / "src"
    src.mkdir()
    for name in SHARED_PLANS:
        shutil.copy(corpus / "plans" / name, src / name)
    _write_plan(src, "0602_drammen_boligsosial_handlingsplan_2015-2019", DRAMMEN_2015, HEADER)
    _write_plan(src, "0602_drammen_boligsosial_utkast_2015", DRAMMEN_DRAFT, HEADER)
    index = Index.open(src.parent / "ix", create=True)
    assert index.ingest([src]).ok
    return index


def hits_per_doc(ix: Index, query: str, filters: Filters | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in ix.search(query, k=HUGE, filters=filters, fold_duplicates=False):
        out[h.doc.doc_id] = out.get(h.doc.doc_id, 0) + 1
    return out


QUERIES = [
    "barnefattigdom",
    "bolig",
    '"tidlig innsats"',
    "folkehelse -idrett",
    "sosialhjelp OR bostøtte",
    '"barn unge"~1',  # proximity: the words in any order, at most one word among them
]
FILTERS = [
    Filters(),
    Filters(doc_type=["samfunnsdel"]),
    Filters(municipality=["Drammen"]),
    Filters(year=(2019, 2025), standard="nn"),
]


@pytest.mark.parametrize("f", FILTERS, ids=["none", "type", "old-drammen", "year+nn"])
def test_a_matrix_cell_counts_exactly_the_hits_of_the_same_query_and_filters(ix: Index, f: Filters) -> None:
    with_refs = ix.matrix(QUERIES, by="document", filters=f, include_references=True)
    default = ix.matrix(QUERIES, by="document", filters=f)
    for q, row, row_default in zip(QUERIES, with_refs.rows, default.rows):
        per_doc = hits_per_doc(ix, q, f)
        # Every passage search finds (near-duplicates unfolded), cell by cell.
        assert {c.key: n for c, n in zip(with_refs.columns, row.counts) if n} == per_doc, q
        assert row.total == len(ix.search(q, k=HUGE, filters=f, fold_duplicates=False))
        # Without reference lists: the total `plansok query` reports, and the sum of the groups.
        result = ix.results(q, filters=f)
        grouped = ix.search_grouped(q, k=HUGE, filters=f)
        assert row_default.total == result.total == sum(g.passages for g in grouped.groups)
        assert row.total - row_default.total == sum(result.left_out.values())
    # By municipality the same hits, summed over each municipality's plans.
    by_mun = ix.matrix(QUERIES, filters=f)
    assert [r.total for r in by_mun.rows] == [r.total for r in default.rows]


def test_reference_lists_are_left_out_by_default_and_the_number_is_said(ix: Index, capsys) -> None:
    result = ix.results("barnefattigdom", k=50)
    refs = "0602_drammen_boligsosial_handlingsplan_2015-2019#"
    assert result.left_out == {"references": 1}
    assert not any(h.passage.passage_id.startswith(refs) and "Hood" in h.passage.text for h in result.hits)
    kept = ix.results("barnefattigdom", k=50, include_references=True)
    assert kept.total == result.total + 1
    assert any("Hood, C. (1991)" in h.passage.text for h in kept.hits)
    assert "1 reference list left out" in result.summary()

    assert main(["query", "barnefattigdom", "-k", "2", "--index", str(ix.path)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"{result.total} passages match in {result.documents} documents; 2 shown")
    assert "1 reference list left out; --include-references keeps them" in first
    # A query only a reference list answers: nothing, and why.
    code = main(["query", "Gyldendal", "--index", str(ix.path)])
    err = capsys.readouterr().err
    assert code == 1 and "1 reference list" in err and "--include-references" in err


def test_copies_are_folded_in_the_list_but_counted_in_each_plan(ix: Index) -> None:
    hits = ix.search("barnefattigdommen Drammen", k=5)
    top = hits[0]
    assert any(a["doc_id"] != top.doc.doc_id for a in top.also_in), "the draft's copy folds under the plan's hit"
    m = ix.matrix(["barnefattigdommen Drammen"], by="document", filters=Filters(municipality=["0602"]))
    counts = dict(zip([c.key for c in m.columns], m.rows[0].counts))
    assert counts["0602_drammen_boligsosial_handlingsplan_2015-2019"] >= 1
    assert counts["0602_drammen_boligsosial_utkast_2015"] >= 1
    grouped = ix.search_grouped("barnefattigdommen Drammen", filters=Filters(municipality=["0602"]))
    assert {g.hit.doc.doc_id for g in grouped.groups} == set(counts)


def test_results_by_document_give_each_plans_best_passage_and_its_count(ix: Index, capsys) -> None:
    grouped = ix.search_grouped("bolig", k=HUGE)
    assert len(grouped.groups) == grouped.documents == len(hits_per_doc(ix, "bolig"))
    for g in grouped.groups:
        own = ix.results("bolig", k=1, filters=Filters(doc_ids=[g.hit.doc.doc_id]), fold_duplicates=False)
        assert g.hit.passage.passage_id == own.hits[0].passage.passage_id
        assert g.passages == own.total
    scores = [g.hit.score for g in grouped.groups]
    assert scores == sorted(scores, reverse=True)  # plans by their best passage
    assert main(["query", "bolig", "--by-document", "-k", "2", "--json", "--index", str(ix.path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by_document"] and data["total"] == grouped.total and data["documents"] == grouped.documents
    assert [g["hits_in_document"] for g in data["groups"]] == [g.passages for g in grouped.groups[:2]]
    assert main(["query", "bolig", "--by-document", "-k", "2", "--index", str(ix.path)]) == 0
    out = capsys.readouterr().out
    assert f"{grouped.groups[0].passages} hits in this plan" in out


def test_measures_share_and_rate_use_the_columns_own_size(ix: Index) -> None:
    m = ix.matrix(["bolig"], by="document", measure="share")
    for j, c in enumerate(m.columns):
        passages = [p for _, p in ix.store.passages_of(c.key)]
        refs = sum("Hood, C." in p.text for p in passages)  # the one reference list
        assert c.passages == len(passages) - refs
        assert m.cell(m.rows[0], j) == pytest.approx(100 * m.rows[0].counts[j] / c.passages)
        assert m.cell(m.rows[0], j, "rate") == pytest.approx(10_000 * m.rows[0].counts[j] / c.words)
        assert c.words > c.passages
    assert m.total(m.rows[0], "count") == m.rows[0].total


def test_an_old_municipality_number_counts_in_todays_column_beside_todays_statistics(ix: Index) -> None:
    m = ix.matrix(["barnefattigdom"], stats=SSB / "08764_lavinntekt_barn_latin1.csv", stat_columns=["2022"])
    cols = {c.key: c for c in m.columns}
    drammen = cols["3301"]
    assert drammen.label == "Drammen" and len(drammen.documents) == 2  # both 0602 plans
    j = m.columns.index(drammen)
    in_old_drammen = hits_per_doc(ix, "barnefattigdom", Filters(municipality=["0602"]))
    assert set(in_old_drammen) == set(drammen.documents)
    assert m.rows[0].counts[j] == sum(in_old_drammen.values()) - 1  # the reference list is left out
    (stat,) = m.stats
    v = stat.values[j]
    assert v is not None and v.value == 16.1 and v.source.startswith("3005 Drammen")
    gol = stat.values[m.columns.index(cols["3324"])]
    assert gol is not None and gol.value == 8.0 and gol.note == ""
    text = m.text()
    assert "16.1*" in text and "3005 was the number of Drammen" in text
    # JSON-stat on today's borders (K-codes) joins the same way.
    k = ix.matrix(["barnefattigdom"], stats=SSB / "12944_vedvarende_lavinntekt.json")
    assert [s.label.split(", ")[-1] for s in k.stats] == ["2020-2022", "2021-2023"]
    assert k.stats[1].values[j].value == 15.6  # type: ignore[union-attr]
    with pytest.raises(PlansokError, match="use --by municipality"):
        ix.matrix(["barnefattigdom"], by="document", stats=SSB / "12944_vedvarende_lavinntekt.json")


def test_tag_and_code_rows_count_what_the_researcher_would(ix: Index) -> None:
    m = ix.matrix(tags=["barnefattigdom"], by="document", include_references=True)
    tagged = ix.search("", k=HUGE, filters=Filters(tags=["barnefattigdom"]), fold_duplicates=False)
    assert m.rows[0].total == len(tagged) > 0
    with pytest.raises(PlansokError, match="unknown tag"):
        ix.matrix(tags=["fattigdomm"])

    name = "matrisetest"
    ix.collections().ensure(name)
    saved = ix.collect(name, "bolig", k=4, fold_duplicates=False)
    cols = ix.collections()
    for item in range(1, 4):
        cols.code(name, str(item), ["boligpolitikk"])
    cols.code(name, "4", ["annet"])
    m = ix.matrix(codes=True, by="document", include_references=True)
    rows = {r.label: r for r in m.rows}
    coded = {}
    for h in saved[:3]:
        coded[h.doc.doc_id] = coded.get(h.doc.doc_id, 0) + 1
    assert {c.key: n for c, n in zip(m.columns, rows["boligpolitikk"].counts) if n} == coded
    assert rows["annet"].total == 1
    # Filters apply to codes too.
    only = saved[0].doc.doc_id
    f = ix.matrix(codes=["boligpolitikk"], filters=Filters(doc_ids=[only]), include_references=True)
    assert f.rows[0].total == coded[only]
    with pytest.raises(PlansokError, match="no code 'ukjent'"):
        ix.matrix(codes=["ukjent"])
    cols.delete(name)


def test_the_matrix_writes_csv_png_html_json_and_plain_rows(ix: Index, tmp_path: Path, monkeypatch) -> None:
    m = ix.matrix(["barnefattigdom", "bolig"], measure="rate", stats=SSB / "12944_vedvarende_lavinntekt_wide.csv")
    csv_path = m.write(tmp_path / "m.csv")
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("# plansok matrix by municipality; measure rate")
    rows = list(csv.reader(lines[1:]))
    assert rows[0][:3] == ["kind", "row", m.columns[0].heading] and rows[0][-1] == "all"
    assert rows[1][1] == "barnefattigdom" and rows[-1][0] == "statistic"
    assert [float(x) if x else None for x in rows[2][2:-1]] == pytest.approx(
        [m.cell(m.rows[1], j) for j in range(len(m.columns))], abs=1e-4
    )
    png = m.write(tmp_path / "m.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    page = m.write(tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<table>" in page and "data:image/png;base64," in page and "SSB: 0-17 år, 2021-2023" in page
    data = json.loads(m.write(tmp_path / "m.json").read_text(encoding="utf-8"))
    assert data["rows"][0]["total_count"] == m.rows[0].total and data["statistics"][0]["values"]
    with pytest.raises(PlansokError, match=r"\.csv, \.png, \.html or \.json"):
        m.write(tmp_path / "m.xlsx")

    records = m.records()
    cells = [r for r in records if r["kind"] == "query"]
    assert len(cells) == 2 * len(m.columns) and sum(r["count"] for r in cells[: len(m.columns)]) == m.rows[0].total
    stats = [r for r in records if r["kind"] == "statistic"]
    assert {r["column"] for r in stats if r["value"] is not None} >= {"Drammen", "Gol"}

    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(PlansokError, match="pip install pandas"):
        m.to_dataframe()


def test_to_dataframe_when_pandas_is_installed(ix: Index) -> None:
    pd = pytest.importorskip("pandas")
    m = ix.matrix(["bolig"], measure="share")
    frame = m.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [c.heading for c in m.columns]
    assert frame.loc["query: bolig"].tolist() == pytest.approx([m.cell(m.rows[0], j) for j in range(len(m.columns))])
    assert len(m.to_dataframe(long=True)) == len(m.records())


def test_matrix_on_the_command_line(ix: Index, tmp_path: Path, capsys) -> None:
    args = ["matrix", "--query", "barnefattigdom", "--query", "bolig", "--index", str(ix.path)]
    assert main([*args, "--json", "--by", "type"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == "type" and [r["label"] for r in data["rows"]] == ["barnefattigdom", "bolig"]
    assert data["rows"][0]["total_count"] == ix.results("barnefattigdom").total
    out_csv, out_png = tmp_path / "m.csv", tmp_path / "m.png"
    assert main([*args, "--measure", "share", "--out", str(out_csv), "--png", str(out_png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hits as % of the column's passages, by municipality")
    assert "3301 Drammen" in out and f"wrote {out_png}" in out and out_csv.exists()
    assert main([*args, "--stats", str(SSB / "12944_vedvarende_lavinntekt_wide.csv")]) == 0
    assert "2021-2023" in capsys.readouterr().out
    # Errors say what to do; an empty matrix says why and exits 1.
    assert main(["matrix", "--index", str(ix.path)]) == 2
    assert "give rows" in capsys.readouterr().err
    assert main([*args, "--by", "document", "--stats", str(SSB / "12944_vedvarende_lavinntekt.json")]) == 2
    assert "use --by municipality" in capsys.readouterr().err
    assert main(["matrix", "--query", "romfart", "--index", str(ix.path)]) == 1
    assert "no row has a hit" in capsys.readouterr().err
    assert main([*args, "--kommune", "Bergen"]) == 2
    assert "Bergen" in capsys.readouterr().err


def test_reference_lists_are_recorded_at_ingest_so_a_query_never_reads_texts_to_leave_them_out(
    ix: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What results leave out is decided from `passage_kinds`, written at
    ingest: a cold query at a million passages must not read every match's
    text to find the reference lists (issue 10's cold-query budget)."""
    from plansok.query.search import SearchOptions
    from plansok.views.results import find_matches

    kinds = dict(ix.store.db.execute("SELECT pid, kind FROM passage_kinds").fetchall())
    refs = [pid for pid, kind in kinds.items() if kind == "references"]
    assert refs and all(k in ("references", "contents") for k in kinds.values())
    hood = ix.store.passages_by_pid(refs)
    assert any("Hood, C. (1991)" in p.text for p in hood.values())

    searcher = ix.searcher()

    def no_text(*_a, **_k):
        raise AssertionError("a passage's text was read to leave out reference lists")

    monkeypatch.setattr(searcher.ix.store, "passages_by_pid", no_text)
    m = find_matches(searcher, "barnefattigdom", SearchOptions(), None)
    assert m.left_out == {"references": 1}


def test_an_index_without_recorded_kinds_gets_them_when_opened(tmp_path: Path, corpus: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _write_plan(src, "0602_drammen_boligsosial_handlingsplan_2015-2019", DRAMMEN_2015, HEADER)
    path = tmp_path / "ix"
    with Index.open(path, create=True) as ix:
        assert ix.ingest([src], tag=False).ok
        before = ix.store.db.execute("SELECT pid, kind FROM passage_kinds ORDER BY pid").fetchall()
    assert before
    db = sqlite3.connect(path / "plansok.sqlite", isolation_level=None)
    db.executescript(
        "DROP TABLE passage_kinds; DELETE FROM migrations WHERE name = '0007_passage_kinds';"
        "UPDATE meta SET value = '7' WHERE key = 'version';"
    )
    db.close()
    with Index.open(path) as ix:
        assert ix.store.db.execute("SELECT pid, kind FROM passage_kinds ORDER BY pid").fetchall() == before
        assert ix.results("barnefattigdom").left_out == {"references": 1}
