"""Scanned renderings of the evaluation PDFs, for measuring OCR by content.

Every ``every``-th page of a PDF is turned into what a municipality's stamped
scan looks like: the page body becomes one grayscale image (what a scanner
gives), while the running header and footer stay as digital text (what a
document system stamps on the scan). A reader that decides "scanned or not"
by the mere presence of a text layer sees text on those pages and never reads
their body; one that looks at what the page shows OCRs them.

The margins are the top and bottom ``BAND_SHARE`` of the page: text objects
there are kept, everything else is rasterised and the text objects removed.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import ImageDraw

log = logging.getLogger(__name__)

BAND_SHARE = 0.08
DEFAULT_DPI = 200


def scanned_pages(n_pages: int, every: int) -> list[int]:
    """1-based numbers of the pages that become scans: the every-th, every-th*2, ..."""
    return list(range(every, n_pages + 1, every)) if every > 0 else []


def render_scanned(src: Path, dst: Path, every: int = 9, dpi: int = DEFAULT_DPI) -> list[int]:
    """Write ``dst``: ``src`` with every ``every``-th page a scan that keeps its
    running header and footer as text. Returns the scanned page numbers."""
    pdf = pdfium.PdfDocument(str(src))
    try:
        numbers = scanned_pages(len(pdf), every)
        for number in numbers:
            _scan_page(pdf, pdf[number - 1], dpi)
        pdf.save(str(dst))
    finally:
        pdf.close()
    return numbers


def _scan_page(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, dpi: int) -> None:
    width, height = page.get_size()
    band = BAND_SHARE * height
    scale = dpi / 72
    image = page.render(scale=scale, grayscale=True).to_pil()
    kept, body = [], []
    for obj in page.get_objects(max_depth=1):
        in_margin = obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT and not band < _mid(obj) < height - band
        (kept if in_margin else body).append(obj)
    # The margin lines stay digital text, so the image must not show them twice.
    draw = ImageDraw.Draw(image)
    for obj in kept:
        left, bottom, right, top = obj.get_bounds()
        draw.rectangle(
            ((left - 1) * scale, (height - top - 1) * scale, (right + 1) * scale, (height - bottom + 1) * scale),
            fill=255,
        )
    for obj in body:
        page.remove_obj(obj)
    img = pdfium.PdfImage.new(pdf)
    img.set_bitmap(pdfium.PdfBitmap.from_pil(image))
    img.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(img)
    page.gen_content()


def _mid(obj: pdfium.PdfObject) -> float:
    _, bottom, _, top = obj.get_bounds()
    return (bottom + top) / 2


def render_scanned_dir(pdf_dir: Path, out_dir: Path, every: int = 9, dpi: int = DEFAULT_DPI) -> dict[str, list[int]]:
    """Scanned renderings of every PDF in ``pdf_dir`` (same names) into ``out_dir``,
    with ``pagemap.json`` copied and ``scans.json`` listing the scanned pages.
    Reuses an earlier rendering made with the same settings."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / "scans.json"
    settings = {"every": every, "dpi": dpi, "band_share": BAND_SHARE}
    pdfs = sorted(pdf_dir.glob("*.pdf"))
    if stamp.is_file():
        done = json.loads(stamp.read_text())
        if done.get("settings") == settings and all((out_dir / p.name).is_file() for p in pdfs):
            return done["pages"]
    pages = {}
    for src in pdfs:
        pages[src.stem] = render_scanned(src, out_dir / src.name, every, dpi)
        log.info("%s: scanned page(s) %s", src.name, pages[src.stem])
    if (pdf_dir / "pagemap.json").is_file():
        shutil.copy2(pdf_dir / "pagemap.json", out_dir / "pagemap.json")
    stamp.write_text(json.dumps({"settings": settings, "pages": pages}, indent=1))
    return pages
