"""The `plansok` command as a researcher uses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plansok.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_teaches_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    for word in ("ingest", "query", "docs", "show", "remove", "eval", "bench", "examples:", "--index"):
        assert word in out
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    out = capsys.readouterr().out
    assert "--kommune" in out and "--json" in out and "phrase" in out


def test_bad_files_are_reported_and_the_batch_goes_on(tmp_path: Path, capsys, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_plan(src, "3324_gol_plan", ["Kommunen skal redusere barnefattigdom i Gol gjennom tidlig innsats."])
    (src / "empty.pdf").write_bytes(b"")
    (src / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer garbage")
    (src / "notes.docx").write_bytes(b"this is not a zip")
    (src / "image.pdf").write_bytes(_blank_pdf())
    index = tmp_path / "ix"
    code, out, err = run(capsys, "ingest", str(src), "--index", str(index))
    assert code == 1
    assert "1 added" in out and "4 failed" in out
    assert "empty.pdf: empty file" in err
    assert "broken.pdf:" in err and "notes.docx:" in err
    assert "image.pdf: no text on any of its 1 page(s)" in err

    # Nothing already indexed is lost when a later batch fails.
    code, out, _ = run(capsys, "ingest", str(src / "empty.pdf"), "--index", str(index), "--json")
    report = json.loads(out)
    assert code == 1 and report["failed"][0]["reason"].startswith("empty file")
    code, out, _ = run(capsys, "query", "barnefattigdom", "--index", str(index), "--json")
    assert code == 0 and json.loads(out)["hits"][0]["doc_id"] == "3324_gol_plan"


def test_query_json_docs_show_remove(tmp_path: Path, capsys) -> None:
    index = tmp_path / "ix"
    pdf = tmp_path / "3324_gol_samfunnsdel_2018-2030.pdf"
    shutil.copy(REPO / "corpus" / pdf.name, pdf)
    assert run(capsys, "-q", "ingest", str(pdf), "--index", str(index))[0] == 0

    code, out, _ = run(
        capsys,
        "query",
        "folkehelse",
        "--kommune",
        "Gol",
        "--year",
        "2020",
        "-k",
        "3",
        "--index",
        str(index),
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["query"] == "folkehelse" and len(data["hits"]) == 3
    hit = data["hits"][0]
    assert hit["municipality"] == "Gol" and hit["standard"] == "nn" and hit["doc_type"] == "samfunnsdel"
    assert hit["snippet"][slice(*hit["highlights"][0])].lower().startswith("folkehels")

    # A municipality with no indexed document is an error that names the ones indexed, not an empty answer.
    code, out, err = run(capsys, "query", "folkehelse", "--kommune", "Drammen", "--index", str(index))
    assert code == 2 and out == "" and "Drammen" in err and "Gol" in err

    code, out, _ = run(capsys, "query", "folkehelse", "-k", "1", "--index", str(index))
    assert "**" in out and "Gol, Kommuneplanens samfunnsdel 2018-2030, s. " in out

    code, out, _ = run(capsys, "docs", "--index", str(index), "--json")
    assert [d["doc_id"] for d in json.loads(out)] == [pdf.stem]

    code, out, _ = run(capsys, "show", pdf.stem, "--page", str(hit["page"]), "--index", str(index))
    assert code == 0 and hit["passage_id"] in out

    code, _, err = run(capsys, "show", pdf.stem, "--page", "999", "--index", str(index))
    assert code == 2 and "not 999" in err

    code, out, _ = run(capsys, "remove", pdf.stem, "--index", str(index))
    assert code == 0 and "removed 1" in out
    code, out, _ = run(capsys, "docs", "--index", str(index), "--json")
    assert json.loads(out) == []


def test_missing_index_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "query", "bolig", "--index", str(tmp_path / "none"))
    assert code == 2 and "no plansok index here" in err


def _blank_pdf() -> bytes:
    """A one-page PDF with no text layer (what a scan without OCR looks like)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    doc.new_page(595, 842)
    import io

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def test_query_words_filters_and_empty_results_on_the_command_line(tmp_path: Path, capsys) -> None:
    index = tmp_path / "ix"
    pdf = tmp_path / "3324_gol_samfunnsdel_2018-2030.pdf"
    shutil.copy(REPO / "corpus" / pdf.name, pdf)
    assert run(capsys, "-q", "ingest", str(pdf), "--index", str(index))[0] == 0

    # Several unquoted words are one query, not an argument error.
    code, out, _ = run(capsys, "query", "folkehelse", "innbyggjarar", "-k", "1", "--index", str(index))
    assert code == 0 and "Gol" in out

    # An unknown filter value is an error with close matches (exit 2), never an empty answer.
    code, out, err = run(capsys, "query", "folkehelse", "--type", "samfunnsdelen", "--index", str(index))
    assert code == 2 and out == "" and "did you mean samfunnsdel" in err
    code, out, err = run(capsys, "query", "folkehelse", "--kommune", "9999", "--index", str(index))
    assert code == 2 and "not a Norwegian municipality" in err
    code, out, err = run(capsys, "query", "folkehelse", "--doc", "nonexistent", "--index", str(index))
    assert code == 2 and "no such document" in err

    # Nothing matched: exit 1 and the reason.
    code, out, err = run(capsys, "query", "og", "i", "som", "--index", str(index))
    assert code == 1 and out == "" and "only stop words" in err
    code, out, err = run(capsys, "query", "folkehelse", "--type", "arealdel", "--index", str(index))
    assert code == 1 and "no indexed document passes --type arealdel" in err
    code, out, _ = run(capsys, "query", "folkehelse", "--type", "arealdel", "--json", "--index", str(index))
    data = json.loads(out)
    assert code == 1 and data["hits"] == [] and data["message"] == "no indexed document passes --type arealdel"
