"""Exports a researcher can open elsewhere: CSV and XLSX tables of query results
and collections (one row per passage, with the query and date recorded),
BibTeX and RIS references for the documents, a collection as a readable
chain of evidence (Markdown, DOCX), and REFI-QDA projects and codebooks
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
    return "; ".join(
        f"{k}={', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
        for k, v in filters.items()
        if v not in (None, [], "")
    )


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


# ---------------------------------------------------------------- chain of evidence


def collection_from_hits(hits: Sequence, query: str, filters: dict | None = None):  # -> Collection
    """Query results as an unsaved collection, for the chain-of-evidence export."""
    from plansok.collect.collections import Collection, Item

    now = _now()
    col = Collection(f"query {query}", "", now, now, [{"query": query, "filters": filters or {}, "run_at": now}])
    for n, h in enumerate(hits, start=1):
        p = h.passage
        col.items.append(
            Item(n, p.doc_id, p.ordinal, p.text, p.page_start, p.page_end, p.page_label, p.section, h.citation,
                 h.doc.source_url, query, h.rank, h.score, list(h.tags))
        )  # fmt: skip
    return col


@dataclass
class _Entry:
    heading: str
    quote: str
    fields: list[tuple[str, str]]


@dataclass
class _Evidence:
    title: str
    about: list[tuple[str, str]]
    memo: str
    queries: list[tuple[str, str]]  # (query, its filters and when it ran)
    codes: list[tuple[str, int]]  # (code with its parents, passages)
    entries: list[_Entry]
    references: list[str]


def _code_path(code: str, parents: dict[str, str]) -> str:
    path, seen = [code], {code}
    while (up := parents.get(path[0])) is not None and up not in seen:
        path.insert(0, up)
        seen.add(up)
    return " › ".join(path)


def _evidence(col, docs: dict[str, DocumentMeta], parents: dict[str, str], tag_labels: dict[str, str]) -> _Evidence:
    filters_of = {q["query"]: _filters_text(q.get("filters")) for q in col.queries}
    queries = []
    for q in col.queries:
        f = _filters_text(q.get("filters"))
        queries.append((q["query"], (f"{f}; " if f else "") + (f"run {q['run_at']}" if q.get("run_at") else "")))
    counts: dict[str, int] = {}
    for item in col.items:
        for code in item.codes:
            counts[code] = counts.get(code, 0) + 1
    codes = sorted(((_code_path(c, parents), n) for c, n in counts.items()), key=lambda x: x[0].casefold())
    entries = []
    for n, item in enumerate(col.items, start=1):
        d = docs.get(item.doc_id)
        page = f"{item.page_start}" + (f"-{item.page_end}" if item.page_end != item.page_start else "")
        if item.page_label and item.page_label != str(item.page_start):
            page += f" (printed page {item.page_label})"
        fields = [
            ("Document", f"{d.title} ({d.municipality}, {d.doc_type}, {d.period})" if d else item.doc_id),
            ("Passage", item.passage_id),
            ("Page", page),
            ("Section", item.section or "–"),
            ("Source", item.source_url or (d.source_url if d else "") or "–"),
        ]
        if item.query:
            found = f"{item.query}" + (f" ({filters_of[item.query]})" if filters_of.get(item.query) else "")
            if item.rank is not None:
                found += f", rank {item.rank}"
            fields.append(("Found by", found))
        else:
            fields.append(("Found by", "added by passage id"))
        if item.tags:
            fields.append(("Tags", "; ".join(f"{tag_labels.get(t['tag'], t['tag'])} ({t['confidence']:.2f})"
                                             for t in item.tags)))  # fmt: skip
        if item.codes:
            fields.append(("Codes", "; ".join(_code_path(c, parents) for c in item.codes)))
        if item.memo:
            fields.append(("Memo", item.memo))
        if item.status != "current":
            where = f" (now {item.now.get('passage_id')}, page {item.now.get('page')})" if item.now else ""
            fields.append(("Status", f"{item.status}{where}: the quote is as it was saved"))
        entries.append(_Entry(f"{n}. {item.citation}", item.text, fields))
    cited = [docs[i] for i in dict.fromkeys(item.doc_id for item in col.items) if i in docs]
    references = [
        f"{_issuer(d) or d.author}: {d.title}. {_year(d)}."
        + (f" {d.source_url}" if d.source_url else "")
        + f" [{d.doc_id}]"
        for d in cited
    ]
    about = [("Collection", col.name), ("Passages", str(len(col.items))), ("Created", col.created),
             ("Updated", col.updated), ("Exported", _now()), ("Tool", "plansok")]  # fmt: skip
    return _Evidence(col.name, about, col.memo, queries, codes, entries, references)


def _md_escape(text: str) -> str:
    # Intraword underscores and a "#" inside a line are plain text in CommonMark; these are not.
    return re.sub(r"([\\`*\[\]<|])", r"\\\1", text)


def evidence_markdown(
    col, docs: dict[str, DocumentMeta], parents: dict[str, str] | None = None, tag_labels: dict[str, str] | None = None
) -> str:
    """A collection as a readable chain of evidence: the memo (the finding),
    the queries that found the passages, the codes, then each quote with its
    citation (document, page, section, source URL), query, tags, codes and memo,
    and the documents cited."""
    ev = _evidence(col, docs, parents or {}, tag_labels or {})
    out = [f"# Chain of evidence: {_md_escape(ev.title)}", ""]
    out += [f"- **{k}:** {_md_escape(v)}" for k, v in ev.about] + [""]
    out += ["## Memo", "", _md_escape(ev.memo) if ev.memo else "_(no memo)_", ""]
    queries = [f"- `{q}`" + (f" ({_md_escape(how)})" if how else "") for q, how in ev.queries]
    out += ["## Queries", ""] + (queries or ["_(passages added by id)_"]) + [""]
    if ev.codes:
        out += ["## Codes", "", "| code | passages |", "|---|---:|"]
        out += [f"| {_md_escape(c)} | {n} |" for c, n in ev.codes] + [""]
    out += ["## Evidence", ""]
    for e in ev.entries:
        out += [f"### {_md_escape(e.heading)}", ""]
        out += ["> " + _md_escape(line) if line else ">" for line in e.quote.splitlines()] + [""]
        out += [f"- **{k}:** {_md_escape(v)}" for k, v in e.fields] + [""]
    if ev.references:
        out += ["## Documents cited", ""] + [f"- {_md_escape(r)}" for r in ev.references] + [""]
    return "\n".join(out)


def write_evidence_docx(
    col,
    docs: dict[str, DocumentMeta],
    path: Path,
    parents: dict[str, str] | None = None,
    tag_labels: dict[str, str] | None = None,
) -> Path:
    """The chain of evidence as a Word document (python-docx): headings, the
    quotes as block quotes, a table of codes."""
    from docx import Document
    from docx.shared import Pt

    ev = _evidence(col, docs, parents or {}, tag_labels or {})
    doc = Document()
    doc.core_properties.title = f"Chain of evidence: {ev.title}"
    doc.core_properties.author = "plansok"
    doc.add_heading(f"Chain of evidence: {ev.title}", level=0)
    for k, v in ev.about:
        para = doc.add_paragraph()
        para.add_run(f"{k}: ").bold = True
        para.add_run(_xlsx_value(v))
    doc.add_heading("Memo", level=1)
    doc.add_paragraph(_xlsx_value(ev.memo) if ev.memo else "(no memo)")
    doc.add_heading("Queries", level=1)
    for q, how in ev.queries:
        para = doc.add_paragraph(style="List Bullet")
        para.add_run(_xlsx_value(q)).bold = True
        if how:
            para.add_run(f" ({_xlsx_value(how)})")
    if not ev.queries:
        doc.add_paragraph("(passages added by id)")
    if ev.codes:
        doc.add_heading("Codes", level=1)
        table = doc.add_table(rows=1, cols=2)
        table.style = "Light List"
        table.rows[0].cells[0].text, table.rows[0].cells[1].text = "code", "passages"
        for code, n in ev.codes:
            row = table.add_row().cells
            row[0].text, row[1].text = _xlsx_value(code), str(n)
    doc.add_heading("Evidence", level=1)
    for e in ev.entries:
        doc.add_heading(_xlsx_value(e.heading), level=2)
        quote = doc.add_paragraph(_xlsx_value(e.quote), style="Intense Quote")
        quote.paragraph_format.space_after = Pt(6)
        for k, v in e.fields:
            para = doc.add_paragraph(style="List Bullet")
            para.add_run(f"{k}: ").bold = True
            para.add_run(_xlsx_value(v))
    if ev.references:
        doc.add_heading("Documents cited", level=1)
        for r in ev.references:
            doc.add_paragraph(_xlsx_value(r), style="List Bullet")
    buf = io.BytesIO()
    doc.save(buf)
    return _atomic(Path(path), buf.getvalue())
