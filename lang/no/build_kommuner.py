#!/usr/bin/env python3
"""Validate or rebuild lang/no/kommuner.tsv, the register of Norwegian municipalities.

The table is based on Statistics Norway's classification KLASS 131
"Standard for kommuneinndeling". Columns (tab-separated, UTF-8, '# ' comment lines first):

    nr  name  valid_from  valid_to  successor  county

Usage
-----
    python3 build_kommuner.py --check [--table PATH]
        Validate the table; exit status 1 (with messages on stderr) on any problem:
        four-digit numbers, ISO dates, one row per number, exactly 357 current
        municipalities (empty valid_to), every successor chain ending in a current
        number, and for current rows a county consistent with the first two digits.

    python3 build_kommuner.py --from-klass FILE.csv [FILE.csv ...] [--table PATH]
                              [--counties COUNTIES.csv ...] [--dry-run]
        Rebuild the data rows from CSV exports of SSB KLASS, keeping the comment
        header of the existing table. Files are recognised by their header line.

Expected KLASS CSV exports (as written by SSB's KLASS "Last ned"/API with csvSeparator=';'):

  * Version (codes) export of classification 131, one file per version:
        code;parentCode;level;name;shortName;presentationName;validFrom;validTo;notes
    Only rows with level 1 and a four-digit code other than 9999 ("Uoppgitt") are used.
    validFrom/validTo may be empty; then the period is taken from the file name if it
    contains a date (YYYY-MM-DD) or a year (YYYY, read as YYYY-01-01), e.g.
    "klass131_2024-01-01.csv" or "kommuner_2019.csv".
    The same format exported for classification 104 (counties) can be passed with
    --counties; the county of a municipality is then looked up by the first two digits
    in the county version valid on the same date. Without --counties, a built-in table
    of SSB county names (2019, 2020-2023, 2024-) is used.

  * Changes export of classification 131:
        oldCode;oldName;newCode;newName;changeOccurred
    changeOccurred is a date (YYYY-MM-DD). A code whose changes list several newCodes is
    a split; its successors are written comma-separated. Rows with oldCode == newCode
    (name-only changes, boundary adjustments) do not end a number.

Quoting with '"' is accepted; the encoding may be UTF-8 (with or without BOM) or
windows-1252/latin-1 (tried in that order). Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TABLE = os.path.join(HERE, "kommuner.tsv")
COLUMNS = ["nr", "name", "valid_from", "valid_to", "successor", "county"]
EXPECTED_CURRENT = 357

# SSB county names (KLASS 104) by period, used when no county export is given.
COUNTIES_2024 = {
    "03": "Oslo",
    "11": "Rogaland",
    "15": "Møre og Romsdal",
    "18": "Nordland - Nordlánnda",
    "31": "Østfold",
    "32": "Akershus",
    "33": "Buskerud",
    "34": "Innlandet",
    "39": "Vestfold",
    "40": "Telemark",
    "42": "Agder",
    "46": "Vestland",
    "50": "Trøndelag - Trööndelage",
    "55": "Troms - Romsa - Tromssa",
    "56": "Finnmark - Finnmárku - Finmarkku",
}
COUNTIES_2020 = {
    "03": "Oslo",
    "11": "Rogaland",
    "15": "Møre og Romsdal",
    "18": "Nordland",
    "30": "Viken",
    "34": "Innlandet",
    "38": "Vestfold og Telemark",
    "42": "Agder",
    "46": "Vestland",
    "50": "Trøndelag",
    "54": "Troms og Finnmark - Romsa ja Finnmárku",
}
COUNTIES_2019 = {
    "01": "Østfold",
    "02": "Akershus",
    "03": "Oslo",
    "04": "Hedmark",
    "05": "Oppland",
    "06": "Buskerud",
    "07": "Vestfold",
    "08": "Telemark",
    "09": "Aust-Agder",
    "10": "Vest-Agder",
    "11": "Rogaland",
    "12": "Hordaland",
    "14": "Sogn og Fjordane",
    "15": "Møre og Romsdal",
    "18": "Nordland",
    "19": "Troms - Romsa",
    "20": "Finnmark - Finnmárku",
    "50": "Trøndelag",
}
BUILTIN_COUNTIES = [("2024-01-01", COUNTIES_2024), ("2020-01-01", COUNTIES_2020), ("1000-01-01", COUNTIES_2019)]

NR_RE = re.compile(r"^\d{4}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------- reading the table
def read_table(path):
    """Return (header_comment_lines, rows as dicts, problems)."""
    comments, rows, problems = [], [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    seen_header = False
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if seen_header:
                problems.append(f"line {i}: comment after the column header")
            comments.append(line)
            continue
        fields = line.split("\t")
        if not seen_header:
            if fields != COLUMNS:
                problems.append(f"line {i}: column header must be {' '.join(COLUMNS)!r}")
            seen_header = True
            continue
        if len(fields) != len(COLUMNS):
            problems.append(f"line {i}: {len(fields)} fields, expected {len(COLUMNS)}")
            continue
        row = dict(zip(COLUMNS, fields))
        row["_line"] = i
        rows.append(row)
    if not seen_header:
        problems.append("no column header line")
    return comments, rows, problems


def county_code_for(county_name, valid_on):
    """Two-digit code(s) a county name has in the built-in table valid on a date."""
    for start, table in BUILTIN_COUNTIES:
        if valid_on >= start:
            return {c for c, n in table.items() if n == county_name}
    return set()


def check(rows):
    problems = []
    by_nr = {}
    for r in rows:
        ln = r["_line"]
        nr = r["nr"]
        if not NR_RE.match(nr):
            problems.append(f"line {ln}: number {nr!r} is not four digits")
        if nr in by_nr:
            problems.append(f"line {ln}: number {nr} also on line {by_nr[nr]['_line']}")
        by_nr[nr] = r
        if not r["name"].strip() or r["name"] != r["name"].strip():
            problems.append(f"line {ln}: empty name or surrounding spaces")
        if not DATE_RE.match(r["valid_from"]):
            problems.append(f"line {ln}: valid_from {r['valid_from']!r} is not YYYY-MM-DD")
        if r["valid_to"]:
            if not DATE_RE.match(r["valid_to"]):
                problems.append(f"line {ln}: valid_to {r['valid_to']!r} is not YYYY-MM-DD")
            elif r["valid_to"] < r["valid_from"]:
                problems.append(f"line {ln}: valid_to before valid_from")
            if not r["successor"]:
                problems.append(f"line {ln}: ended number {nr} has no successor")
        elif r["successor"]:
            problems.append(f"line {ln}: current number {nr} has a successor")
        if not r["county"]:
            problems.append(f"line {ln}: no county")

    current = {nr for nr, r in by_nr.items() if not r["valid_to"]}
    if len(current) != EXPECTED_CURRENT:
        problems.append(f"{len(current)} current municipalities, expected {EXPECTED_CURRENT}")

    # county consistent with the first two digits (current rows)
    for nr in sorted(current):
        r = by_nr[nr]
        codes = county_code_for(r["county"], r["valid_from"] if r["valid_from"] >= "2024-01-01" else "2024-01-01")
        if nr[:2] not in codes:
            problems.append(f"line {r['_line']}: county {r['county']!r} does not match county code {nr[:2]} of {nr}")

    # successor chains end in current numbers, without cycles, moving forward in time
    for nr, r in sorted(by_nr.items()):
        if not r["valid_to"]:
            continue
        stack = [(nr, 0)]
        while stack:
            cur, depth = stack.pop()
            if depth > 20:
                problems.append(f"line {r['_line']}: successor chain of {nr} loops or is too long")
                break
            cr = by_nr.get(cur)
            if cr is None:
                problems.append(f"line {r['_line']}: successor {cur} of {nr} is not in the table")
                continue
            if not cr["valid_to"]:
                continue
            for s in cr["successor"].split(","):
                s = s.strip()
                sr = by_nr.get(s)
                if sr is not None and DATE_RE.match(cr["valid_to"]):
                    day = _day_after(cr["valid_to"])
                    if not (sr["valid_from"] <= day and (not sr["valid_to"] or sr["valid_to"] >= day)):
                        problems.append(f"line {cr['_line']}: successor {s} of {cur} is not valid on {day}")
                stack.append((s, depth + 1))
    return problems


# ---------------------------------------------------------------- reading KLASS exports
def _read_text(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: cannot decode")


def read_klass_csv(path):
    text = _read_text(path)
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    fields = [f.strip() for f in (reader.fieldnames or [])]
    if {"oldCode", "newCode", "changeOccurred"} <= set(fields):
        return "changes", rows
    if {"code", "name"} <= set(fields):
        return "codes", rows
    raise ValueError(f"{path}: unknown KLASS export (columns {fields})")


def _date_from_name(path):
    base = os.path.basename(path)
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", base)
    if m:
        return m.group(0)
    m = re.search(r"(?<!\d)(19|20)(\d{2})(?!\d)", base)
    if m:
        return f"{m.group(0)}-01-01"
    return ""


def _day_after(date):
    import datetime

    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=1)).isoformat()


def _day_before(date):
    import datetime

    d = datetime.date.fromisoformat(date) - datetime.timedelta(days=1)
    return d.isoformat()


def build_from_klass(files, county_files=()):
    versions = []  # (valid_from, {code: name})
    changes = []
    for path in files:
        kind, rows = read_klass_csv(path)
        if kind == "changes":
            changes.extend(rows)
            continue
        start = ""
        codes = {}
        for r in rows:
            code = r.get("code", "")
            if r.get("level", "1") not in ("", "1") or not NR_RE.match(code) or code == "9999":
                continue
            codes[code] = r.get("name", "")
            start = start or r.get("validFrom", "")
        start = start or _date_from_name(path)
        if not start:
            raise ValueError(f"{path}: cannot tell from which date this version is valid")
        versions.append((start, codes))
    if not versions:
        raise ValueError("no KLASS 131 version export given")
    versions.sort()

    county_versions = []
    for path in county_files:
        kind, rows = read_klass_csv(path)
        codes = {r["code"]: r["name"] for r in rows if re.match(r"^\d{2}$", r.get("code", ""))}
        start = next((r.get("validFrom") for r in rows if r.get("validFrom")), "") or _date_from_name(path)
        county_versions.append((start, codes))
    county_versions.sort(reverse=True)
    if not county_versions:
        county_versions = BUILTIN_COUNTIES

    def county(nr, on):
        for start, table in county_versions:
            if on >= start and nr[:2] in table:
                return table[nr[:2]]
        return ""

    succ = defaultdict(set)  # (oldCode, date) -> newCodes
    for c in changes:
        old, new, when = c.get("oldCode", ""), c.get("newCode", ""), c.get("changeOccurred", "")
        if NR_RE.match(old) and NR_RE.match(new) and old != new:
            succ[(old, when[:10])].add(new)

    out = {}
    for i, (start, codes) in enumerate(versions):
        nxt = versions[i + 1][0] if i + 1 < len(versions) else ""
        for code, name in codes.items():
            r = out.get(code)
            if r is None:
                r = out[code] = {
                    "nr": code,
                    "name": name,
                    "valid_from": start,
                    "valid_to": "",
                    "successor": "",
                    "county": county(code, start),
                }
            r["name"], r["county"] = name, county(code, start)
            if nxt and code not in versions[i + 1][1]:
                r["valid_to"] = _day_before(nxt)
                s = succ.get((code, nxt), set())
                r["successor"] = ",".join(sorted(s))
    return [out[k] for k in sorted(out)]


def write_table(path, comments, rows):
    cur = sorted((r for r in rows if not r["valid_to"]), key=lambda r: r["nr"])
    old = sorted((r for r in rows if r["valid_to"]), key=lambda r: r["nr"])
    old.sort(key=lambda r: r["valid_to"], reverse=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in comments:
            f.write(c + "\n")
        f.write("\t".join(COLUMNS) + "\n")
        for r in cur + old:
            f.write("\t".join(r[c] for c in COLUMNS) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="validate the table")
    g.add_argument("--from-klass", nargs="+", metavar="FILE.csv", help="rebuild from KLASS CSV exports")
    ap.add_argument("--counties", nargs="*", default=[], metavar="FILE.csv", help="KLASS 104 (county) version exports")
    ap.add_argument("--table", default=DEFAULT_TABLE)
    ap.add_argument("--dry-run", action="store_true", help="with --from-klass: check but do not write")
    args = ap.parse_args(argv)

    if args.check:
        comments, rows, problems = read_table(args.table)
        problems += check(rows)
        if not comments:
            problems.append("no '# ' header comment block")
        for p in problems:
            print(f"{args.table}: {p}", file=sys.stderr)
        if problems:
            return 1
        cur = sum(1 for r in rows if not r["valid_to"])
        print(f"{args.table}: OK, {len(rows)} rows, {cur} current municipalities")
        return 0

    comments = []
    if os.path.exists(args.table):
        comments, _, _ = read_table(args.table)
    rows = build_from_klass(args.from_klass, args.counties)
    for i, r in enumerate(rows, 1):
        r["_line"] = i
    problems = check(rows)
    for p in problems:
        print(f"rebuilt table: {p}", file=sys.stderr)
    if problems:
        return 1
    if not args.dry_run:
        write_table(args.table, comments, rows)
        print(f"{args.table}: written, {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
