"""Section paths measured against a hand-made list of true headings.

``data/sections_gold.tsv`` lists the true headings (source page, level, text)
of several shared plans, written from the documents themselves. For every
passage plansok makes from such a document (the same code path as
``plansok ingest``: ``read_pages`` then ``split_passages``):

- **section accuracy**: is the cited section's innermost heading the gold
  heading in force where the passage starts? The passage is placed in its
  source page (``.md`` text, ``<!-- side N -->``) by its first words, and the
  gold heading in force is the last one at or before that place. A passage
  before the first heading should cite no section.
- **heading precision / recall**: the headings the section path took
  (``section_headings``) against the gold list, matched by source page and
  text (a heading printed with a subtitle matches its first line).
- **level agreement**: of the matched headings, the share nested at the gold level.

Passages are read from the PDFs in ``corpus/pdf`` (pages mapped to source
pages with ``pagemap.json``) and, as a second source, from the ``.md`` texts
themselves. Documents in ``data/documents_split.tsv`` marked held-out are
reported first; the others were used to tune heading detection.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plansok.evaluation.qrels import default_pdf_dir, default_shared_dir

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
GOLD_FILE = DATA / "sections_gold.tsv"
SPLIT_FILE = DATA / "documents_split.tsv"
SOURCES = ("pdf", "md")
_SIDE_RE = re.compile(r"<!--\s*(?:side|seksjon)\s+(\d+)\s*-->")
_WORD_RE = re.compile(r"[^\W_]+")
ANCHOR_WORDS = 4  # words in a row that place a passage in its source page
ANCHOR_TRIES = 40  # start offsets tried before a passage counts as not found
MIN_PREFIX_WORDS = 2  # a heading matches a longer one it begins ("4.1 Hokksund" ~ "4.1 Hokksund -Handel ...")


@dataclass(frozen=True)
class GoldHeading:
    doc_id: str
    page: int
    level: int
    text: str


def load_gold(path: Path = GOLD_FILE) -> dict[str, list[GoldHeading]]:
    """Gold headings per document, in reading order."""
    out: dict[str, list[GoldHeading]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("doc_id\t"):
            continue
        cells = line.split("\t")
        if len(cells) != 4:
            raise ValueError(f"{path}:{n}: expected 4 tab-separated columns, got {len(cells)}")
        doc_id, page, level, text = cells
        out.setdefault(doc_id, []).append(GoldHeading(doc_id, int(page), int(level), text.strip()))
    return out


def load_split(path: Path = SPLIT_FILE) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("doc_id") or not line.strip():
            continue
        doc_id, _layout, part = line.split("\t")
        out[doc_id] = part
    return out


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def same_heading(gold: str, found: str) -> bool:
    """Equal words, or one begins the other (a subtitle on its own line, a wrapped heading)."""
    a, b = words(gold), words(found)
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= MIN_PREFIX_WORDS and long_[: len(short)] == short


def source_pages(md: Path) -> dict[int, list[str]]:
    """Source page number -> its words, from a corpus ``.md`` file."""
    text = md.read_text(encoding="utf-8")
    parts = _SIDE_RE.split(text)
    return {int(parts[i]): words(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}


def _find(hay: list[str], needle: list[str], start: int = 0) -> int | None:
    if not needle:
        return None
    for i in range(start, len(hay) - len(needle) + 1):
        if hay[i : i + len(needle)] == needle:
            return i
    return None


def place(passage_words: list[str], page_words: list[str]) -> int | None:
    """Where a passage starts in its source page: the first of its word runs found there."""
    for k in range(min(ANCHOR_TRIES, max(len(passage_words) - ANCHOR_WORDS + 1, 1))):
        hit = _find(page_words, passage_words[k : k + ANCHOR_WORDS])
        if hit is not None:
            return max(hit - k, 0)
    return None


def gold_positions(gold: list[GoldHeading], src: dict[int, list[str]]) -> list[tuple[int, int, GoldHeading]]:
    """Each gold heading's (page, word offset) in the source, in order within a page (unfound ones left out)."""
    out = []
    cursor: dict[int, int] = {}
    for g in gold:
        page_words = src.get(g.page, [])
        at = _find(page_words, words(g.text), cursor.get(g.page, 0))
        if at is None:
            # Headings the text layer runs together ("3.5.1 Folkehelse Folkehelse ...")
            # are still found by their first words.
            at = _find(page_words, words(g.text)[:MIN_PREFIX_WORDS], cursor.get(g.page, 0))
        if at is None:
            # Not placed: it still counts for heading recall, but cites nothing.
            log.warning("%s: gold heading %r not found on source page %d", g.doc_id, g.text, g.page)
            continue
        cursor[g.page] = at + 1
        out.append((g.page, at, g))
    return out


def in_force(positions: list[tuple[int, int, GoldHeading]], page: int, offset: int) -> GoldHeading | None:
    current = None
    for p, at, g in positions:
        if (p, at) <= (page, offset):
            current = g
        else:
            break
    return current


# ---------------------------------------------------------------- scoring


@dataclass
class DocScore:
    doc_id: str
    source: str
    passages: int = 0
    placed: int = 0
    correct: int = 0
    gold: int = 0
    found: int = 0
    matched: int = 0
    level_ok: int = 0
    wrong: list[dict[str, Any]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)


def _innermost(section: str) -> str:
    return section.rsplit(" > ", 1)[-1] if section else ""


def score_document(
    doc_id: str, gold: list[GoldHeading], md: Path, read: Path, source: str, page_to_source: dict[int, int]
) -> DocScore:
    """Score the passages and headings plansok makes from ``read`` (a PDF or the .md)."""
    from plansok.ingest.passages import section_headings, split_passages
    from plansok.ingest.pipeline import read_pages

    pages, _ = read_pages(read)
    if source == "md":
        page_to_source = {p.number: int(p.label) for p in pages if p.label and p.label.isdigit()}
    src = source_pages(md)
    positions = gold_positions(gold, src)
    score = DocScore(doc_id, source, gold=len(gold))
    for passage in split_passages(doc_id, pages):
        page = page_to_source.get(passage.page_start)
        if page is None:
            continue
        score.passages += 1
        offset = place(words(passage.text), src.get(page, []))
        if offset is None:
            continue
        score.placed += 1
        expected = in_force(positions, page, offset)
        cited = _innermost(passage.section)
        ok = same_heading(expected.text, cited) if expected else not cited
        score.correct += ok
        if not ok:
            score.wrong.append(
                {"page": page, "expected": expected.text if expected else "", "cited": cited, "text": passage.text[:60]}
            )
    found = section_headings(pages)
    score.found = len(found)
    unmatched = list(gold)
    for h in found:
        page = page_to_source.get(h.page)
        hit = next((g for g in unmatched if g.page == page and same_heading(g.text, h.text)), None)
        if hit is None:
            score.spurious.append(f"p{page}: {h.text}")
            continue
        unmatched.remove(hit)
        score.matched += 1
        score.level_ok += hit.level == h.depth
    score.missed = [f"p{g.page}: {g.text}" for g in unmatched]
    return score


@dataclass
class Summary:
    documents: int = 0
    passages: int = 0
    placed: int = 0
    correct: int = 0
    gold: int = 0
    found: int = 0
    matched: int = 0
    level_ok: int = 0

    def add(self, s: DocScore) -> None:
        self.documents += 1
        for name in ("passages", "placed", "correct", "gold", "found", "matched", "level_ok"):
            setattr(self, name, getattr(self, name) + getattr(s, name))

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "documents": self.documents,
            "passages": self.passages,
            "placed": self.placed,
            "section_accuracy": ratio(self.correct, self.placed),
            "heading_precision": ratio(self.matched, self.found),
            "heading_recall": ratio(self.matched, self.gold),
            "level_agreement": ratio(self.level_ok, self.matched),
        }


def _pdf_page_map(entry: dict[str, Any]) -> dict[int, int]:
    """PDF page -> source page; a source page spread over two PDF pages maps both."""
    return {int(p): int(label) for label, info in entry["pages"].items() for p in info["pdf_pages"]}


def sections_report(
    pdf_dir: Path | None = None,
    plans_dir: Path | None = None,
    *,
    gold_file: Path = GOLD_FILE,
    split: dict[str, str] | None = None,
    sources: Sequence[str] = SOURCES,
) -> dict[str, Any]:
    """Per part (held-out first) and source: the summaries above, and each document's misses."""
    pdf_dir = Path(pdf_dir or default_pdf_dir())
    plans_dir = Path(plans_dir or default_shared_dir() / "corpus" / "plans")
    pagemap = json.loads((pdf_dir / "pagemap.json").read_text(encoding="utf-8"))
    split = split if split is not None else load_split()
    gold = load_gold(gold_file)
    scores: list[DocScore] = []
    for doc_id, headings in sorted(gold.items()):
        md = plans_dir / f"{doc_id}.md"
        if not md.is_file():
            raise FileNotFoundError(f"{md}: the source text of gold document {doc_id} is missing")
        for source in sources:
            if source == "pdf":
                entry = pagemap.get(doc_id)
                if entry is None:
                    raise KeyError(f"{pdf_dir / 'pagemap.json'}: no entry for gold document {doc_id}")
                scores.append(score_document(doc_id, headings, md, pdf_dir / entry["pdf"], "pdf", _pdf_page_map(entry)))
            else:
                scores.append(score_document(doc_id, headings, md, md, "md", {}))
    table: dict[str, dict[str, Summary]] = {}
    for s in scores:
        part = split.get(s.doc_id, "tuning")
        table.setdefault(part, {}).setdefault(s.source, Summary()).add(s)
    parts = [p for p in ("heldout", "tuning") if p in table]
    return {
        "parts": {p: {src: table[p][src].to_dict() for src in sources if src in table[p]} for p in parts},
        "documents": [
            {
                "doc_id": s.doc_id,
                "part": split.get(s.doc_id, "tuning"),
                "source": s.source,
                "section_accuracy": round(s.correct / s.placed, 4) if s.placed else None,
                "passages": s.passages,
                "placed": s.placed,
                "heading_precision": round(s.matched / s.found, 4) if s.found else None,
                "heading_recall": round(s.matched / s.gold, 4) if s.gold else None,
                "missed": s.missed,
                "spurious": s.spurious,
                "wrong": s.wrong,
            }
            for s in scores
        ],
    }


def format_report(report: dict[str, Any], details: bool = False) -> str:
    names = {"heldout": "held-out documents", "tuning": "tuning documents (in-sample)"}
    lines = []
    for part, rows in report["parts"].items():
        lines.append(f"sections, {names.get(part, part)}")
        head = ("source", "docs", "passages", "placed", "section", "h.prec", "h.recall", "level")
        lines.append("  {:6} {:>4} {:>8} {:>6} {:>7} {:>7} {:>8} {:>6}".format(*head))
        for source, r in rows.items():

            def f(x: float | None) -> str:
                return "-" if x is None else f"{x:.3f}"

            lines.append(
                f"  {source:6} {r['documents']:>4} {r['passages']:>8} {r['placed']:>6} {f(r['section_accuracy']):>7} "
                f"{f(r['heading_precision']):>7} {f(r['heading_recall']):>8} {f(r['level_agreement']):>6}"
            )
        lines.append("")
    if details:
        for d in report["documents"]:
            lines.append(
                f"{d['part']:7} {d['source']:3} {d['doc_id']}: section {d['section_accuracy']} "
                f"(of {d['placed']}/{d['passages']} placed), precision {d['heading_precision']}, "
                f"recall {d['heading_recall']}"
            )
            lines += [f"    missed   {m}" for m in d["missed"]]
            lines += [f"    spurious {m}" for m in d["spurious"]]
            lines += [f"    wrong    p{w['page']}: cited {w['cited']!r}, true {w['expected']!r}" for w in d["wrong"]]
        lines.append("")
    lines.append(
        "section: passages whose cited innermost heading is the true one where the passage starts (placed by its\n"
        "first words in the source page); h.prec/h.recall: headings taken against the hand-made gold list;\n"
        "level: matched headings nested at the true depth. pdf: corpus/pdf renderings; md: the source texts."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plansok.evaluation.sections", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf-dir", type=Path, default=None)
    ap.add_argument("--plans-dir", type=Path, default=None)
    ap.add_argument("--source", choices=(*SOURCES, "both"), default="both")
    ap.add_argument("--details", action="store_true", help="list each document's missed, spurious and wrong sections")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sources = SOURCES if args.source == "both" else (args.source,)
    report = sections_report(args.pdf_dir, args.plans_dir, sources=sources)
    if args.json:
        out = report if args.details else {k: v for k, v in report.items() if k != "documents"}
        print(json.dumps(out, indent=1, ensure_ascii=False))
    else:
        print(format_report(report, args.details))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
