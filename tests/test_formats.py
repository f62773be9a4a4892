"""Text, Markdown, HTML and DOCX sources, metadata inference and the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from plansok.api import Index
from plansok.errors import IngestError
from plansok.ingest.formats import read_html, read_text
from plansok.ingest.metadata import classify_doc_type, detect_standard
from plansok.ingest.pipeline import read_document

BODY = (
    "Kommunen skal arbeide for at færre barn vokser opp i familier med vedvarende lavinntekt. "
    "Tiltakene omfatter gratis fritidsaktiviteter, økonomisk rådgivning og tett oppfølging fra NAV."
)


def test_markdown_pages_and_header_become_metadata(tmp_path: Path, write_plan) -> None:
    path = write_plan(
        tmp_path,
        "3324_gol_samfunnsdel_2018-2030",
        ["Kommuneplan for Gol", BODY],
        {
            "Kommunenr": "3324",
            "Dokumenttype": "samfunnsdel",
            "Kilde": "<https://www.gol.kommune.no/plan.pdf>",
        },
    )
    doc = read_document(path, path.stem)
    assert [p.number for p in doc.pages] == [1, 2]
    m = doc.meta
    assert (m.municipality, m.kommunenummer, m.doc_type) == ("Gol", "3324", "samfunnsdel")
    assert (m.year_from, m.year_to) == (2018, 2030)
    assert m.source_url == "https://www.gol.kommune.no/plan.pdf"


def test_cp1252_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_bytes("Boligsosial handlingsplan for Ål kommune.\n\nTiltak for bustader.".encode("cp1252"))
    pages, _ = read_text(path)
    assert "Ål kommune" in pages[0].text


def test_binary_as_text_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(IngestError, match="binary file"):
        read_text(path)


def test_html_keeps_paragraphs_and_table_rows(tmp_path: Path) -> None:
    path = tmp_path / "plan.html"
    path.write_text(
        "<html><head><title>Temaplan folkehelse</title><script>var x=1;</script></head><body>"
        "<nav>Meny Hjem</nav><h1>Folkehelse</h1><p>" + BODY + "</p>"
        "<table><tr><th>År</th><th>Andel</th></tr><tr><td>2022</td><td>11,3</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    pages, meta = read_html(path)
    assert meta["title"] == "Temaplan folkehelse"
    assert "vedvarende lavinntekt" in pages[0].text and "var x" not in pages[0].text
    assert "2022 | 11,3" in pages[0].text and "Meny" not in pages[0].text


def test_docx_is_ingested_and_searchable(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Boligsosial strategi for Flesberg kommune 2022-2026"
    d.add_heading("Kommunale utleieboliger", level=1)
    d.add_paragraph(BODY)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Boliger", "40"
    path = tmp_path / "3334_flesberg_boligsosial.docx"
    d.save(str(path))
    ix = Index.open(tmp_path / "ix", create=True)
    report = ix.ingest([path])
    assert report.ok
    meta = ix.documents()[0]
    assert meta.municipality == "Flesberg" and meta.doc_type == "temaplan"
    assert ix.search("lavinntekt")[0].doc.doc_id == path.stem


def test_manifest_overrides_inferred_metadata(tmp_path: Path, write_plan) -> None:
    path = write_plan(tmp_path, "plan_a", [BODY])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "file;municipality;kommunenummer;doc_type;year_from;year_to;standard\n"
        "plan_a.md;Hol;3330;handlingsplan;2021;2033;nb\n",
        encoding="utf-8",
    )
    ix = Index.open(tmp_path / "ix", create=True)
    assert ix.ingest([path], manifest=manifest).ok
    m = ix.documents()[0]
    assert (m.municipality, m.kommunenummer, m.doc_type, m.year_from, m.year_to) == (
        "Hol",
        "3330",
        "handlingsplan",
        2021,
        2033,
    )
    # Correcting the manifest re-ingests the unchanged file.
    manifest.write_text("file,municipality\nplan_a.md,Hemsedal\n", encoding="utf-8")
    report = ix.ingest([path], manifest=manifest)
    assert report.updated == ["plan_a"] and ix.documents()[0].municipality == "Hemsedal"


def test_standard_and_type_inference() -> None:
    assert detect_standard("Kommunen skal gje gode tenester, og det er ikkje slik at eg meiner noko anna.") == "nn"
    assert detect_standard("Kommunen skal gi gode tjenester, og det er ikke slik at jeg mener noe annet.") == "nb"
    assert classify_doc_type("Kommuneplan", "3314_ovre-eiker_samfunnsdel_2021-2033") == "samfunnsdel"
    assert classify_doc_type("Handlingsplan for folkehelse 2021-2033") == "handlingsplan"
    assert classify_doc_type("Oversiktsdokument folkehelse 2024-2027") == "rapport"
    assert classify_doc_type("Økonomiplan 2024-2027 og budsjett 2024") == "økonomiplan"
