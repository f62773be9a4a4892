"""Rows of an analysis view written as CSV or JSON, chosen by the file's suffix.

CSV follows ``plansok export``: UTF-8 with a BOM (Excel shows æøå), a first
line recording what produced the table (``# query: ...``), then the header, so
``pandas.read_csv(path, skiprows=1)`` reads it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plansok.errors import PlansokError

FORMATS = (".csv", ".json")


def write_rows(
    path: str | Path,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    about: Mapping[str, Any],
    whole: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``rows`` to ``path`` (.csv or .json). JSON gets ``whole`` (the
    result's ``to_dict()``) when given, else ``about`` with the rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PlansokError(f"{path}: write .csv or .json (the suffix picks the format), not {suffix or 'no suffix'!r}")
    if suffix == ".json":
        data = dict(whole) if whole is not None else {**about, "rows": list(rows)}
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["# " + "; ".join(f"{k}: {v}" for k, v in about.items() if v not in (None, "", [], {}))])
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
        text = "\ufeff" + buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise PlansokError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path
