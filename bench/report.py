"""The benchmark table, and the targets it checks."""

from __future__ import annotations

import math
from typing import Any

TARGETS_TEXT = {
    "ingest": "plansok ingest >= 50 pages/s",
    "tagging": "tagging adds <= 30% to ingest (index build) time",
    "rank_100k": "ranking p50 <= 1 ms at 100k",
    "rank_1M": "ranking p50 <= 10 ms at 1M",
    "full_1M": "full query (top 10, snippets, citations) p50 <= 30 ms at 1M",
    "mem_1M": "index memory at 1M < 2 GB",
    "cold": "cold `plansok query` on the sample corpus <= 1.5 s",
}


def _num(v: Any, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def _row(cells: list[str], widths: list[int]) -> str:
    """First and last column left-aligned (names, notes), numbers right-aligned."""
    first = cells[0].ljust(widths[0])
    mid = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1])]
    return "  ".join([first, *mid, cells[-1]]).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), _row(["-" * w for w in widths], widths)]
    lines += [_row(r, widths) for r in rows]
    return lines


def ingest_lines(rows: list[dict[str, Any]]) -> list[str]:
    header = ["ingest / extraction", "pages", "seconds", "pages/s", "peak RSS MB", "note"]
    body = []
    for r in rows:
        if r.get("error"):
            body.append([r["label"], "-", "-", "-", "-", f"error: {r['error']}"])
            continue
        body.append(
            [
                r["label"],
                str(r["pages"]),
                _num(r["seconds"], ".2f"),
                _num(r["pages_per_s"], ".1f"),
                _num(r.get("peak_rss_mb"), ".0f"),
                r.get("note", ""),
            ]
        )
    return _table(header, body)


def size_lines(size: dict[str, Any]) -> list[str]:
    header = [
        "system",
        "build s",
        "passages/s",
        "index MB",
        "peak RSS MB",
        "p50 ms",
        "p95 ms",
        "queries",
        "note",
    ]
    body = []
    for r in size["rows"]:
        if r.get("skipped") or r.get("error"):
            why = f"skipped ({r['skipped']})" if r.get("skipped") else f"error: {r['error']}"
            body.append([r["label"], "-", "-", "-", "-", "-", "-", "-", why])
            continue
        body.append(
            [
                r["label"],
                _num(r["build_s"], ".2f"),
                _num(r["passages_per_s"], ",.0f"),
                _num(r["index_mb"], ".0f"),
                _num(r["peak_rss_mb"], ".0f"),
                _num(r["p50_ms"], ".3f"),
                _num(r["p95_ms"], ".3f"),
                str(r["n_queries"]),
                r.get("note", ""),
            ]
        )
    return _table(header, body)


def format_table(res: dict[str, Any]) -> str:
    m, c = res["machine"], res["corpus"]
    out = [
        f"plansok bench — one core (pinned to CPU {m['cpu']} of {m['cpus']}; "
        f"OMP/OPENBLAS/numba threads = 1), {m['date']}, Python {m['python']}",
        f"sample corpus: {c['pdfs']} PDFs, {c['pages']} pages, {c['passages']} passages, "
        f"{c['tokens_per_passage']:.1f} terms/passage, {c['vocab']:,} terms",
        "",
    ]
    out += ingest_lines(res["ingest"])
    if res.get("scaling"):
        out += ["", "scaling (all cores; start-up of processes included, of the Dask cluster not)"]
        out += ingest_lines(res["scaling"])
    for size in res["sizes"]:
        out += [
            "",
            f"@ {size['label']} passages ({size['tokens_per_passage']:.1f} terms/passage, "
            f"{size['vocab']:,} terms; {size['n_query_texts']} distinct queries, top 10)",
        ]
        out += size_lines(size)
        if size.get("agreement"):
            out.append(f"  plansok vs rank_bm25 top-10 scores: {size['agreement']}")
        full = next(
            (r for r in size["rows"] if r["system"] == "plansok-full" and r.get("per_query_ms")),
            None,
        )
        if full:
            slow = sorted(full["per_query_ms"].items(), key=lambda kv: -kv[1])[:4]
            out.append("  slowest plansok full queries (median ms): " + ", ".join(f"{q!r} {ms:.1f}" for q, ms in slow))
    cold = res.get("cold_query") or {}
    if cold.get("error"):
        out += ["", f"cold `plansok query barnefattigdom --index <sample>`: error: {cold['error']}"]
    elif cold:
        runs = ", ".join(f"{t:.2f}" for t in cold.get("runs_s", []))
        out += [
            "",
            "cold `plansok query barnefattigdom --index <sample>`: "
            f"median {_num(cold.get('median_s'), '.2f')} s "
            f"(runs: {runs}; {cold.get('hits', '?')} hits)",
        ]
    if res.get("targets"):
        out += ["", "targets:"]
        for t in res["targets"]:
            mark = "ok  " if t["ok"] else ("MISS" if t["ok"] is False else "n/a ")
            out.append(f"  [{mark}] {t['target']}: {t['value']}")
    out += [
        "",
        "notes: plansok (ranking) = BM25.from_counts + top_k on the same terms as the peers.",
        "  plansok (full query) = on-disk index write (= build), then Index.search(k=10): query",
        "  analysis, page context, folding, snippets, citations, tags; index MB = loaded, after 1st query.",
        "  index MB = RSS after build minus before (input held); each system in its own process.",
    ]
    return "\n".join(out)


def _find(res: dict[str, Any], label: str, system: str) -> dict[str, Any] | None:
    for size in res["sizes"]:
        if size["label"] == label:
            for r in size["rows"]:
                if r["system"] == system and not r.get("error") and not r.get("skipped"):
                    return r
    return None


def check_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(key: str, value: float | None, ok_if: bool | None, fmt: str) -> None:
        shown = "not measured" if value is None else fmt.format(value)
        out.append({"key": key, "target": TARGETS_TEXT[key], "value": shown, "ok": ok_if})

    ing = next((r for r in res["ingest"] if r["system"] == "plansok" and not r.get("error")), None)
    rate = ing["pages_per_s"] if ing else None
    add("ingest", rate, None if rate is None else rate >= 50, "{:.1f} pages/s")
    plain = next((r for r in res["ingest"] if r["system"] == "plansok-untagged" and not r.get("error")), None)
    cost = plain.get("tagging_overhead") if plain else None
    add("tagging", None if cost is None else cost * 100, None if cost is None else cost <= 0.30, "{:+.0f}%")
    for key, label, system, limit, field in (
        ("rank_100k", "100k", "plansok", 1.0, "p50_ms"),
        ("rank_1M", "1M", "plansok", 10.0, "p50_ms"),
        ("full_1M", "1M", "plansok-full", 30.0, "p50_ms"),
    ):
        r = _find(res, label, system)
        v = r[field] if r else None
        add(key, v, None if v is None else v <= limit, "{:.3f} ms")
    r = _find(res, "1M", "plansok-full")
    v = r["index_mb"] if r else None
    add(
        "mem_1M",
        v,
        None if v is None else v < 2048,
        "{:.0f} MB loaded (peak RSS " + (f"{r['peak_rss_mb']:.0f} MB)" if r else "-)"),
    )
    cold = (res.get("cold_query") or {}).get("median_s")
    add("cold", cold, None if cold is None else cold <= 1.5, "{:.2f} s")
    return out
