"""OCR decided by what a page shows (issue: scanned pages that keep a digital
running header or page number were never read).

The scans are rendered here from the sample corpus's PDFs with
``evaluation/scans.py``: the body of a page becomes an image, while its running
header and footer stay as text, as on a municipality's stamped scan.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from plansok.evaluation.extraction import words
from plansok.evaluation.scans import render_scanned
from plansok.ingest.ocr import ocr_available
from plansok.ingest.pdf import extract_pdf
from plansok.ingest.pipeline import read_document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
GOL = CORPUS / "3324_gol_samfunnsdel_2018-2030.pdf"

needs_tesseract = pytest.mark.skipif(
    not ocr_available(),
    reason="OCR needs tesseract with the Norwegian model (apt-get install tesseract-ocr tesseract-ocr-nor)",
)


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """Gol's plan with every fifth page a scan whose header and footer are still text."""
    out = tmp_path_factory.mktemp("scans") / "gol_stamped.pdf"
    return out, render_scanned(GOL, out, every=5)


def _raw_text(path: Path, number: int) -> str:
    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[number - 1]
        return page.get_textpage().get_text_range()
    finally:
        pdf.close()


def test_the_rendering_keeps_the_running_lines_as_text_and_the_body_as_an_image(
    stamped: tuple[Path, list[int]],
) -> None:
    path, scanned = stamped
    assert scanned == [5, 10, 15]
    original = _raw_text(GOL, 10)
    text = _raw_text(path, 10)
    # The stamped page still has a text layer (its running lines), a handful of words out of hundreds.
    assert 0 < len(words(text)) < 12 < len(words(original))


def test_a_stamped_scan_is_a_scan_and_the_warning_says_to_add_ocr(stamped: tuple[Path, list[int]]) -> None:
    path, scanned = stamped
    pages, _ = extract_pdf(path)
    assert [p.number for p in pages if p.source == "scan"] == scanned
    assert all(p.text == "" for p in pages if p.source == "scan")
    doc = read_document(path, "gol_stamped")
    warning = " ".join(doc.warnings)
    assert "page(s) 5, 10, 15 are scanned" in warning and "--ocr" in warning


@needs_tesseract
def test_with_ocr_the_body_of_a_stamped_scan_is_read(stamped: tuple[Path, list[int]]) -> None:
    path, scanned = stamped
    original, _ = extract_pdf(GOL)
    pages, _ = extract_pdf(path, ocr=True)
    for number in scanned:
        page = pages[number - 1]
        assert page.source == "ocr", number
        want = words(original[number - 1].text)
        got = set(words(page.text))
        kept = sum(w in got for w in want) / len(want)
        assert kept > 0.9, (number, kept)
    # Pages whose text layer holds the body are never OCR'd and read the same.
    assert [p.text for p in pages if p.number not in scanned] == [p.text for p in original if p.number not in scanned]


def test_a_page_with_only_running_lines_is_blank_not_a_scan(tmp_path: Path) -> None:
    """Six such pages used to be reported as "no text layer ... scanned? use --ocr"."""
    blank = pdfium.PdfDocument(str(GOL))
    try:
        page = blank[3]
        height = page.get_size()[1]
        # Keep only the running lines (top and bottom 8 %) on page 4.
        for obj in list(page.get_objects(max_depth=1)):
            _, bottom, _, top = obj.get_bounds()
            if 0.08 * height < (bottom + top) / 2 < 0.92 * height:
                page.remove_obj(obj)
        page.gen_content()
        path = tmp_path / "gol_blank_page.pdf"
        blank.save(str(path))
    finally:
        blank.close()
    assert _raw_text(path, 4).strip()  # the running lines are there
    pages, _ = extract_pdf(path)
    assert pages[3].source == "empty"
    doc = read_document(path, "gol_blank_page")
    assert not any("scan" in w or "--ocr" in w for w in doc.warnings), doc.warnings
