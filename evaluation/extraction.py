"""Extraction measured against the source texts.

``corpus/plans/*.md`` holds the text of every source page of the PDFs in
``corpus/pdf/`` (``<!-- side N -->`` markers), and ``pagemap.json`` maps each
source page to its PDF page(s). For every source page we compare the text
plansok's ingest keeps for those PDF pages (``ingest.pipeline.read_pages``, the
same code path as ``plansok ingest``) with the source page:

- **word recall / precision**: the multiset overlap of lower-cased words;
- **order**: the share of the source's word trigrams found in the extraction
  (a line read from the wrong column breaks the trigrams around it);
- **leftovers**: the share of pages where a running line (a line repeated at
  the top or bottom of pages, in the source or in the rendering) is still in
  the text;
- **hyphen errors** per 1,000 source words: a word the source writes whole
  that the extraction leaves split at a line-end hyphen ("barne-hage",
  "barne hage").

The ground truth drops the source's own running lines (the ``.md`` texts keep
them on purpose), listed by hand in ``data/running_lines.tsv``, so a cleaner
that removes them is not punished; the renderings' own headers and footers
are the lines repeated at the page edges of the PDFs' raw text that the
source never has. Layouts: ``plain``, ``twocol``, ``hyph`` as
rendered, and ``scanned``: every ninth page of each PDF rendered as a scan that
keeps its running header and footer as text (``evaluation/scans.py``), read
with OCR and measured on those pages only. Documents in
``evaluation/data/documents_split.tsv`` marked held-out are reported first.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from plansok.evaluation.qrels import default_pdf_dir, default_shared_dir

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
SPLIT_FILE = DATA / "documents_split.tsv"
RUNNING_FILE = DATA / "running_lines.tsv"
_SIDE_RE = re.compile(r"<!--\s*(?:side|seksjon)\s+(\d+)\s*-->")
_WORD_RE = re.compile(r"[^\W_]+")
_HYPHENATED_RE = re.compile(r"([^\W\d_]+)-\s*\n?\s*([^\W\d_]+)")
EDGE_LINES = 2  # lines at each end of a page where running lines sit
MIN_REPEAT = 3
MIN_REPEAT_SHARE = 0.2
LAYOUTS = ("plain", "twocol", "hyph", "scanned")


# ---------------------------------------------------------------- ground truth


def source_pages(md: Path) -> dict[int, str]:
    """Source page number -> text, from a corpus ``.md`` file."""
    text = md.read_text(encoding="utf-8")
    parts = _SIDE_RE.split(text)
    return {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _edges(text: str) -> list[str]:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return lines[:EDGE_LINES] + lines[-EDGE_LINES:] if len(lines) > EDGE_LINES else lines


def running_keys(texts: Iterable[str]) -> set[str]:
    """Digit-blind lines repeated at the top or bottom of several pages."""
    texts = list(texts)
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update({_key(ln) for ln in _edges(t)})
    need = max(MIN_REPEAT, MIN_REPEAT_SHARE * len(texts))
    return {k for k, n in counts.items() if n >= need and _WORD_RE.search(k.replace("#", ""))}


def without_lines(text: str, keys: set[str]) -> str:
    return "\n".join(ln for ln in text.split("\n") if _key(ln) not in keys)


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def trigrams(ws: Sequence[str]) -> Counter[tuple[str, str, str]]:
    return Counter(zip(ws, ws[1:], ws[2:]))


# ---------------------------------------------------------------- scoring


@dataclass
class PageScore:
    doc_id: str
    page: int
    layout: str
    src_words: int
    ext_words: int
    common_words: int
    src_trigrams: int
    common_trigrams: int
    leftover: bool
    hyphen_errors: int


def score_page(
    doc_id: str, page: int, layout: str, truth: str, extracted: str, running: set[str], truth_keys: set[str]
) -> PageScore:
    src, ext = words(truth), words(extracted)
    common = sum((Counter(src) & Counter(ext)).values())
    t_src, t_ext = trigrams(src), trigrams(ext)
    leftover = any(_key(ln) in running and _key(ln) not in truth_keys for ln in extracted.split("\n"))
    src_set = set(src)
    hyphen_errors = 0
    for m in _HYPHENATED_RE.finditer(extracted):
        a, b = m.group(1).lower(), m.group(2).lower()
        if a + b in src_set and f"{a}-{b}" not in truth.lower():
            hyphen_errors += 1
    for a, b in pairwise(ext):
        if a + b in src_set and a not in src_set and b not in src_set:
            hyphen_errors += 1
    return PageScore(
        doc_id,
        page,
        layout,
        len(src),
        len(ext),
        common,
        sum(t_src.values()),
        sum((t_src & t_ext).values()),
        leftover,
        hyphen_errors,
    )


@dataclass
class Summary:
    pages: int = 0
    src_words: int = 0
    ext_words: int = 0
    common_words: int = 0
    src_trigrams: int = 0
    common_trigrams: int = 0
    leftovers: int = 0
    hyphen_errors: int = 0
    worst_order: list[tuple[float, str, int]] = field(default_factory=list)

    def add(self, s: PageScore) -> None:
        self.pages += 1
        self.src_words += s.src_words
        self.ext_words += s.ext_words
        self.common_words += s.common_words
        self.src_trigrams += s.src_trigrams
        self.common_trigrams += s.common_trigrams
        self.leftovers += s.leftover
        self.hyphen_errors += s.hyphen_errors
        if s.src_trigrams >= 20:
            self.worst_order.append((s.common_trigrams / s.src_trigrams, s.doc_id, s.page))
            self.worst_order = sorted(self.worst_order)[:3]

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "pages": self.pages,
            "word_recall": ratio(self.common_words, self.src_words),
            "word_precision": ratio(self.common_words, self.ext_words),
            "order": ratio(self.common_trigrams, self.src_trigrams),
            "leftover_pages": ratio(self.leftovers, self.pages),
            "hyphen_errors_per_1000": round(1000 * self.hyphen_errors / self.src_words, 2) if self.src_words else None,
            "worst_order": [{"order": round(o, 3), "doc_id": d, "page": p} for o, d, p in self.worst_order],
        }


def load_running(path: Path = RUNNING_FILE) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("doc_id\t") or not line.strip():
            continue
        doc_id, key = line.split("\t")
        out.setdefault(doc_id, set()).add(key)
    return out


def load_split(path: Path = SPLIT_FILE) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("doc_id") or not line.strip():
            continue
        doc_id, _layout, part = line.split("\t")
        out[doc_id] = part
    return out


# ---------------------------------------------------------------- the run


def _extract(path: Path, ocr: bool) -> dict[int, str]:
    from plansok.ingest.pipeline import read_pages

    pages, _ = read_pages(path, ocr)
    return {p.number: p.text for p in pages}


def _pdf_texts(path: Path) -> list[str]:
    """Naive pdfium text per page: where the rendering's own running lines are found."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            out.append(tp.get_text_range().replace("\r\n", "\n"))
            tp.close()
            page.close()
        return out
    finally:
        pdf.close()


def score_document(
    doc_id: str,
    md: Path,
    pdf: Path,
    entry: dict[str, Any],
    layout: str,
    *,
    ocr: bool = False,
    only_pdf_pages: set[int] | None = None,
    running: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[PageScore]:
    src = source_pages(md)
    md_running = set(running)
    md_lines = {_key(ln) for text in src.values() for ln in text.split("\n")}
    pdf_running = running_keys(_pdf_texts(pdf)) - md_lines
    extracted = _extract(pdf, ocr)
    out = []
    for label, info in entry["pages"].items():
        number = int(label)
        pdf_pages = [int(p) for p in info["pdf_pages"]]
        if only_pdf_pages is not None and not only_pdf_pages.intersection(pdf_pages):
            continue
        if number not in src:
            continue
        truth = without_lines(src[number], md_running)
        truth_keys = {_key(ln) for ln in truth.split("\n")}
        text = "\n".join(extracted.get(p, "") for p in pdf_pages)
        out.append(score_page(doc_id, number, layout, truth, text, md_running | pdf_running, truth_keys))
    return out


def extraction_report(
    pdf_dir: Path | None = None,
    plans_dir: Path | None = None,
    *,
    scanned_every: int = 9,
    scans_dir: Path | None = None,
    split: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per part (held-out first) and layout: the summaries above, and the pages."""
    from plansok.evaluation.scans import render_scanned_dir

    pdf_dir = Path(pdf_dir or default_pdf_dir())
    plans_dir = Path(plans_dir or default_shared_dir() / "corpus" / "plans")
    pagemap = json.loads((pdf_dir / "pagemap.json").read_text(encoding="utf-8"))
    split = split if split is not None else load_split()
    running = load_running()
    scores: list[PageScore] = []
    scanned: dict[str, list[int]] = {}
    if scanned_every:
        scans_dir = Path(scans_dir or Path.home() / ".cache" / "plansok" / f"scans-every-{scanned_every}")
        scanned = render_scanned_dir(pdf_dir, scans_dir, scanned_every)
    for doc_id, entry in sorted(pagemap.items()):
        md, pdf = plans_dir / f"{doc_id}.md", pdf_dir / entry["pdf"]
        if not md.is_file() or not pdf.is_file():
            log.warning("%s: no %s or %s; skipped", doc_id, md, pdf)
            continue
        furniture = running.get(doc_id, set())
        scores += score_document(doc_id, md, pdf, entry, entry["layout"], running=furniture)
        if scanned.get(doc_id):
            scores += score_document(
                doc_id,
                md,
                scans_dir / entry["pdf"],  # type: ignore[operator]
                entry,
                "scanned",
                ocr=True,
                only_pdf_pages=set(scanned[doc_id]),
                running=furniture,
            )
    table: dict[str, dict[str, Summary]] = {}
    for s in scores:
        part = split.get(s.doc_id, "tuning")
        for layout in (s.layout, "all" if s.layout != "scanned" else None):
            if layout:
                table.setdefault(part, {}).setdefault(layout, Summary()).add(s)
    parts = [p for p in ("heldout", "tuning") if p in table]
    return {
        "parts": {p: {lay: table[p][lay].to_dict() for lay in (*LAYOUTS, "all") if lay in table[p]} for p in parts},
        "scanned_every": scanned_every,
        "pages": [s.__dict__ for s in scores],
    }


def format_report(report: dict[str, Any]) -> str:
    lines = []
    names = {"heldout": "held-out documents", "tuning": "tuning documents (in-sample)"}
    for part, rows in report["parts"].items():
        lines.append(f"extraction, {names.get(part, part)}")
        head = ("layout", "pages", "recall", "precis.", "order", "leftover", "hyph/1k")
        lines.append("  {:9} {:>5} {:>7} {:>7} {:>7} {:>8} {:>7}".format(*head))
        for layout, r in rows.items():

            def f(x: float | None) -> str:
                return "-" if x is None else f"{x:.3f}"

            lines.append(
                f"  {layout:9} {r['pages']:>5} {f(r['word_recall']):>7} {f(r['word_precision']):>7} "
                f"{f(r['order']):>7} {f(r['leftover_pages']):>8} {f(r['hyphen_errors_per_1000']):>7}"
            )
        lines.append("")
    lines.append(
        "recall/precision: source words kept / extracted words in the source; order: source word trigrams kept;\n"
        "leftover: share of pages with a running line left in; hyph/1k: words left split at a line-end hyphen\n"
        "per 1,000 source words."
        + (
            f" scanned: every {report['scanned_every']}th page an image with its running lines as text, read "
            "with --ocr."
            if report["scanned_every"]
            else ""
        )
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plansok.evaluation.extraction", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf-dir", type=Path, default=None)
    ap.add_argument("--plans-dir", type=Path, default=None)
    ap.add_argument("--scanned-every", type=int, default=9, help="0 to skip the scanned layout (no OCR)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = extraction_report(args.pdf_dir, args.plans_dir, scanned_every=args.scanned_every)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "pages"}, indent=1, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
