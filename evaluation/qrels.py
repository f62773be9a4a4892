"""Load the development evaluation sets (``*.queries.tsv`` / ``*.qrels.tsv``).

Format (see ``shared/eval/README.md``):

- ``<set>.queries.tsv``: ``qid <TAB> query [<TAB> note]``; lines starting with ``#`` are comments.
- ``<set>.qrels.tsv``: ``qid <TAB> document <TAB> PDF page <TAB> grade``. The document is the PDF
  file stem, the page the physical 1-based PDF page; grade 2 = substantially about the topic,
  1 = partly, 0 = judged not relevant. Unjudged pages count as not relevant.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PageKey = tuple[str, int]  # (document = PDF file stem, physical 1-based page)

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_shared_dir() -> Path:
    """The shared data folder: ``$PLANSOK_SHARED``, else ``<repo>/../shared``."""
    env = os.environ.get("PLANSOK_SHARED")
    return Path(env).expanduser() if env else (REPO_ROOT.parent / "shared").resolve()


def default_eval_dir() -> Path:
    """The judgments folder: ``$PLANSOK_EVAL_DIR``, else ``<shared>/eval``."""
    env = os.environ.get("PLANSOK_EVAL_DIR")
    return Path(env).expanduser() if env else default_shared_dir() / "eval"


def default_pdf_dir() -> Path:
    return default_shared_dir() / "corpus" / "pdf"


def default_thesis_pdf() -> Path:
    return default_shared_dir() / "corpus" / "reports" / "thesis.pdf"


@dataclass
class Query:
    qid: str
    text: str
    note: str = ""  # the assessors' notion of relevance, where given


@dataclass
class EvalSet:
    """One evaluation set: its queries and the graded page judgments per query."""

    name: str
    queries: list[Query]
    qrels: dict[str, dict[PageKey, int]] = field(default_factory=dict)

    @property
    def documents(self) -> set[str]:
        """Every document that appears in the judgments."""
        return {doc for judged in self.qrels.values() for doc, _ in judged}

    def judged(self, qid: str) -> dict[PageKey, int]:
        return self.qrels.get(qid, {})


def _rows(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rows.append([c.strip() for c in line.split("\t")])
    return rows


def load_queries(path: Path) -> list[Query]:
    queries = []
    for n, row in enumerate(_rows(path), 1):
        if len(row) < 2 or not row[1]:
            raise ValueError(f"{path}: row {n}: expected 'qid<TAB>query', got {row!r}")
        queries.append(Query(qid=row[0], text=row[1], note=row[2] if len(row) > 2 else ""))
    return queries


def load_qrels(path: Path) -> dict[str, dict[PageKey, int]]:
    qrels: dict[str, dict[PageKey, int]] = {}
    for n, row in enumerate(_rows(path), 1):
        if len(row) < 4:
            raise ValueError(f"{path}: row {n}: expected 'qid<TAB>doc<TAB>page<TAB>grade'")
        qid, doc, page, grade = row[0], row[1], int(row[2]), int(row[3])
        judged = qrels.setdefault(qid, {})
        key = (doc, page)
        if key in judged and judged[key] != grade:
            log.warning(
                "%s: %s %s judged twice (%d, %d); keeping the higher grade",
                path.name,
                qid,
                key,
                judged[key],
                grade,
            )
            grade = max(grade, judged[key])
        judged[key] = grade
    return qrels


def with_extra_judgments(eval_sets: dict[str, EvalSet], extra_dir: Path) -> dict[str, EvalSet]:
    """Add a set ``<name>+extra`` for each ``<extra_dir>/<name>.extra.qrels.tsv``:
    the official judgments plus supplementary ones for pages outside the
    official pool (the official grade wins where both exist). Pooled judgments
    under-score a system that finds pages the pooled systems did not; this
    shows by how much."""
    out = dict(eval_sets)
    for name, es in eval_sets.items():
        path = Path(extra_dir) / f"{name}.extra.qrels.tsv"
        if not path.is_file():
            continue
        merged = {qid: dict(judged) for qid, judged in es.qrels.items()}
        for qid, judged in load_qrels(path).items():
            target = merged.setdefault(qid, {})
            for key, grade in judged.items():
                target.setdefault(key, grade)
        out[f"{name}+extra"] = EvalSet(f"{name}+extra", es.queries, merged)
    return out


def load_pagemap(path: Path) -> dict[PageKey, PageKey]:
    """PDF page -> page unit, from ``pagemap.json``.

    Format: ``{doc: {"pages": {unit: {"pdf_pages": [..]}}}}``.

    Some source pages were rendered as two or three PDF pages; the pagemap groups those PDF pages
    into one unit (keyed by the source page number). The README's reference recall for the plans
    was computed on these units; the judgments and the default metrics use physical PDF pages.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    mapping: dict[PageKey, PageKey] = {}
    for doc, entry in data.items():
        for unit, info in entry.get("pages", {}).items():
            for pdf_page in info.get("pdf_pages", []):
                mapping[(doc, int(pdf_page))] = (doc, int(unit))
    return mapping


def map_judgments(judged: dict[PageKey, int], unit_of: dict[PageKey, PageKey]) -> dict[PageKey, int]:
    """Re-key judgments to page units; a unit gets the highest grade of its pages."""
    out: dict[PageKey, int] = {}
    for page, grade in judged.items():
        unit = unit_of.get(page, page)
        out[unit] = max(grade, out.get(unit, grade))
    return out


def load_eval_set(eval_dir: Path, name: str) -> EvalSet:
    eval_dir = Path(eval_dir)
    queries = load_queries(eval_dir / f"{name}.queries.tsv")
    qrels = load_qrels(eval_dir / f"{name}.qrels.tsv")
    qids = {q.qid for q in queries}
    for qid in sorted(set(qrels) - qids):
        log.warning("%s: judgments for unknown query %s ignored", name, qid)
        del qrels[qid]
    for q in queries:
        if not any(g > 0 for g in qrels.get(q.qid, {}).values()):
            log.warning("%s: query %s has no relevant page; it scores 0", name, q.qid)
    return EvalSet(name=name, queries=queries, qrels=qrels)


def load_eval_sets(eval_dir: Path | None = None, names: list[str] | None = None) -> dict[str, EvalSet]:
    """All sets in ``eval_dir`` that have both a queries and a qrels file, sorted by name."""
    eval_dir = Path(eval_dir) if eval_dir else default_eval_dir()
    if not eval_dir.is_dir():
        raise FileNotFoundError(f"evaluation folder not found: {eval_dir}")
    found = sorted(
        p.name[: -len(".queries.tsv")]
        for p in eval_dir.glob("*.queries.tsv")
        if (eval_dir / p.name.replace(".queries.tsv", ".qrels.tsv")).is_file()
    )
    if names is not None:
        missing = [n for n in names if n not in found]
        if missing:
            raise FileNotFoundError(f"no evaluation set {missing} in {eval_dir} (have {found})")
        found = [n for n in found if n in names]
    return {name: load_eval_set(eval_dir, name) for name in found}


# --------------------------------------------------------------------------- the suite: held-out first

DATA_DIR = Path(__file__).resolve().parent / "data"
PARTS = ("heldout", "tuning")


def load_split(path: Path) -> dict[tuple[str, str], str]:
    """``(set, qid) -> "heldout" | "tuning"`` from ``split.tsv``."""
    return {(r[0], r[1]): r[2] for r in _rows(path) if len(r) >= 3}


def _maybe_queries(path: Path) -> list[Query]:
    return load_queries(path) if path.is_file() else []


def load_suite(eval_dir: Path | None = None, data_dir: Path = DATA_DIR) -> dict[str, EvalSet]:
    """The development sets and the repository's new judged queries, split into
    held-out and tuning parts, each typed in bokmål and as a nynorsk writer types it.

    Sets are named ``<base> <part>`` and ``<base> <part> nn`` (e.g. ``plans heldout nn``);
    held-out sets come first. Judgments: the shared qrels, the supplementary
    ``<base>.extra.qrels.tsv`` and the new queries' ``<base>.new.qrels.tsv``."""
    eval_dir = Path(eval_dir) if eval_dir else default_eval_dir()
    split = load_split(data_dir / "split.tsv")
    out: dict[str, EvalSet] = {}
    suite: dict[str, tuple[list[Query], list[Query], dict[str, dict[PageKey, int]]]] = {}
    for base in ("plans", "thesis"):
        nb = _maybe_queries(eval_dir / f"{base}.queries.tsv") + _maybe_queries(data_dir / f"{base}.new.queries.tsv")
        nn = _maybe_queries(eval_dir / f"{base}.queries.nn.tsv") + _maybe_queries(
            data_dir / f"{base}.new.queries.nn.tsv"
        )
        qrels: dict[str, dict[PageKey, int]] = {}
        for path in (eval_dir / f"{base}.qrels.tsv", data_dir / f"{base}.new.qrels.tsv"):
            if path.is_file():
                for qid, judged in load_qrels(path).items():
                    qrels.setdefault(qid, {}).update(judged)
        extra = data_dir / f"{base}.extra.qrels.tsv"
        if extra.is_file():
            for qid, judged in load_qrels(extra).items():
                for key, grade in judged.items():
                    qrels.setdefault(qid, {}).setdefault(key, grade)
        suite[base] = (nb, nn, qrels)
    for part in PARTS:
        for base, (nb, nn, qrels) in suite.items():
            for suffix, queries in (("", nb), (" nn", nn)):
                chosen = [q for q in queries if split.get((base, q.qid)) == part and q.qid in qrels]
                if chosen:
                    name = f"{base} {part}{suffix}"
                    out[name] = EvalSet(name, chosen, {q.qid: qrels[q.qid] for q in chosen})
    return out
