"""Draw the passages of the tag gold set: a stratified sample, not a sample of rule hits.

Strata are (document, whether any codebook rule fires on the passage). Every
document of the 22 plans and the thesis gets a share that grows with the square
root of its passage count (at least ``MIN_PER_DOC``), split evenly between
passages with and without a rule hit where both exist, so the gold set is
neither the rules' favourite passages nor only the easy negatives. Passages
of fewer than ``MIN_WORDS`` words (headings, page numbers) are left out; tables,
lists and reference lists stay in, because the tagger meets them too.

The sample is fixed by ``SEED``; each passage gets a part (``heldout`` or
``tuning``) by the sha1 of its text, fixed here before anything is labelled.
Run: ``python -m plansok.evaluation.tag_sample --index DIR --out FILE``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path

SEED = 20261205
TARGET = 660
MIN_PER_DOC = 12
MIN_WORDS = 8


def part_of(text: str) -> str:
    """Half the gold set is held out: never used for choosing anything."""
    return "heldout" if int(hashlib.sha1(text.encode()).hexdigest(), 16) % 2 == 0 else "tuning"


def sample(index_dir: Path, target: int = TARGET, seed: int = SEED) -> list[dict]:
    from plansok.api import Index

    ix = Index.open(index_dir)
    hit = {r[0] for r in ix.store.db.execute("SELECT DISTINCT pid FROM tags WHERE source LIKE '%rule%'")}
    by_doc: dict[str, list[tuple[int, object]]] = {}
    for pid, p, _std in ix.store.all_passages():
        if len(p.text.split()) >= MIN_WORDS:
            by_doc.setdefault(p.doc_id, []).append((pid, p))
    weights = {d: math.sqrt(len(ps)) for d, ps in by_doc.items()}
    total = sum(weights.values())
    rng = random.Random(seed)
    out = []
    for doc_id in sorted(by_doc):
        want = max(MIN_PER_DOC, round(target * weights[doc_id] / total))
        with_hit = [x for x in by_doc[doc_id] if x[0] in hit]
        without = [x for x in by_doc[doc_id] if x[0] not in hit]
        rng.shuffle(with_hit)
        rng.shuffle(without)
        half = want // 2
        take = with_hit[:half] + without[: want - half]
        if len(take) < want:  # one stratum ran short: fill from the other
            rest = with_hit[half:] + without[want - half :]
            take += rest[: want - len(take)]
        for pid, p in take:
            out.append(
                {
                    "id": f"g{len(out) + 1:04d}",
                    "doc_id": p.doc_id,  # type: ignore[attr-defined]
                    "page": p.page_start,  # type: ignore[attr-defined]
                    "section": p.section,  # type: ignore[attr-defined]
                    "text": p.text,  # type: ignore[attr-defined]
                    "stratum": "rule" if pid in hit else "no-rule",
                    "part": part_of(p.text),  # type: ignore[attr-defined]
                }
            )
    rng.shuffle(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plansok.evaluation.tag_sample", description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True, help="an index of the 22 plans and the thesis")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--target", type=int, default=TARGET)
    args = ap.parse_args(argv)
    rows = sample(args.index, args.target)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
