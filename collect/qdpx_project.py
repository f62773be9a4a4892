"""A collection (or query results) as a REFI-QDA project.

Sources are whole documents as plain text, page by page, so the researcher
reads each quote in its context in NVivo or ATLAS.ti; every saved passage is
coded at its exact character positions with the collection's own code, its
theory and theme tags (from the codebook) and the researcher's codes; memos
become notes anchored to the passage, the collection's memo and queries a
free note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plansok.collect.collections import text_sha
from plansok.collect.qdpx import QdaCode, QdaCoding, QdaNote, QdaProject, QdaSource, new_guid, write_qdpx

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


def build_project(
    ix, quotes: list[Quote], name: str, memo: str = "", queries: list[str] | None = None
) -> QdaProject:  # ix: plansok.api.Index
    codebook = ix.codebook()
    docs = {d.doc_id: d for d in ix.documents()}
    collection_code = QdaCode(new_guid(), f"plansok: {name}", "passages saved in plansok", COLLECTION_COLOR)
    tag_codes = {t.id: QdaCode(new_guid(), t.label, t.description, THEORY_COLOR if t.kind == "theory" else THEME_COLOR)
                 for t in codebook.tags}  # fmt: skip
    theories = QdaCode(new_guid(), "Teoriar / theories", "plansok codebook: theory tags", THEORY_COLOR,
                       [tag_codes[t.id] for t in codebook.by_kind("theory")], is_codable=False)  # fmt: skip
    themes = QdaCode(new_guid(), "Tema / themes", "plansok codebook: theme tags", THEME_COLOR,
                     [tag_codes[t.id] for t in codebook.by_kind("theme")], is_codable=False)  # fmt: skip
    own_names = sorted({c for q in quotes for c in q.codes})
    own_codes = {c: QdaCode(new_guid(), c, "the researcher's own code", OWN_COLOR) for c in own_names}
    codes = [collection_code, theories, themes]
    if own_codes:
        codes.append(QdaCode(new_guid(), "Eigne kodar / own codes", "", OWN_COLOR, list(own_codes.values()),
                             is_codable=False))  # fmt: skip

    sources: dict[str, QdaSource] = {}
    spans: dict[str, tuple[dict, dict]] = {}
    notes: list[QdaNote] = []
    lost: list[Quote] = []
    for q in quotes:
        if q.doc_id not in sources and q.doc_id in docs:
            text, by_ordinal, by_sha = source_text(ix.store, q.doc_id)
            d = docs[q.doc_id]
            sources[q.doc_id] = QdaSource(new_guid(), f"{d.municipality}: {d.title}"[:200], text, [],
                                          f"{d.doc_id}; {d.source_url}".strip("; "))  # fmt: skip
            spans[q.doc_id] = (by_ordinal, by_sha)
        span = _locate(q, spans.get(q.doc_id), sources.get(q.doc_id))
        if span is None:
            lost.append(q)
            continue
        _code(sources[q.doc_id], span, q, collection_code, tag_codes, own_codes, notes)
    if lost:
        # Saved quotes whose document changed or was removed keep their codes
        # in a source of their own, with their citations.
        text, offsets = "", []
        for q in lost:
            block = f"{q.citation}\n\n"
            start = len(text) + len(block)
            text += block + q.text + "\n\n"
            offsets.append((start, start + len(q.text)))
        source = QdaSource(new_guid(), f"{name}: saved quotes no longer in the index", text)
        sources["__lost__"] = source
        for q, span in zip(lost, offsets):
            _code(source, span, q, collection_code, tag_codes, own_codes, notes)
    about = [f"Collection {name}" if name else "plansok export", f"exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
    if memo:
        about.append(f"Memo: {memo}")
    about += [f"Query: {x}" for x in queries or []]
    notes.append(QdaNote(new_guid(), f"plansok: {name}", "\n".join(about)))
    return QdaProject(name=f"plansok {name}".strip(), sources=list(sources.values()), codes=codes, notes=notes,
                      created=datetime.now(UTC), description="Exported from plansok")  # fmt: skip


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
    source.codings.append(QdaCoding(collection_code.guid, start, end))
    for t in q.tags:
        if t in tag_codes:
            source.codings.append(QdaCoding(tag_codes[t].guid, start, end))
    for c in q.codes:
        source.codings.append(QdaCoding(own_codes[c].guid, start, end))
    if q.memo:
        notes.append(QdaNote(new_guid(), f"Memo: {q.citation}"[:200], q.memo, source.guid, start, end))


def write_project(ix, quotes: list[Quote], out: Path, name: str, memo: str = "", queries=None) -> Path:
    return write_qdpx(build_project(ix, quotes, name, memo, queries), Path(out))
