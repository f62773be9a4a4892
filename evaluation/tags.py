"""Evaluate the tagger on the hand-labelled gold set: precision, recall and F1
per tag for the rules, the classifier and the two combined, and micro-F1 over
theme tags and theory tags.

The classifier is trained on the index's passages with the gold passages left
out, so every number is on passages not used for training.

    plansok eval-tags [--index DIR] [--gold tests/data/tag_gold.jsonl] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plansok.analysis.analyzer import Analyzer
from plansok.evaluation.qrels import default_pdf_dir, default_thesis_pdf
from plansok.evaluation.run import default_index_dir

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GOLD = REPO / "tests" / "data" / "tag_gold.jsonl"
SYSTEMS = ("rules", "model", "combined")


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
class TagReport:
    passages: int
    kinds: dict[str, str]  # tag -> theory/theme
    per_tag: dict[str, dict[str, Counts]] = field(default_factory=dict)  # system -> tag -> counts
    seconds: float = 0.0
    training: dict = field(default_factory=dict)
    split: str = "all"

    def micro(self, system: str, kind: str) -> Counts:
        total = Counts()
        for tag, c in self.per_tag[system].items():
            if self.kinds[tag] == kind:
                total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total

    def to_dict(self) -> dict:
        return {
            "passages": self.passages,
            "micro": {s: {k: self.micro(s, k).to_dict() for k in ("theme", "theory")} for s in SYSTEMS},
            "per_tag": {s: {t: c.to_dict() for t, c in tags.items()} for s, tags in self.per_tag.items()},
            "training": self.training,
            "seconds": round(self.seconds, 1),
            "split": self.split,
        }


def load_gold(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r["tags"] = set(r.get("themes", [])) | set(r.get("theories", []))
    return rows


def split_of(passage_id: str) -> str:
    """A fixed half of the gold set for choosing thresholds (dev), the other
    half for reporting (test)."""
    return "dev" if zlib.crc32(passage_id.encode()) % 2 == 0 else "test"


def evaluate(
    index_dir: Path, gold_path: Path, codebook_path: Path | None = None, ingest: bool = True, split: str = "all"
) -> TagReport:
    """Two-fold cross-validation over the gold set's fixed halves: the
    classifier learns from the index (weak labels from the rules and the
    thesis's sections) plus one half's hand labels, and is scored on the
    other half; ``split`` scores one half only. No gold passage is ever both
    trained on and scored."""
    from plansok.api import Index
    from plansok.tag.codebook import Codebook
    from plansok.tag.tagger import Labelled, Tagger
    from plansok.tag.train import train

    t0 = time.perf_counter()
    gold = load_gold(gold_path)
    ix = Index.open(index_dir, create=True)
    if ingest:
        pdfs = [*sorted(default_pdf_dir().glob("*.pdf")), default_thesis_pdf()]
        report = ix.ingest([p for p in pdfs if p.exists()])
        if report.failed:
            logger.warning("not ingested: %s", report.failed)
    codebook = Codebook.load(codebook_path)
    analyzer = Analyzer()
    standards = {d.doc_id: d.standard for d in ix.documents()}
    kinds = {t.id: t.kind for t in codebook.tags}
    folds = ["dev", "test"] if split == "all" else [split]
    rep = TagReport(0, kinds, {s: {t: Counts() for t in codebook.ids} for s in SYSTEMS}, split=split)
    for fold in folds:
        scored = [g for g in gold if split_of(g["passage_id"]) == fold]
        taught = [Labelled(g["text"], g["tags"]) for g in gold if split_of(g["passage_id"]) != fold]
        tagger = Tagger.build(codebook, analyzer)
        tagger.model = train(ix.store, tagger, taught, exclude=[g["text"] for g in scored], save=False)
        _score(rep, tagger, scored, standards)
        rep.passages += len(scored)
        rep.training[fold] = tagger.model.info
    rep.seconds = time.perf_counter() - t0
    return rep


def _score(rep: TagReport, tagger, gold: list[dict], standards: dict[str, str]) -> None:
    from plansok.tag.rules import Word

    words, terms, texts = [], [], []
    for g in gold:
        analysed = tagger.analyzer.analyze(g["text"], standards.get(g.get("doc_id", ""), "nb"))
        words.append([Word.from_token_terms(tt) for tt in analysed])
        terms.append([t for tt in analysed for t in tt.terms()])
        texts.append(g["text"])
    model = tagger.model
    probs = model.predict_proba(terms)
    combined = tagger.tag(words, texts, terms)
    for i, g in enumerate(gold):
        fired = set(tagger.rules.fired(tagger.rules.tag(words[i], texts[i])))
        by_model = {t for j, t in enumerate(model.tags) if probs[i, j] >= tagger.model_threshold}
        both = {t.tag for t in combined[i]}
        for tag in rep.kinds:
            actual = tag in g["tags"]
            rep.per_tag["rules"][tag].add(tag in fired, actual)
            rep.per_tag["model"][tag].add(tag in by_model, actual)
            rep.per_tag["combined"][tag].add(tag in both, actual)


def format_report(rep: TagReport) -> str:
    how = "2-fold cross-validation" if rep.split == "all" else f"the {rep.split} half"
    lines = [f"tag evaluation on {rep.passages} hand-labelled passages ({how}; none scored was trained on)", ""]
    lines.append(f"  {'micro-F1':<24}" + "".join(f"{s:>12}" for s in SYSTEMS))
    for kind in ("theme", "theory"):
        lines.append(f"  {kind + ' tags':<24}" + "".join(f"{rep.micro(s, kind).f1:>12.3f}" for s in SYSTEMS))
    lines += ["", f"  {'tag':<24}{'n':>4}" + "".join(f"{s + ' P/R/F1':>22}" for s in SYSTEMS)]
    for kind in ("theme", "theory"):
        for tag, k in rep.kinds.items():
            if k != kind:
                continue
            c0 = rep.per_tag["combined"][tag]
            n = c0.tp + c0.fn
            cells = []
            for s in SYSTEMS:
                c = rep.per_tag[s][tag]
                cells.append(f"{c.precision:>8.2f}{c.recall:>6.2f}{c.f1:>6.2f}  ")
            lines.append(f"  {tag:<24}{n:>4}" + "".join(f"{cell:>22}" for cell in cells))
    lines.append("")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--index", type=Path, default=None, help=f"index to train on (default: {default_index_dir()})")
    p.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="hand-labelled passages (JSONL)")
    p.add_argument("--codebook", type=Path, default=None, help="codebook TOML (default: the shipped one)")
    p.add_argument("--no-ingest", action="store_true", help="use the index as it is")
    p.add_argument(
        "--split",
        choices=["all", "dev", "test"],
        default="all",
        help="score both halves by two-fold cross-validation (all, the default), or one half: dev, test",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="plansok eval-tags", description=__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    rep = evaluate(
        args.index or default_index_dir(), args.gold, args.codebook, ingest=not args.no_ingest, split=args.split
    )
    if args.json:
        sys.stdout.write(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_report(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
