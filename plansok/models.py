"""Plain dataclasses for what flows between the stages: ingest -> index -> query.

Nothing here knows about PDFs, spaCy or numpy; every stage speaks these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DOC_TYPES = (
    "samfunnsdel",
    "arealdel",
    "planstrategi",
    "planprogram",
    "handlingsplan",
    "temaplan",
    "økonomiplan",
    "årsmelding",
    "rapport",
    "masteroppgave",
    "høringsuttalelse",
    "other",
)
STANDARDS = ("nb", "nn")


@dataclass
class Page:
    """One physical page of a source document after cleaning.

    ``number`` is the 1-based physical page (pdfplumber's ``page.page_number``);
    ``label`` is the page number printed on the page, where one was found.
    """

    number: int
    text: str
    label: str | None = None
    # "text" (text layer), "ocr" (read by OCR), "scan" (an image whose body has
    # no text layer, not OCR'd: skipped, and the researcher is told), "empty"
    # (nothing on the page but running lines, or nothing at all).
    source: str = "text"


@dataclass
class DocumentMeta:
    doc_id: str
    path: str = ""
    title: str = ""
    municipality: str = ""
    kommunenummer: str = ""
    doc_type: str = "other"
    year_from: int | None = None
    year_to: int | None = None
    standard: str = "nb"
    source_url: str = ""
    sha256: str = ""
    n_pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # A named personal author (a thesis's student, a report's writer, a hearing
    # statement's sender); "" for a document issued by the municipality alone.
    author: str = ""
    # The adoption (vedtatt) date the document or the manifest states: YYYY-MM-DD, YYYY-MM or YYYY.
    adopted: str = ""

    @property
    def period(self) -> str:
        if self.year_from and self.year_to and self.year_to != self.year_from:
            return f"{self.year_from}-{self.year_to}"
        return str(self.year_from or self.year_to or "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentMeta:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Document:
    meta: DocumentMeta
    pages: list[Page]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Passage:
    """A paragraph-sized unit a researcher would quote, with its provenance."""

    doc_id: str
    ordinal: int  # position within the document, 0-based
    text: str
    page_start: int  # physical 1-based page of the first character
    page_end: int
    section: str = ""  # heading path, e.g. "8 Hovudutfordringar > 8.2 Folkehelse"
    page_label: str | None = None
    source: str = "text"  # "text" or "ocr"

    @property
    def passage_id(self) -> str:
        return f"{self.doc_id}#{self.ordinal}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Span:
    """A character span in a passage's text that matched the query."""

    start: int
    end: int
    term: str  # the index term it matched (lemma, or ~part for a compound part)


@dataclass
class Hit:
    rank: int
    score: float
    passage: Passage
    doc: DocumentMeta
    snippet: str  # plain text excerpt; highlights are given as spans into it
    highlights: list[tuple[int, int]] = field(default_factory=list)
    matched_terms: list[str] = field(default_factory=list)
    also_in: list[dict[str, Any]] = field(default_factory=list)  # folded near-duplicates
    tags: list[dict[str, Any]] = field(default_factory=list)

    @property
    def citation(self) -> str:
        return cite(self.passage, self.doc)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "doc_id": self.doc.doc_id,
            "passage_id": self.passage.passage_id,
            "municipality": self.doc.municipality,
            "kommunenummer": self.doc.kommunenummer,
            "title": self.doc.title,
            "doc_type": self.doc.doc_type,
            "year_from": self.doc.year_from,
            "year_to": self.doc.year_to,
            "standard": self.doc.standard,
            "page": self.passage.page_start,
            "page_end": self.passage.page_end,
            "page_label": self.passage.page_label,
            "section": self.passage.section,
            "source": self.passage.source,
            "citation": self.citation,
            "source_url": self.doc.source_url,
            "text": self.passage.text,
            "snippet": self.snippet,
            "highlights": [list(h) for h in self.highlights],
            "matched_terms": self.matched_terms,
            "also_in": self.also_in,
            "tags": self.tags,
        }


def cite(p: Passage, doc: DocumentMeta) -> str:
    """Municipality, title (period), physical page (printed page), section:
    how hits, collections, exports and reports name a passage's place."""
    pages = f"s. {p.page_start}" if p.page_start == p.page_end else f"s. {p.page_start}-{p.page_end}"
    if p.page_label and p.page_label != str(p.page_start):
        pages += f" (trykt side {p.page_label})"
    if p.source == "ocr":
        pages += " [OCR]"  # read from a scan: check the quote against the PDF
    parts = [doc.municipality or "?", doc.title or doc.doc_id]
    if doc.period and doc.period not in parts[-1]:
        parts[-1] += f" ({doc.period})"
    parts.append(pages)
    if p.section:
        parts.append(p.section)
    return ", ".join(parts)


# (tag id, confidence, source, evidence words) for one passage
TagRow = tuple[str, float, str, list[str]]


@dataclass
class AnalysedDoc:
    """A document ready to index: metadata, pages, passages and their terms
    (what ingest hands the index writer)."""

    meta: DocumentMeta
    pages: list[Page]
    passages: list[Passage]
    terms: list[list[str]]
    lengths: list[int]
    forms: dict[str, str]  # "<standard>:<form>" -> space-separated terms
    tags: list[list[TagRow]] = field(default_factory=list)  # per passage, where tagged
    # Per passage, "references" or "contents" where results leave it out
    # (analysis.prose.left_out_kind); None: not classified, the writer does it.
    kinds: list[str | None] | None = None
