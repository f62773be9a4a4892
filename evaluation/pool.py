"""Judgment pools for new queries: the union of several systems' top pages,
shuffled and stripped of any trace of which system found them, so the judges
grade pages blind to the system.

    python -m plansok.evaluation.pool evaluation/data/plans.new.queries.tsv \
        --nn evaluation/data/plans.new.queries.nn.tsv --out /tmp/pool --depth 10

Writes ``pool.tsv`` (qid, document, page; sorted by qid then a hash, not by
rank) and ``pages/<document>.<page>.txt`` with each pooled page's text.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

from .qrels import default_pdf_dir, default_thesis_pdf, load_queries
from .reference import build_reference_system, page_texts
from .run import PASSAGE_DEPTH, _open_plansok, plansok_pages, set_pdfs

log = logging.getLogger(__name__)
POOL_SYSTEMS = ("bm25s", "tantivy", "rank_bm25_w")


def build_pool(queries: Path, nn: Path | None, out: Path, depth: int, index: Path | None) -> int:
    set_name = queries.name.split(".")[0]
    pdfs = set_pdfs(set_name, default_pdf_dir(), default_thesis_pdf())
    texts = {q.qid: [q.text] for q in load_queries(queries)}
    if nn:
        for q in load_queries(nn):
            texts.setdefault(q.qid, []).append(q.text)
    pool: dict[str, set[tuple[str, int]]] = {qid: set() for qid in texts}
    for name in POOL_SYSTEMS:
        ref = build_reference_system(name, pdfs)
        for qid, qs in texts.items():
            for q in qs:
                pool[qid].update(ref.search(q, depth))
    idx, filters_cls, _ = _open_plansok(index, pdfs, ingest=True)
    filters = filters_cls(doc_ids=sorted(p.stem for p in pdfs))
    for qid, qs in texts.items():
        for q in qs:
            hits = idx.search(q, k=min(PASSAGE_DEPTH, 100), filters=filters)
            pool[qid].update(plansok_pages(hits)[:depth])
    out.mkdir(parents=True, exist_ok=True)
    (out / "pages").mkdir(exist_ok=True)
    by_stem = {p.stem: p for p in pdfs}
    rows = []
    for qid in sorted(pool):
        for doc, page in sorted(pool[qid], key=lambda k: hashlib.sha1(f"{qid}{k}".encode()).hexdigest()):
            rows.append(f"{qid}\t{doc}\t{page}")
            f = out / "pages" / f"{doc}.{page}.txt"
            if not f.exists():
                f.write_text(page_texts(by_stem[doc])[page - 1], encoding="utf-8")
    (out / "pool.tsv").write_text("# qid\tdocument\tpage\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("queries", type=Path)
    ap.add_argument("--nn", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--index", type=Path)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(build_pool(a.queries, a.nn, a.out, a.depth, a.index), "pooled pages")


if __name__ == "__main__":
    main()
