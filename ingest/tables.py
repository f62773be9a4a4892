"""Ruled tables on PDF pages: a cheap pdfium test for ruling, pdfplumber for the cells.

pdfium reads text fast but knows nothing of table cells: inside a ruled table
its text order is word soup. pdfplumber reconstructs cells from the drawn lines
well but is slow (pdfminer parses the whole page), so it only sees pages whose
vector graphics could form a grid, and the document is opened with it lazily,
at most once.

Coordinates: tables are returned in pdfium's page space (bottom-left origin),
so they can be compared with pdfium text rects directly.
"""

from __future__ import annotations

import ctypes
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from plansok.ingest.clean import join_hyphenated

if TYPE_CHECKING:
    import pdfplumber.page

log = logging.getLogger(__name__)

# pdfplumber ignores edges shorter than this (its edge_min_length default), so
# shorter strokes (the ends of a thin underline rectangle) do not count as ruling.
MIN_EDGE_LENGTH = 3.0
AXIS_TOLERANCE = 0.5  # points a ruling line may deviate from horizontal/vertical
# A 1x2 grid already needs 2 horizontal and 3 vertical edges; a lone box has only
# 2 + 2, and underlines have no vertical edges, so neither wakes pdfplumber.
MIN_RULING_EDGES = 6
MIN_EACH_DIRECTION = 2
SEGMENTS_PER_PATH = 256  # enough for a large grid drawn as one path; bounds cost on maps
MAX_FORM_DEPTH = 4  # ruling inside nested form XObjects (some exporters wrap pages)


@dataclass
class Table:
    """One ruled table: its box in pdfium page space and its non-empty rows of cells."""

    left: float
    bottom: float
    right: float
    top: float
    rows: list[list[str]]

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.bottom <= y <= self.top

    def text(self) -> str:
        """One line per row, cells joined by " | " as the line builder does for gaps."""
        return "\n".join(" | ".join(row) for row in self.rows)


# ---------------------------------------------------------------- cheap test


def has_ruling(page: pdfium.PdfPage) -> bool:
    """Whether the page draws enough horizontal and vertical lines to form a grid.

    Walks the raw page objects (no Python wrappers) and stops as soon as the
    answer is yes, so text-only pages cost one type check per object.
    """
    counts = [0, 0]  # horizontal, vertical
    handle = page.raw
    return _scan_objects(
        pdfium_c.FPDFPage_CountObjects(handle),
        lambda i: pdfium_c.FPDFPage_GetObject(handle, i),
        counts,
        0,
    )


def _scan_objects(n: int, get: Any, counts: list[int], depth: int) -> bool:
    for i in range(n):
        obj = get(i)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            _count_edges(obj, counts)
            if _enough(counts):
                return True
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < MAX_FORM_DEPTH:
            form = obj
            found = _scan_objects(
                pdfium_c.FPDFFormObj_CountObjects(form),
                lambda k, form=form: pdfium_c.FPDFFormObj_GetObject(form, k),
                counts,
                depth + 1,
            )
            if found:
                return True
    return False


def _enough(counts: list[int]) -> bool:
    horizontal, vertical = counts
    return min(horizontal, vertical) >= MIN_EACH_DIRECTION and horizontal + vertical >= MIN_RULING_EDGES


def _count_edges(path: Any, counts: list[int]) -> None:
    """Add the path's straight axis-aligned edges (after its matrix) to counts."""
    n = min(pdfium_c.FPDFPath_CountSegments(path), SEGMENTS_PER_PATH)
    if n < 2:
        return
    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(path, ctypes.byref(m)):
        m = pdfium_c.FS_MATRIX(1, 0, 0, 1, 0, 0)
    x, y = ctypes.c_float(), ctypes.c_float()
    prev: tuple[float, float] | None = None
    start: tuple[float, float] | None = None
    for i in range(n):
        seg = pdfium_c.FPDFPath_GetPathSegment(path, i)
        if not pdfium_c.FPDFPathSegment_GetPoint(seg, ctypes.byref(x), ctypes.byref(y)):
            continue
        point = (m.a * x.value + m.c * y.value + m.e, m.b * x.value + m.d * y.value + m.f)
        kind = pdfium_c.FPDFPathSegment_GetType(seg)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = point
        elif kind == pdfium_c.FPDF_SEGMENT_LINETO and prev is not None:
            _classify(prev, point, counts)
            if start is not None and pdfium_c.FPDFPathSegment_GetClose(seg):
                _classify(point, start, counts)  # "h" closes the subpath with an edge
        # Bezier segments are curves, never ruling; they only move the pen.
        prev = point


def _classify(a: tuple[float, float], b: tuple[float, float], counts: list[int]) -> None:
    dx, dy = abs(b[0] - a[0]), abs(b[1] - a[1])
    if dy <= AXIS_TOLERANCE and dx >= MIN_EDGE_LENGTH:
        counts[0] += 1
    elif dx <= AXIS_TOLERANCE and dy >= MIN_EDGE_LENGTH:
        counts[1] += 1


# ---------------------------------------------------------------- pdfplumber


class TableReader:
    """Opens the PDF with pdfplumber on first use only; close() when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pdf: Any = None
        self._broken = False

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def tables(self, index: int) -> list[Table]:
        """Ruled tables of page ``index`` (0-based), top to bottom; [] when pdfplumber fails.

        pdfminer chokes on some files pdfium reads; the page then keeps its
        plain pdfium text rather than failing the whole document.
        """
        if self._broken:
            return []
        try:
            if self._pdf is None:
                import pdfplumber  # imported here: most runs never need it

                self._pdf = pdfplumber.open(self.path)
            page = self._pdf.pages[index]
            try:
                found = _page_tables(page)
            finally:
                page.close()  # drop the page's parsed layout; only the rows are kept
        except Exception as exc:  # any pdfminer failure means "no tables" for this page
            log.warning("%s: page %d: table detection failed (%s)", self.path, index + 1, exc)
            if self._pdf is None:
                self._broken = True
            return []
        return sorted(found, key=lambda t: -t.top)


def _page_tables(page: pdfplumber.page.Page) -> list[Table]:
    height = float(page.height)
    out = []
    for found in page.find_tables():
        rows = clean_rows(found.extract())
        # A framed text box is a 1x1 "table", a row of boxes a 1xN one: neither
        # has the rows and columns a table needs, and pdfium reads them fine.
        if len(rows) < 2 or max(len(r) for r in rows) < 2:
            continue
        x0, top, x1, bottom = found.bbox
        # pdfplumber measures top from the page top; pdfium's y grows upwards.
        out.append(Table(float(x0), height - float(bottom), float(x1), height - float(top), rows))
    return out


def clean_rows(rows: list[list[str | None]]) -> list[list[str]]:
    """Cells as single lines (hyphenated breaks joined); empty cells and rows dropped.

    Merged cells come back from pdfplumber as None in all but one position.
    """
    out = []
    for row in rows:
        cells = [_cell_text(c) for c in row if c]
        cells = [c for c in cells if c]
        if cells:
            out.append(cells)
    return out


def _cell_text(cell: str) -> str:
    return re.sub(r"\s+", " ", join_hyphenated(cell)).strip()
