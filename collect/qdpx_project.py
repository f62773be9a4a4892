"""A collection (or query results) as a REFI-QDA project, and the codebook as a ``.qdc``.

Sources are whole documents as plain text, page by page, so the researcher
reads each quote in its context in NVivo or ATLAS.ti; every saved passage is
coded at its exact character positions with the collection's own code, its
theory and theme tags (from the codebook) and the researcher's codes (with
their parent codes). Each document is also a case with the variables
municipality, kommunenummer, type, period and standard.

Memos go where each importer looks for them (see ``plansok.collect.qdpx``):
an item's memo is the Description of its quote's selection (a coding memo in
QualCoder, a segment comment in MAXQDA) and a Note referenced from that
selection (a linked memo in NVivo and ATLAS.ti); the collection's memo and
queries are a free Note with a text file (a journal in QualCoder, a free memo
elsewhere) and the project's Description (QualCoder's project memo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plansok.collect.collections import text_sha
from plansok.collect.qdpx import (
    QdaCase,
    QdaCode,
    QdaCoding,
    QdaNote,
    QdaProject,
    QdaSource,
    QdaVariable,
    derived_guid,
    new_guid,
    portable_file_name,
    write_qdc,
    write_qdpx,
)

THEORY_COLOR, THEME_COLOR, OWN_COLOR, COLLECTION_COLOR = "#7b3294", "#008837", "#e66101", "#2c7bb6"


@dataclass
class Quote:
    doc_id: str
    ordinal: int
    text: str
    tags: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    memo: str = ""
    citation: str = ""


def source_text(store, doc_id: str) -> tuple[str, dict[int, tuple[int, int]], dict[str, tuple[int, int]]]:
    """A document's passages as one text with page headings, and where each
    passage stands in it (by ordinal and by its words)."""
    parts: list[str] = []
    by_ordinal: dict[int, tuple[int, int]] = {}
    by_sha: dict[str, tuple[int, int]] = {}
    pos = 0
    page = None
    for _pid, p in store.passages_of(doc_id):
        if p.page_start != page:
            page = p.page_start
            heading = f"[side {page}{f' (trykt side {p.page_label})' if p.page_label else ''}]\n\n"
            parts.append(heading)
            pos += len(heading)
        by_ordinal[p.ordinal] = (pos, pos + len(p.text))
        by_sha.setdefault(text_sha(p.text), (pos, pos + len(p.text)))
        parts.append(p.text + "\n\n")
        pos += len(p.text) + 2
    return "".join(parts), by_ordinal, by_sha


# The variables each document case carries, in this order.
CASE_VARIABLES = (
    ("municipality", "Kommune / municipality"),
    ("kommunenummer", "Kommunenummer (four digits, as of the document's date)"),
    ("type", "Plan type (samfunnsdel, arealdel, handlingsplan, temaplan, ...)"),
    ("period", "Plan period (first-last year)"),
    ("standard", "Written standard: nb (bokmål) or nn (nynorsk)"),
)


def tag_codes(codebook) -> tuple[list[QdaCode], dict[str, QdaCode]]:
    """The codebook's theory and theme tags as two non-codable categories of codes.

    GUIDs derive from the tag ids, so every export names a tag with the same
    GUID and a tool merging two imports sees one code."""
    by_id = {
        t.id: QdaCode(derived_guid("tag", t.id), t.label, t.description,
                      THEORY_COLOR if t.kind == "theory" else THEME_COLOR)
        for t in codebook.tags
    }  # fmt: skip
    theories = QdaCode(derived_guid("category", "theory"), "Teoriar / theories", "plansok codebook: theory tags",
                       THEORY_COLOR, [by_id[t.id] for t in codebook.by_kind("theory")], is_codable=False)  # fmt: skip
    themes = QdaCode(derived_guid("category", "theme"), "Tema / themes", "plansok codebook: theme tags",
                     THEME_COLOR, [by_id[t.id] for t in codebook.by_kind("theme")], is_codable=False)  # fmt: skip
    return [theories, themes], by_id


def own_codes(names: list[str], parents: dict[str, str]) -> tuple[QdaCode | None, dict[str, QdaCode]]:
    """The researcher's codes as a tree under one category: ``parents`` maps a
    code to its parent code (a parent that no passage carries is a code too)."""
    wanted = set(names)
    for child in list(wanted):
        seen = {child}
        while (up := parents.get(child)) is not None and up not in seen:
            wanted.add(up)
            seen.add(up)
            child = up
    if not wanted:
        return None, {}
    by_name = {n: QdaCode(derived_guid("code", n), n, "the researcher's own code", OWN_COLOR) for n in sorted(wanted)}
    roots = []
    for n, code in by_name.items():
        parent = parents.get(n)
        if parent in by_name:
            by_name[parent].children.append(code)
        else:
            roots.append(code)
    category = QdaCode(derived_guid("category", "own"), "Eigne kodar / own codes", "", OWN_COLOR, roots,
                       is_codable=False)  # fmt: skip
    return category, by_name


def build_project(
    ix,
    quotes: list[Quote],
    name: str,
    memo: str = "",
    queries: list[str] | None = None,
    parents: dict[str, str] | None = None,
) -> QdaProject:  # ix: plansok.api.Index
    codebook = ix.codebook()
    docs = {d.doc_id: d for d in ix.documents()}
    collection_code = QdaCode(derived_guid("collection", name), f"plansok: {name}", "passages saved in plansok",
                              COLLECTION_COLOR)  # fmt: skip
    categories, tag_codes_by_id = tag_codes(codebook)
    own_category, own_by_name = own_codes(sorted({c for q in quotes for c in q.codes}), parents or {})
    codes = [collection_code, *categories]
    if own_category is not None:
        codes.append(own_category)

    sources: dict[str, QdaSource] = {}
    taken: set[str] = set()  # source names, which QualCoder makes file names
    spans: dict[str, tuple[dict, dict]] = {}
    notes: list[QdaNote] = []
    lost: list[Quote] = []
    for q in quotes:
        if q.doc_id not in sources and q.doc_id in docs:
            text, by_ordinal, by_sha = source_text(ix.store, q.doc_id)
            d = docs[q.doc_id]
            source_name = portable_file_name(f"{d.municipality} – {d.title}", taken)
            sources[q.doc_id] = QdaSource(new_guid(), source_name, text, [],
                                          f"{d.doc_id}; {d.source_url}".strip("; "))  # fmt: skip
            spans[q.doc_id] = (by_ordinal, by_sha)
        span = _locate(q, spans.get(q.doc_id), sources.get(q.doc_id))
        if span is None:
            lost.append(q)
            continue
        _code(sources[q.doc_id], span, q, collection_code, tag_codes_by_id, own_by_name, notes)
    if lost:
        # Saved quotes whose document changed or was removed keep their codes
        # in a source of their own, with their citations.
        text, offsets = "", []
        for q in lost:
            block = f"{q.citation}\n\n"
            start = len(text) + len(block)
            text += block + q.text + "\n\n"
            offsets.append((start, start + len(q.text)))
        source = QdaSource(new_guid(), portable_file_name(f"{name} – saved quotes no longer in the index", taken), text)
        sources["__lost__"] = source
        for q, span in zip(lost, offsets):
            _code(source, span, q, collection_code, tag_codes_by_id, own_by_name, notes)
    about = [f"Collection {name}" if name else "plansok export", f"exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
    if memo:
        about.append(f"Memo: {memo}")
    about += [f"Query: {x}" for x in queries or []]
    notes.append(QdaNote(new_guid(), f"plansok: {name}", "\n".join(about)))
    variables, cases = document_cases([docs[d] for d in sources if d in docs], sources)
    return QdaProject(name=f"plansok {name}".strip(), sources=list(sources.values()), codes=codes, notes=notes,
                      created=datetime.now(UTC), description="\n".join(about), variables=variables,
                      cases=cases)  # fmt: skip


def document_cases(docs, sources: dict[str, QdaSource]) -> tuple[list[QdaVariable], list[QdaCase]]:
    """One case per document, named like its source, with the document's
    municipality, kommunenummer, type, period and written standard."""
    if not docs:
        return [], []
    variables = {key: QdaVariable(derived_guid("variable", key), key, about) for key, about in CASE_VARIABLES}
    cases = []
    for d in docs:
        values = {"municipality": d.municipality, "kommunenummer": d.kommunenummer, "type": d.doc_type,
                  "period": d.period, "standard": d.standard}  # fmt: skip
        source = sources[d.doc_id]
        cases.append(
            QdaCase(
                derived_guid("case", d.doc_id),
                source.name,
                [source.guid],
                {variables[k].guid: v for k, v in values.items() if v},
                d.doc_id,
            )
        )
    return list(variables.values()), cases


def _locate(q: Quote, spans, source: QdaSource | None) -> tuple[int, int] | None:
    if spans is None or source is None:
        return None
    by_ordinal, by_sha = spans
    span = by_ordinal.get(q.ordinal)
    if span and text_sha(source.text[span[0] : span[1]]) == text_sha(q.text):
        return span
    return by_sha.get(text_sha(q.text))


def _code(source, span, q: Quote, collection_code, tag_codes, own_codes, notes) -> None:
    start, end = span
    # The memo as the codings' note lands in the selection's Description:
    # QualCoder and MAXQDA read an item memo only there.
    source.codings.append(QdaCoding(collection_code.guid, start, end, q.memo))
    for t in q.tags:
        if t in tag_codes:
            source.codings.append(QdaCoding(tag_codes[t].guid, start, end, q.memo))
    for c in q.codes:
        source.codings.append(QdaCoding(own_codes[c].guid, start, end, q.memo))
    if q.memo:
        # ... and as a Note linked from the same selection, NVivo's and ATLAS.ti's linked memo.
        notes.append(QdaNote(new_guid(), f"Memo: {q.citation}"[:200], q.memo, source.guid, start, end))


def write_project(
    ix, quotes: list[Quote], out: Path, name: str, memo: str = "", queries=None, parents: dict[str, str] | None = None
) -> Path:
    return write_qdpx(build_project(ix, quotes, name, memo, queries, parents), Path(out))


def write_codebook(codebook, own_names: list[str], parents: dict[str, str], out: Path) -> Path:
    """The codebook's theory and theme tags and the researcher's codes (with
    their hierarchy) as a REFI-QDA ``.qdc``, validated against its schema."""
    categories, _ = tag_codes(codebook)
    own_category, _ = own_codes(own_names, parents)
    return write_qdc([*categories, *([own_category] if own_category else [])], Path(out))
