"""OCR for scanned PDF pages: render with pdfium, read with the tesseract binary.

We call the ``tesseract`` command line rather than pytesseract: pytesseract is
itself a thin subprocess wrapper, so it would add a dependency and hide the
timeout and error handling we want to control. Tesseract and its Norwegian model
are system packages (Debian: ``tesseract-ocr tesseract-ocr-nor``); without them
``ocr_available()`` is false and callers must not OCR.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pypdfium2 as pdfium

log = logging.getLogger(__name__)

TESSERACT = "tesseract"
DEFAULT_LANG = "nor"
# 300 dpi is tesseract's sweet spot for body text (x-height of ~20-30 px at 10-12 pt);
# lower loses small print in plan tables and footnotes, higher mostly costs time.
DEFAULT_DPI = 300
# Page segmentation mode 1: automatic layout analysis with orientation and script
# detection (OSD). Measured on rendered corpus pages against their text layer:
# on two-column pages --psm 6 (one uniform block) interleaves the columns (word
# order similarity 0.81-0.87 vs 0.99 for 1 and 3); --psm 3 reads pages turned by
# 90 degrees but returns nothing for upside-down ones, which 1 reads (0.95), for
# about 0.2 s (~15 %) more per page. Scans fed upside down are common enough.
PSM = "1"
# Top/bottom share of the page where running headers, footers and page numbers sit
# (as MARGIN_SHARE in pdf.py).
MARGIN_SHARE = 0.07
INSTALL_HINT = (
    "install tesseract and its Norwegian model (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-nor)"
)


class OcrError(RuntimeError):
    """A page could not be OCR'd; ``reason`` says why in words a researcher can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ocr_available(lang: str = DEFAULT_LANG) -> bool:
    """True when the tesseract binary is on PATH and has the ``lang`` model."""
    return lang in _languages()


def ocr_unavailable_reason(lang: str = DEFAULT_LANG) -> str | None:
    """Why OCR cannot run (for messages), or None when it can."""
    if shutil.which(TESSERACT) is None:
        return f"tesseract is not installed; {INSTALL_HINT}"
    if lang not in _languages():
        return f"tesseract has no {lang!r} language model; {INSTALL_HINT}"
    return None


@functools.cache
def _languages() -> frozenset[str]:
    """Models tesseract lists; cached because every scanned PDF asks, and the answer
    only changes when packages are installed (tests clear the cache)."""
    if shutil.which(TESSERACT) is None:
        return frozenset()
    try:
        done = subprocess.run([TESSERACT, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("tesseract --list-langs failed: %s", exc)
        return frozenset()
    # The first line is a heading ('List of available languages in "..." (3):');
    # tesseract 4 prints it on stderr, 5 on stdout, so read both.
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    return frozenset(ln.strip() for ln in lines if ln.strip() and " " not in ln.strip())


def ocr_page(
    pdf_page: pdfium.PdfPage,
    *,
    lang: str = DEFAULT_LANG,
    dpi: int = DEFAULT_DPI,
    timeout: float = 60,
) -> str:
    """The text tesseract reads on one rendered PDF page (paragraphs separated by blank lines).

    Raises ``OcrError`` when tesseract is missing, times out or fails.
    """
    reason = ocr_unavailable_reason(lang)
    if reason:
        raise OcrError(reason)
    try:
        # Grayscale: tesseract binarises anyway, and one channel is a third of the bytes.
        bitmap = pdf_page.render(scale=dpi / 72, grayscale=True)
        image = bitmap.to_pil()
    except Exception as exc:  # pdfium raises plain Exceptions for odd pages
        raise OcrError(f"could not render the page for OCR ({exc})") from exc
    with tempfile.TemporaryDirectory(prefix="plansok-ocr-") as tmp:
        png = Path(tmp) / "page.png"
        # compress_level=1: the file lives for one tesseract call, so fast beats small.
        image.save(png, dpi=(dpi, dpi), compress_level=1)
        return _tesseract(png, lang=lang, dpi=dpi, timeout=timeout)


def _tesseract(image: Path, *, lang: str, dpi: int, timeout: float) -> str:
    # TSV (word boxes) rather than plain text: see _tsv_text for why the boxes matter.
    cmd = [TESSERACT, str(image), "stdout", "-l", lang, "--psm", PSM, "--dpi", str(dpi), "tsv"]
    # One OpenMP thread: tesseract's threading barely helps one page but fights
    # with parallel ingest workers; the caller parallelises across pages if at all.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"tesseract took longer than {timeout:g} s") from exc
    except OSError as exc:
        raise OcrError(f"could not run tesseract ({exc})") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"tesseract failed (exit {done.returncode}): {err[-1] if err else 'no message'}")
    return _tsv_text(done.stdout.decode("utf-8", "replace"))


def _tsv_text(tsv: str) -> str:
    """Page text from tesseract's TSV: words joined into lines, paragraphs and blocks
    separated by blank lines, and blocks in the top or bottom margin moved to the
    start or end of the page.

    Tesseract's own reading order may put a footer ("Kommuneplan ... | side 8")
    between the columns of a two-column page; the cleaner only looks for running
    lines and printed page numbers in the first and last lines of a page, so the
    margins must come first and last, as they do for text-layer pages.
    """
    blocks: dict[int, dict[int, dict[int, list[str]]]] = {}
    spans: dict[int, list[int]] = {}  # block -> [top, bottom] in pixels
    page_height = 0
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t", 11)
        if len(cols) < 11 or not cols[0].isdigit():
            continue
        level, block, par, line = (int(c) for c in (cols[0], cols[2], cols[3], cols[4]))
        top, height = int(cols[7]), int(cols[9])
        if level == 1:
            page_height = top + height
        elif level == 2:
            spans[block] = [top, top + height]
        elif level == 5 and len(cols) == 12 and cols[11].strip():
            blocks.setdefault(block, {}).setdefault(par, {}).setdefault(line, []).append(cols[11].strip())
    margin = MARGIN_SHARE * page_height

    def place(block: int) -> tuple[int, int]:
        """Top margin first, body in tesseract's order (the sort is stable), bottom margin last."""
        top, bottom = spans.get(block, (-1, -1))
        if top < 0:
            return (1, 0)
        if bottom <= margin:
            return (0, top)
        return (2, top) if top >= page_height - margin else (1, 0)

    order = sorted(blocks, key=place)
    paragraphs = ["\n".join(" ".join(words) for words in lines.values()) for b in order for lines in blocks[b].values()]
    return "\n\n".join(paragraphs)
