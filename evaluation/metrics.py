"""Ranking metrics over page-level judgments.

A ranked list of hits is mapped to (document, page) — a passage spanning pages counts for its
first page — and repeats are dropped keeping the first rank. On that page list:

- nDCG@k: gain ``2**grade - 1``, discount ``log2(rank + 1)``; the ideal ranking is built from all
  judged grades of the query (not only those retrieved).
- recall@k: share of the query's relevant pages (grade >= 1) in the top k.
- MRR@k: 1 / rank of the first relevant page within the top k, else 0.

A query without any relevant page scores 0 on every metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .qrels import PageKey

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def hit_page(hit: Any) -> PageKey:
    """(document, first page) of a search hit (``hit.passage.doc_id`` / ``.page_start``).

    Plain ``(doc, page)`` tuples are passed through.
    """
    if isinstance(hit, tuple):
        return (str(hit[0]), int(hit[1]))
    passage = hit.passage
    return (str(passage.doc_id), int(passage.page_start))


def dedupe_pages(pages: Iterable[PageKey]) -> list[PageKey]:
    """Drop repeated pages, keeping each at its first rank."""
    seen: set[PageKey] = set()
    out = []
    for p in pages:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def hits_to_pages(hits: Iterable[Any]) -> list[PageKey]:
    """Ranked hits (in rank order) -> deduplicated ranked (document, page) list."""
    return dedupe_pages(hit_page(h) for h in hits)


def dcg(grades: Sequence[int]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(ranked: Sequence[PageKey], judged: Mapping[PageKey, int], k: int = 10) -> float:
    ideal = dcg(sorted((g for g in judged.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg([judged.get(p, 0) for p in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[PageKey], judged: Mapping[PageKey, int], k: int) -> float:
    relevant = {p for p, g in judged.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[PageKey], judged: Mapping[PageKey, int], k: int = 10) -> float:
    for i, p in enumerate(ranked[:k]):
        if judged.get(p, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


@dataclass
class Scores:
    """The four metrics, for one query or averaged over a set."""

    ndcg10: float = 0.0
    recall10: float = 0.0
    recall100: float = 0.0
    mrr10: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "ndcg@10": self.ndcg10,
            "recall@10": self.recall10,
            "recall@100": self.recall100,
            "mrr@10": self.mrr10,
        }


def score_ranking(ranked: Sequence[PageKey], judged: Mapping[PageKey, int]) -> Scores:
    """Score an already deduplicated page ranking (use :func:`hits_to_pages` first)."""
    return Scores(
        ndcg10=ndcg_at_k(ranked, judged, 10),
        recall10=recall_at_k(ranked, judged, 10),
        recall100=recall_at_k(ranked, judged, 100),
        mrr10=mrr_at_k(ranked, judged, 10),
    )


def mean_scores(scores: Iterable[Scores]) -> Scores:
    items = list(scores)
    if not items:
        return Scores()
    n = len(items)
    return Scores(**{f: sum(getattr(s, f) for s in items) / n for f in asdict(Scores())})
