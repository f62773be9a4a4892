"""Exports a researcher can open elsewhere: CSV and XLSX tables of query results
and collections (one row per passage, with the query and date recorded),
BibTeX and RIS references for the documents, and REFI-QDA projects
(``plansok.collect.qdpx``) for NVivo, ATLAS.ti, MAXQDA and QualCoder.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plansok.models import DocumentMeta

COLUMNS = [
    "rank", "passage_id", "doc_id", "municipality", "kommunenummer", "title", "doc_type", "year_from", "year_to",
    "page", "page_end", "page_label", "section", "citation", "source_url", "text", "tags", "codes", "memo", "status",
]  # fmt: skip


@dataclass
class Table:
    """Rows of passages plus what produced them (query, collection, date)."""

    rows: list[dict]
    about: dict[str, str] = field(default_factory=dict)


def hits_table(hits: Sequence, query: str, filters: dict | None = None) -> Table:  # hits: list[Hit]
    rows = []
    for h in hits:
        d = h.to_dict()
        d["tags"] = _tags_text(h.tags)
        d["codes"], d["memo"], d["status"] = "", "", ""
        rows.append(d)
    about = {"query": query, "filters": _filters_text(filters), "exported": _now(), "tool": "plansok"}
    return Table(rows, about)


def collection_table(col, docs: dict[str, DocumentMeta]) -> Table:  # col: Collection
    rows = []
    for n, item in enumerate(col.items, start=1):
        d = docs.get(item.doc_id)
        rows.append(
            {
                "rank": n,
                "passage_id": item.passage_id,
                "doc_id": item.doc_id,
                "municipality": d.municipality if d else "",
                "kommunenummer": d.kommunenummer if d else "",
                "title": d.title if d else "",
                "doc_type": d.doc_type if d else "",
                "year_from": d.year_from if d else "",
                "year_to": d.year_to if d else "",
                "page": item.page_start,
                "page_end": item.page_end,
                "page_label": item.page_label or "",
                "section": item.section,
                "citation": item.citation,
                "source_url": item.source_url,
                "text": item.text,
                "tags": _tags_text(item.tags),
                "codes": "; ".join(item.codes),
                "memo": item.memo,
                "status": item.status,
            }
        )
    queries = " | ".join(q["query"] for q in col.queries)
    about = {"collection": col.name, "memo": col.memo, "queries": queries, "exported": _now(), "tool": "plansok"}
    return Table(rows, about)


def _tags_text(tags: list[dict]) -> str:
    return "; ".join(f"{t['tag']} ({t['confidence']:.2f})" for t in tags)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _filters_text(filters: dict | None) -> str:
    if not filters:
        return ""
    return "; ".join(f"{k}={v}" for k, v in filters.items() if v not in (None, [], ""))


def _atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def write_csv(table: Table, path: Path) -> Path:
    """UTF-8 with a BOM, so Excel shows æøå. The first line records what
    produced the table (``# query: ...; exported: ...``); the header follows
    (``pandas.read_csv(path, skiprows=1)``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["# " + "; ".join(f"{k}: {v}" for k, v in table.about.items() if v)])
    w.writerow(COLUMNS)
    for r in table.rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    return _atomic(path, ("\ufeff" + buf.getvalue()).encode("utf-8"))


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "; ".join(map(str, v))
    return v


def write_xlsx(table: Table, path: Path) -> Path:
    """A workbook with the passages on one sheet and what produced them on another."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "passages"
    ws.append(COLUMNS)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r in table.rows:
        ws.append([_xlsx_value(r.get(c)) for c in COLUMNS])
    widths = {"text": 90, "citation": 50, "section": 30, "title": 30, "tags": 30, "memo": 40}
    for i, name in enumerate(COLUMNS, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = widths.get(name, 14)
    text_col = COLUMNS.index("text") + 1
    for row in ws.iter_rows(min_row=2, min_col=text_col, max_col=text_col):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    about = wb.create_sheet("about")
    for k, v in table.about.items():
        about.append([k, v])
    buf = io.BytesIO()
    wb.save(buf)
    return _atomic(path, buf.getvalue())


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_value(v: object) -> object:
    v = _cell(v)
    # Control characters from bad PDFs are not allowed in XLSX cells.
    return _ILLEGAL.sub("", v) if isinstance(v, str) else v


# ---------------------------------------------------------------- references

# BibTeX and RIS types by plansok document type; everything else is a report.
_BIB_TYPES = {"masteroppgave": "mastersthesis", "høringsuttalelse": "misc"}
_RIS_TYPES = {"masteroppgave": "THES", "høringsuttalelse": "GEN"}


def _persons(doc: DocumentMeta) -> list[str]:
    """The document's personal authors ("Kari Nordmann; Ola Hansen" in a manifest)."""
    return [a.strip() for a in re.split(r"\s*;\s*", doc.author or "") if a.strip()]


def _inverted(name: str) -> str:
    """ "Anne-Lise Sørum Eklid" -> "Eklid, Anne-Lise Sørum"; a name given as
    "Surname, Given" or an organisation (one word, or "i"/"og" in it) is kept."""
    parts = name.split()
    if "," in name or len(parts) < 2 or any(p.islower() for p in parts):
        return name
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def _issuer(doc: DocumentMeta) -> str:
    return f"{doc.municipality} kommune" if doc.municipality else ""


def _year(doc: DocumentMeta) -> str:
    """The year to cite: the adoption date's where one is known (a plan for
    2021-2033 adopted in 2022 is cited as 2022), else the first year."""
    if doc.adopted[:4].isdigit():
        return doc.adopted[:4]
    return str(doc.year_from or "")


def _key(doc: DocumentMeta) -> str:
    persons = _persons(doc)
    who = _inverted(persons[0]).split(",")[0] if persons else (doc.municipality or "plan")
    base = unicodedata.normalize("NFKD", f"{who}{_year(doc)}{doc.doc_type}")
    base = re.sub(r"[^A-Za-z0-9]", "", base.encode("ascii", "ignore").decode())
    return base or re.sub(r"\W", "", doc.doc_id)


def _bib_escape(text: str) -> str:
    return re.sub(r"([{}&%$#_])", r"\\\1", text)


def _note(doc: DocumentMeta) -> str:
    parts = []
    if doc.period and doc.doc_type not in ("masteroppgave", "høringsuttalelse", "rapport"):
        parts.append(f"Planperiode {doc.period}")
    if doc.adopted:
        parts.append(f"vedtatt {doc.adopted}")
    if _persons(doc) and doc.municipality:
        parts.append(f"om {doc.municipality} kommune")
    parts.append(f"plansok {doc.doc_id}")
    return "; ".join(parts)


def bibtex(docs: Sequence[DocumentMeta]) -> str:
    """One entry per document: ``@mastersthesis`` for a thesis, ``@misc`` for a
    hearing statement, ``@techreport`` otherwise (municipal plans are grey
    literature issued by the municipality; BibTeX has no better type). A
    named author is the author; without one the municipality is, as a
    corporate author. The year is the adoption year where one is known."""
    out, seen = [], set()
    for doc in docs:
        key = _key(doc)
        n = 2
        while key in seen:
            key = f"{_key(doc)}{chr(ord('a') + n - 2)}"
            n += 1
        seen.add(key)
        entry = _BIB_TYPES.get(doc.doc_type, "techreport")
        persons = _persons(doc)
        if persons:
            author = " and ".join(_bib_escape(_inverted(p)) for p in persons)
        else:
            author = "{" + _bib_escape(_issuer(doc)) + "}" if doc.municipality else ""
        fields = {
            "author": author,
            "title": "{" + _bib_escape(doc.title) + "}",
            "institution": _bib_escape(_issuer(doc)) if entry == "techreport" else "",
            "year": _year(doc),
            "date": doc.adopted,
            "type": _bib_escape("Masteroppgave" if entry == "mastersthesis" else doc.doc_type),
            "howpublished": "Høringsuttalelse" if doc.doc_type == "høringsuttalelse" else "",
            "keywords": _bib_escape(_issuer(doc)) if persons else "",
            "url": doc.source_url,
            "note": _bib_escape(_note(doc)),
            "language": "norwegian" if doc.standard == "nb" else "nynorsk",
        }
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
        out.append(f"@{entry}{{{key},\n{body}\n}}\n")
    return "\n".join(out)


def ris(docs: Sequence[DocumentMeta]) -> str:
    """RIS records for reference managers (Zotero, EndNote): THES for a
    thesis, GEN for a hearing statement, RPRT (report) otherwise; a named
    author as AU ("Surname, Given"), else the municipality."""
    out = []
    for doc in docs:
        lines = [f"TY  - {_RIS_TYPES.get(doc.doc_type, 'RPRT')}"]
        persons = _persons(doc)
        if persons:
            lines += [f"AU  - {_inverted(p)}" for p in persons]
        elif doc.municipality:
            lines.append(f"AU  - {_issuer(doc)}")
        if doc.municipality and doc.doc_type != "masteroppgave":
            lines.append(f"PB  - {_issuer(doc)}")
        lines.append(f"TI  - {doc.title}")
        if year := _year(doc):
            lines.append(f"PY  - {year}")
        if doc.adopted:
            parts = doc.adopted.split("-")
            lines.append("DA  - " + "/".join(parts + [""] * (3 - len(parts))) + "/")
        if doc.source_url:
            lines.append(f"UR  - {doc.source_url}")
        if persons and doc.municipality:
            lines.append(f"KW  - {_issuer(doc)}")
        lines += [f"M3  - {doc.doc_type}", f"LA  - {'nb' if doc.standard == 'nb' else 'nn'}", f"ID  - {doc.doc_id}"]
        if doc.period and doc.doc_type not in ("masteroppgave", "høringsuttalelse", "rapport"):
            lines.append(f"N1  - Plan period {doc.period}")
        if doc.adopted:
            lines.append(f"N1  - Vedtatt {doc.adopted}")
        lines.append("ER  - ")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def write_text(path: Path, text: str) -> Path:
    return _atomic(path, text.encode("utf-8"))
