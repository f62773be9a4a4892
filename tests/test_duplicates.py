"""Duplicates at ingest: the same plan under another name, saved again by
another tool, or in a second format with the same name, on shared plans."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plansok.api import Index
from plansok.cli import main

# The smallest shared plan (19 pages), as text and as PDF: the same stem.
PLAN = "3338_nore-og-uvdal_samfunnsdel_tett_paa_folk"
COPY = "kommuneplan_tett_paa_folk_kopi"
QUERY = "innbyggerne"


def counts(ix: Index) -> dict[str, object]:
    """What a researcher counts: documents, passages, hits of a word, tags."""
    hits = ix.search(QUERY, k=1000, fold_duplicates=False)
    return {
        "documents": [d.doc_id for d in ix.documents()],
        "passages": sum(len(ix.store.passages_of(d.doc_id)) for d in ix.documents()),
        "hits": len(hits),
        "tags": ix.store.tag_counts(),
    }


@pytest.fixture
def plan_md(corpus: Path) -> Path:
    return corpus / "plans" / f"{PLAN}.md"


@pytest.fixture
def plan_pdf(corpus: Path) -> Path:
    return corpus / "pdf" / f"{PLAN}.pdf"


def test_a_copy_under_another_name_is_indexed_once(tmp_path: Path, plan_md: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_md, src / f"{PLAN}.md")
    ix = Index.open(tmp_path / "ix", create=True)
    ix.ingest([src / f"{PLAN}.md"])
    alone = counts(ix)
    assert alone["hits"] > 0

    # Both names in one folder (a fresh index): one document, a warning naming both files.
    shutil.copy(plan_md, src / f"{COPY}.md")
    fresh = Index.open(tmp_path / "fresh", create=True)
    report = fresh.ingest([src])
    assert report.ok and report.added == [PLAN]
    assert report.skipped == [
        {
            "path": str(src / f"{COPY}.md"),
            "doc_id": COPY,
            "kept": PLAN,
            "kept_path": str(src / f"{PLAN}.md"),
            "reason": "same content",
        }
    ]
    (warning,) = report.warnings
    assert f"{COPY}.md" in warning and f"{PLAN}.md" in warning and "indexed once" in warning
    assert counts(fresh) == alone

    # The folder again into the index that has the original: nothing added, the copy named.
    generation = ix.store.get_meta("generation")
    report = ix.ingest([src])
    assert report.ok and not report.added and not report.updated and report.unchanged == [PLAN]
    assert [s["doc_id"] for s in report.skipped] == [COPY]
    assert any(f"{COPY}.md" in w and f"{PLAN}.md" in w for w in report.warnings)
    assert ix.store.get_meta("generation") == generation  # the index was not written at all
    assert counts(ix) == alone

    # The copy alone, into an index written before text hashes were recorded: still found by its bytes.
    with ix.store.transaction():
        ix.store.db.execute("UPDATE documents SET meta_json = json_remove(meta_json, '$.extra.text_sha256')")
    report = ix.ingest([src / f"{COPY}.md"])
    assert report.ok and not report.added and report.skipped[0]["kept"] == PLAN
    assert counts(ix) == alone


def test_removing_the_original_keeps_the_content_while_a_copy_exists(tmp_path: Path, plan_md: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_md, src / f"{PLAN}.md")
    shutil.copy(plan_md, src / f"{COPY}.md")
    ix = Index.open(tmp_path / "ix", create=True)
    assert ix.ingest([src]).added == [PLAN]
    hits = len(ix.search(QUERY, k=1000, fold_duplicates=False))

    # The original file is deleted: its document stays, the copy is not indexed twice,
    # and the warning says where the content is.
    (src / f"{PLAN}.md").unlink()
    report = ix.ingest([src])
    assert report.ok and not report.added
    assert any("is not found" in w and f"plansok remove {PLAN}" in w for w in report.warnings)
    assert [d.doc_id for d in ix.documents()] == [PLAN]

    # The researcher removes the original's document: the next ingest files the content under the copy.
    ix.remove([PLAN])
    report = ix.ingest([src])
    assert report.added == [COPY] and not report.skipped
    assert len(ix.search(QUERY, k=1000, fold_duplicates=False)) == hits


def test_the_same_pdf_saved_again_is_named_by_its_text(tmp_path: Path, plan_pdf: Path) -> None:
    # Other bytes, the same pages: which file to keep is the researcher's call
    # (one may be damaged outside its text), so both are indexed and the warning
    # names both files and how to drop one.
    pdfium = pytest.importorskip("pypdfium2")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_pdf, src / "a_lastet_ned.pdf")
    pdf = pdfium.PdfDocument(str(plan_pdf))
    pdf.save(str(src / "b_lagret_paa_nytt.pdf"))
    pdf.close()
    assert (src / "a_lastet_ned.pdf").read_bytes() != (src / "b_lagret_paa_nytt.pdf").read_bytes()
    ix = Index.open(tmp_path / "ix", create=True)
    report = ix.ingest([src])
    assert report.ok and report.added == ["a_lastet_ned", "b_lagret_paa_nytt"] and not report.skipped
    (warning,) = [w for w in report.warnings if "the same text" in w]
    assert "b_lagret_paa_nytt.pdf" in warning and "a_lastet_ned.pdf" in warning
    assert "plansok remove b_lagret_paa_nytt" in warning


def test_also_in_names_the_document(tmp_path: Path, plan_md: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A hearing draft of the same plan: another document (its first page missing),
    # whose passages fold under the adopted plan's hits.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_md, src / f"{PLAN}.md")
    text = plan_md.read_text(encoding="utf-8")
    head, _, rest = text.partition("<!-- side 1 -->")
    draft_body = rest.partition("<!-- side 2 -->")[2]
    draft = "3338_nore-og-uvdal_samfunnsdel_horingsutkast_2024"
    (src / f"{draft}.md").write_text(head + "<!-- side 1 -->" + draft_body, encoding="utf-8")
    ix = Index.open(tmp_path / "ix", create=True)
    assert sorted(ix.ingest([src]).added) == sorted([PLAN, draft])
    titles = {d.doc_id: d for d in ix.documents()}

    hits = ix.search(QUERY, k=5)
    folded = [a for h in hits for a in h.also_in if a["doc_id"] != h.doc.doc_id]
    assert folded, "the draft's copies of the passages should fold under the plan's hits"
    for a in folded:
        other = titles[a["doc_id"]]
        assert a["title"] == other.title and a["municipality"] == "Nore og Uvdal"
        assert a["passage_id"].startswith(f"{a['doc_id']}#") and a["page"] >= 1
        assert a["citation"].startswith(f"Nore og Uvdal, {other.title}")

    code = main(["query", QUERY, "-k", "5", "--index", str(tmp_path / "ix")])
    out = capsys.readouterr().out
    assert code == 0
    a = folded[0]
    other = titles[a["doc_id"]]
    title = other.title + (f" ({other.period})" if other.period and other.period not in other.title else "")
    named = f"also in: Nore og Uvdal, {title}, s. {a['page']}  [{a['doc_id']}]"
    assert named in [line.strip() for line in out.splitlines()]

    code = main(["query", QUERY, "-k", "5", "--index", str(tmp_path / "ix"), "--json"])
    data = json.loads(capsys.readouterr().out)
    also = [a for hit in data["hits"] for a in hit["also_in"]]
    assert code == 0 and also and all({"doc_id", "title", "municipality", "page"} <= set(a) for a in also)


def test_a_second_format_with_the_same_name_is_a_choice(tmp_path: Path, plan_md: Path, plan_pdf: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_md, src)
    shutil.copy(plan_pdf, src)
    ix = Index.open(tmp_path / "ix", create=True)

    def indexed_from() -> str:
        (doc,) = ix.documents()
        return Path(doc.path).suffix

    # By default the PDF is indexed; the Markdown file is named in a warning with the option that picks it.
    report = ix.ingest([src])
    assert report.ok and report.added == [PLAN] and indexed_from() == ".pdf"
    assert [(Path(s["path"]).name, s["reason"]) for s in report.skipped] == [(f"{PLAN}.md", "other format")]
    (warning,) = [w for w in report.warnings if "another format" in w]
    assert f"{PLAN}.md" in warning and f"{PLAN}.pdf" in warning and "--prefer text" in warning

    # The choice: the text replaces the PDF, with a warning that says so.
    report = ix.ingest([src], prefer="text")
    assert report.ok and report.updated == [PLAN] and indexed_from() == ".md"
    assert any("replaces" in w and f"{PLAN}.pdf" in w for w in report.warnings)

    # Without --prefer the indexed format stays: a later plain ingest changes nothing.
    report = ix.ingest([src])
    assert report.ok and report.unchanged == [PLAN] and not report.updated and indexed_from() == ".md"
    assert "--prefer pdf" in report.warnings[0]
    report = ix.ingest([src / f"{PLAN}.pdf"])
    assert report.ok and not report.updated and report.skipped[0]["reason"] == "other format"
    assert [d.doc_id for d in ix.documents()] == [PLAN]

    with pytest.raises(Exception, match="prefer='word'"):
        ix.ingest([src], prefer="word")


def test_cli_exit_codes(tmp_path: Path, plan_md: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(plan_md, src / f"{PLAN}.md")
    shutil.copy(plan_md, src / f"{COPY}.md")
    index = str(tmp_path / "ix")

    # A skipped copy is a warning, not a failure.
    code = main(["ingest", str(src), "--index", index, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "1 added" in out and "0 failed, 1 skipped" in out
    code = main(["ingest", str(src / f"{COPY}.md"), "--index", index, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["skipped"][0]["kept"] == PLAN and report["warnings"]

    # Two different files that would be one document in the same format: an error, exit 1.
    other = tmp_path / "other"
    other.mkdir()
    (other / f"{PLAN}.md").write_text(plan_md.read_text(encoding="utf-8").replace("innbyggerne", "folk"))
    code = main(["ingest", str(src), str(other), "--index", index, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["failed"][0]["path"] == str(other / f"{PLAN}.md")
    assert "already used by" in report["failed"][0]["reason"]

    with pytest.raises(SystemExit) as exc:
        main(["ingest", str(src), "--index", index, "--prefer", "word"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    assert "--prefer" in capsys.readouterr().out


def test_copies_and_formats_of_a_file_that_fails(tmp_path: Path, write_plan) -> None:
    src = tmp_path / "src"
    src.mkdir()
    page = b"<!DOCTYPE html><html><body><p>Kommunen</p></body></html>"  # a web page saved as .pdf
    (src / "plan.pdf").write_bytes(page)
    (src / "plan_kopi.pdf").write_bytes(page)
    (src / "tom.md").write_bytes(b"")
    (src / "tom.txt").write_bytes(b"")
    # A broken PDF beside its text: the text is read instead.
    (src / "3324_gol_plan.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer garbage")
    write_plan(src, "3324_gol_plan", ["Kommunen skal redusere barnefattigdom i Gol gjennom tidlig innsats."])
    report = Index.open(tmp_path / "ix", create=True).ingest([src])
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert sorted(failed) == ["3324_gol_plan.pdf", "plan.pdf", "plan_kopi.pdf", "tom.md", "tom.txt"]
    assert not report.skipped
    assert "not a PDF" in failed["plan_kopi.pdf"] and "plan.pdf" in failed["plan_kopi.pdf"]
    assert "empty" in failed["tom.md"] and "empty" in failed["tom.txt"]
    assert report.added == ["3324_gol_plan"]
    assert any("3324_gol_plan.md: read in place of" in w and "3324_gol_plan.pdf" in w for w in report.warnings)
