"""One measurement in its own process, so systems do not pollute each
other's memory numbers: ``python -m plansok.bench.worker SPEC.json OUT.json``.

SPEC is ``{"task": ..., ...}``; the result (with ``peak_rss_mb``) is written
to OUT as JSON. Tasks:

* ``rank``   build one ranking system on a scaled corpus and time queries
* ``write``  write a scaled corpus as an on-disk plansok index
* ``full``   open a plansok index and time full searches (snippets, citations)
* ``ingest`` plansok's full ingest of PDFs into a new index
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from plansok.bench.common import peak_rss_mb, pin_one_core, rss_mb, time_queries

logger = logging.getLogger("plansok.bench.worker")


def task_rank(spec: dict[str, Any]) -> dict[str, Any]:
    from plansok.bench.data import Corpus
    from plansok.bench.systems import SYSTEMS

    corpus = Corpus.load(Path(spec["corpus"]))
    system = SYSTEMS[spec["system"]]()
    t_prep = time.perf_counter()
    system.prepare(corpus)
    prepare_s = time.perf_counter() - t_prep
    if spec["system"] != "plansok":
        del corpus  # the system holds its own input now
    before = rss_mb()
    t0 = time.perf_counter()
    system.build()
    build_s = time.perf_counter() - t0
    after = rss_mb()
    queries = spec["queries"]
    lat = time_queries(system.query, queries, spec["n_queries"], warmup=spec["warmup"], budget_s=spec["budget_s"])
    check = [system.query(q) for q in queries[: spec.get("n_check", 5)]]
    reference = {}
    if spec["system"] == "plansok":
        from plansok.bench.systems import exact_bm25_top

        ref = [exact_bm25_top(corpus, q) for q in queries[: spec.get("n_check", 5)]]
        reference = {"reference": [{"ids": ids, "scores": scores} for ids, scores in ref]}
    out = {
        **reference,
        "build_s": build_s,
        "prepare_s": prepare_s,
        "index_mb": after - before,
        "input_mb": before,
        "check": [{"ids": ids, "scores": scores} for ids, scores in check],
        **lat,
        **system.info(),
    }
    system.close()
    return out


def task_write(spec: dict[str, Any]) -> dict[str, Any]:
    from plansok.bench.data import Corpus
    from plansok.bench.fullindex import build_full_index, load_sample_meta

    corpus = Corpus.load(Path(spec["corpus"]))
    sample = load_sample_meta(Path(spec["sample"]))
    # The bench's own input (the scaled corpus, held throughout) is not the index
    # writer's memory: it is reported apart from the peak.
    input_mb = rss_mb()
    t0 = time.perf_counter()
    info = build_full_index(corpus, sample, Path(spec["index"]))
    return {"build_s": info["write_s"], "total_s": time.perf_counter() - t0, "input_mb": input_mb, **info}


def task_full(spec: dict[str, Any]) -> dict[str, Any]:
    from plansok.api import Index

    before = rss_mb()
    t0 = time.perf_counter()
    ix = Index.open(spec["index"])
    ix.searcher()
    load_s = time.perf_counter() - t0
    loaded = rss_mb()
    t1 = time.perf_counter()
    hits = ix.search(spec["queries"][0], k=10)
    first_s = time.perf_counter() - t1
    after = rss_mb()

    def search(q: str) -> object:
        # Every query reads its terms' postings from the mapped files again, as a
        # first query would: the reader's decoded postings are dropped.
        ix.searcher().ix.drop_caches()
        return ix.search(q, k=10)

    lat = time_queries(
        search,
        spec["queries"],
        spec["n_queries"],
        warmup=spec["warmup"],
        budget_s=spec["budget_s"],
    )
    # The same queries restricted to one municipality (the first document's), as a
    # researcher comparing plans filters them: the filter must not cost a pass over
    # every passage.
    from plansok.query.filters import Filters

    municipality = next((d.municipality for d in ix.documents() if d.municipality), None)
    filtered: dict[str, Any] = {}
    if municipality:
        only = Filters(municipality=[municipality])

        def search_filtered(q: str) -> object:
            ix.searcher().ix.drop_caches()
            return ix.search(q, k=10, filters=only)

        timed = time_queries(
            search_filtered,
            spec["queries"],
            max(20, spec["n_queries"] // 2),
            warmup=spec["warmup"],
            budget_s=spec["budget_s"] / 2,
        )
        filtered = {"filtered_p50_ms": timed["p50_ms"], "filtered_by": municipality}
    sample_hit = hits[0].citation if hits else ""
    return {
        **filtered,
        "load_s": load_s,
        "first_query_s": first_s,
        "index_mb": after - before,
        "loaded_mb": loaded - before,
        "n_hits": len(hits),
        "snippet_ok": bool(hits and hits[0].snippet and hits[0].highlights),
        "sample_citation": sample_hit,
        **lat,
    }


def task_ingest(spec: dict[str, Any]) -> dict[str, Any]:
    from plansok.api import Index

    ix = Index.open(spec["index"], create=True)
    t0 = time.perf_counter()
    if spec.get("dask_workers"):
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=spec["dask_workers"], threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            t0 = time.perf_counter()  # the cluster's start-up is not ingest time
            report = ix.ingest(spec["pdfs"], tag=spec.get("tag", True), dask_client=client)
            seconds = time.perf_counter() - t0
    else:
        report = ix.ingest(spec["pdfs"], tag=spec.get("tag", True), workers=spec.get("workers", 1))
        seconds = time.perf_counter() - t0
    ix.close()
    return {
        "seconds": seconds,
        "pages": report.pages,
        "passages": report.passages,
        "documents": len(report.added) + len(report.updated),
        "failed": [list(f) for f in report.failed],
    }


TASKS = {"rank": task_rank, "write": task_write, "full": task_full, "ingest": task_ingest}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("pdfminer", "bm25s", "plansok.ingest"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    # Scaling runs use every core (undoing the affinity inherited from a pinned
    # parent); the rest are pinned to one.
    if spec.get("pin", True):
        cpu = pin_one_core(spec.get("cpu"))
    else:
        cpu = None
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
    result = TASKS[spec["task"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    result["cpu"] = cpu
    out_path.write_text(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
