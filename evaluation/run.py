"""The evaluation command: score plansok and the reference systems on the judged query sets.

Usage (until ``plansok eval`` is wired into the CLI)::

    python -m plansok.evaluation.run                 # all systems, default shared data
    python -m plansok.evaluation.run --systems plansok,bm25s -o expand=false --verbose
    python -m plansok.evaluation.run /path/to/eval --index /tmp/idx --json

Sets: ``plans`` is evaluated over the PDFs in ``pdf_dir``, ``thesis`` (any set whose name starts
with "thesis") over the thesis PDF only. plansok runs against one index holding both, with a
``Filters(doc_ids=...)`` restricting each query to its set's documents.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metrics import Scores, dedupe_pages, mean_scores, score_ranking
from .qrels import (
    EvalSet,
    PageKey,
    Query,
    default_eval_dir,
    default_pdf_dir,
    default_thesis_pdf,
    load_eval_sets,
    load_pagemap,
    load_suite,
    map_judgments,
    with_extra_judgments,
)
from .reference import REFERENCE_DESCRIPTIONS, REFERENCE_SYSTEMS, build_reference_system

log = logging.getLogger(__name__)

PLANSOK = "plansok"
ALL_SYSTEMS = [PLANSOK, *REFERENCE_SYSTEMS]
DEFAULT_SYSTEMS = [PLANSOK, "rank_bm25", "bm25s", "tantivy"]
SEARCH_DEPTH = 100  # ranked pages scored per query (recall@100)
# plansok returns passages; several can share a page, so it is asked for more
# passages than pages are scored, and the list is cut after page de-duplication.
PASSAGE_DEPTH = 1000
UNITS = ("pdf", "pagemap")


# --------------------------------------------------------------------------- report


@dataclass
class SystemRun:
    """One system on one evaluation set."""

    system: str
    set_name: str
    mean: Scores
    per_query: dict[str, Scores]
    description: str = ""
    build_seconds: float = 0.0  # reference index build, or plansok ingest (shared by sets)
    search_seconds: float = 0.0  # all queries of the set

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "set": self.set_name,
            "description": self.description,
            "mean": _rounded(self.mean.to_dict()),
            "per_query": {qid: _rounded(s.to_dict()) for qid, s in self.per_query.items()},
            "build_seconds": round(self.build_seconds, 3),
            "search_seconds": round(self.search_seconds, 3),
        }


@dataclass
class EvalReport:
    queries: dict[str, list[Query]]  # set name -> its queries, in file order
    runs: list[SystemRun] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def set_names(self) -> list[str]:
        return list(self.queries)

    def runs_for(self, set_name: str) -> list[SystemRun]:
        return [r for r in self.runs if r.set_name == set_name]

    def get(self, set_name: str, system: str) -> SystemRun:
        for r in self.runs:
            if r.set_name == set_name and r.system == system:
                return r
        raise KeyError((set_name, system))

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "sets": {
                name: {
                    "queries": [{"qid": q.qid, "query": q.text} for q in qs],
                    "systems": {r.system: r.to_dict() for r in self.runs_for(name)},
                }
                for name, qs in self.queries.items()
            },
        }


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


# --------------------------------------------------------------------------- running


def default_index_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "plansok" / "eval-index"


def expand_systems(systems: Sequence[str]) -> list[str]:
    """Resolve names, accepting ``all`` and ``reference``; keeps order, drops repeats."""
    out: list[str] = []
    for name in systems:
        names = {"all": ALL_SYSTEMS, "reference": list(REFERENCE_SYSTEMS)}.get(name, [name])
        for n in names:
            if n not in ALL_SYSTEMS:
                raise ValueError(f"unknown system {n!r}; choose from {ALL_SYSTEMS} or all/reference")
            if n not in out:
                out.append(n)
    return out


def set_pdfs(set_name: str, pdf_dir: Path, thesis_pdf: Path) -> list[Path]:
    """The documents a set is evaluated against: the thesis only, or the plan PDFs."""
    if set_name.split("+")[0].startswith("thesis"):
        return [thesis_pdf]
    return sorted(pdf_dir.glob("*.pdf"))


def _ranking(pages: list[PageKey], unit_of: dict[PageKey, PageKey] | None) -> list[PageKey]:
    if not unit_of:
        return pages
    seen: set[PageKey] = set()
    out = []
    for p in pages:
        u = unit_of.get(p, p)
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def _score_set(
    eval_set: EvalSet,
    rankings: dict[str, list[PageKey]],
    unit_of: dict[PageKey, PageKey] | None,
) -> dict[str, Scores]:
    per_query = {}
    for q in eval_set.queries:
        judged = eval_set.judged(q.qid)
        if unit_of:
            judged = map_judgments(judged, unit_of)
        per_query[q.qid] = score_ranking(_ranking(rankings[q.qid], unit_of), judged)
    return per_query


def _open_plansok(index_dir: Path | None, pdfs: list[Path], ingest: bool, ocr: bool = False) -> tuple[Any, Any, dict]:
    try:  # the public API; imported late so tests can fake it
        from plansok.api import Filters, Index
    except ImportError as exc:
        raise RuntimeError(
            f"plansok's search API is not available ({exc}); evaluate the reference systems "
            "only with --systems reference"
        ) from exc

    index_dir = Path(index_dir) if index_dir else default_index_dir()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"index_dir": str(index_dir)}
    idx = Index.open(index_dir, create=True)
    if ingest:
        t0 = time.perf_counter()
        report = idx.ingest(pdfs, progress=True, ocr=ocr)
        info["ingest_seconds"] = round(time.perf_counter() - t0, 3)
        failed = [(str(p), str(reason)) for p, reason in (getattr(report, "failed", None) or [])]
        for path, reason in failed:
            log.warning("plansok could not ingest %s: %s", path, reason)
        info["ingest_failed"] = failed
    return idx, Filters, info


def plansok_pages(hits: Sequence[Any]) -> list[PageKey]:
    """Ranked pages of plansok's hits. A hit that folded near-duplicates shows
    their locations with it, so they rank right after it."""
    keys: list[PageKey] = []
    for h in hits:
        keys.append((h.passage.doc_id, h.passage.page_start))
        keys.extend((a["doc_id"], a["page"]) for a in getattr(h, "also_in", []) or [])
    return dedupe_pages(keys)


def run_evaluation(
    index_dir: Path | None,
    eval_dir: Path,
    pdf_dir: Path,
    thesis_pdf: Path,
    systems: list[str],
    options: dict[str, Any] | None = None,
    *,
    sets: list[str] | None = None,
    units: str = "pdf",
    ingest: bool = True,
    extra_qrels: Path | None = None,
    split: bool = False,
    ocr: bool = False,
) -> EvalReport:
    """Evaluate ``systems`` on every query set in ``eval_dir``.

    ``index_dir``: plansok index to search (None: a cache folder, ``~/.cache/plansok/eval-index``).
    Unless ``ingest`` is False, the plan PDFs and the thesis are ingested into it first (a no-op
    for unchanged files). ``options`` are passed to ``Index.search`` as ranking options.
    ``units="pagemap"`` scores on the page units of ``<pdf_dir>/pagemap.json`` (how the README's
    plan recall numbers were computed) instead of physical PDF pages.
    """
    options = dict(options or {})
    systems = expand_systems(systems)
    if units not in UNITS:
        raise ValueError(f"units must be one of {UNITS}")
    pdf_dir, thesis_pdf, eval_dir = Path(pdf_dir), Path(thesis_pdf), Path(eval_dir)
    if split:
        eval_sets = load_suite(eval_dir)
        if sets is not None:
            eval_sets = {k: v for k, v in eval_sets.items() if k in sets or k.split()[0] in sets}
    else:
        eval_sets = load_eval_sets(eval_dir, sets)
    if not eval_sets:
        raise FileNotFoundError(f"no *.queries.tsv/*.qrels.tsv pairs in {eval_dir}")
    if extra_qrels:
        eval_sets = with_extra_judgments(eval_sets, Path(extra_qrels))
    pdfs_by_set = {name: set_pdfs(name, pdf_dir, thesis_pdf) for name in eval_sets}
    for name, pdfs in pdfs_by_set.items():
        missing = [p for p in pdfs if not p.is_file()]
        if not pdfs or missing:
            raise FileNotFoundError(f"set {name}: no PDFs to evaluate against ({missing or pdf_dir})")
        stems = {p.stem for p in pdfs}
        unknown = eval_sets[name].documents - stems
        if unknown:
            log.warning("set %s: judgments name documents not among its PDFs: %s", name, sorted(unknown))

    unit_of: dict[PageKey, PageKey] | None = None
    if units == "pagemap":
        pagemap = pdf_dir / "pagemap.json"
        unit_of = load_pagemap(pagemap) if pagemap.is_file() else {}
        if not unit_of:
            log.warning("no %s; scoring on PDF pages", pagemap)

    report = EvalReport(
        queries={name: es.queries for name, es in eval_sets.items()},
        meta={
            "eval_dir": str(eval_dir),
            "pdf_dir": str(pdf_dir),
            "thesis_pdf": str(thesis_pdf),
            "systems": systems,
            "options": options,
            "units": units,
            "ocr": ocr,
            "search_depth": SEARCH_DEPTH,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )

    for system in systems:
        if system == PLANSOK:
            all_pdfs = sorted({p.resolve() for pdfs in pdfs_by_set.values() for p in pdfs})
            idx, filters_cls, info = _open_plansok(index_dir, all_pdfs, ingest, ocr)
            report.meta["plansok"] = info
            for name, es in eval_sets.items():
                doc_ids = sorted({p.stem for p in pdfs_by_set[name]})
                filters = filters_cls(doc_ids=doc_ids)
                rankings = {}
                t0 = time.perf_counter()
                for q in es.queries:
                    hits = idx.search(q.text, k=PASSAGE_DEPTH, filters=filters, **options)
                    rankings[q.qid] = plansok_pages(hits)[:SEARCH_DEPTH]
                    stray = {d for d, _ in rankings[q.qid]} - set(doc_ids)
                    if stray:
                        log.warning("%s %s: hits outside the filter: %s", name, q.qid, sorted(stray))
                elapsed = time.perf_counter() - t0
                per_query = _score_set(es, rankings, unit_of)
                report.runs.append(
                    SystemRun(
                        system=PLANSOK,
                        set_name=name,
                        mean=mean_scores(per_query.values()),
                        per_query=per_query,
                        description=f"plansok {_fmt_options(options)}".strip(),
                        build_seconds=info.get("ingest_seconds", 0.0),
                        search_seconds=elapsed,
                    )
                )
        else:
            for name, es in eval_sets.items():
                t0 = time.perf_counter()
                ref = build_reference_system(system, pdfs_by_set[name])
                built = time.perf_counter() - t0
                t0 = time.perf_counter()
                rankings = {q.qid: ref.search(q.text, SEARCH_DEPTH) for q in es.queries}
                elapsed = time.perf_counter() - t0
                per_query = _score_set(es, rankings, unit_of)
                report.runs.append(
                    SystemRun(
                        system=system,
                        set_name=name,
                        mean=mean_scores(per_query.values()),
                        per_query=per_query,
                        description=REFERENCE_DESCRIPTIONS[system],
                        build_seconds=built,
                        search_seconds=elapsed,
                    )
                )
        log.info("evaluated %s", system)
    return report


def _fmt_options(options: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in options.items())


# --------------------------------------------------------------------------- output


def format_table(report: EvalReport, verbose: bool = False) -> str:
    """Per set: one row per system (nDCG@10, R@10, R@100, MRR@10); with ``verbose`` also one row
    per query with each system's nDCG@10."""
    lines: list[str] = []
    units = report.meta.get("units", "pdf")
    for name in report.set_names:
        runs = report.runs_for(name)
        if not runs:
            continue
        queries = report.queries[name]
        sys_w = max(12, *(len(r.system) for r in runs))
        unit_note = "" if units == "pdf" else f", {units} units"
        lines.append(f"{name} ({len(queries)} queries{unit_note})")
        lines.append(f"  {'system':<{sys_w}}  nDCG@10   R@10  R@100  MRR@10")
        for r in runs:
            m = r.mean
            lines.append(f"  {r.system:<{sys_w}}  {m.ndcg10:7.3f} {m.recall10:6.3f} {m.recall100:6.3f} {m.mrr10:7.3f}")
        if verbose:
            col_w = max(9, *(len(r.system) for r in runs))
            q_w = min(40, max(17, *(len(q.text) for q in queries)))
            lines.append("")
            lines.append(f"  {'qid':<6} {'nDCG@10 per query':<{q_w}}" + "".join(f" {r.system:>{col_w}}" for r in runs))
            for q in queries:
                text = q.text if len(q.text) <= q_w else q.text[: q_w - 1] + "…"
                lines.append(
                    f"  {q.qid:<6} {text:<{q_w}}" + "".join(f" {r.per_query[q.qid].ndcg10:>{col_w}.3f}" for r in runs)
                )
        lines.append("")
    options = report.meta.get("options")
    if options:
        lines.append(f"plansok options: {_fmt_options(options)}")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- command line


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the evaluation arguments to ``parser`` (for a ``plansok eval`` subcommand)."""
    parser.add_argument(
        "eval_dir",
        nargs="?",
        type=Path,
        default=None,
        help="folder with *.queries.tsv/*.qrels.tsv (default: $PLANSOK_EVAL_DIR or <repo>/../shared/eval)",
    )
    parser.add_argument(
        "--index", type=Path, default=None, help=f"plansok index folder (default: {default_index_dir()})"
    )
    parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="search the index as it is; do not ingest the evaluation PDFs first",
    )
    parser.add_argument("--pdf-dir", type=Path, default=None, help="the plan PDFs")
    parser.add_argument("--thesis", type=Path, default=None, help="the thesis PDF")
    parser.add_argument(
        "--systems",
        default=",".join(DEFAULT_SYSTEMS),
        help=f"comma-separated, from {ALL_SYSTEMS}, or all / reference",
    )
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: all)")
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="ranking option passed to plansok's search, e.g. -o expand=false (values parsed as JSON)",
    )
    parser.add_argument(
        "--units",
        choices=UNITS,
        default="pdf",
        help="score on physical PDF pages (default) or pagemap.json units",
    )
    parser.add_argument(
        "--extra-qrels",
        type=Path,
        default=None,
        metavar="DIR",
        help="also score sets '<name>+extra' with supplementary judgments from DIR/<name>.extra.qrels.tsv "
        "(pages outside the official pool; e.g. evaluation/data)",
    )
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="score the sets in EVAL_DIR as they are, not the held-out/tuning suite "
        "(development queries plus evaluation/data's new queries, split by evaluation/data/split.tsv)",
    )
    parser.add_argument("--ocr", action="store_true", help="ingest the evaluation PDFs with --ocr")
    parser.add_argument(
        "--scanned-every",
        type=int,
        default=0,
        metavar="N",
        help="also render the PDFs with every N-th page a scan that keeps its running header and footer as "
        "text (cached under ~/.cache/plansok), ingest those with --ocr into their own index, and print "
        "plansok's scores on both renderings side by side (try 9)",
    )
    parser.add_argument(
        "--extraction",
        action="store_true",
        help="instead of ranking, measure ingest against ground truth, held-out documents first: extraction "
        "against the source texts (corpus/plans/*.md: word recall and precision, reading order, running-line "
        "leftovers, hyphen errors per layout; with --scanned-every N also a scanned layout read by OCR), "
        "section paths against hand-made gold headings, and metadata per field on the PDFs under their real "
        "download names",
    )
    parser.add_argument("--verbose", action="store_true", help="also per-query nDCG@10")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--log-level", default="WARNING")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.extraction:
            return _run_extraction(args)
        if args.scanned_every:
            return _run_scans(args)
        report = _run_from_args(args)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_table(report, verbose=args.verbose))
    return 0


def _run_from_args(args: argparse.Namespace) -> EvalReport:
    return run_evaluation(
        index_dir=args.index,
        eval_dir=args.eval_dir or default_eval_dir(),
        pdf_dir=args.pdf_dir or default_pdf_dir(),
        thesis_pdf=args.thesis or default_thesis_pdf(),
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        options=dict(args.option),
        sets=[s.strip() for s in args.sets.split(",")] if args.sets else None,
        units=args.units,
        ingest=not args.no_ingest,
        extra_qrels=args.extra_qrels,
        split=not args.no_split and not args.extra_qrels,
        ocr=args.ocr,
    )


def _run_extraction(args: argparse.Namespace) -> int:
    from plansok.evaluation import extraction, metadata, sections

    pdf_dir = args.pdf_dir or default_pdf_dir()
    report = {
        "extraction": extraction.extraction_report(pdf_dir, scanned_every=args.scanned_every),
        "sections": sections.sections_report(pdf_dir),
        "metadata": metadata.metadata_table(pdf_dir, args.thesis or default_thesis_pdf()),
    }
    if args.json:
        report["extraction"] = {k: v for k, v in report["extraction"].items() if k != "pages"}
        sys.stdout.write(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
        return 0
    sys.stdout.write(extraction.format_report(report["extraction"]) + "\n\n")
    sys.stdout.write(sections.format_report(report["sections"]) + "\n\n")
    sys.stdout.write(metadata.format_table(report["metadata"]) + "\n")
    return 0


def scan_comparison(args: argparse.Namespace) -> dict[str, Any]:
    """plansok on the PDFs as they are and on their scanned renderings (ingested with OCR)."""
    from plansok.evaluation.scans import render_scanned, render_scanned_dir

    every = args.scanned_every
    pdf_dir = args.pdf_dir or default_pdf_dir()
    thesis = args.thesis or default_thesis_pdf()
    cache = default_index_dir().parent
    scans_dir = cache / f"scans-every-{every}"
    render_scanned_dir(pdf_dir, scans_dir, every)
    thesis_scan = scans_dir / "thesis" / thesis.name
    if not thesis_scan.is_file():
        thesis_scan.parent.mkdir(parents=True, exist_ok=True)
        render_scanned(thesis, thesis_scan, every)
    common = {
        "eval_dir": args.eval_dir or default_eval_dir(),
        "systems": [PLANSOK],
        "options": dict(args.option),
        "sets": [s.strip() for s in args.sets.split(",")] if args.sets else None,
        "units": args.units,
        "split": not args.no_split,
    }
    plain = run_evaluation(args.index, pdf_dir=pdf_dir, thesis_pdf=thesis, ocr=args.ocr, **common)
    scanned = run_evaluation(
        cache / f"eval-index-scans-every-{every}", pdf_dir=scans_dir, thesis_pdf=thesis_scan, ocr=True, **common
    )
    rows = []
    for name in plain.set_names:
        a, b = plain.get(name, PLANSOK).mean, scanned.get(name, PLANSOK).mean
        rows.append(
            {
                "set": name,
                "ndcg10": round(a.ndcg10, 4),
                "ndcg10_scanned": round(b.ndcg10, 4),
                "recall100": round(a.recall100, 4),
                "recall100_scanned": round(b.recall100, 4),
            }
        )
    return {"scanned_every": every, "scans_dir": str(scans_dir), "rows": rows}


def _run_scans(args: argparse.Namespace) -> int:
    result = scan_comparison(args)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        return 0
    every = result["scanned_every"]
    out = [
        f"plansok on the PDFs as they are and with every {every}th page a scan that keeps its running lines as text "
        "(ingested with --ocr)",
        f"  {'set':28} {'nDCG@10':>8} {'scanned':>8} {'diff':>7}  {'R@100':>7} {'scanned':>8} {'diff':>7}",
    ]
    for r in result["rows"]:
        out.append(
            f"  {r['set']:28} {r['ndcg10']:8.3f} {r['ndcg10_scanned']:8.3f} {r['ndcg10_scanned'] - r['ndcg10']:+7.3f}"
            f"  {r['recall100']:7.3f} {r['recall100_scanned']:8.3f} {r['recall100_scanned'] - r['recall100']:+7.3f}"
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="plansok-eval",
            description="Evaluate plansok and the reference systems on the judged query sets.",
        )
    )
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
