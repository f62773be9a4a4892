"""OCR of scanned PDF pages (ingest/ocr.py and extract_pdf(..., ocr=True)).

The scans are made here: Norwegian text drawn into an image with Pillow and
saved as an image-only PDF page, so there is no text layer to fall back on.
Tests that run tesseract skip when it or its Norwegian model is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from plansok.errors import IngestError
from plansok.ingest import ocr as ocr_mod
from plansok.ingest import pdf as pdf_mod
from plansok.ingest.ocr import OcrError, ocr_available, ocr_page
from plansok.ingest.pdf import extract_pdf
from plansok.models import Page

needs_tesseract = pytest.mark.skipif(
    not ocr_available(),
    reason="OCR tests need tesseract with the Norwegian model (apt-get install tesseract-ocr tesseract-ocr-nor)",
)

LINES = [
    "Kommunen skal redusere barnefattigdom og styrke",
    "tilbudet til barn og unge i Ål.",
    "",
    "Planen følges opp i økonomiplanen og i årlige",
    "handlingsprogram for folkehelse og levekår.",
]
DPI = 300
# A text page from the sample corpus, for documents that mix text and scanned pages.
TEXT_PDF = Path(__file__).resolve().parent.parent / "corpus" / "3324_gol_samfunnsdel_2018-2030.pdf"
TEXT_PAGE_INDEX = 5

_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    # Pillow's built-in scalable font covers æøå, so machines without fonts still test OCR.
    return ImageFont.load_default(size=size)


def _write_scan(path: Path) -> Path:
    """An A4-wide, image-only PDF page of body text (12 pt at 300 dpi); short, to keep OCR fast."""
    width, height = 2480, 700
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = _font(50)
    y = 150
    for line in LINES:
        draw.text((240, y), line, font=font, fill=0)
        y += 75
    img.save(path, "PDF", resolution=DPI)
    return path


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_scan(tmp_path_factory.mktemp("ocr") / "skannet.pdf")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, scan: Path) -> Path:
    """A corpus page with a text layer, then the scanned page."""
    out = pdfium.PdfDocument.new()
    for src, indices in ((TEXT_PDF, [TEXT_PAGE_INDEX]), (scan, [0])):
        doc = pdfium.PdfDocument(str(src))
        out.import_pages(doc, indices)
        doc.close()
    path = tmp_path_factory.mktemp("ocr") / "blandet.pdf"
    out.save(path)
    out.close()
    return path


@pytest.fixture(scope="module")
def ocr_scan(scan: Path) -> list[Page]:
    if not ocr_available():
        pytest.skip("tesseract with the Norwegian model is not installed")
    pages, _ = extract_pdf(scan, ocr=True)
    return pages


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch):
    """Make tesseract look uninstalled (and forget the cached language list on both sides)."""
    monkeypatch.setattr(ocr_mod, "TESSERACT", "tesseract-not-installed-here")
    ocr_mod._languages.cache_clear()
    yield
    ocr_mod._languages.cache_clear()


def test_scan_has_no_text_layer(scan: Path) -> None:
    pages, _ = extract_pdf(scan)
    assert [(p.number, p.text, p.source) for p in pages] == [(1, "", "scan")]


@needs_tesseract
def test_ocr_reads_scanned_page(ocr_scan: list[Page]) -> None:
    assert len(ocr_scan) == 1
    page = ocr_scan[0]
    assert page.source == "ocr"
    # Key words exactly, including æøå; OCR may slip elsewhere.
    for word in ("Kommunen", "barnefattigdom", "tilbudet", "økonomiplanen", "levekår"):
        assert word in page.text, (word, page.text)
    # "Ål" comes out as "ÅL" with this font: the Å is what matters here.
    assert "i ål." in page.text.lower(), page.text


@needs_tesseract
def test_ocr_text_is_cleaned_into_paragraphs(ocr_scan: list[Page]) -> None:
    text = ocr_scan[0].text
    # The blank line between the two sentences survives as the paragraph break.
    assert "\n\n" in text
    assert "\f" not in text
    assert text == text.strip()


@needs_tesseract
def test_mixed_document_ocrs_only_the_scanned_page(mixed: Path) -> None:
    plain, _ = extract_pdf(mixed)
    read, _ = extract_pdf(mixed, ocr=True)
    assert [p.source for p in plain] == ["text", "scan"]
    assert [p.source for p in read] == ["text", "ocr"]
    # The text page is the same with and without OCR: never rendered, never re-cleaned.
    assert read[0] == plain[0]
    assert "barnefattigdom" in read[1].text


@needs_tesseract
def test_ocr_page_timeout_raises(scan: Path) -> None:
    doc = pdfium.PdfDocument(str(scan))
    try:
        with pytest.raises(OcrError, match="longer than"):
            ocr_page(doc[0], timeout=0.001)
    finally:
        doc.close()


def test_failed_page_stays_empty_with_a_warning(
    scan: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(page: pdfium.PdfPage, **_: object) -> str:
        raise OcrError("tesseract failed (exit 1): simulated")

    monkeypatch.setattr(pdf_mod, "ocr_unavailable_reason", lambda: None)
    monkeypatch.setattr(pdf_mod, "ocr_page", broken)
    with caplog.at_level(logging.WARNING, logger="plansok.ingest.pdf"):
        pages, _ = extract_pdf(scan, ocr=True)
    assert [(p.text, p.source) for p in pages] == [("", "scan")]
    assert "OCR failed on page 1" in caplog.text and "simulated" in caplog.text


def test_specks_do_not_count_as_text(scan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_mod, "ocr_unavailable_reason", lambda: None)
    monkeypatch.setattr(pdf_mod, "ocr_page", lambda page, **_: "| .,\n\n—")
    pages, _ = extract_pdf(scan, ocr=True)
    assert pages[0].source == "scan"


def test_missing_tesseract_fails_the_scan_clearly(scan: Path, no_tesseract: None) -> None:
    assert not ocr_available()
    with pytest.raises(IngestError) as info:
        extract_pdf(scan, ocr=True)
    assert "tesseract is not installed" in info.value.reason
    assert "apt-get install tesseract-ocr tesseract-ocr-nor" in info.value.reason


def test_missing_tesseract_does_not_matter_for_text_pdfs(no_tesseract: None) -> None:
    pages, _ = extract_pdf(TEXT_PDF, ocr=True)
    assert pages and all(p.source != "ocr" for p in pages)


def test_ocr_page_without_tesseract_raises(scan: Path, no_tesseract: None) -> None:
    doc = pdfium.PdfDocument(str(scan))
    try:
        with pytest.raises(OcrError, match="not installed"):
            ocr_page(doc[0])
    finally:
        doc.close()


def test_ocr_pages_lose_running_lines_seen_on_text_pages() -> None:
    header = "Kommuneplanens samfunnsdel 2024-2036"
    body = "Kommunen skal redusere barnefattigdom.\n\nTilbudet til barn og unge skal styrkes."
    text_pages = [Page(n, f"{header}\n{body} Side {n}.\n{n}") for n in range(1, 5)]
    # OCR of a scanned appendix page with the same running header and a page number.
    ocr_pages = [Page(5, f"{header}\n\nVedlegg: barnehagedekning i Ål.\n\n5", source="ocr")]
    cleaned = pdf_mod._clean_ocr_pages(ocr_pages, text_pages)
    assert cleaned[0].text == "Vedlegg: barnehagedekning i Ål."
    assert cleaned[0].label == "5"
    assert cleaned[0].source == "ocr"


def test_an_ocr_page_of_2up_sheets_loses_the_running_lines_where_its_printed_pages_meet() -> None:
    """Two printed pages to a sheet: the text pages show the numbering, the scan's text follows it."""
    topics = ("barnehage", "skule", "bustad", "helse", "arbeid", "kultur", "vegar", "vatn")

    def half(topic: str) -> str:
        return f"Tiltak for {topic}.\nKommunen vil styrkje {topic}.\nMål for {topic} blir følgde.\nSlutt på {topic}."

    def sheet(n: int) -> str:
        left, right = half(topics[2 * n - 2]), half(topics[2 * n - 1])
        footer = "{} Kommuneplanens samfunnsdel"
        return f"{footer.format(2 * n)}\nTett på folk\n{left}\n{footer.format(2 * n + 1)}\n{right}"

    text_pages = [Page(n, sheet(n)) for n in range(1, 4)]
    cleaned = pdf_mod._clean_ocr_pages([Page(4, sheet(4), source="ocr")], text_pages)
    assert cleaned[0].text == f"{half('vegar')}\n{half('vatn')}"


def _tsv(rows: list[tuple[int, int, int, int, int, int, str]]) -> str:
    """Tesseract TSV from (level, block, par, line, top, height, text) rows."""
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    body = [
        f"{lv}\t1\t{b}\t{p}\t{ln}\t0\t0\t{top}\t100\t{h}\t{95 if lv == 5 else -1}\t{t}"
        for lv, b, p, ln, top, h, t in rows
    ]
    return "\n".join([head, *body])


def test_tsv_text_moves_margin_blocks_to_the_page_edges() -> None:
    # Tesseract read the footer (bottom 7 % of a 1000 px page) between the two columns.
    tsv = _tsv(
        [
            (1, 0, 0, 0, 0, 1000, ""),
            (2, 1, 0, 0, 100, 300, ""),
            (5, 1, 1, 1, 100, 20, "Venstre"),
            (5, 1, 1, 1, 100, 20, "spalte,"),
            (5, 1, 1, 2, 130, 20, "linje to."),
            (5, 1, 2, 1, 200, 20, "Nytt avsnitt."),
            (2, 2, 0, 0, 960, 20, ""),
            (5, 2, 1, 1, 960, 20, "Kommuneplan | side 8"),
            (2, 3, 0, 0, 100, 300, ""),
            (5, 3, 1, 1, 100, 20, "Høyre spalte."),
            (5, 3, 1, 1, 100, 20, "   "),
        ]
    )
    assert ocr_mod._tsv_text(tsv) == (
        "Venstre spalte,\nlinje to.\n\nNytt avsnitt.\n\nHøyre spalte.\n\nKommuneplan | side 8"
    )
    assert ocr_mod._tsv_text(_tsv([(1, 0, 0, 0, 0, 1000, "")])) == ""


@needs_tesseract
def test_ingest_with_ocr_marks_passages_and_citations(scan: Path, tmp_path: Path) -> None:
    from plansok.api import Index

    ix = Index.open(tmp_path / "ix", create=True)
    without = ix.ingest([scan])
    assert without.failed and "add --ocr" in without.failed[0][1]
    report = ix.ingest([scan], ocr=True)
    assert report.ok and any("read by OCR" in w for w in report.warnings)
    hits = ix.search("barnefattigdom")
    assert hits and hits[0].passage.source == "ocr" and hits[0].citation.endswith("[OCR]")
    assert hits[0].to_dict()["source"] == "ocr"
