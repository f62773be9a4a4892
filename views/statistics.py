"""Municipality statistics beside the text: SSB StatBank tables read from the
files StatBank exports, and joined to plans by kommunenummer across the
municipality reforms.

Two formats are read, as SSB writes them:

- CSV (semicolon-separated, decimal comma; ISO-8859-1 from the API's
  ``.csv`` and UTF-8 with or without a BOM from the StatBank page). The table
  may be long, one value column headed by the table's title
  (``"region";"år";"statistikkvariabel";"08764: Barn under 18 år ..."``), or
  wide, one value column per year or variable (``"region";"2021";"2022"``),
  with title lines above the header and footnote lines below. The region
  column holds a code and a name: ``3024 Bærum``, ``0602 Drammen (-2019)``,
  or ``K-3301 Drammen`` (SSB's series summed to today's borders).
- JSON-stat 2.0 (``"class": "dataset"`` with ``id``, ``size``, ``dimension``,
  ``value`` and ``status``), as the API gives with ``json-stat2``; the region
  dimension is the one with role ``geo`` or the one named ``Region``, and its
  codes are ``3301`` or ``K-3301``. The API's older ``json-stat`` (1.x,
  ``{"dataset": {...}}``) is read too.

SSB's symbols for missing figures (``..`` no data, ``.`` cannot occur,
``...`` not yet available, ``:`` confidential) are kept as the reason a cell
is empty, never read as 0; ``-`` is SSB's zero.

The join follows the municipality reforms with the national register
(:mod:`plansok.lang.no.register`): a figure for 0602 Drammen (before 2020) or
3005 Drammen (2020-2023) stands in the column of 3301 Drammen when the table
has no figure under 3301 itself, and the cell says where it came from. Where
the old municipality is only part of today's (0602 Drammen merged with 0625
Nedre Eiker and 0711 Svelvik in 2020), the cell says so, because the figure
does not describe today's municipality.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plansok.errors import PlansokError
from plansok.lang.no.register import Register, register

logger = logging.getLogger(__name__)

# SSB's standard symbols for a cell without a figure ("Standardtegn i tabeller").
MISSING = {
    "..": "no data (..)",
    ".": "cannot occur (.)",
    "...": "not yet available (...)",
    ":": "confidential (:)",
}
ZERO = {"-"}  # SSB's "null": exactly zero

_REGION = re.compile(r"^\s*(K-)?(\d{4})[a-z]?(?:\s+(.*?))?\s*$")
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_TIME = re.compile(r"^\d{4}(?:\s*[-–]\s*\d{4}|[KMH]\d{1,2})?$")


class StatisticsError(PlansokError):
    """A statistics file that cannot be read or joined, naming the file and the reason."""


@dataclass(frozen=True)
class Observation:
    """One figure: a region's value in one series (the labels of the table's other dimensions)."""

    code: str  # as the table writes it: "3301", "K-3301", "0602"
    label: str  # the region's name in the table: "Drammen (-2019)"
    series: tuple[str, ...]
    value: float | None
    status: str = ""  # why the value is missing (SSB's symbol explained)

    @property
    def number(self) -> str:
        """The four-digit kommunenummer, without SSB's K- prefix."""
        return self.code.removeprefix("K-")

    @property
    def summed_to_today(self) -> bool:
        """SSB's K-codes are series summed to the borders of today."""
        return self.code.startswith("K-")


@dataclass
class StatTable:
    """The municipality figures of one exported table."""

    path: Path
    title: str
    format: str  # "csv" or "json-stat"
    dimensions: list[str]  # names of the dimensions a series is made of
    observations: list[Observation]
    skipped: dict[str, str] = field(default_factory=dict)  # region -> why it is not a municipality
    notes: list[str] = field(default_factory=list)  # footnote lines of a CSV

    def series(self) -> list[tuple[str, ...]]:
        return list(dict.fromkeys(o.series for o in self.observations))

    def select(self, wanted: Sequence[str] = ()) -> list[tuple[str, ...]]:
        """The series to show. Each text in ``wanted`` picks the series with a
        dimension labelled so, or whose label contains it (case aside).
        Without ``wanted``: every series when there are at most three, else
        those of the latest period when the table has a time dimension."""
        every = self.series()
        if wanted:
            out: list[tuple[str, ...]] = []
            for text in wanted:
                t = text.casefold().strip()
                exact = [s for s in every if any(part.casefold() == t for part in s)]
                found = exact or [s for s in every if t in series_label(s).casefold()]
                if not found:
                    raise StatisticsError(
                        f"{self.path}: no series matches --stat-column {text!r}; the table has: {_list(every)}"
                    )
                out.extend(s for s in found if s not in out)
            return out
        if len(every) <= 3:
            return every
        time = self.time_dimension()
        if time is not None:
            latest = max(s[time] for s in every)
            latest_series = [s for s in every if s[time] == latest]
            if len(latest_series) <= 3:
                return latest_series
        raise StatisticsError(
            f"{self.path}: {len(every)} series; choose with --stat-column (a year, a variable or both): {_list(every)}"
        )

    def time_dimension(self) -> int | None:
        """The position in a series of the dimension whose labels are all years or periods."""
        every = self.series()
        for i in range(len(self.dimensions)):
            if every and all(_TIME.match(s[i]) for s in every):
                return i
        return None


def series_label(series: Sequence[str]) -> str:
    return ", ".join(series) if series else "value"


def _list(series: Sequence[tuple[str, ...]], n: int = 12) -> str:
    shown = "; ".join(series_label(s) for s in series[:n])
    return shown + (f"; and {len(series) - n} more" if len(series) > n else "")


# ---------------------------------------------------------------- reading


def read_statistics(path: str | Path) -> StatTable:
    """Read an SSB StatBank export (CSV or JSON-stat); see the module notes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StatisticsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise StatisticsError(f"{path}: empty file")
    text = _decode(raw, path)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StatisticsError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
        table = _read_jsonstat(data, path)
    else:
        table = _read_csv(text, path)
    if not table.observations:
        raise StatisticsError(
            f"{path}: no municipality figures (regions in the file: {', '.join(list(table.skipped)[:8]) or 'none'})"
        )
    logger.info(
        "%s: %d figures for %d regions in %d series",
        path,
        len(table.observations),
        len({o.code for o in table.observations}),
        len(table.series()),
    )
    return table


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # The API's CSV is ISO-8859-1; any byte sequence decodes as Latin-1.
        logger.info("%s: not UTF-8, read as ISO-8859-1 (Latin-1)", path)
        return raw.decode("latin-1")


def _region(text: str) -> tuple[str, str] | None:
    """(code, name) of a region cell such as "3024 Bærum", "K-3301 Drammen" or "0602"."""
    m = _REGION.match(text)
    if not m:
        return None
    return (m.group(1) or "") + m.group(2), (m.group(3) or "").strip()


def _value(cell: str, decimal_comma: bool) -> tuple[float | None, str] | None:
    """(value, missing reason) of a figure cell; None if the cell is not a figure."""
    s = cell.strip()
    if s in MISSING:
        return None, MISSING[s]
    if s in ZERO:
        return 0.0, ""
    s = s.replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        s = s.replace(",", ".")
    if _NUMBER.match(s):
        return float(s), ""
    return None


def _read_csv(text: str, path: Path) -> StatTable:
    sample = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = ";"
    # SSB quotes labels and leaves figures bare ("2019" is a year, 17,2 a figure),
    # so each cell is read twice: its text, and whether it stood in quotes.
    rows: list[tuple[list[str], list[bool]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cells = next(csv.reader([line], delimiter=delimiter), [])
        raw = next(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
        quoted = [c.strip().startswith('"') for c in raw] if len(raw) == len(cells) else [False] * len(cells)
        if any(c.strip() for c in cells):
            rows.append(([c.strip() for c in cells], quoted))
    title_lines: list[str] = []
    while len(rows) > 1 and sum(bool(c) for c in rows[0][0]) == 1:
        title_lines.append(next(c for c in rows.pop(0)[0] if c))
    if len(rows) < 2:
        raise StatisticsError(f"{path}: no header and figures found (is it a StatBank CSV export?)")
    header, body = rows[0][0], rows[1:]
    width = len(header)
    data = [r + [""] * (width - len(r)) for r, _ in body if sum(bool(c) for c in r) > 1]
    quotes = [q + [False] * (width - len(q)) for r, q in body if sum(bool(c) for c in r) > 1]
    notes = [next(c for c in r if c) for r, _ in body if sum(bool(c) for c in r) == 1]
    if not data:
        raise StatisticsError(f"{path}: a header but no rows of figures")
    region_col = _region_column(header, data)
    if region_col is None:
        raise StatisticsError(
            f"{path}: no region column (values like '3024 Bærum', '0602 Drammen (-2019)' or 'K-3301 Drammen'); "
            f"the header is {'; '.join(header)}"
        )
    decimal_comma = delimiter != ","
    any_quotes = any(any(q) for q in quotes)

    def is_figures(j: int) -> bool:
        cells = [r[j] for r in data if r[j] != ""]
        if not cells or any(_value(c, decimal_comma) is None for c in cells):
            return False
        if any_quotes:
            return sum(q[j] for q, r in zip(quotes, data) if r[j] != "") <= len(cells) / 2
        # Without quotes: a column of years under a header that is not a year is the time dimension.
        return not (all(_TIME.match(c) for c in cells) and not _TIME.match(header[j]))

    value_cols = [j for j in range(width) if j != region_col and is_figures(j)]
    if not value_cols:
        raise StatisticsError(f"{path}: no column of figures (numbers, or SSB's .. . : for missing ones)")
    label_cols = [j for j in range(width) if j != region_col and j not in value_cols]
    wide = len(value_cols) > 1
    # A wide table's value headers are one dimension: its periods, or its variables.
    spread = "period" if all(_TIME.match(header[j]) for j in value_cols) else "variable"
    dims = [header[j] or f"column {j + 1}" for j in label_cols] + ([spread] if wide else [])
    title = title_lines[0] if title_lines else ("" if wide else header[value_cols[0]])
    observations, skipped = [], {}
    reg = register()
    for r in data:
        parsed = _region(r[region_col])
        if parsed is None or parsed[0].removeprefix("K-") not in reg.by_nr:
            skipped.setdefault(r[region_col], _not_municipality(r[region_col], parsed))
            continue
        code, name = parsed
        for j in value_cols:
            if r[j] == "":
                continue
            value, status = _value(r[j], decimal_comma)  # type: ignore[misc]
            series = tuple(r[i] for i in label_cols) + ((header[j],) if wide else ())
            observations.append(Observation(code, name, series, value, status))
    return StatTable(path, title, "csv", dims, observations, skipped, notes)


def _region_column(header: Sequence[str], data: Sequence[Sequence[str]]) -> int | None:
    """The column SSB heads "region", else the one most of whose cells are a
    region code with a name or a K-code (a column of bare numbers could be figures)."""
    for j, h in enumerate(header):
        if h.strip().casefold() == "region":
            return j
    best, best_share = None, 0.0
    for j in range(len(header)):
        cells = [r[j] for r in data if r[j]]
        if not cells:
            continue
        named = sum(bool(p and (p[1] or p[0].startswith("K-"))) for p in map(_region, cells))
        if named / len(cells) > best_share:
            best, best_share = j, named / len(cells)
    return best if best_share >= 0.5 else None


def _not_municipality(cell: str, parsed: tuple[str, str] | None) -> str:
    if parsed is None:
        return "not a kommunenummer (the whole country, a county or another grouping)"
    return f"{parsed[0]} is not in the register of municipalities (an unspecified or historical region)"


def _read_jsonstat(data: Any, path: Path) -> StatTable:
    if not isinstance(data, dict):
        raise StatisticsError(f"{path}: JSON-stat is an object, not {type(data).__name__}")
    if "dataset" in data and "version" not in data:  # JSON-stat 1.x from the API's json-stat format
        ds = data["dataset"]
        dim = ds.get("dimension", {})
        ids, sizes, role = dim.get("id"), dim.get("size"), dim.get("role") or {}
        dims = {k: v for k, v in dim.items() if k not in ("id", "size", "role")}
        values, status, title = ds.get("value"), ds.get("status"), ds.get("label", "")
    else:
        if data.get("class") not in (None, "dataset"):
            raise StatisticsError(f"{path}: JSON-stat class {data.get('class')!r}; export one table as a dataset")
        ids, sizes, role = data.get("id"), data.get("size"), data.get("role") or {}
        dims, values, status, title = (
            data.get("dimension", {}),
            data.get("value"),
            data.get("status"),
            data.get("label", ""),
        )
    if not ids or not sizes or values is None or len(ids) != len(sizes):
        raise StatisticsError(f"{path}: not a JSON-stat dataset (needs id, size, dimension and value)")
    try:
        cats = [_categories(dims[d]) for d in ids]
    except (KeyError, TypeError, ValueError) as exc:
        raise StatisticsError(f"{path}: dimension {exc} is not described as JSON-stat categories") from exc
    geo = [d for d in (role.get("geo") or []) if d in ids]
    region_dim = geo[0] if geo else next((d for d in ids if d.casefold() == "region"), None)
    if region_dim is None:
        raise StatisticsError(f"{path}: no region dimension (role geo, or one named Region) among {', '.join(ids)}")
    r = ids.index(region_dim)
    others = [i for i in range(len(ids)) if i != r]
    labels = [dims[ids[i]].get("label") or ids[i] for i in others]
    reg = register()
    observations, skipped = [], {}
    for pos, combo in enumerate(itertools.product(*[range(n) for n in sizes])):
        code, name = cats[r][combo[r]]
        if code.removeprefix("K-") not in reg.by_nr:
            skipped.setdefault(f"{code} {name}".strip(), _not_municipality(code, _region(code)))
            continue
        value = _at(values, pos)
        symbol = _at(status, pos) if status is not None else None
        reason = MISSING.get(str(symbol), str(symbol)) if value is None and symbol else ""
        series = tuple(cats[i][combo[i]][1] for i in others)
        observations.append(Observation(code, name, series, float(value) if value is not None else None, reason or ""))
    return StatTable(path, str(title), "json-stat", [str(x) for x in labels], observations, skipped)


def _categories(dim: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, label) of a dimension's categories, in index order."""
    cat = dim["category"]
    index = cat.get("index")
    labels = cat.get("label") or {}
    if index is None:  # a single category may be given by its label alone
        codes = list(labels)
    elif isinstance(index, list):
        codes = list(index)
    else:
        codes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    return [(str(c), str(labels.get(c, c))) for c in codes]


def _at(values: Any, pos: int) -> Any:
    if isinstance(values, list):
        return values[pos] if pos < len(values) else None
    if isinstance(values, dict):
        return values.get(str(pos))
    return values  # one status for every cell


# ---------------------------------------------------------------- joining


@dataclass
class JoinedValue:
    """A figure in a municipality's column, and where it came from."""

    value: float | None
    source: str  # the table's region: "0602 Drammen (-2019)"
    note: str = ""  # how it was joined, when not under the column's own number
    status: str = ""  # why there is no value

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "note": self.note, "status": self.status}


def join(table: StatTable, series: tuple[str, ...], kommunenummer: str) -> JoinedValue | None:
    """The figure of ``series`` for municipality ``kommunenummer``, following
    the reforms: its own number first (SSB's K-series before the plain one),
    then the most recent number it had or was made from."""
    reg = register()
    if not kommunenummer or kommunenummer not in reg.by_nr:
        return None
    here = [o for o in table.observations if o.series == series]
    own = [o for o in here if o.number == kommunenummer]
    own.sort(key=lambda o: not o.summed_to_today)
    before = [
        o for o in here if o.number != kommunenummer and kommunenummer in {m.nr for m in reg.current_of(o.number)}
    ]
    before.sort(key=lambda o: (reg.by_nr[o.number].valid_from, o.summed_to_today), reverse=True)
    candidates = own + before
    if not candidates:
        return None
    chosen = next((o for o in candidates if o.value is not None), candidates[0])
    source = f"{chosen.code} {chosen.label}".strip()
    if chosen.number == kommunenummer:
        return JoinedValue(chosen.value, source, "", chosen.status)
    return JoinedValue(chosen.value, source, _reform_note(reg, chosen.number, kommunenummer), chosen.status)


def _reform_note(reg: Register, old: str, new: str) -> str:
    """How the figure of ``old`` relates to today's ``new``: the same
    municipality under an earlier number, part of a merger, or split."""
    o, n = reg.by_nr[old], reg.by_nr[new]
    parts = [m.nr for m in reg.current_of(old)]
    if len(parts) > 1:
        others = ", ".join(f"{p} {reg.name_of(p)}" for p in sorted(parts) if p != new)
        return f"{old} {o.name} was split (also into {others}); the figure is for the whole of {old} {o.name}"
    path = _path(reg, old, new)
    behind = _walk_back(reg, old)
    ancestors = {x for x in reg.lineage(new) if new in {m.nr for m in reg.current_of(x)}}
    others = sorted(ancestors - path - behind)
    if others:
        merged = ", ".join(f"{x} {reg.name_of(x)}" for x in others)
        return f"the figure is for {old} {o.name} alone; {new} {n.name} was also formed from {merged}"
    return f"{old} was the number of {n.name} until {o.valid_to or 'the reform'}"


def _path(reg: Register, start: str, end: str) -> set[str]:
    """The numbers from ``start`` to ``end`` following successors."""
    seen, todo = {start}, [start]
    while todo:
        for s in reg.by_nr[todo.pop()].successors:
            if s in reg.by_nr and s not in seen and end in {m.nr for m in reg.current_of(s)}:
                seen.add(s)
                todo.append(s)
    return seen


def _walk_back(reg: Register, nr: str) -> set[str]:
    """Every number that became ``nr`` (its own earlier history)."""
    preds: dict[str, list[str]] = {}
    for m in reg.by_nr.values():
        for s in m.successors:
            preds.setdefault(s, []).append(m.nr)
    seen, todo = set(), [nr]
    while todo:
        for p in preds.get(todo.pop(), []):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen
