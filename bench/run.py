"""``plansok bench``: ingest speed, index build speed, query latency and
memory of plansok beside rank_bm25, bm25s and tantivy, on the same data in
the same run, on one core.

    plansok bench                       # full run: sample PDFs, 10k/100k/1M passages
    plansok bench --quick               # under a minute: a few PDFs, 10k passages
    plansok bench --sizes 10k,100k --json

Every measurement runs in its own process (``plansok.bench.worker``) pinned
to one CPU with one-thread settings, so one system's memory never shows up in
another's numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from plansok.bench.common import (
    REPO,
    default_pdfs,
    one_core_env,
    parse_size,
    pin_one_core,
    quick_pdfs,
    size_label,
)

logger = logging.getLogger("plansok.bench")

PEERS = ("rank_bm25", "bm25s", "tantivy")
LABELS = {
    "plansok": "plansok (ranking)",
    "plansok-full": "plansok (full query)",
    "rank_bm25": "rank_bm25 BM25Okapi",
    "bm25s": "bm25s (numpy)",
    "tantivy": "tantivy",
}
RANK_BM25_MAX_MB = 8_000
RANK_BM25_MAX_S = 600
# The peers' footprint at 1M passages on this machine (run of 2026-12-05),
# for a run that starts above every size it has measured them at (``--sizes
# 4M``): without it they would be started there, and need 14-17 GB.
PEER_AT_1M = {
    "rank_bm25": {"peak_rss_mb": 3418.0, "build_s": 98.0, "prepare_s": 65.0, "p50_ms": 972.0},
    "bm25s": {"peak_rss_mb": 4133.0, "build_s": 215.0, "prepare_s": 54.0, "p50_ms": 72.0},
}


@dataclass
class Settings:
    pdfs: list[Path]
    sizes: list[int]
    n_queries: int
    warmup: int
    budget_s: float
    plumber_pages_per_doc: int
    plumber_budget_s: float
    cold_runs: int
    worker_timeout_s: float
    systems: list[str]
    work: Path
    cpu: int | None
    quick: bool = False


# -- command line --------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="plansok bench",
        description="Measure ingest pages/s, index build passages/s, query latency (p50/p95) "
        "and index memory of plansok beside rank_bm25, bm25s and tantivy on the same data, "
        "on one core.",
    )
    p.add_argument(
        "--sizes",
        default="10k,100k,1M",
        help="scaled corpus sizes in passages (default 10k,100k,1M)",
    )
    p.add_argument(
        "--pdfs",
        nargs="+",
        type=Path,
        metavar="PDF",
        help="PDFs to ingest (default: corpus/*.pdf, else the shared sample corpus)",
    )
    p.add_argument("--quick", action="store_true", help="10k passages, few queries, 3 small PDFs (< 60 s)")
    p.add_argument("--queries", type=int, default=None, help="timed query executions per system (default 200)")
    p.add_argument(
        "--systems",
        default="plansok,plansok-full,rank_bm25,bm25s,tantivy",
        help="comma-separated subset of plansok,plansok-full,rank_bm25,bm25s,tantivy",
    )
    p.add_argument("--workdir", type=Path, help="keep intermediate files here (default: a temp dir, removed)")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    p.add_argument("--save", type=Path, metavar="FILE", help="also write the JSON results to FILE")
    p.add_argument("-v", "--verbose", action="count", default=0, help="progress on stderr (-vv debug)")
    return p


def settings_from(args: argparse.Namespace, work: Path, cpu: int | None) -> Settings:
    pdfs = [Path(p) for p in args.pdfs] if args.pdfs else default_pdfs()
    if args.quick:
        pdfs = quick_pdfs(pdfs)
        sizes = [10_000] if args.sizes == "10k,100k,1M" else [parse_size(s) for s in args.sizes.split(",")]
    else:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    return Settings(
        pdfs=pdfs,
        sizes=sizes,
        n_queries=args.queries or (50 if args.quick else 200),
        warmup=5 if args.quick else 20,
        budget_s=2.0 if args.quick else 20.0,
        plumber_pages_per_doc=2 if args.quick else 10,
        plumber_budget_s=3.0 if args.quick else 20.0,
        cold_runs=2 if args.quick else 3,
        worker_timeout_s=120 if args.quick else 900,
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        work=work,
        cpu=cpu,
        quick=args.quick,
    )


# -- workers -----------------------------------------------------------------------------
def run_worker(spec: dict[str, Any], s: Settings, name: str) -> dict[str, Any]:
    """Run one task in a fresh pinned process; its JSON result or an error."""
    spec = {**spec, "cpu": s.cpu}
    spec_path, out_path = s.work / f"{name}.spec.json", s.work / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    out_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "plansok.bench.worker", str(spec_path), str(out_path)]
    logger.info("running %s", name)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            env=one_core_env(),
            capture_output=True,
            text=True,
            timeout=s.worker_timeout_s,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {s.worker_timeout_s:.0f} s"}
    if proc.returncode != 0 or not out_path.exists():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        logger.warning("%s failed:\n%s", name, proc.stderr[-3000:])
        return {"error": tail[0][:200]}
    result = json.loads(out_path.read_text())
    logger.info("%s done in %.1f s", name, time.perf_counter() - t0)
    return result


# -- ingest --------------------------------------------------------------------------------
def bench_ingest(s: Settings, index_dir: Path) -> list[dict[str, Any]]:
    from plansok.bench.extract import pdfplumber_rate, pypdfium2_rate

    rows = []
    r = run_worker({"task": "ingest", "pdfs": [str(p) for p in s.pdfs], "index": str(index_dir)}, s, "ingest")
    row = {"system": "plansok", "label": "plansok ingest (full pipeline)", **r}
    if not r.get("error"):
        row["pages_per_s"] = r["pages"] / r["seconds"] if r["seconds"] else float("nan")
        row["note"] = f"{r['documents']} docs, {r['passages']} passages" + (
            f", {len(r['failed'])} failed" if r["failed"] else ""
        )
    rows.append(row)
    # The same ingest without theory/theme tagging, to show what tagging costs.
    plain = run_worker(
        {"task": "ingest", "pdfs": [str(p) for p in s.pdfs], "index": str(index_dir) + "-untagged", "tag": False},
        s,
        "ingest-untagged",
    )
    if not plain.get("error") and not r.get("error"):
        overhead = r["seconds"] / plain["seconds"] - 1 if plain["seconds"] else float("nan")
        rows.append(
            {
                "system": "plansok-untagged",
                "label": "plansok ingest without tagging",
                **plain,
                "pages_per_s": plain["pages"] / plain["seconds"] if plain["seconds"] else float("nan"),
                "note": f"tagging adds {overhead:+.0%} to ingest time",
                "tagging_overhead": overhead,
            }
        )
    for system, label, fn in (
        (
            "pdfplumber",
            "pdfplumber extract_text()",
            lambda: pdfplumber_rate(s.pdfs, s.plumber_pages_per_doc, s.plumber_budget_s),
        ),
        ("pypdfium2", "pypdfium2 get_text_range()", lambda: pypdfium2_rate(s.pdfs)),
    ):
        try:
            r = fn()
        except Exception as exc:  # a broken peer must not stop the bench
            rows.append({"system": system, "label": label, "error": str(exc)[:200]})
            continue
        note = f"subset: <= {s.plumber_pages_per_doc} pages/PDF" if r["subset"] else "all pages"
        rows.append(
            {
                "system": system,
                "label": label,
                **r,
                "note": f"extraction only; {note}",
                "pages_per_s": r["pages"] / r["seconds"] if r["seconds"] else float("nan"),
            }
        )
    return rows


def bench_scaling(s: Settings) -> list[dict[str, Any]]:
    """Ingest pages/s with 1 and 2 local worker processes and a Dask
    LocalCluster of 2, on copies of the sample PDFs (enough pages that worker
    start-up does not dominate); these runs use all cores."""
    import shutil

    folder = s.work / "scaling-pdfs"
    folder.mkdir(parents=True, exist_ok=True)
    copies = 1 if s.quick else 6
    for k in range(copies):
        for pdf in s.pdfs:
            target = folder / f"{pdf.stem}-copy{k}.pdf"
            if not target.exists():
                shutil.copy(pdf, target)
    pdfs = [str(p) for p in sorted(folder.glob("*.pdf"))]
    rows, base = [], None
    for label, extra in (
        ("plansok ingest, 1 process", {"workers": 1}),
        ("plansok ingest, 2 worker processes", {"workers": 2}),
        ("plansok ingest, Dask LocalCluster (2)", {"dask_workers": 2}),
    ):
        index_dir = s.work / f"scaling-{len(rows)}"
        shutil.rmtree(index_dir, ignore_errors=True)
        r = run_worker({"task": "ingest", "pdfs": pdfs, "index": str(index_dir), "pin": False, **extra}, s, label)
        row = {"system": label, "label": label, **r}
        if not r.get("error"):
            row["pages_per_s"] = r["pages"] / r["seconds"] if r["seconds"] else float("nan")
            base = base or row["pages_per_s"]
            row["note"] = f"x{row['pages_per_s'] / base:.2f} of 1 process; {len(pdfs)} PDFs"
        rows.append(row)
    return rows


def cold_query(
    s: Settings, index_dir: Path, query: str = "barnefattigdom", extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Wall time and peak RSS of ``plansok query QUERY --index DIR`` in a new
    process (import, open, first query, print), the median of a few runs. The
    process is ``plansok.cli.main`` run as the console script runs it, and
    reports its own peak (VmHWM) on exit."""
    cmd = [sys.executable, "-c", COLD_MAIN, "query", query, "--index", str(index_dir), *extra]
    runs, rss, hits = [], [], 0
    for _ in range(s.cold_runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=one_core_env(), capture_output=True, text=True, timeout=600, cwd=REPO)
        runs.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200], "runs_s": runs}
        peak = re.search(r"^PLANSOK_BENCH_VmHWM:\s+(\d+) kB", proc.stderr, flags=re.MULTILINE)
        rss.append(int(peak.group(1)) / 1024 if peak else float("nan"))
        hits = len(re.findall(r"^\s*\d+\. ", proc.stdout, flags=re.MULTILINE))
    return {
        "runs_s": runs,
        "median_s": statistics.median(runs),
        "rss_mb": rss,
        "median_rss_mb": statistics.median(rss),
        "hits": hits,
        "query": query,
    }


# ``plansok`` itself (the console script imports plansok.cli and calls main),
# then its own peak memory on stderr.
COLD_MAIN = """
import sys
try:
    from plansok.cli import main
    code = main()
finally:
    with open("/proc/self/status") as fh:
        sys.stderr.write("".join("PLANSOK_BENCH_" + line for line in fh if line.startswith("VmHWM")))
sys.exit(code)
"""


# -- scaled corpora --------------------------------------------------------------------------
def _peer_skip(system: str, n: int, done: list[dict[str, Any]]) -> str | None:
    """Why a peer (rank_bm25, bm25s) should not run at ``n`` passages,
    extrapolating linearly from the largest size it already ran at in this
    run (above 1M without one, from its footprint at 1M, ``PEER_AT_1M``):
    more than 8 GB on a machine others share, or (rank_bm25) more than 10
    minutes; None to run it."""
    prev = [
        (sz["n"], r)
        for sz in done
        for r in sz["rows"]
        if r["system"] == system and not r.get("error") and not r.get("skipped")
    ]
    source = ""
    if prev:
        n0, r = max(prev, key=lambda x: x[0])
    elif n > 1_000_000 and system in PEER_AT_1M:
        n0, r, source = 1_000_000, PEER_AT_1M[system], " (from its footprint at 1M)"
    else:
        return None
    f = n / n0
    mem = r["peak_rss_mb"] * f
    secs = (r["build_s"] + r["prepare_s"]) * f + 20 * r["p50_ms"] * f / 1000
    if mem > RANK_BM25_MAX_MB:
        return f"would need ~{mem / 1024:.0f} GB{source}"
    if system == "rank_bm25" and secs > RANK_BM25_MAX_S:
        return f"would take ~{secs / 60:.0f} min{source}"
    return None


def _rank_row(system: str, n: int, r: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"system": system, "label": LABELS[system], **r}
    if r.get("error") or r.get("skipped"):
        return row
    row["passages_per_s"] = n / r["build_s"] if r["build_s"] else float("nan")
    notes = []
    if "arrays_mb" in r:
        notes.append(f"arrays {r['arrays_mb']:.0f} MB")
    if "disk_mb" in r:
        notes.append(f"{r['disk_mb']:.0f} MB on disk")
    if "segments" in r:
        notes.append(f"{r['segments']} segment(s)")
    if system == "bm25s":
        notes.append("numba not installed")
    row["note"] = ", ".join(notes)
    return row


def _full_row(n: int, w: dict[str, Any], q: dict[str, Any], cold: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"system": "plansok-full", "label": LABELS["plansok-full"]}
    if w.get("error") or q.get("error"):
        row["error"] = w.get("error") or q.get("error")
        return row
    row.update(q)
    row.update(
        {
            "build_s": w["build_s"],
            "passages_per_s": n / w["build_s"],
            "write_peak_rss_mb": w["peak_rss_mb"],
            "write_input_mb": w.get("input_mb", 0.0),
            "disk_mb": w["disk_mb"],
            "segments_mb": w["segments_mb"],
            "segments": w["segments"],
            "cold": cold,
        }
    )
    cold_note = (
        f"cold query {cold['median_s']:.2f} s, {cold['median_rss_mb']:.0f} MB"
        if cold.get("median_s")
        else f"cold query: {cold.get('error', 'not run')}"
    )
    alone = cold.get("search_only") or {}
    if alone.get("median_s"):
        cold_note += f" ({alone['median_s']:.2f} s, {alone['median_rss_mb']:.0f} MB with --include-references)"
    filtered_note = (
        f"p50 {q['filtered_p50_ms']:.1f} ms filtered to {q['filtered_by']}; " if q.get("filtered_p50_ms") else ""
    )
    row["note"] = (
        f"open {q['load_s'] * 1000:.0f} ms, 1st query {q['first_query_s'] * 1000:.0f} ms; {filtered_note}{cold_note}; "
        f"write peak {w['peak_rss_mb']:.0f} MB ({w.get('input_mb', 0):.0f} MB of it the bench's input); "
        f"on disk {w['disk_mb']:.0f} MB "
        f"({w['segments_mb']:.0f} MB postings in {w['segments']} segment(s))"
    )
    return row


def _agreement(rows: list[dict[str, Any]]) -> str | None:
    """plansok's top-10 scores against an exact BM25 computed from the corpus
    tokens in numpy, apart from plansok's code (scores, not rows: copies of a
    passage tie, and which of them makes the tenth place is arbitrary)."""
    import numpy as np

    by = {r["system"]: r for r in rows if not r.get("error") and not r.get("skipped")}
    if "plansok" not in by or "reference" not in by["plansok"]:
        return None
    a, b = by["plansok"]["check"], by["plansok"]["reference"]
    same = sum(
        len(x["scores"]) == len(y["scores"]) and bool(np.allclose(x["scores"], y["scores"], rtol=1e-4, atol=1e-5))
        for x, y in zip(a, b)
    )
    return f"{same}/{len(a)} queries equal"


def bench_size(
    n: int,
    s: Settings,
    sample: Any,
    sample_json: Path,
    queries: tuple[list[list[str]], list[str]],
    done: list[dict[str, Any]],
) -> dict[str, Any]:
    from plansok.bench.data import scale

    t0 = time.perf_counter()
    corpus = scale(sample, n)
    path = s.work / f"scaled-{n}.npz"
    corpus.save(path)
    info = {
        "n": n,
        "label": size_label(n),
        "tokens_per_passage": corpus.n_tokens / corpus.n,
        "vocab": len(corpus.vocab),
        "n_query_texts": len(queries[1]),
        "scale_s": time.perf_counter() - t0,
    }
    del corpus
    rows = []
    term_queries, text_queries = queries
    for system in ("plansok", *PEERS):
        if system not in s.systems:
            continue
        skip = _peer_skip(system, n, done) if system in ("rank_bm25", "bm25s") else None
        if skip:
            rows.append({"system": system, "label": LABELS[system], "skipped": skip})
            continue
        spec = {
            "task": "rank",
            "system": system,
            "corpus": str(path),
            "queries": term_queries,
            "n_queries": s.n_queries,
            "warmup": s.warmup,
            "budget_s": s.budget_s,
        }
        rows.append(_rank_row(system, n, run_worker(spec, s, f"{system}-{n}")))
    if "plansok-full" in s.systems:
        index_dir = s.work / f"full-{n}"
        w = run_worker(
            {
                "task": "write",
                "corpus": str(path),
                "sample": str(sample_json),
                "index": str(index_dir),
            },
            s,
            f"write-{n}",
        )
        cold = {} if w.get("error") else cold_query(s, index_dir, text_queries[0])
        if cold.get("median_s"):
            # Without sorting out reference lists and contents pages among all the
            # matches (which reads every matching passage): the search alone.
            cold["search_only"] = cold_query(s, index_dir, text_queries[0], ("--include-references",))
        q = (
            {}
            if w.get("error")
            else run_worker(
                {
                    "task": "full",
                    "index": str(index_dir),
                    "queries": text_queries,
                    "n_queries": s.n_queries,
                    "warmup": s.warmup,
                    "budget_s": s.budget_s,
                },
                s,
                f"full-{n}",
            )
        )
        rows.insert(1, _full_row(n, w, q, cold))
        shutil.rmtree(index_dir, ignore_errors=True)
    path.unlink(missing_ok=True)
    info["rows"] = rows
    info["agreement"] = _agreement(rows)
    return info


# -- the whole run ----------------------------------------------------------------------------
def run_bench(s: Settings) -> dict[str, Any]:
    from plansok.bench.data import Corpus, extract_sample, make_queries
    from plansok.bench.report import check_targets

    sample_index = s.work / "sample-index"
    res: dict[str, Any] = {
        "machine": {
            "cpu": s.cpu,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "platform": platform.platform(),
        },
        "settings": {"sizes": s.sizes, "n_queries": s.n_queries, "pdfs": [str(p) for p in s.pdfs]},
    }
    res["ingest"] = bench_ingest(s, sample_index)
    if res["ingest"][0].get("error"):
        raise RuntimeError(f"plansok ingest failed: {res['ingest'][0]['error']}")
    res["cold_query"] = cold_query(s, sample_index)
    res["scaling"] = bench_scaling(s)
    meta = extract_sample(sample_index, s.work)
    sample = Corpus.load(s.work / "sample.npz")
    res["corpus"] = {
        "pdfs": len(s.pdfs),
        "pages": res["ingest"][0]["pages"],
        "passages": sample.n,
        "tokens_per_passage": sample.n_tokens / max(sample.n, 1),
        "vocab": len(sample.vocab),
        "documents": len(meta["docs"]),
    }
    queries = make_queries(sample)
    res["queries"] = queries[1]
    res["sizes"] = []
    for n in s.sizes:
        logger.info("size %s", size_label(n))
        res["sizes"].append(bench_size(n, s, sample, s.work / "sample.json", queries, res["sizes"]))
    res["targets"] = check_targets(res)
    return res


def _clean(obj: Any) -> Any:
    """JSON without NaN and without the per-query check lists."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in ("check", "reference")}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    cpu = pin_one_core()
    tmp = None
    if args.workdir:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="plansok-bench-")
        work = Path(tmp)
    try:
        s = settings_from(args, work, cpu)
        if not s.pdfs:
            logger.error("no PDFs found (corpus/*.pdf, $PLANSOK_SHARED or ../shared/corpus); use --pdfs")
            return 2
        t0 = time.perf_counter()
        res = _clean(run_bench(s))
        res["total_s"] = time.perf_counter() - t0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.save:
        args.save.write_text(json.dumps(res, ensure_ascii=False, indent=2))
    if args.json:
        json.dump(res, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        from plansok.bench.report import format_table

        print(format_table(res))
        print(f"(total {res['total_s']:.0f} s)")
    return 0
