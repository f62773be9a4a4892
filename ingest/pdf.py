"""PDF text extraction with pypdfium2: column-aware, paragraph-aware, cleaned.

pdfium gives text "rects" (runs of characters on one line). We read each rect's
text and type (size, weight, colour of its first character), rebuild lines from
their geometry, find a two-column gutter where there is one, and mark paragraph
breaks with blank lines, because PDFs carry no paragraph structure and the
passage splitter needs it.

The whole document is read before any page is laid out: a gutter found on most
two-column pages also orders the pages whose own lines do not show it (tables
of figures, contents lists), and the body type tells which lines are set apart
as headings (``TypesetPage``). Running headers and footers are page furniture
only when a gap sets them off: a column that runs into the margin band is text.

Ruled tables are the exception: pdfium's text order inside them is word soup, so
pages that draw a grid get their tables from pdfplumber (see tables.py), one
line per row, as a block of their own.
"""

from __future__ import annotations

import ctypes
import logging
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from plansok.errors import IngestError
from plansok.ingest.clean import (
    RunningLines,
    clean_pages,
    clean_text,
    find_running_lines,
    normalize_chars,
    normalize_whitespace,
    running_line_keys,
    strip_running_lines,
)
from plansok.ingest.ocr import OcrError, ocr_page, ocr_unavailable_reason
from plansok.ingest.passages import TypesetPage, line_key
from plansok.ingest.tables import Table, TableReader, has_ruling
from plansok.models import Page

log = logging.getLogger(__name__)

# pdfium marks a hyphen it thinks breaks a word at a line end with U+0002
# (U+FFFE in get_text_range). We restore a plain hyphen; clean.py decides.
_PDFIUM_SOFT_HYPHEN = {0x02: "-", 0xFFFE: "-"}

CELL_GAP_EM = 2.0  # a horizontal gap this many line-heights wide separates table cells
MIN_COLUMN_RECTS = 3  # rects on each side of a gutter before we believe in two columns
MARGIN_SHARE = 0.07  # top/bottom share of the page height where running lines sit
# Lines of one paragraph sit closer than this many line heights; a running line is set further off.
TOUCH_GAP_EM = 0.6
GUTTER_MIN_WIDTH = 6.0
GUTTER_STEP = 2.0  # points between the x positions tried for a gutter
# A document is set in two columns when at least this many (and this share of) its pages
# with text show prose columns, most of them with the gutter within GRID_TOLERANCE points.
MIN_GRID_PAGES = 3
GRID_PAGE_SHARE = 0.3
GRID_TOLERANCE = 12.0
GRID_AGREEMENT = 0.8  # points; narrower gaps are word spaces in one column
# Stands in for a table during layout; private-use, so no real text contains it.
_TABLE_MARK = "\ue000T{}\ue000"
_TABLE_MARK_RE = re.compile("\ue000T(\\d+)\ue000")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")  # two letters in a row, any alphabet
# A page is a scan when an image covers this share of it and its text layer holds
# no body: at most SCAN_MAX_BODY_WORDS words outside the top and bottom bands
# (a stamped running header, a page number). A photo page with a caption keeps
# its text layer; a page of vector graphics without any text is OCR'd too
# (text converted to outlines looks like that).
SCAN_IMAGE_SHARE = 0.4
SCAN_MAX_BODY_WORDS = 8
SCAN_BAND_SHARE = 0.12
SCAN_BLANK_IMAGE_SHARE = 0.1  # an image this large on a page without text is a scan
SCAN_OUTLINE_PATHS = 200  # this many vector paths and no text: text drawn as outlines
# Type that sets a line apart as a heading: this much larger than the body, bold where the
# body is not, or in colour where the body is black or grey (channels this far apart).
HEADING_SIZE_RATIO = 1.12
BOLD_WEIGHT = 600
CHROMA = 60
_FORCE_BOLD = 1 << 18  # PDF font descriptor flag ForceBold
_BOLD_NAMES = ("bold", "black", "heavy", "demi", "semibold")
MAX_STYLED_WORDS = 16  # a styled run longer than this is an emphasised sentence, not a heading
WRAP_GAP_EM = 0.8  # a heading wrapped onto a second line keeps it this close
# A document's type tells headings from body once this many lines are set apart, and
# no more than this share of its lines (where everything is styled, nothing is).
MIN_STYLED_LINES = 3
MAX_STYLED_SHARE = 0.3


@dataclass
class _Visible:
    """What a page shows besides its text layer, to decide whether it needs OCR."""

    image_share: float = 0.0  # share of the page area under images (capped at 1)
    paths: int = 0  # vector drawing objects
    body_words: int = 0  # text-layer words outside the top and bottom bands

    def needs_ocr(self, cleaned_words: int) -> bool:
        if self.body_words == 0 and cleaned_words == 0:
            # A logo or a ruled line on an otherwise blank page is not a scan.
            return self.image_share >= SCAN_BLANK_IMAGE_SHARE or self.paths >= SCAN_OUTLINE_PATHS
        return self.image_share >= SCAN_IMAGE_SHARE and min(self.body_words, cleaned_words) <= SCAN_MAX_BODY_WORDS


@dataclass
class _Seg:
    left: float
    bottom: float
    right: float
    top: float
    text: str
    # The type of its first character, as pdfium reports it (0 / "" when it cannot say).
    size: float = 0.0
    bold: bool = False
    color: tuple[int, int, int] = (0, 0, 0)

    @property
    def height(self) -> float:
        return self.top - self.bottom


@dataclass
class _Line:
    segs: list[_Seg] = field(default_factory=list)

    @property
    def left(self) -> float:
        return min(s.left for s in self.segs)

    @property
    def right(self) -> float:
        return max(s.right for s in self.segs)

    @property
    def top(self) -> float:
        return max(s.top for s in self.segs)

    @property
    def bottom(self) -> float:
        return min(s.bottom for s in self.segs)

    @property
    def height(self) -> float:
        return max(s.height for s in self.segs)

    def text(self) -> str:
        ordered = sorted(self.segs, key=lambda s: s.left)
        parts = [ordered[0].text]
        for prev, seg in pairwise(ordered):
            gap = seg.left - prev.right
            sep = " | " if gap > CELL_GAP_EM * max(prev.height, seg.height) else " "
            parts.append(sep + seg.text)
        return "".join(parts).strip()


def extract_pdf(path: Path, *, ocr: bool = False) -> tuple[list[Page], dict[str, str]]:
    """Read a PDF into cleaned pages and its metadata (Title, Author, ...).

    Whether a page needs OCR is decided by what it shows, not by whether it has
    a text layer at all: a full-page image whose only text is a running header
    or a page number is a scan. Such pages come back with ``source="scan"``, or,
    with ``ocr=True``, are read by tesseract and come back with ``source="ocr"``
    (still "scan" if OCR finds nothing or fails on that page; the reason is
    logged). Pages with nothing on them but running lines come back "empty".
    Pages whose text layer holds the body are never rendered and come out the
    same either way. Unreadable files raise ``IngestError``, and so does
    ``ocr=True`` when the PDF has scanned pages but tesseract or its Norwegian
    model is missing.
    """
    path = Path(path)
    doc = _open(path)
    tables = TableReader(path)
    try:
        meta = _metadata(doc)
        laid_out = [_read_page(doc, i, path, tables) for i in range(len(doc))]
        grid = _column_grid([page for page, _ in laid_out])
        headings = _typeset_headings([page for page, _ in laid_out])
        read = [(_page_text(page, grid, headings), visible) for page, visible in laid_out]
        raw = [page for page, _ in read]
        cleaned = clean_pages([p for p in raw if p.source == "text"])
        by_number = {p.number: p for p in cleaned}
        scans = [
            page.number
            for page, visible in read
            if visible.needs_ocr(len(_WORD_RE.findall(by_number[page.number].text)) if page.number in by_number else 0)
        ]
        if ocr and scans:
            text_pages = [p for p in raw if p.source == "text" and p.number not in scans]
            ocr_pages = _ocr_pages(doc, scans, path)
            by_number.update({p.number: p for p in _clean_ocr_pages(ocr_pages, text_pages)})
    finally:
        tables.close()
        doc.close()
    pages = []
    for p in raw:
        page = by_number.get(p.number, p)
        if p.number in scans and page.source != "ocr":
            # The text layer held only running lines: the body is in the image.
            page = replace(page, text="", source="scan")
        elif page.source in ("text", "ocr") and not page.text.strip():
            page = replace(page, text="", source="empty")
        pages.append(page)
    return pages, meta


def _ocr_pages(doc: pdfium.PdfDocument, numbers: list[int], path: Path) -> list[Page]:
    """OCR the given pages; the ones OCR reads come back with ``source="ocr"``."""
    reason = ocr_unavailable_reason()
    if reason:
        # Failing the file (rather than silently keeping empty pages) tells the researcher
        # that --ocr did nothing; the pipeline reports it and goes on with other files.
        raise IngestError(path, f"OCR requested for {len(numbers)} scanned page(s), but {reason}")
    out = []
    for number in numbers:
        start = time.perf_counter()
        try:
            page = doc[number - 1]
            try:
                text = ocr_page(page)
            finally:
                page.close()
        except (OcrError, pdfium.PdfiumError) as exc:
            # One bad page must not cost a long scan its other pages; it stays a scan.
            log.warning("%s: OCR failed on page %d (%s)", path, number, getattr(exc, "reason", exc))
            continue
        log.debug("%s: OCR page %d in %.1f s", path, number, time.perf_counter() - start)
        # Blank scans and photos give tesseract specks to read as "|" or ".,"; a page
        # needs at least one real word to count as read.
        if _WORD_RE.search(text):
            out.append(Page(number=number, text=text, source="ocr"))
    return out


def _clean_ocr_pages(ocr_pages: list[Page], text_pages: list[Page]) -> list[Page]:
    """``clean_pages`` for OCR'd pages, with running lines learnt from both kinds of page.

    Text pages are cleaned on their own so OCR never changes them. OCR'd pages drop
    running lines found among text pages (a scanned appendix in a born-digital plan
    often repeats its header) as well as among themselves: pooling all pages
    instead would raise the repeat threshold and lose headers of either group.
    The text pages also tell where their page numbers go (a footer that carries
    the number, two printed pages to a sheet), so an OCR'd page loses such lines
    wherever they stand, as a text page would.
    """
    if not ocr_pages:
        return []

    def texts(pages: list[Page]) -> list[str]:
        return [normalize_whitespace(normalize_chars(p.text)) for p in pages]

    found = RunningLines()
    if len(text_pages) >= 3:
        found = find_running_lines(texts(text_pages), [p.number for p in text_pages])
    ocr_keys = running_line_keys(texts(ocr_pages)) if len(ocr_pages) >= 3 else set()
    running = RunningLines(found.keys | ocr_keys, found.tracking, found.spread)
    out = []
    for page, text in zip(ocr_pages, texts(ocr_pages), strict=True):
        body, label = strip_running_lines(text, running, page.number)
        out.append(replace(page, text=clean_text(body), label=label or page.label))
    return out


def _open(path: Path) -> pdfium.PdfDocument:
    if not path.is_file():
        raise IngestError(path, "file not found")
    if path.stat().st_size == 0:
        raise IngestError(path, "empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise IngestError(path, "not a PDF file (no %PDF header)")
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise IngestError(path, _open_reason(exc)) from exc
    try:
        n_pages = len(doc)
    except Exception as exc:  # pdfium can fail lazily on broken page trees
        doc.close()
        raise IngestError(path, f"corrupt PDF ({exc})") from exc
    if n_pages == 0:
        doc.close()
        raise IngestError(path, "corrupt PDF: no pages")
    return doc


def _open_reason(exc: Exception) -> str:
    msg = str(exc)
    if "password" in msg.lower():
        return "encrypted PDF: a password is required"
    if "format" in msg.lower() or "data" in msg.lower():
        return f"corrupt or truncated PDF ({msg})"
    return f"unreadable PDF ({msg})"


def _metadata(doc: pdfium.PdfDocument) -> dict[str, str]:
    try:
        meta = doc.get_metadata_dict(skip_empty=True)
    except pdfium.PdfiumError:
        return {}
    return {k: v.strip() for k, v in meta.items() if v and v.strip()}


@dataclass
class _RawPage:
    """A page's text segments and tables before layout, kept until the whole document is read."""

    number: int
    segs: list[_Seg] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    tables: list[Table] = field(default_factory=list)
    columns: _Columns | None = None  # set by _column_grid, reused by the layout


def _read_page(doc: pdfium.PdfDocument, index: int, path: Path, reader: TableReader) -> tuple[_RawPage, _Visible]:
    number = index + 1
    try:
        page = doc[index]
    except pdfium.PdfiumError as exc:
        log.warning("%s: page %d unreadable (%s)", path, number, exc)
        return _RawPage(number), _Visible()
    tables: list[Table] = []
    try:
        textpage = page.get_textpage()
        try:
            segs = _segments(textpage)
        finally:
            textpage.close()
        width, height = page.get_size()
        visible = _visible(page, segs, width, height)
        # Rotated pages would need pdfplumber's and pdfium's rotations matched; rare
        # for tables, so they keep the plain layout. Text-free pages need no tables.
        if segs and page.get_rotation() == 0 and has_ruling(page):
            tables = reader.tables(index)
    finally:
        page.close()
    return _RawPage(number, segs, width, height, tables), visible


def _page_text(raw: _RawPage, grid: float | None, headings: dict[int, frozenset[str]] | None = None) -> Page:
    if not raw.segs:
        return Page(number=raw.number, text="", source="empty")
    if raw.tables:
        text = _text_with_tables(raw.segs, raw.tables, raw.width, raw.height, grid)
    else:
        text = _layout_text(raw.segs, raw.width, raw.height, grid, raw.columns)
    if headings is None:
        return Page(number=raw.number, text=text)
    return TypesetPage(number=raw.number, text=text, heading_lines=headings.get(raw.number, frozenset()), typeset=True)


def _typeset_headings(pages: list[_RawPage]) -> dict[int, frozenset[str]] | None:
    """Per page, the lines the document's type sets apart as headings; None when its type says nothing.

    A document set in one size and weight throughout (or whose type pdfium
    cannot read) leaves headings to numbering, the contents list and form.
    """
    typo = _Typography.of(pages)
    if typo is None:
        return None
    keys = {page.number: frozenset(_heading_keys(page, typo)) for page in pages if page.segs}
    styled = sum(len(k) for k in keys.values())
    lines = sum(len(_group_lines(page.segs)) for page in pages if page.segs)
    if styled < MIN_STYLED_LINES or styled > MAX_STYLED_SHARE * max(lines, 1):
        return None
    return keys


def _visible(page: pdfium.PdfPage, segs: list[_Seg], width: float, height: float) -> _Visible:
    area = max(width * height, 1.0)
    covered = 0.0
    paths = 0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH)):
        if obj.type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
            paths += 1
            continue
        try:
            left, bottom, right, top = obj.get_bounds()
        except pdfium.PdfiumError:
            continue
        w = min(right, width) - max(left, 0.0)
        h = min(top, height) - max(bottom, 0.0)
        if w > 0 and h > 0:
            covered += w * h
    band = SCAN_BAND_SHARE * height
    body_words = sum(len(_WORD_RE.findall(s.text)) for s in segs if band < _mid(s) < height - band)
    return _Visible(min(covered / area, 1.0), paths, body_words)


def _segments(textpage: pdfium.PdfTextPage) -> list[_Seg]:
    segs = []
    reader = _TypeReader(textpage)
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top)
        if "\x02" in text or "\ufffe" in text:
            text = text.translate(_PDFIUM_SOFT_HYPHEN)
        text = text.replace("\r\n", " ").strip()
        if text:
            seg = _Seg(left, bottom, right, top, text)
            reader.read(seg)
            segs.append(seg)
    return segs


class _TypeReader:
    """Size, weight and colour of a segment's first character: one pdfium lookup per rect."""

    def __init__(self, textpage: pdfium.PdfTextPage) -> None:
        self.handle = textpage.raw
        self.flags = ctypes.c_int(0)
        self.name = ctypes.create_string_buffer(128)
        self.rgba = [ctypes.c_uint(0) for _ in range(4)]
        self.refs = [ctypes.byref(x) for x in self.rgba]
        self.fonts: dict[bytes, bool] = {}

    def read(self, seg: _Seg) -> None:
        x = seg.left + min(1.0, (seg.right - seg.left) / 2)
        index = pdfium_c.FPDFText_GetCharIndexAtPos(self.handle, x, (seg.bottom + seg.top) / 2, 2.0, 2.0)
        if index < 0:
            return
        seg.size = float(pdfium_c.FPDFText_GetFontSize(self.handle, index))
        got = pdfium_c.FPDFText_GetFontInfo(self.handle, index, self.name, len(self.name), ctypes.byref(self.flags))
        key = self.name.value if got else b""
        bold = self.fonts.get(key)
        if bold is None:
            font = key.decode("latin-1", "replace").lower()
            bold = bool(self.flags.value & _FORCE_BOLD) or any(w in font for w in _BOLD_NAMES)
            self.fonts[key] = bold
        seg.bold = bold or pdfium_c.FPDFText_GetFontWeight(self.handle, index) >= BOLD_WEIGHT
        if pdfium_c.FPDFText_GetFillColor(self.handle, index, *self.refs):
            seg.color = (self.rgba[0].value, self.rgba[1].value, self.rgba[2].value)


# ---------------------------------------------------------------- typography


@dataclass
class _Typography:
    """The body text's type, and which segments are set apart from it as headings."""

    size: float
    bold: bool
    color: tuple[int, int, int]

    @classmethod
    def of(cls, pages: list[_RawPage]) -> _Typography | None:
        """The most common type by characters; None when pdfium reported no sizes."""
        counts: Counter[tuple[float, bool, tuple[int, int, int]]] = Counter()
        for page in pages:
            for s in page.segs:
                if s.size > 0:
                    counts[(round(s.size * 2) / 2, s.bold, s.color)] += len(s.text)
        if not counts:
            return None
        (size, bold, color), _ = counts.most_common(1)[0]
        return cls(size, bold, color)

    def heading(self, seg: _Seg) -> bool:
        if seg.size <= 0 or seg.size < self.size * 0.95:
            return False  # footnotes, captions and labels are set smaller, never larger
        if seg.size >= self.size * HEADING_SIZE_RATIO:
            return True
        if seg.bold and not self.bold:
            return True
        return seg.color != self.color and _chromatic(seg.color) and not _chromatic(self.color)


def _chromatic(color: tuple[int, int, int]) -> bool:
    return max(color) - min(color) >= CHROMA


def _heading_keys(page: _RawPage, typo: _Typography) -> set[str]:
    """``line_key`` of the page's lines set as headings, and of runs of such lines (wrapped headings)."""
    styled = [s for s in page.segs if typo.heading(s) and len(s.text.split()) <= MAX_STYLED_WORDS]
    keys: set[str] = set()
    lines = _group_lines(styled)
    run: list[_Line] = []
    for line in [*lines, None]:
        if line is not None:
            keys.add(line_key(line.text()))
        close = (
            line is not None
            and run
            and run[-1].bottom - line.top < WRAP_GAP_EM * line.height
            and abs(run[-1].left - line.left) < WRAP_GAP_EM * line.height
        )
        if close:
            run.append(line)  # type: ignore[arg-type]
            continue
        if len(run) > 1:
            keys.add(line_key(" ".join(ln.text() for ln in run)))
        run = [line] if line is not None else []
    keys.discard("")
    return keys


# ---------------------------------------------------------------- tables


def _text_with_tables(
    segs: list[_Seg], tables: list[Table], page_width: float, page_height: float, grid: float | None = None
) -> str:
    """Page layout with each table's pdfium text replaced by its rows from pdfplumber.

    A one-line-high stand-in segment at the table's top edge keeps the table's
    place in reading order: full-width tables split the columns like a wide
    line, tables inside a column stay in it. The stand-in is then swapped for
    the rows, with blank lines around so the passage splitter sees one block.
    """
    kept = [s for s in segs if not any(t.contains((s.left + s.right) / 2, _mid(s)) for t in tables)]
    line_height = statistics.median(s.height for s in segs)
    marks = [_Seg(t.left, t.top - line_height, t.right, t.top, _TABLE_MARK.format(i)) for i, t in enumerate(tables)]
    text = _layout_text(kept + marks, page_width, page_height, grid)

    def rows(m: re.Match[str]) -> str:
        return "\n\n" + tables[int(m.group(1))].text() + "\n\n"

    text = _TABLE_MARK_RE.sub(rows, text)
    # Blank lines, not spaces, must border a table whatever the layout put around the mark.
    text = re.sub(r"[ \t]*(\n\n)[ \t]*", r"\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# ---------------------------------------------------------------- layout


@dataclass
class _Columns:
    """A page's furniture (segment indexes), its body segments and its own gutter, if any."""

    furniture: set[int]
    body: list[_Seg]
    gutter: float | None


def _columns(segs: list[_Seg], page_width: float, page_height: float) -> _Columns:
    furniture = _furniture(segs, page_height)
    # Dot leaders of a contents page may overrun the gutter; they belong to the column they start in.
    body = [s for i, s in enumerate(segs) if i not in furniture and not _is_leader(s)]
    return _Columns(furniture, body, _find_gutter(body, page_width))


def _layout_text(
    segs: list[_Seg], page_width: float, page_height: float, grid: float | None = None, cols: _Columns | None = None
) -> str:
    """Page text in reading order, paragraphs separated by blank lines.

    ``grid`` is the gutter the document's two-column pages share: a page of
    short lines (figures, tables of numbers) set in those two columns reads
    column by column too, although its own lines do not look like prose.
    ``cols`` is ``_columns`` of these segments when already known.
    """
    cols = cols or _columns(segs, page_width, page_height)
    furniture, body, gutter = cols.furniture, cols.body, cols.gutter
    if gutter is None and grid is not None and _splits(body, grid):
        gutter = grid
    if gutter is None:
        return _block_text(_group_lines(segs))
    # Running lines in the margins read as full-width lines even inside a column.
    marked = {id(segs[i]) for i in furniture}
    blocks = _column_blocks(segs, gutter, lambda s: id(s) in marked)
    return _join_blocks([_block_text(lines) for lines in blocks])


def _furniture(segs: list[_Seg], page_height: float) -> set[int]:
    """Indexes of segments in the top and bottom margins that stand apart from the body.

    A column may run into the margin band: its last lines there follow the lines
    above at the column's own line spacing, so they are text, not a footer. A
    running header or footer is set off from the body by a gap; segments that
    touch the body (or touch segments that touch it) are body too.
    """
    margin = MARGIN_SHARE * page_height
    in_band = [i for i, s in enumerate(segs) if not margin < _mid(s) < page_height - margin]
    if not in_band:
        return set()
    body = [s for i, s in enumerate(segs) if i not in set(in_band)]
    pending = set(in_band)
    grew = True
    while grew and pending:
        grew = False
        for i in sorted(pending):
            seg = segs[i]
            if any(_touches(seg, other) for other in body):
                body.append(seg)
                pending.discard(i)
                grew = True
    return pending


def _touches(a: _Seg, b: _Seg) -> bool:
    """Vertically adjacent at line spacing, and overlapping horizontally."""
    if a.right <= b.left or b.right <= a.left:
        return False
    gap = max(a.bottom - b.top, b.bottom - a.top)
    return gap < TOUCH_GAP_EM * min(a.height, b.height)


def _join_blocks(texts: list[str]) -> str:
    """Join column blocks; a sentence running from one column into the next stays whole."""
    out = texts[0]
    for text in texts[1:]:
        runs_on = out[-1:] not in ".!?:" and text[:1].islower()
        out += ("\n" if runs_on else "\n\n") + text
    return out


def _column_grid(pages: list[_RawPage]) -> float | None:
    """The gutter x of a two-column document: many of its pages with text on the right half find the same one.

    Pages whose text stays in the left half (a short page fills only the first
    column) neither show nor contradict columns.
    """
    gutters = []
    wide = 0
    for page in pages:
        if not page.segs:
            continue
        page.columns = _columns(page.segs, page.width, page.height)
        if not any(s.right > 0.55 * page.width for s in page.columns.body):
            continue
        wide += 1
        if page.columns.gutter is not None:
            gutters.append(page.columns.gutter)
    if len(gutters) < max(MIN_GRID_PAGES, GRID_PAGE_SHARE * wide):
        return None
    middle = statistics.median(gutters)
    agree = sum(1 for g in gutters if abs(g - middle) <= GRID_TOLERANCE)
    return middle if agree >= GRID_AGREEMENT * len(gutters) else None


def _splits(segs: list[_Seg], x: float) -> bool:
    """Whether the document's gutter at x parts this page's segments into two columns.

    The document already showed its columns, so a page needs only text on both
    sides of the gutter at the same height, and few lines across it.
    """
    crossing = sum(1 for s in segs if s.left < x < s.right)
    left = [s for s in segs if s.right <= x]
    right = [s for s in segs if s.left >= x]
    if crossing > 0.2 * len(segs) or not left or not right:
        return False
    return any(lf.bottom < r.top and r.bottom < lf.top for r in right for lf in left)


def _is_leader(seg: _Seg) -> bool:
    """A run of contents-page leader dots (with at most a short title before them)."""
    chars = seg.text.replace(" ", "")
    return len(chars) >= 8 and sum(ch in ".…" for ch in chars) >= 0.5 * len(chars)


def _find_gutter(segs: list[_Seg], page_width: float) -> float | None:
    """x of a vertical gap that splits the page's text into two side-by-side columns."""
    lo, hi = page_width * 0.3, page_width * 0.7
    steps = int((hi - lo) // GUTTER_STEP) + 1
    if steps <= 0 or not segs:
        return None
    # How many segments cross each candidate x (lo, lo + step, ...), counted in one sweep.
    diff = [0] * (steps + 1)
    for s in segs:
        first = max(math.floor((s.left - lo) / GUTTER_STEP) + 1, 0)
        last = min(math.ceil((s.right - lo) / GUTTER_STEP) - 1, steps - 1)
        if first <= last:
            diff[first] += 1
            diff[last + 1] -= 1
    best: tuple[int, float] | None = None
    crossing = 0
    for k in range(steps):
        crossing += diff[k]
        if best is None or crossing < best[0]:
            best = (crossing, lo + k * GUTTER_STEP)
    if best is None:
        return None
    crossing, x = best
    left = [s for s in segs if s.right <= x]
    right = [s for s in segs if s.left >= x]
    if crossing > 0.2 * len(segs) or min(len(left), len(right)) < MIN_COLUMN_RECTS:
        return None
    if not _side_by_side(left, right):
        return None
    # A chart beside the text may make one column look like cells, but not both.
    prose = [_prose_share(side, x) for side in (left, right)]
    if min(prose) == 0.0 or max(prose) < 0.3:
        return None
    return _centre_of_gap(segs, x)


def _side_by_side(left: list[_Seg], right: list[_Seg]) -> bool:
    """Columns share vertical space; stacked blocks that merely alternate do not."""
    overlap = sum(1 for r in right if any(lf.bottom < r.top and r.bottom < lf.top for lf in left))
    return overlap >= MIN_COLUMN_RECTS


def _prose_share(side: list[_Seg], gutter: float) -> float:
    """Share of wide lines: running text fills its column, table cells do not."""
    span = max(s.right for s in side) - min(s.left for s in side)
    wide = sum(1 for s in side if s.right - s.left > 0.6 * span)
    if span < 0.25 * gutter or wide < 2:
        return 0.0
    return wide / len(side)


def _centre_of_gap(segs: list[_Seg], x: float) -> float:
    left_edge = max((s.right for s in segs if s.right <= x), default=x)
    right_edge = min((s.left for s in segs if s.left >= x), default=x)
    if right_edge - left_edge < GUTTER_MIN_WIDTH:
        return x
    return (left_edge + right_edge) / 2


def _column_blocks(segs: list[_Seg], gutter: float, in_margin: Callable[[_Seg], bool]) -> list[list[_Line]]:
    """Full-width lines cut the page into bands; each band reads left, then right."""

    def full_width(s: _Seg) -> bool:
        return (s.left < gutter < s.right and not _is_leader(s)) or in_margin(s)

    spanning = sorted((s for s in segs if full_width(s)), key=lambda s: -s.top)
    columns = [s for s in segs if not full_width(s)]
    blocks: list[list[_Line]] = []
    ceiling = float("inf")
    for wide_line in [*_group_lines(spanning), None]:
        floor = wide_line.top if wide_line else float("-inf")
        band = [s for s in columns if floor <= _mid(s) < ceiling]
        left = [s for s in band if s.left < gutter]
        right = [s for s in band if s.left >= gutter]
        for side in (left, right):
            if side:
                blocks.append(_group_lines(side))
        if wide_line:
            blocks.append([wide_line])
            ceiling = wide_line.bottom
    return [b for b in blocks if b]


def _mid(seg: _Seg) -> float:
    return (seg.top + seg.bottom) / 2


def _group_lines(segs: list[_Seg]) -> list[_Line]:
    """Segments at the same height form a line; lines are returned top to bottom."""
    lines: list[_Line] = []
    for seg in sorted(segs, key=lambda s: (-_mid(s), s.left)):
        if lines and abs(_mid(lines[-1].segs[0]) - _mid(seg)) < 0.5 * min(seg.height, lines[-1].height):
            lines[-1].segs.append(seg)
        else:
            lines.append(_Line([seg]))
    return lines


# ---------------------------------------------------------------- paragraphs


def _block_text(lines: list[_Line]) -> str:
    """Join lines, with a blank line wherever a paragraph visibly ends."""
    if not lines:
        return ""
    pitch = _typical_pitch(lines)
    right_edge = _typical_right_edge(lines)
    out = [lines[0].text()]
    for prev, line in pairwise(lines):
        text = line.text()
        out.append("\n\n" if _paragraph_break(prev, line, text, pitch, right_edge) else "\n")
        out.append(text)
    return "".join(out)


def _typical_pitch(lines: list[_Line]) -> float:
    gaps = [a.top - b.top for a, b in pairwise(lines) if a.top - b.top > 0]
    return statistics.median(gaps) if gaps else 0.0


def _typical_right_edge(lines: list[_Line]) -> float:
    rights = sorted(ln.right for ln in lines)
    # The 80th percentile ignores a few lines that overhang the margin.
    return rights[int(0.8 * (len(rights) - 1))]


def _paragraph_break(prev: _Line, line: _Line, text: str, pitch: float, right_edge: float) -> bool:
    """A vertical gap, or a line that stopped short although the next word would fit."""
    gap = prev.top - line.top
    if pitch and gap > 1.6 * pitch:
        return True
    prev_text = prev.text()
    if " | " in prev_text or " | " in text:
        return False  # table rows stay together; one row per line
    if prev_text[-1] in ".!?:" and text[-1] not in ".!?:,;" and _stops_short(line, right_edge):
        return True  # a one-line heading or label after a finished sentence
    first_word = text.split(" ", 1)[0]
    char_width = (prev.right - prev.left) / max(len(prev_text), 1)
    room = right_edge - prev.right
    return room > (len(first_word) + 2) * char_width


def _stops_short(line: _Line, right_edge: float) -> bool:
    return line.right < right_edge - 0.3 * (right_edge - line.left)
