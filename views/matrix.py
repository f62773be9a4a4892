"""Matrices: queries, tags or the researcher's own codes (rows) against
municipality, document, document type or year (columns), with municipality
statistics beside them.

A cell counts hits as :mod:`plansok.views.results` defines them: passages
the row's query matches under the filters (or that carry the row's tag, or
that the researcher coded with the row's code), reference lists and contents
pages left out unless asked for. So a query's row total is exactly the total
``plansok query`` reports for the same query and filters.

Measures:

- ``count``: hits in the column;
- ``share``: hits as a percentage of the column's passages (those the
  filters let through, reference lists and contents aside, as for the hits);
- ``rate``: hits per 10,000 words of the column's passages (words as the
  analysis tokenises them, numbers aside).

Columns ``municipality`` are today's municipalities: a plan indexed under a
number from before the 2020 or 2024 reforms counts in the column of the
municipality it became (when it became one), so statistics published for
today's municipalities sit beside it. ``year`` is the first year of a plan's
period (its adoption year when it states no period).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plansok.errors import PlansokError
from plansok.lang.no.register import fold, register
from plansok.models import DOC_TYPES, DocumentMeta
from plansok.query.filters import Filters
from plansok.query.plan import SearchOptions
from plansok.query.search import Searcher
from plansok.views.results import LEFT_OUT, facts, find_matches, left_out_text
from plansok.views.statistics import JoinedValue, StatTable, join, series_label

logger = logging.getLogger(__name__)

BY = ("municipality", "document", "type", "year")
MEASURES = ("count", "share", "rate")
MEASURE_TEXT = {
    "count": "hits (passages)",
    "share": "hits as % of the column's passages",
    "rate": "hits per 10,000 words",
}
DEFINITION = (
    "A hit is a passage the row matches under the filters (a query's words, a tag, or your code); "
    "each passage counts once, copies in other plans each in their own column. "
    "share = hits as % of the column's passages; rate = hits per 10,000 words of the column's passages."
)


class MatrixError(PlansokError):
    """A matrix that cannot be made as asked (a measure, a grouping, codes or statistics)."""


@dataclass
class MatrixColumn:
    key: str  # kommunenummer, doc_id, type or year
    label: str
    passages: int = 0
    words: int = 0
    kommunenummer: str = ""
    documents: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return f"{self.kommunenummer} {self.label}" if self.kommunenummer else self.label

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MatrixRow:
    kind: str  # "query", "tag" or "code"
    label: str
    counts: list[int]
    left_out: dict[str, int] = field(default_factory=dict)
    note: str = ""  # e.g. coded passages no longer in the index

    @property
    def total(self) -> int:
        return int(sum(self.counts))


@dataclass
class StatRow:
    """One series of a statistics table, joined to the municipality columns."""

    label: str  # the series: "Andel (prosent), 2022"
    table: str  # the table's title
    path: str
    values: list[JoinedValue | None]
    series: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "table": self.table,
            "path": self.path,
            "values": [v.to_dict() if v is not None else None for v in self.values],
        }


@dataclass
class MatrixResult:
    by: str
    measure: str
    columns: list[MatrixColumn]
    rows: list[MatrixRow]
    filters: Filters
    include_references: bool = False
    stats: list[StatRow] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)  # passages left out of the columns' sizes
    message: str | None = None  # why no row has a hit

    # -- values ----------------------------------------------------------------------
    def value(self, count: int, passages: int, words: int, measure: str | None = None) -> float | None:
        measure = measure or self.measure
        if measure == "count":
            return float(count)
        if measure == "share":
            return 100.0 * count / passages if passages else None
        return 10_000.0 * count / words if words else None

    def cell(self, row: MatrixRow, j: int, measure: str | None = None) -> float | None:
        c = self.columns[j]
        return self.value(row.counts[j], c.passages, c.words, measure)

    def total(self, row: MatrixRow, measure: str | None = None) -> float | None:
        return self.value(row.total, sum(c.passages for c in self.columns), sum(c.words for c in self.columns), measure)

    def values(self, measure: str | None = None) -> np.ndarray:
        """rows x columns of the measure (NaN where a column has no passages)."""
        out = np.full((len(self.rows), len(self.columns)), np.nan)
        for i, r in enumerate(self.rows):
            for j in range(len(self.columns)):
                v = self.cell(r, j, measure)
                if v is not None:
                    out[i, j] = v
        return out

    # -- plain rows --------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """One plain row per cell (and per statistic beside a column): every
        measure, the column's size, and for statistics where the figure came from."""
        out = []
        for r in self.rows:
            for j, c in enumerate(self.columns):
                out.append(
                    {
                        "kind": r.kind,
                        "row": r.label,
                        "column": c.label,
                        "column_key": c.key,
                        "kommunenummer": c.kommunenummer,
                        "count": r.counts[j],
                        "share": _round(self.cell(r, j, "share")),
                        "rate": _round(self.cell(r, j, "rate")),
                        "passages": c.passages,
                        "words": c.words,
                    }
                )
        for s in self.stats:
            for j, c in enumerate(self.columns):
                v = s.values[j]
                out.append(
                    {
                        "kind": "statistic",
                        "row": s.label,
                        "column": c.label,
                        "column_key": c.key,
                        "kommunenummer": c.kommunenummer,
                        "value": v.value if v else None,
                        "source": v.source if v else "",
                        "note": v.note if v else "",
                        "status": v.status if v else "not in the table",
                        "table": s.table,
                    }
                )
        return out

    def to_dataframe(self, long: bool = False) -> Any:
        """A pandas DataFrame: rows x columns of the measure, statistics below
        (``long=True``: the plain rows of :meth:`records`)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MatrixError(
                "to_dataframe() needs pandas, which plansok does not install: pip install pandas "
                "(or use result.records() for plain rows)"
            ) from exc
        if long:
            return pd.DataFrame.from_records(self.records())
        labels = [c.heading for c in self.columns]
        data = {f"{r.kind}: {r.label}": [self.cell(r, j) for j in range(len(self.columns))] for r in self.rows}
        for s in self.stats:
            data[f"statistic: {s.label}"] = [v.value if v else None for v in s.values]
        frame = pd.DataFrame.from_dict(data, orient="index", columns=labels, dtype=float)
        frame.index.name = f"{self.measure} by {self.by}"
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "measure": self.measure,
            "definition": DEFINITION,
            "filters": dataclasses.asdict(self.filters),
            "include_references": self.include_references,
            "left_out": {k: self.left_out.get(k, 0) for k in LEFT_OUT},
            "columns": [c.to_dict() for c in self.columns],
            "rows": [
                {
                    "kind": r.kind,
                    "label": r.label,
                    "counts": r.counts,
                    "values": [_round(self.cell(r, j)) for j in range(len(self.columns))],
                    "total_count": r.total,
                    "total_value": _round(self.total(r)),
                    "left_out": {k: r.left_out.get(k, 0) for k in LEFT_OUT},
                    "note": r.note,
                }
                for r in self.rows
            ],
            "statistics": [s.to_dict() for s in self.stats],
            **({"message": self.message} if self.message else {}),
        }

    # -- text ----------------------------------------------------------------------------
    def text(self) -> str:
        """The matrix for a terminal: one line per column (municipality,
        document, ...), a column per row, statistics at the right."""
        heads = [r.label for r in self.rows]
        stat_heads = short_labels([s.series or (s.label,) for s in self.stats])
        first = [c.heading for c in self.columns] + ["all"]
        w0 = min(max([len(self.by), *map(len, first)]), 46)
        cell_text = [[self._fmt(self.cell(r, j), r.counts[j]) for j in range(len(self.columns))] for r in self.rows]
        totals = [self._fmt(self.total(r), r.total) for r in self.rows]
        widths = [max(10, min(len(h), 24), len(t), *map(len, row)) for h, t, row in zip(heads, totals, cell_text)]
        swidths = [max(10, min(len(h), 24)) for h in stat_heads]
        sep = " | " if self.stats else ""
        lines = [
            f"{MEASURE_TEXT[self.measure]}, by {self.by}" + (" (count in brackets)" if self.measure != "count" else "")
        ]
        lines.append(
            f"{self.by:<{w0}}  "
            + "  ".join(f"{h[:w]:>{w}}" for h, w in zip(heads, widths))
            + sep
            + "  ".join(f"{h[:w]:>{w}}" for h, w in zip(stat_heads, swidths))
        )
        notes: list[str] = []
        for j, c in enumerate(self.columns):
            cells = [row[j] for row in cell_text]
            stats = []
            for s in self.stats:
                v = s.values[j]
                mark = ""
                if v is not None and v.note:
                    notes.append(f"{c.heading}, {s.label}: {v.source}: {v.note}")
                    mark = "*"
                stats.append(_fmt_stat(v) + mark)
            lines.append(
                f"{c.heading[:w0]:<{w0}}  "
                + "  ".join(f"{x:>{w}}" for x, w in zip(cells, widths))
                + sep
                + "  ".join(f"{x:>{w}}" for x, w in zip(stats, swidths))
            )
        lines.append(f"{'all':<{w0}}  " + "  ".join(f"{x:>{w}}" for x, w in zip(totals, widths)))
        dropped = [f"{r.label}: {left_out_text(r.left_out)}" for r in self.rows if left_out_text(r.left_out)]
        if dropped:
            sizes = left_out_text(self.left_out)
            lines.append(
                f"left out of the counts: {'; '.join(dropped)}"
                + (f" (and of the columns' sizes: {sizes})" if sizes else "")
                + "; --include-references keeps them"
            )
        for r in self.rows:
            if r.note:
                lines.append(f"{r.label}: {r.note}")
        for s, h in zip(self.stats, stat_heads):
            named = s.label if h == s.label else f"{h} = {s.label}"
            lines.append(f"statistics: {named}, from {s.table or s.path}")
        if self.stats:
            lines.append("  (- not in the table; .. . : SSB's symbols for no data, cannot occur, confidential)")
        lines.extend(f"* {n}" for n in notes)
        return "\n".join(lines)

    def _fmt(self, value: float | None, count: int) -> str:
        if self.measure == "count":
            return str(count)
        if value is None:
            return "-"
        return f"{value:.2f} ({count})"

    # -- files ---------------------------------------------------------------------------
    def write(self, path: str | Path) -> Path:
        """Write the matrix as CSV, PNG (heatmap), HTML or JSON, by the file's suffix."""
        path = Path(path)
        suffix = path.suffix.lower()
        writers = {".csv": self._csv, ".png": self.heatmap_png, ".html": self._html, ".json": self._json}
        if suffix not in writers:
            raise MatrixError(f"{path}: write .csv, .png, .html or .json (the suffix picks the format)")
        data = writers[suffix]()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
            os.replace(tmp, path)
        except OSError as exc:
            raise MatrixError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        return path

    def _about(self) -> str:
        flags = " ".join(self.filters.describe()) or "none"
        return f"# plansok matrix by {self.by}; measure {self.measure}; filters: {flags}; {DEFINITION}"

    def _csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        # A comment line as plansok's other tables have it (pandas: read_csv(path, skiprows=1)).
        buf.write(self._about() + "\r\n")
        w.writerow(["kind", "row", *[c.heading for c in self.columns], "all"])
        for r in self.rows:
            w.writerow([r.kind, r.label, *[_csv_num(self.cell(r, j)) for j in range(len(self.columns))],
                        _csv_num(self.total(r))])  # fmt: skip
        w.writerow(["size", "passages", *[c.passages for c in self.columns], sum(c.passages for c in self.columns)])
        w.writerow(["size", "words", *[c.words for c in self.columns], sum(c.words for c in self.columns)])
        for s in self.stats:
            w.writerow(["statistic", s.label, *[_csv_num(v.value if v else None) for v in s.values], ""])
        # UTF-8 with a BOM, as plansok export writes CSV: Excel then shows æøå.
        return "\ufeff" + buf.getvalue()

    def _json(self) -> str:
        import json

        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def heatmap_png(self) -> bytes:
        return _heatmap(self)

    def _html(self) -> str:
        return _html_page(self)


def short_labels(series: Sequence[Sequence[str]]) -> list[str]:
    """Each series by the parts that tell it from the others ("2019", "2022"
    rather than "Andel barn (prosent), 2019" twice)."""
    if len(series) == 1:
        return [series[0][-1] if series[0] else "value"]  # the period, usually; the full label is in the notes
    if len({len(s) for s in series}) != 1:
        return [series_label(s) for s in series]
    varying = [i for i in range(len(series[0])) if len({s[i] for s in series}) > 1]
    return [series_label([s[i] for i in varying]) for s in series]


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _csv_num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}"


def _fmt_stat(v: JoinedValue | None) -> str:
    """A figure as SSB prints it; a missing one by SSB's symbol; "-" where the table has no row."""
    if v is None:
        return "-"
    if v.value is None:
        symbol = re.search(r"\(([.:]+)\)$", v.status)
        return symbol.group(1) if symbol else ".."
    return f"{v.value:g}"


# ---------------------------------------------------------------- building


def column_of(doc: DocumentMeta, by: str) -> tuple[str, str, str]:
    """(key, label, kommunenummer) of the column a document counts in."""
    if by == "document":
        # Short enough for a heatmap's axis; the doc_id is the key (and in JSON and plain rows).
        name = f"{doc.municipality}: {doc.doc_type} {doc.period}".strip() if doc.municipality else doc.doc_id
        return doc.doc_id, name, ""
    if by == "type":
        return doc.doc_type, doc.doc_type, ""
    if by == "year":
        year = doc.year_from or doc.year_to or (int(doc.adopted[:4]) if doc.adopted[:4].isdigit() else None)
        return (str(year), str(year), "") if year else ("unknown", "unknown", "")
    reg = register()
    nr = doc.kommunenummer
    if nr in reg.by_nr:
        now = reg.current_of(nr)
        if len(now) == 1:
            return now[0].nr, now[0].name, now[0].nr
        return nr, doc.municipality or reg.name_of(nr) or nr, nr
    if doc.municipality:
        return f"name:{fold(doc.municipality)}", doc.municipality, ""
    return "unknown", "(no municipality)", ""


def _order(by: str, key: str) -> tuple[Any, ...]:
    if by == "type":
        return (DOC_TYPES.index(key) if key in DOC_TYPES else len(DOC_TYPES), key)
    if by == "year":
        return (0, int(key)) if key.isdigit() else (1, 0)
    return (key.startswith(("name:", "unknown")), key)


@dataclass
class RowSpec:
    """A row to count: a query, a tag, or a code with the passages coded with it."""

    kind: str
    label: str
    pids: list[int] = field(default_factory=list)  # for codes
    note: str = ""


def coded_passages(collections: Any, store: Any) -> dict[str, tuple[list[int], int]]:
    """code -> (the passage ids coded with it in any collection, how many of
    its codings point to passages no longer in the index). A passage that
    moved when its document was read again counts where it stands now; a
    passage coded twice (in two collections) counts once."""
    pid_of: dict[str, dict[int, int]] = {}

    def pid(doc_id: str, ordinal: int) -> int | None:
        if doc_id not in pid_of:
            pid_of[doc_id] = {p.ordinal: pid for pid, p in store.passages_of(doc_id)}
        return pid_of[doc_id].get(ordinal)

    found: dict[str, set[int]] = {}
    missing: dict[str, int] = {}
    for about in collections.names():
        for item in collections.get(about["name"], store).items:
            if not item.codes:
                continue
            where = None
            if item.status == "current":
                where = pid(item.doc_id, item.ordinal)
            elif item.status == "moved" and item.now:
                doc_id, _, ordinal = str(item.now["passage_id"]).rpartition("#")
                where = pid(doc_id, int(ordinal))
            for code in item.codes:
                if where is None:
                    missing[code] = missing.get(code, 0) + 1
                else:
                    found.setdefault(code, set()).add(where)
    return {c: (sorted(found.get(c, ())), missing.get(c, 0)) for c in sorted(set(found) | set(missing))}


def build_matrix(
    searcher: Searcher,
    rows: Sequence[RowSpec],
    *,
    by: str = "municipality",
    measure: str = "count",
    filters: Filters | None = None,
    include_references: bool = False,
    opts: SearchOptions | None = None,
) -> MatrixResult:
    if by not in BY:
        raise MatrixError(f"--by {by}: choose one of {', '.join(BY)}")
    if measure not in MEASURES:
        raise MatrixError(f"--measure {measure}: choose one of {', '.join(MEASURES)}")
    if not rows:
        raise MatrixError("a matrix needs rows: one or more queries, tags or codes")
    filters = filters or Filters()
    opts = opts or SearchOptions()
    ix = searcher.ix
    pf = facts(ix)

    # Columns: every document the filters let through, grouped.
    keys: dict[str, MatrixColumn] = {}
    doc_key: list[str | None] = []
    for d in ix.docs:
        if not filters.accepts(d):
            doc_key.append(None)
            continue
        key, label, nr = column_of(d, by)
        col = keys.setdefault(key, MatrixColumn(key, label, kommunenummer=nr))
        col.documents.append(d.doc_id)
        doc_key.append(key)
    columns = sorted(keys.values(), key=lambda c: _order(by, c.key))
    seen: dict[str, int] = {}
    for c in columns:
        seen[c.label] = seen.get(c.label, 0) + 1
    for c in columns:
        if seen[c.label] > 1:  # two plans of one kind and period: name them by id
            c.label = c.key
    index = {c.key: j for j, c in enumerate(columns)}
    col_of_doc = np.asarray([index[k] if k is not None else -1 for k in doc_key], dtype=np.int64)

    # The columns' sizes: the passages a hit could be (the same filters, the same leaving out).
    keep_doc = col_of_doc >= 0
    universe = ix.doc_mask(keep_doc) if len(keep_doc) and not keep_doc.all() else np.ones(ix.n_passages, dtype=bool)
    for t in filters.tags:
        universe &= ix.tag_scores(t) > 0
    u_rows = np.flatnonzero(universe)
    left_out: dict[str, int] = {}
    if not include_references and u_rows.size:
        kinds = pf.kinds(u_rows)
        for k in kinds:
            if k is not None:
                left_out[k] = left_out.get(k, 0) + 1
        u_rows = u_rows[np.fromiter((k is None for k in kinds), dtype=bool, count=len(kinds))]
    u_cols = col_of_doc[np.asarray(ix.row_doc[u_rows], dtype=np.int64)] if u_rows.size else np.zeros(0, np.int64)
    passages = np.bincount(u_cols, minlength=len(columns))
    words = np.bincount(u_cols, weights=pf.words(u_rows), minlength=len(columns))
    for j, c in enumerate(columns):
        c.passages, c.words = int(passages[j]), int(words[j])
    allowed = np.zeros(ix.n_passages, dtype=bool)
    allowed[u_rows] = True

    out_rows = []
    for spec in rows:
        if spec.kind == "code":
            found = pf.rows_of_pids(spec.pids)
            hit_rows = np.asarray(sorted(r for r in found.values() if allowed[r]), dtype=np.int64)
            row_left = {}
            if not include_references and found:
                kinds = pf.kinds(np.asarray(sorted(found.values()), dtype=np.int64))
                row_left = {k: kinds.count(k) for k in LEFT_OUT if kinds.count(k)}
        else:
            row_filters = filters if spec.kind == "query" else dataclasses.replace(
                filters, tags=[*filters.tags, spec.label]
            )  # fmt: skip
            m = find_matches(searcher, spec.label if spec.kind == "query" else "", opts, row_filters,
                             include_references)  # fmt: skip
            hit_rows, row_left = m.rows, m.left_out
        cols = col_of_doc[np.asarray(ix.row_doc[hit_rows], dtype=np.int64)] if hit_rows.size else hit_rows
        counts = np.bincount(cols[cols >= 0], minlength=len(columns)) if hit_rows.size else np.zeros(len(columns))
        out_rows.append(MatrixRow(spec.kind, spec.label, [int(x) for x in counts], row_left, spec.note))
    return MatrixResult(by, measure, columns, out_rows, filters, include_references, left_out=left_out)


def add_statistics(result: MatrixResult, table: StatTable, wanted: Sequence[str] = ()) -> list[StatRow]:
    """Join the chosen series of ``table`` to the municipality columns of ``result``."""
    if result.by != "municipality":
        raise MatrixError(
            f"statistics are joined to municipalities by kommunenummer: use --by municipality, not --by {result.by}"
        )
    added = []
    for series in table.select(wanted):
        values = [join(table, series, c.kommunenummer) for c in result.columns]
        row = StatRow(series_label(series), table.title, str(table.path), values, series)
        missing = [c.heading for c, v in zip(result.columns, values) if v is None]
        if missing:
            logger.info("%s: no figure for %s in %s", table.path, ", ".join(missing), row.label)
        added.append(row)
    if all(v is None for s in added for v in s.values):
        shown = ", ".join(c.heading for c in result.columns)
        raise MatrixError(f"{table.path}: none of its municipalities is in the matrix ({shown})")
    result.stats.extend(added)
    return added


# ---------------------------------------------------------------- pictures


def _heatmap(m: MatrixResult) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = m.values()
    rows = [r.label if r.kind == "query" else f"{r.kind}: {r.label}" for r in m.rows]
    cols = [c.label for c in m.columns]
    n_stats = len(m.stats)
    height = 1.9 + 0.42 * (len(rows) + n_stats) + (0.45 if n_stats else 0)
    width = max(6.5, 0.62 * len(cols) + 3.6)
    fig = plt.figure(figsize=(min(width, 16), min(height, 24)), dpi=120)
    ratios = [len(rows), *([n_stats] if n_stats else [])]
    grid = fig.add_gridspec(len(ratios), 2, height_ratios=ratios, width_ratios=[40, 1], hspace=0.12, wspace=0.03)
    ax = fig.add_subplot(grid[0, 0])
    shown = np.nan_to_num(values, nan=0.0)
    im = ax.imshow(shown, aspect="auto", cmap="Blues", vmin=0)
    ax.set_yticks(range(len(rows)), labels=[r[:40] for r in rows], fontsize=8)
    top = np.nanmax(values) if np.isfinite(values).any() else 0.0
    fmt = "d" if m.measure == "count" else ".1f"
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            text = "–" if np.isnan(v) else "0" if v == 0 else format(int(v) if fmt == "d" else v, fmt)
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if top and v > top * 0.6 else "black")  # fmt: skip
    fig.colorbar(im, cax=fig.add_subplot(grid[0, 1])).ax.tick_params(labelsize=7)
    flags = " ".join(m.filters.describe())
    ax.set_title(f"{MEASURE_TEXT[m.measure]} by {m.by}" + (f"  [{flags}]" if flags else ""), fontsize=10)
    last = ax
    if n_stats:
        sx = fig.add_subplot(grid[1, 0], sharex=ax)
        # Each statistic on its own scale: its figures are in their own unit.
        strip = np.full((n_stats, len(cols)), np.nan)
        for i, s in enumerate(m.stats):
            vals = np.asarray([v.value if v and v.value is not None else np.nan for v in s.values], dtype=float)
            lo, hi = (np.nanmin(vals), np.nanmax(vals)) if np.isfinite(vals).any() else (0.0, 0.0)
            strip[i] = (vals - lo) / (hi - lo) if hi > lo else np.where(np.isfinite(vals), 0.5, np.nan)
            for j, v in enumerate(s.values):
                label = _fmt_stat(v) + ("*" if v is not None and v.note else "")
                sx.text(j, i, label, ha="center", va="center", fontsize=7)
        sx.imshow(np.ma.masked_invalid(strip), aspect="auto", cmap="Oranges", vmin=0, vmax=1.6)
        sx.set_yticks(range(n_stats), labels=[f"SSB: {s.label}"[:40] for s in m.stats], fontsize=8)
        fig.add_subplot(grid[1, 1]).axis("off")
        plt.setp(ax.get_xticklabels(), visible=False)
        last = sx
    last.set_xticks(range(len(cols)), labels=[c[:36] for c in cols], rotation=45, ha="right", fontsize=8)
    notes = [f"Statistics: {t[:120]}" for t in dict.fromkeys(s.table or s.path for s in m.stats)]
    if any(v is not None and v.note for s in m.stats for v in s.values):
        notes.append("* the figure is for the municipality's earlier number (see the notes in the text or HTML)")
    # Margins in inches, as fractions of the figure: room for the slanted labels, then the notes.
    fig_h = fig.get_figheight()
    labels_h = 0.35 + 0.045 * min(max(map(len, cols), default=0), 36)
    for i, note in enumerate(reversed(notes)):
        fig.text(0.01, (0.06 + 0.15 * i) / fig_h, note, fontsize=6.5, color="#444")
    bottom = (labels_h + 0.15 * len(notes) + 0.1) / fig_h
    fig.subplots_adjust(left=0.24, right=0.95, bottom=min(bottom, 0.6), top=1 - 0.45 / fig_h)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } .small { color: #555; font-size: .85rem; }
table { border-collapse: collapse; font-size: .9rem; margin: 1rem 0; }
td, th { border: 1px solid #e4e4e4; padding: .25rem .5rem; text-align: right; }
th { background: #f6f6f6; } td { white-space: nowrap; } td.label, th.label { text-align: left; white-space: normal; }
tr.stat td { font-style: italic; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
"""


def _shade(v: float | None, top: float, rgb: tuple[int, int, int]) -> str:
    if v is None or not top:
        return ""
    a = max(0.0, min(1.0, v / top)) * 0.75
    return f" style='background: rgba({rgb[0]},{rgb[1]},{rgb[2]},{a:.2f})'"


def _html_page(m: MatrixResult) -> str:
    e = html.escape
    title = f"plansok matrix: {MEASURE_TEXT[m.measure]} by {m.by}"
    values = m.values()
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    head = "".join(f"<th>{e(c.heading)}</th>" for c in m.columns)
    body = []
    for i, r in enumerate(m.rows):
        cells = "".join(
            f"<td{_shade(m.cell(r, j), top, (31, 119, 180))} title='{r.counts[j]} hits'>"
            f"{e(m._fmt(m.cell(r, j), r.counts[j]))}</td>"
            for j in range(len(m.columns))
        )
        body.append(f"<tr><td class='label'>{e(r.kind)}: {e(r.label)}</td>{cells}"
                    f"<td>{e(m._fmt(m.total(r), r.total))}</td></tr>")  # fmt: skip
        del i
    for s in m.stats:
        known = [v.value for v in s.values if v is not None and v.value is not None]
        stop = max(known, default=0.0)
        cells = "".join(
            f"<td{_shade(v.value if v else None, stop, (230, 126, 34))}"
            f" title='{e((v.source + (': ' + v.note if v.note else '')) if v else 'not in the table')}'>"
            f"{e(_fmt_stat(v))}{'*' if v is not None and v.note else ''}</td>"
            for v in s.values
        )
        body.append(f"<tr class='stat'><td class='label'>SSB: {e(s.label)}</td>{cells}<td></td></tr>")
    sizes = "".join(f"<td>{c.passages}</td>" for c in m.columns)
    words = "".join(f"<td>{c.words}</td>" for c in m.columns)
    notes = [
        f"<li>{e(c.heading)}, {e(s.label)}: {e(v.source)}: {e(v.note)}</li>"
        for s in m.stats
        for c, v in zip(m.columns, s.values)
        if v is not None and v.note
    ]
    png = base64.b64encode(m.heatmap_png()).decode()
    dropped = "; ".join(f"{r.label}: {left_out_text(r.left_out)}" for r in m.rows if left_out_text(r.left_out))
    parts = [
        f"<!doctype html><html lang='no'><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='small'>{e(DEFINITION)} Filters: {e(' '.join(m.filters.describe()) or 'none')}."
        + (f" Reference lists and contents pages left out of the counts: {e(dropped)}." if dropped else "")
        + "</p>",
        f"<table><tr><th class='label'>{e(m.by)}</th>{head}<th>all</th></tr>",
        *body,
        f"<tr><td class='label'>passages</td>{sizes}<td>{sum(c.passages for c in m.columns)}</td></tr>",
        f"<tr><td class='label'>words</td>{words}<td>{sum(c.words for c in m.columns)}</td></tr></table>",
    ]
    if m.stats:
        tables = sorted({s.table or s.path for s in m.stats})
        parts.append(f"<p class='small'>Statistics: {e('; '.join(tables))} (Statistisk sentralbyrå).</p>")
    if notes:
        parts.append(
            "<p class='small'>* joined from an earlier number:</p><ul class='small'>" + "".join(notes) + "</ul>"
        )
    parts.append(f"<img src='data:image/png;base64,{png}' alt='{e(title)}'></body></html>")
    return "\n".join(parts) + "\n"
