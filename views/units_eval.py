"""Precision and recall of the plan-structure extractor against hand-labelled plans.

The gold set (``tests/data/plan_units_gold.jsonl``, see ``plan_units_gold.md``) lists the
units of four plans, two for tuning and two held out. An extracted unit matches a gold
unit of the same kind and document when their words overlap with a Dice coefficient of at
least ``MATCH`` (lower-case word tokens, so a unit with its trailing footnote number or a
cut-off last word still counts); each gold unit is matched at most once, best pairs first.
For matched measures the responsible unit (ansvar) and deadline (frist) are scored the same
way where the gold states one.

    python -m plansok.views.units_eval --index DIR [--split tuning|heldout] [--details]

DIR must hold the gold documents (``plansok ingest ../shared/corpus/plans``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plansok.views.structure import UNIT_KINDS, PlanStructure, PlanUnit, _tokens, dice

MATCH = 0.6
STRICT = 0.9


@dataclass
class KindScore:
    gold: int = 0
    found: int = 0
    matched: int = 0
    strict: int = 0  # matched with Dice >= STRICT

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: KindScore) -> None:
        self.gold += other.gold
        self.found += other.found
        self.matched += other.matched
        self.strict += other.strict


@dataclass
class AttributeScore:
    stated: int = 0  # matched measures whose gold states the attribute
    assigned: int = 0  # ... for which the extractor gave one
    correct: int = 0  # ... and it matches the gold


@dataclass
class Evaluation:
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in UNIT_KINDS})
    attributes: dict[str, AttributeScore] = field(
        default_factory=lambda: {"ansvar": AttributeScore(), "frist": AttributeScore()}
    )
    missed: list[dict[str, Any]] = field(default_factory=list)
    spurious: list[PlanUnit] = field(default_factory=list)

    def total(self) -> KindScore:
        out = KindScore()
        for s in self.kinds.values():
            out.add(s)
        return out


def load_gold(path: Path) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{i}: not JSON ({exc})") from exc
    return rows


def score(gold: Sequence[dict[str, Any]], structures: dict[str, PlanStructure]) -> Evaluation:
    """Score the extracted units of the documents in ``gold`` (all of its rows count)."""
    ev = Evaluation()
    docs = sorted({g["doc_id"] for g in gold})
    for doc_id in docs:
        structure = structures[doc_id]
        for kind in UNIT_KINDS:
            g_units = [g for g in gold if g["doc_id"] == doc_id and g["kind"] == kind]
            x_units = structure.of_kind(kind)
            ks = ev.kinds[kind]
            ks.gold += len(g_units)
            ks.found += len(x_units)
            g_toks = [_tokens(g["text"]) for g in g_units]
            x_toks = [_tokens(u.text) for u in x_units]
            pairs = sorted(
                ((dice(a, b), i, j) for i, a in enumerate(g_toks) for j, b in enumerate(x_toks)),
                reverse=True,
            )
            used_g: set[int] = set()
            used_x: set[int] = set()
            for sim, i, j in pairs:
                if sim < MATCH:
                    break
                if i in used_g or j in used_x:
                    continue
                used_g.add(i)
                used_x.add(j)
                ks.matched += 1
                ks.strict += sim >= STRICT
                for attr in ("ansvar", "frist"):
                    want = g_units[i].get(attr, "")
                    if not want:
                        continue
                    a = ev.attributes[attr]
                    a.stated += 1
                    got = getattr(x_units[j], attr)
                    if got:
                        a.assigned += 1
                        a.correct += dice(_tokens(want), _tokens(got)) >= MATCH
            ev.missed += [g_units[i] for i in range(len(g_units)) if i not in used_g]
            ev.spurious += [x_units[j] for j in range(len(x_units)) if j not in used_x]
    return ev


def table(ev: Evaluation, title: str) -> str:
    lines = [
        f"{title}",
        "| kind | gold | found | matched | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, s in [*ev.kinds.items(), ("all", ev.total())]:
        if s.gold or s.found:
            lines.append(
                f"| {kind} | {s.gold} | {s.found} | {s.matched} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} |"
            )
    for attr, a in ev.attributes.items():
        if a.stated:
            lines.append(
                f"\n{attr} of matched tiltak: stated in gold {a.stated}, given {a.assigned}, correct {a.correct}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from plansok.index.store import IndexStore
    from plansok.views.structure import WordClasses, plan_structure

    ap = argparse.ArgumentParser(prog="python -m plansok.views.units_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, type=Path, help="an index holding the gold documents")
    ap.add_argument(
        "--gold", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "data" / "plan_units_gold.jsonl"
    )
    ap.add_argument("--split", choices=["tuning", "heldout"], help="only this part of the gold set")
    ap.add_argument("--details", action="store_true", help="list missed and spurious units")
    args = ap.parse_args(argv)
    gold = load_gold(args.gold)
    store = IndexStore(args.index)
    metas = {d.doc_id: d for d in store.documents()}
    words = WordClasses()
    parts = [args.split] if args.split else ["heldout", "tuning"]
    for part in parts:
        rows = [g for g in gold if g["split"] == part]
        docs = sorted({g["doc_id"] for g in rows})
        missing = [d for d in docs if d not in metas]
        if missing:
            print(f"{args.index} lacks {', '.join(missing)}; ingest them first", file=sys.stderr)
            return 2
        structures = {d: plan_structure(store, d, metas[d], words) for d in docs}
        ev = score(rows, structures)
        print(table(ev, f"{part}: {', '.join(docs)}"))
        if args.details:
            for g in ev.missed:
                print(f"  MISSED   {g['kind']:8} p{g['page']:<3} {g['text'][:110]}")
            for u in ev.spurious:
                print(f"  SPURIOUS {u.kind:8} p{u.page:<3} {u.text[:110]}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
