"""Ruled tables in PDFs: pdfplumber reads the cells, pdfium the rest of the page.

The PDFs are written by hand (no PDF writer is a dependency): Helvetica with
WinAnsiEncoding, so Norwegian letters are cp1252 bytes in the strings.
"""

from __future__ import annotations

from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
import pytest
from conftest import minimal_pdf

from plansok.ingest import tables as tables_mod
from plansok.ingest.passages import split_passages
from plansok.ingest.pdf import extract_pdf
from plansok.ingest.tables import clean_rows, has_ruling

ROWS = [["Kommune", "2022", "2023"], ["Gol", "11,3", "12,1"], ["Hol", "9,8", "10,4"]]
ROW_LINES = ["Kommune | 2022 | 2023", "Gol | 11,3 | 12,1", "Hol | 9,8 | 10,4"]

ABOVE = [
    "Tabellen under viser delen av innbyggjarane med låg inntekt i kommunane i",
    "Hallingdal. Tala kjem frå KOSTRA og er rekna om til prosent av alle innbyggjarar.",
]
BELOW = [
    "Både Gol og Hol har hatt ein auke frå 2022 til 2023, særleg blant barn og unge",
    "i familiar med svak tilknyting til arbeidslivet.",
]
ABOVE_TEXT = " ".join(ABOVE)
BELOW_TEXT = " ".join(BELOW)

# Table geometry: three 100 pt columns, 20 pt rows, top edge at y=640.
TABLE_LEFT, TABLE_TOP, COL_W, ROW_H = 72, 640, 100, 20


def _pdf(*contents: bytes, rotate: int = 0) -> bytes:
    """An A4 PDF with one page per content stream, with correct xref offsets."""
    n = len(contents)
    page_ids = [4 + 2 * i for i in range(n)]  # each page object is followed by its stream
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % i for i in page_ids), n),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for page_id, content in zip(page_ids, contents, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Rotate %d" % rotate
            + b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    return minimal_pdf(objects)


def _text(x: float, y: float, s: str, size: int = 10) -> bytes:
    escaped = s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"BT /F1 %d Tf %.1f %.1f Td (%s) Tj ET\n" % (size, x, y, escaped.encode("cp1252"))


def _paragraphs() -> bytes:
    out = b""
    for i, line in enumerate(ABOVE):
        out += _text(TABLE_LEFT, 700 - 14 * i, line)
    for i, line in enumerate(BELOW):
        out += _text(TABLE_LEFT, 560 - 14 * i, line)
    return out


def _cells(rows: list[list[str]]) -> bytes:
    out = b""
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            out += _text(TABLE_LEFT + 5 + COL_W * c, TABLE_TOP - 14 - ROW_H * r, cell)
    return out


def _grid(n_rows: int, n_cols: int, *, one_path: bool = False) -> bytes:
    """Ruling: every line its own path (as Word does), or the whole grid as one path."""
    right, bottom = TABLE_LEFT + COL_W * n_cols, TABLE_TOP - ROW_H * n_rows
    strokes = [(TABLE_LEFT, TABLE_TOP - ROW_H * r, right, TABLE_TOP - ROW_H * r) for r in range(n_rows + 1)]
    strokes += [(TABLE_LEFT + COL_W * c, TABLE_TOP, TABLE_LEFT + COL_W * c, bottom) for c in range(n_cols + 1)]
    parts = [b"%d %d m %d %d l" % s for s in strokes]
    if one_path:
        return b"0.5 w\n" + b" ".join(parts) + b" S\n"
    return b"0.5 w\n" + b"".join(p + b" S\n" for p in parts)


def _write(tmp_path: Path, name: str, content: bytes, rotate: int = 0) -> Path:
    path = tmp_path / name
    path.write_bytes(_pdf(content, rotate=rotate))
    return path


def _page_text(path: Path) -> str:
    pages, _ = extract_pdf(path)
    assert len(pages) == 1
    return pages[0].text


@pytest.fixture
def no_pdfplumber(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything opens the PDF with pdfplumber."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pdfplumber opened")

    monkeypatch.setattr(pdfplumber, "open", refuse)


# ---------------------------------------------------------------- tables


def test_ruled_table_rows_are_lines_between_paragraphs(tmp_path: Path) -> None:
    path = _write(tmp_path, "tabell.pdf", _paragraphs() + _grid(3, 3) + _cells(ROWS))
    text = _page_text(path)
    blocks = text.split("\n\n")
    # The table is one block of its own, rows in order, between the paragraphs.
    assert "\n".join(ROW_LINES) in blocks
    assert text.index(ABOVE_TEXT[:40]) < text.index(ROW_LINES[0]) < text.index(BELOW_TEXT[:40])
    flat = " ".join(text.split())
    assert ABOVE_TEXT in flat
    assert BELOW_TEXT in flat
    # Each cell appears once: pdfium's own copy of the table text is gone.
    assert text.count("11,3") == 1
    assert text.count("Kommune") == 1


def test_grid_drawn_as_one_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "ett_spor.pdf", _paragraphs() + _grid(3, 3, one_path=True) + _cells(ROWS))
    assert "\n".join(ROW_LINES) in _page_text(path).split("\n\n")


def test_wrapped_cell_reads_as_one_row(tmp_path: Path) -> None:
    # A cell whose text wraps onto a second line: pdfium sees two text lines and
    # splits the row; the ruling says they belong together.
    rows = [["Kommune", "2022", "2023"], ["", "7,2", "7,9"], ["Gol", "11,3", "12,1"]]
    content = _paragraphs() + _grid(3, 3) + _cells(rows)
    row_bottom = TABLE_TOP - 2 * ROW_H
    content += _text(TABLE_LEFT + 5, row_bottom + 11, "Nore og", size=8)
    content += _text(TABLE_LEFT + 5, row_bottom + 3, "Uvdal", size=8)
    text = _page_text(_write(tmp_path, "brot.pdf", content))
    assert "Kommune | 2022 | 2023\nNore og Uvdal | 7,2 | 7,9\nGol | 11,3 | 12,1" in text


def test_two_tables_keep_their_order(tmp_path: Path) -> None:
    second = [["Tenester", "Tal"], ["Skule", "4"], ["Barnehage", "6"]]
    content = _paragraphs() + _grid(3, 3) + _cells(ROWS)
    shift = b"q 1 0 0 1 0 -200 cm\n" + _grid(3, 2) + _cells(second) + b"Q\n"
    text = _page_text(_write(tmp_path, "to.pdf", content + shift))
    blocks = text.split("\n\n")
    first, other = "\n".join(ROW_LINES), "Tenester | Tal\nSkule | 4\nBarnehage | 6"
    assert first in blocks
    assert other in blocks
    assert blocks.index(first) < blocks.index(other)


def test_table_in_one_column_stays_in_that_column(tmp_path: Path) -> None:
    left = ["Venstre spalte handlar om folkehelse i", "kommunen og korleis vi arbeider med", "levekår i bygdene."]
    right = ["Høgre spalte fortel om bustader og om", "planane for nye tomter i sentrum av", "kommunen framover."]
    beside = ["Tekst ved sida av tabellen i høgre", "spalte held fram her utan brot."]
    content = b""
    for top in (760, 560):
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            content += _text(50, top - 14 * i, a, 9) + _text(310, top - 14 * i, b, 9)
    content += b"".join(_text(310, 680 - 14 * i, line, 9) for i, line in enumerate(beside))
    # A 3x3 table of 70 pt columns in the left column only, between y=690 and y=630.
    content += b"0.5 w\n" + b"".join(b"50 %d m 260 %d l S\n" % (y, y) for y in (690, 670, 650, 630))
    content += b"".join(b"%d 690 m %d 630 l S\n" % (x, x) for x in (50, 120, 190, 260))
    content += b"".join(
        _text(55 + 70 * c, 676 - 20 * r, cell, 9) for r, row in enumerate(ROWS) for c, cell in enumerate(row)
    )
    text = _page_text(_write(tmp_path, "spalter.pdf", content))
    order = [left[0], "\n".join(ROW_LINES), left[0], right[0], "\n".join(beside), right[0]]
    at = 0
    for piece in order:
        at = text.index(piece, at) + len(piece)  # each piece after the previous one


def test_table_passage_keeps_rows(tmp_path: Path) -> None:
    pages, _ = extract_pdf(_write(tmp_path, "passasje.pdf", _paragraphs() + _grid(3, 3) + _cells(ROWS)))
    passages = split_passages("hallingdal", pages)
    holder = [p.text for p in passages if "Gol | 11,3 | 12,1" in p.text]
    assert holder, [p.text for p in passages]
    assert "\n".join(ROW_LINES) in holder[0]


# ---------------------------------------------------------------- no tables


def test_table_free_content_reads_as_before(tmp_path: Path, no_pdfplumber: None) -> None:
    # The expected strings are what extract_pdf gave before tables were handled.
    text = _page_text(_write(tmp_path, "avsnitt.pdf", _paragraphs()))
    assert text == "\n".join(ABOVE) + "\n\n" + "\n".join(BELOW)
    unruled = _page_text(_write(tmp_path, "utan_linjer.pdf", _paragraphs() + _cells(ROWS)))
    assert unruled == (
        "Tabellen under viser delen av innbyggjarane med låg inntekt i kommunane i\n"
        "Hallingdal. Tala kjem frå KOSTRA og er rekna om til prosent av alle innbyggjarar.\n\n"
        "Kommune | 2022 | 2023\nGol | 11,3 | 12,1\nHol | 9,8 | 10,4\n"
        "Både Gol og Hol har hatt ein auke frå 2022 til 2023, særleg blant barn og unge\n"
        "i familiar med svak tilknyting til arbeidslivet."
    )


def test_paragraphs_around_a_table_read_as_without_it(tmp_path: Path) -> None:
    plain = _page_text(_write(tmp_path, "avsnitt.pdf", _paragraphs()))
    ruled = _page_text(_write(tmp_path, "tabell.pdf", _paragraphs() + _grid(3, 3) + _cells(ROWS)))
    assert ruled.replace("\n".join(ROW_LINES) + "\n\n", "") == plain


def test_lone_box_and_underlines_do_not_wake_pdfplumber(tmp_path: Path, no_pdfplumber: None) -> None:
    # A frame around the text and thin filled rectangles as underlines (Word's way).
    decor = b"60 520 480 200 re S\n" + b"".join(b"72 %d 300 0.6 re f\n" % (y,) for y in (690, 676, 548, 534))
    text = _page_text(_write(tmp_path, "ramme.pdf", _paragraphs() + decor))
    assert ABOVE[0] in text


def test_framed_text_box_is_not_a_table(tmp_path: Path) -> None:
    # Enough ruling to ask pdfplumber, but a 1x1 "table" is a text frame: pdfium's layout stays.
    content = _paragraphs() + b"60 520 480 200 re S 62 522 476 196 re S\n"
    plain = _page_text(_write(tmp_path, "avsnitt.pdf", _paragraphs()))
    assert _page_text(_write(tmp_path, "ramme.pdf", content)) == plain


def test_has_ruling(tmp_path: Path) -> None:
    cases = {
        "grid": (_grid(3, 3), True),
        "one_path": (_grid(2, 2, one_path=True), True),
        "box": (b"60 520 480 200 re S\n", False),
        "underlines": (b"".join(b"72 %d 300 0.6 re f\n" % y for y in range(500, 700, 20)), False),
        "curves": (b"100 100 m 150 200 200 200 250 100 c S\n" * 8, False),
        "in_form": (b"", True),
    }
    for name, (content, expected) in cases.items():
        path = _write(tmp_path, f"{name}.pdf", content + _text(72, 700, "Tekst"))
        if name == "in_form":
            path = _form_pdf(tmp_path, _grid(3, 3))
        doc = pdfium.PdfDocument(path)
        try:
            assert has_ruling(doc[0]) is expected, name
        finally:
            doc.close()


def _form_pdf(tmp_path: Path, grid: bytes) -> Path:
    """The grid inside a form XObject, as some exporters wrap page content."""
    source = pdfium.PdfDocument(_pdf(grid))
    out = pdfium.PdfDocument.new()
    try:
        xobject = source.page_as_xobject(0, out)
        page = out.new_page(595, 842)
        page.insert_obj(xobject.as_pageobject())
        page.gen_content()
        path = tmp_path / "form.pdf"
        out.save(path)
    finally:
        out.close()
        source.close()
    return path


# ---------------------------------------------------------------- robustness


def test_rotated_page_keeps_plain_layout(tmp_path: Path, no_pdfplumber: None) -> None:
    text = _page_text(_write(tmp_path, "rotert.pdf", _paragraphs() + _grid(3, 3) + _cells(ROWS), rotate=90))
    assert "11,3" in text


def test_pdfplumber_failure_falls_back_to_pdfium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("pdfminer cannot parse this")

    monkeypatch.setattr(pdfplumber, "open", broken)
    text = _page_text(_write(tmp_path, "tabell.pdf", _paragraphs() + _grid(3, 3) + _cells(ROWS)))
    assert "Gol" in text
    assert "11,3" in text
    assert ABOVE[0] in text


def test_pdfplumber_opened_once_per_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    real_open = pdfplumber.open

    def counting(*args: object, **kwargs: object) -> object:
        opened.append(args[0])
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pdfplumber, "open", counting)
    ruled = _paragraphs() + _grid(3, 3) + _cells(ROWS)
    path = tmp_path / "tre_sider.pdf"
    path.write_bytes(_pdf(ruled, _paragraphs(), ruled))
    pages, _ = extract_pdf(path)
    assert [("\n".join(ROW_LINES) in p.text.split("\n\n")) for p in pages] == [True, False, True]
    assert len(opened) == 1


def test_document_without_ruling_never_opens_pdfplumber(tmp_path: Path, no_pdfplumber: None) -> None:
    path = tmp_path / "to_sider.pdf"
    path.write_bytes(_pdf(_paragraphs(), _paragraphs() + _cells(ROWS)))
    pages, _ = extract_pdf(path)
    assert [p.source for p in pages] == ["text", "text"]


def test_clean_rows() -> None:
    raw = [["Tenester", None, ""], ["Helse-\nog omsorg", "bustad-\nsosialt", None], [None, "", None], ["a\nb", "c"]]
    assert clean_rows(raw) == [["Tenester"], ["Helse- og omsorg", "bustadsosialt"], ["a b", "c"]]


def test_table_module_has_no_eager_pdfplumber_import() -> None:
    # pdfplumber (pdfminer) costs import time; tables.py imports it only when a page needs it.
    assert "pdfplumber" not in vars(tables_mod)
