"""Text extraction alone, for the peers of plansok's ingest: pdfplumber's
``page.extract_text()`` (the library the design card names) and pypdfium2's
raw ``get_text_range()``. pdfplumber is slow, so it reads an even spread of
pages from every PDF within a time budget; pages/s is what it managed."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _spread(n: int, want: int) -> list[int]:
    if n <= want:
        return list(range(n))
    step = n / want
    return sorted({int(i * step) for i in range(want)})


def pdfplumber_rate(pdfs: list[Path], pages_per_doc: int, budget_s: float) -> dict[str, Any]:
    import pdfplumber

    for name in ("pdfminer", "pdfplumber"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pages = chars = 0
    t0 = time.perf_counter()
    for path in pdfs:
        with pdfplumber.open(path) as pdf:
            for i in _spread(len(pdf.pages), pages_per_doc):
                page = pdf.pages[i]
                chars += len(page.extract_text() or "")
                page.close()
                pages += 1
        if time.perf_counter() - t0 > budget_s:
            break
    seconds = time.perf_counter() - t0
    return {"pages": pages, "seconds": seconds, "chars": chars, "subset": True}


def pypdfium2_rate(pdfs: list[Path]) -> dict[str, Any]:
    import pypdfium2 as pdfium

    pages = chars = 0
    t0 = time.perf_counter()
    for path in pdfs:
        pdf = pdfium.PdfDocument(str(path))
        try:
            for i in range(len(pdf)):
                page = pdf[i]
                tp = page.get_textpage()
                chars += len(tp.get_text_range())
                tp.close()
                page.close()
                pages += 1
        finally:
            pdf.close()
    seconds = time.perf_counter() - t0
    return {"pages": pages, "seconds": seconds, "chars": chars, "subset": False}
