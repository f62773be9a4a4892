"""Shared helpers for the benchmark: one-core pinning, memory readings,
latency statistics, and where the sample corpus lives."""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Every library that might start a thread pool is told to use one thread.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

REPO = Path(__file__).resolve().parents[1]


def one_core_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(THREAD_ENV)
    return env


def bench_cpu() -> int:
    """The CPU the measuring processes are pinned to (the last one we may use)."""
    try:
        return max(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return 0


def pin_one_core(cpu: int | None = None) -> int | None:
    """Pin this process to one CPU and set the thread variables; returns the CPU."""
    os.environ.update(THREAD_ENV)
    cpu = bench_cpu() if cpu is None else cpu
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        return None
    return cpu


def rss_mb() -> float:
    """Current resident set size in MB (after a garbage collection)."""
    gc.collect()
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB: VmHWM, the peak of its own
    memory since exec. (ru_maxrss would count the parent's peak too: Linux keeps
    the larger of the two across the vfork and exec that start a worker.)"""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def time_queries(
    run: Callable[[Any], object],
    queries: list[Any],
    n_exec: int,
    *,
    warmup: int,
    budget_s: float,
    min_exec: int = 20,
) -> dict[str, Any]:
    """Latency of ``run(query)`` over ``n_exec`` executions cycling through
    ``queries`` after ``warmup`` untimed ones (at least one per query, so
    one-time costs such as a lexicon loaded on first use are not timed).
    Stops early (but not before ``min_exec``) when ``budget_s`` seconds have
    been spent, so a slow peer cannot blow the run time; the number actually
    run is reported, with each query's median."""
    for i in range(max(warmup, len(queries))):
        run(queries[i % len(queries)])
    times: list[float] = []
    per_query: dict[str, list[float]] = {}
    start = time.perf_counter()
    for i in range(n_exec):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        run(q)
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        per_query.setdefault(q if isinstance(q, str) else " ".join(q), []).append(ms)
        if len(times) >= min_exec and time.perf_counter() - start > budget_s:
            break
    return {
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "mean_ms": statistics.fmean(times) if times else float("nan"),
        "n_queries": len(times),
        "per_query_ms": {q: statistics.median(v) for q, v in per_query.items()},
    }


def shared_dir() -> Path:
    env = os.environ.get("PLANSOK_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def default_pdfs() -> list[Path]:
    """All PDFs in ``<repo>/corpus/`` if there are any, else the shared sample
    corpus (its plan PDFs and the thesis)."""
    local = sorted((REPO / "corpus").rglob("*.pdf")) if (REPO / "corpus").is_dir() else []
    if local:
        return local
    shared = shared_dir() / "corpus"
    pdfs = sorted((shared / "pdf").glob("*.pdf"))
    thesis = shared / "reports" / "thesis.pdf"
    if thesis.is_file():
        pdfs.append(thesis)
    return pdfs


def quick_pdfs(pdfs: list[Path], n: int = 3) -> list[Path]:
    """A few small PDFs for ``--quick``: the smallest files."""
    return sorted(pdfs, key=lambda p: p.stat().st_size)[:n]


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = 1
    if text.endswith("k"):
        mult, text = 1_000, text[:-1]
    elif text.endswith("m"):
        mult, text = 1_000_000, text[:-1]
    return int(float(text) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)
