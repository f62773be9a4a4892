"""Evaluate the tags a fresh index gives the gold passages, held-out half first.

    plansok eval-tags [--index DIR] [--gold FILE ...] [--json]
    plansok eval-tags --texts my_coded_passages.jsonl     # your own passages, no index

The protocol is the researcher's: the 22 plan PDFs and the thesis are ingested
with default settings into an index that has no model of its own (so the
shipped model tags them, as in any fresh index), and each gold passage is
found among the index's passages by its words (the passage of the same
document holding most of its word trigrams). Its tags are compared with the
gold tags: precision, recall and F1 per tag, and micro-F1 over theme tags and
theory tags. Rules alone (no classifier) are scored beside the tags.

The gold set's held-out half (``part``) is reported first; nothing in
plansok was chosen on it. The tuning half is in the shipped model's training
data, so its numbers are in-sample and labelled so. The recheck set
(``recheck.jsonl``) is a third kind: passages that are in the training data,
coded again by two new coders the model never learnt from. It measures what a
researcher gets on the shipped plans themselves (the model has read the
passage, not these coders' labels), not what it does on plans it has not
seen: that is the held-out half. The reliability table
shows, for the tags the index gave, the confidence it stated against the
share that the gold set confirms.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plansok.errors import PlansokError
from plansok.evaluation.qrels import default_pdf_dir, default_thesis_pdf
from plansok.evaluation.run import default_index_dir

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
GOLD_DIR = REPO / "evaluation" / "data" / "tag_gold"
DEFAULT_GOLD = (GOLD_DIR / "gold.jsonl", GOLD_DIR / "recheck.jsonl")
SYSTEMS = ("tags", "rules")
PARTS = ("heldout", "tuning", "recheck", "texts")
PART_NAMES = {
    "heldout": "the gold set's held-out half (never tuned on)",
    "tuning": "the gold set's tuning half (in the training data: in-sample)",
    "recheck": "training passages coded again by two new coders (passages in-sample, coders not)",
    "texts": "your coded passages, tagged from their own text",
}
MIN_MATCH = 0.5  # share of a gold passage's trigrams an index passage must hold
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
_WORD = re.compile(r"\w+")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        self.tp += predicted and actual
        self.fp += predicted and not actual
        self.fn += actual and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 3),
                "recall": round(self.recall, 3), "f1": round(self.f1, 3)}  # fmt: skip


@dataclass
class PartReport:
    passages: int = 0
    unmatched: int = 0
    per_tag: dict[str, dict[str, Counts]] = field(default_factory=dict)  # system -> tag -> counts
    reliability: list[list[float]] = field(default_factory=lambda: [[0, 0, 0.0] for _ in BINS[:-1]])

    def micro(self, system: str, kind: str, kinds: dict[str, str]) -> Counts:
        total = Counts()
        for tag, c in self.per_tag[system].items():
            if kinds[tag] == kind:
                total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total


@dataclass
class TagReport:
    kinds: dict[str, str]  # tag -> theory/theme
    parts: dict[str, PartReport]
    seconds: float = 0.0
    model: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"seconds": round(self.seconds, 1), "model": self.model, "parts": {}}
        for name, part in self.parts.items():
            out["parts"][name] = {
                "passages": part.passages,
                "unmatched": part.unmatched,
                "micro": {s: {k: part.micro(s, k, self.kinds).to_dict() for k in ("theme", "theory")} for s in SYSTEMS},
                "per_tag": {s: {t: c.to_dict() for t, c in tags.items()} for s, tags in part.per_tag.items()},
                "reliability": [
                    {
                        "from": BINS[i],
                        "to": min(BINS[i + 1], 1.0),
                        "tags": int(n),
                        "confirmed": int(ok),
                        "mean_confidence": round(conf / n, 3) if n else None,
                        "observed": round(ok / n, 3) if n else None,
                    }
                    for i, (n, ok, conf) in enumerate(part.reliability)
                ],
            }
        return out


def load_gold(paths: Path | Sequence[Path], default_part: str = "heldout") -> list[dict]:
    rows: list[dict] = []
    files = [paths] if isinstance(paths, Path) else list(paths)
    for path in files:
        if not path.is_file():
            raise PlansokError(f"{path}: no such file")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PlansokError(f"{path}:{n}: not a JSON object ({exc.msg})") from None
            r["tags"] = set(r.get("themes", [])) | set(r.get("theories", []))
            r.setdefault("part", default_part)
            if "text" not in r:
                raise PlansokError(f"{path}:{n}: a passage needs its text")
            if r["part"] not in PARTS:
                raise PlansokError(f"{path}:{n}: unknown part {r['part']!r} (known: {', '.join(PARTS)})")
            rows.append(r)
    if not rows:
        raise PlansokError(f"no passages in {', '.join(str(p) for p in files)}")
    return rows


def _trigrams(text: str) -> Counter:
    w = _WORD.findall(text.lower())
    return Counter(zip(w, w[1:], w[2:])) if len(w) >= 3 else Counter([tuple(w)])


def match_passages(gold: list[dict], passages: Sequence[tuple[int, Any]]) -> dict[str, int | None]:
    """Gold id -> the pid of the index passage (same document) holding most of
    its word trigrams, or None when none holds ``MIN_MATCH`` of them."""
    by_doc: dict[str, list[tuple[int, Counter]]] = {}
    for pid, p in passages:
        by_doc.setdefault(p.doc_id, []).append((pid, _trigrams(p.text)))
    out: dict[str, int | None] = {}
    for g in gold:
        want = _trigrams(g["text"])
        total = sum(want.values()) or 1
        best, best_share = None, 0.0
        for pid, have in by_doc.get(g["doc_id"], []):
            share = sum((want & have).values()) / total
            if share > best_share:
                best, best_share = pid, share
        out[g["id"]] = best if best_share >= MIN_MATCH else None
    return out


def evaluate(index_dir: Path, gold_path: Path | Sequence[Path] = DEFAULT_GOLD, ingest: bool = True) -> TagReport:
    from plansok.analysis.analyzer import Analyzer
    from plansok.api import Index
    from plansok.tag.tagger import Tagger
    from plansok.tag.train import read_passages

    t0 = time.perf_counter()
    gold = load_gold(gold_path)
    ix = Index.open(index_dir, create=True)
    if (ix.path / "tagger").exists():
        raise RuntimeError(f"{ix.path} has a model of its own; evaluate a fresh index (the shipped model)")
    if ingest:
        pdfs = [*sorted(default_pdf_dir().glob("*.pdf")), default_thesis_pdf()]
        report = ix.ingest([p for p in pdfs if p.exists()])
        if report.failed:
            logger.warning("not ingested: %s", report.failed)
    codebook = ix.codebook()
    kinds = {t.id: t.kind for t in codebook.tags}
    data = read_passages(ix.store)
    row_of = {pid: i for i, pid in enumerate(data.pids)}
    matched = match_passages(gold, list(zip(data.pids, data.passages)))
    tags = ix.store.tags_of([pid for pid in matched.values() if pid is not None])
    analyzer = Analyzer()
    rules = Tagger.build(codebook, analyzer).rules
    found: list[tuple[dict[str, float], set[str]] | None] = []
    for g in gold:
        pid = matched[g["id"]]
        if pid is None:
            found.append(None)
        else:
            i = row_of[pid]
            found.append(
                (
                    {t["tag"]: float(t["confidence"]) for t in tags.get(pid, [])},  # type: ignore[misc]
                    set(rules.fired(rules.tag(data.words[i], data.passages[i].text))),
                )
            )
    parts = score(gold, found, kinds)
    return TagReport(kinds, parts, time.perf_counter() - t0, _model_info(Tagger.for_index(ix.store, analyzer).model))


def score(
    gold: Sequence[dict], found: Sequence[tuple[dict[str, float], set[str]] | None], kinds: dict[str, str]
) -> dict[str, PartReport]:
    """Per part, each gold passage's tags against what the tagger gave it
    (tag -> confidence) and what the rules alone fired; None: not found, so
    every gold tag of it is missed."""
    parts = {p: PartReport(per_tag={s: {t: Counts() for t in kinds} for s in SYSTEMS}) for p in PARTS}
    parts = {p: r for p, r in parts.items() if any(g["part"] == p for g in gold)}
    for g, hit in zip(gold, found):
        part = parts[g["part"]]
        part.passages += 1
        if hit is None:
            part.unmatched += 1
        given, fired = hit if hit is not None else ({}, set())
        for tag in kinds:
            actual = tag in g["tags"]
            part.per_tag["tags"][tag].add(tag in given, actual)
            part.per_tag["rules"][tag].add(tag in fired, actual)
        for tag, conf in given.items():
            for b in range(len(BINS) - 1):
                if BINS[b] <= conf < BINS[b + 1]:
                    cell = part.reliability[b]
                    cell[0] += 1
                    cell[1] += tag in g["tags"]
                    cell[2] += conf
    return parts


def evaluate_texts(gold_path: Path | Sequence[Path]) -> TagReport:
    """Your own coded passages, tagged from their text by the shipped model
    (no index: sections as the file gives them, else none)."""
    from plansok.analysis.analyzer import Analyzer
    from plansok.tag.tagger import Tagger

    t0 = time.perf_counter()
    gold = load_gold(gold_path, default_part="texts")
    tagger = Tagger.from_config(None, None, Analyzer())
    kinds = {t.id: t.kind for t in tagger.codebook.tags}
    unknown = sorted({t for g in gold for t in g["tags"]} - set(kinds))
    if unknown:
        raise PlansokError(f"gold tags not in the codebook: {', '.join(unknown)}")
    found: list[tuple[dict[str, float], set[str]] | None] = [None] * len(gold)
    for standard in sorted({g.get("standard", "nb") for g in gold}):
        rows = [k for k, g in enumerate(gold) if g.get("standard", "nb") == standard]
        texts = [gold[k]["text"] for k in rows]
        words, terms = tagger.analyse_texts(texts, standard)
        given = tagger.tag(words, texts, terms, [gold[k].get("section", "") for k in rows])
        for k, w, text, tags in zip(rows, words, texts, given):
            found[k] = ({t.tag: t.confidence for t in tags}, set(tagger.rules.fired(tagger.rules.tag(w, text))))
    return TagReport(kinds, score(gold, found, kinds), time.perf_counter() - t0, _model_info(tagger.model))


def _model_info(model: Any) -> dict[str, Any]:  # model: TagModel | None
    """Which labels the model that tagged was trained on."""
    return {"labelled": model.info.get("labelled"), "labels_sha": model.info.get("labels_sha")} if model else {}


def format_report(rep: TagReport) -> str:
    lines = []
    for name, part in rep.parts.items():
        tagged_by = "the shipped model" if name == "texts" else "a fresh index"
        lines.append(f"tags of {tagged_by} on {PART_NAMES[name]}: {part.passages} passages"
                     + (f", {part.unmatched} not found in the index" if part.unmatched else ""))  # fmt: skip
        lines.append(f"  {'micro-F1':<16}" + "".join(f"{s:>10}" for s in SYSTEMS))
        for kind in ("theme", "theory"):
            lines.append(
                f"  {kind + ' tags':<16}" + "".join(f"{part.micro(s, kind, rep.kinds).f1:>10.3f}" for s in SYSTEMS)
            )
        lines.append("")
    if not rep.parts:
        return "\n".join(lines)
    # Per tag and reliability for the part that speaks for new text: the
    # held-out half, or your own passages.
    first = "heldout" if "heldout" in rep.parts else next(iter(rep.parts))
    held, label = rep.parts[first], {"heldout": "held-out", "texts": "your passages"}.get(first, first)
    lines.append(f"  per tag, {label:<11}{'n':>4} {'P':>6} {'R':>6} {'F1':>6}   rules F1")
    for kind in ("theme", "theory"):
        for tag, k in rep.kinds.items():
            if k == kind:
                c, r = held.per_tag["tags"][tag], held.per_tag["rules"][tag]
                lines.append(
                    f"  {tag:<22}{c.tp + c.fn:>3} {c.precision:>6.2f} {c.recall:>6.2f} {c.f1:>6.2f}   {r.f1:>6.2f}"
                )
    lines.append("")
    lines.append(f"  reliability, {label}: the confidence stated on a tag against the share the gold set confirms")
    lines.append(f"  {'confidence':<14}{'tags':>6}{'stated':>9}{'observed':>10}")
    for i, (n, ok, conf) in enumerate(held.reliability):
        if n:
            lines.append(f"  {BINS[i]:.1f}-{min(BINS[i + 1], 1.0):.1f}     {int(n):>6}{conf / n:>9.2f}{ok / n:>10.2f}")
    lines.append("")
    return "\n".join(lines)


EXAMPLES = """examples:
  plansok eval-tags                      # the shipped plans and thesis into a fresh index, gold set and recheck set
  plansok eval-tags --json > tags.json   # the same, for scripts
  plansok eval-tags --texts mine.jsonl   # passages you coded yourself, one JSON object a line:
      {"text": "...", "standard": "nn", "themes": ["bolig"], "theories": []}

The held-out half is the figure for plans the model has not read; the recheck
set is the shipped plans themselves (passages in the training data, coders not).
"""


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "--index", type=Path, default=None, help=f"a fresh index to ingest into (default: {default_index_dir()}-tags)"
    )
    p.add_argument(
        "--gold",
        type=Path,
        action="append",
        help="a gold file (JSONL with part, themes, theories); repeat for several "
        f"(default: {', '.join(p.name for p in DEFAULT_GOLD)} in {GOLD_DIR})",
    )
    p.add_argument("--no-ingest", action="store_true", help="use the index as it is")
    p.add_argument(
        "--texts",
        type=Path,
        action="append",
        help="your own coded passages instead (JSONL: text, standard nb/nn, section, themes, theories), "
        "tagged from their text by the shipped model, no index: how far to trust the tags on your plans",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="plansok eval-tags",
            description=__doc__.split("\n\n")[0],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=EXAMPLES,
        )
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    index = args.index or default_index_dir().with_name(default_index_dir().name + "-tags")
    if args.texts:
        rep = evaluate_texts(args.texts)
    else:
        rep = evaluate(index, args.gold or DEFAULT_GOLD, ingest=not args.no_ingest)
    if args.json:
        sys.stdout.write(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_report(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
