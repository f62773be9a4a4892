"""Readers for the formats besides PDF: plain text and Markdown (with
``<!-- side N -->`` page markers), HTML and DOCX. Each returns cleaned pages
and whatever metadata the file itself states."""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

from plansok.errors import IngestError
from plansok.models import Page

PAGE_MARK_RE = re.compile(r"<!--\s*(?:side|seksjon|page)\s+(\S+)\s*-->", re.IGNORECASE)
# The header the shared corpus uses: "- Kommunenr: 3324", "- Kilde: <url>".
HEADER_FIELD_RE = re.compile(r"^\s*[-*]\s*([A-Za-zÆØÅæøå ]+):\s*(.+?)\s*$")
TITLE_RE = re.compile(r"^#\s+(.+)$")
HEADER_KEYS = {
    "kommunenr": "kommunenummer",
    "kommunenummer": "kommunenummer",
    "dokumenttype": "doc_type",
    "status": "status",
    "kilde": "source_url",
    "source": "source_url",
    "tittel": "title",
    "kommune": "municipality",
    "år": "year",
    "målform": "standard",
}
MAX_TEXT_BYTES = 200 * 1024 * 1024


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    # Bytes that are not UTF-8 in an otherwise UTF-8 file (text pasted from an
    # older cp1252 document) are read as cp1252, so "økonomi" survives both.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors="replace"), exc.end


codecs.register_error("plansok-cp1252", _cp1252_fallback)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def strip_controls(text: str) -> str:
    """Control characters (ESC, BEL, NUL ...) would reach a researcher's
    terminal through `plansok query`; tab, newline and form feed stay."""
    return _CONTROL.sub("", text)


def decode_text(raw: bytes, path: Path) -> str:
    """UTF-8, with stray cp1252 bytes read as cp1252 (older Norwegian files)."""
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(path, "binary file, not text (NUL bytes)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(path, f"not valid UTF-16 text ({exc.reason})") from exc
    return raw.decode("utf-8-sig", errors="plansok-cp1252")


def read_text(path: Path) -> tuple[list[Page], dict[str, str]]:
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError(path, "empty file")
    if len(raw) > MAX_TEXT_BYTES:
        raise IngestError(path, f"text file larger than {MAX_TEXT_BYTES // 2**20} MiB")
    text = strip_controls(decode_text(raw, path).replace("\r\n", "\n").replace("\r", "\n"))
    meta: dict[str, str] = {}
    marks = list(PAGE_MARK_RE.finditer(text))
    head = text[: marks[0].start()] if marks else ""
    if marks:
        for line in head.splitlines():
            if m := TITLE_RE.match(line):
                meta.setdefault("heading", m.group(1).strip())
            elif m := HEADER_FIELD_RE.match(line):
                key = HEADER_KEYS.get(m.group(1).strip().lower())
                if key:
                    meta[key] = m.group(2).strip().strip("<>")
        pages = []
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[m.end() : end].strip("\n")
            label = m.group(1)
            pages.append(Page(number=i + 1, text=body, label=label, source="text" if body.strip() else "empty"))
        return pages, meta
    # Form feeds separate pages in text exported from PDFs (pdftotext).
    chunks = text.split("\f") if "\f" in text else [text]
    return [Page(number=i + 1, text=c, source="text" if c.strip() else "empty") for i, c in enumerate(chunks)], meta


def read_html(path: Path) -> tuple[list[Page], dict[str, str]]:
    from bs4 import BeautifulSoup

    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError(path, "empty file")
    soup = BeautifulSoup(strip_controls(decode_text(raw, path)), "html.parser")
    meta: dict[str, str] = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "form"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "td", "th"]):
        if el.name in ("td", "th"):
            continue
        if el.name == "tr":
            cells = [c.get_text(" ", strip=True) for c in el.find_all(["td", "th"])]
            txt = " | ".join(c for c in cells if c)
        else:
            if el.find_parent(["li", "p"]) is not None and el.name in ("p", "li"):
                continue
            txt = el.get_text(" ", strip=True)
        if txt:
            blocks.append(txt)
    if not blocks:
        body = soup.get_text("\n", strip=True)
        blocks = [body] if body else []
    if not blocks:
        raise IngestError(path, "HTML page has no readable text")
    # A web page has no pages; it is one "page" for citation purposes.
    return [Page(number=1, text="\n\n".join(blocks))], meta


def _docx_blocks(document) -> tuple[dict[str, str], list[str]]:  # document: docx.Document
    meta: dict[str, str] = {}
    props = document.core_properties
    if props.title:
        meta["title"] = props.title
    if props.author:
        meta["author"] = props.author
    blocks: list[str] = []
    for para in document.paragraphs:
        txt = strip_controls(para.text.strip())
        if txt:
            blocks.append(txt)
    for table in document.tables:
        for row in table.rows:
            cells = [strip_controls(c.text.strip()) for c in row.cells]
            line = " | ".join(dict.fromkeys(c for c in cells if c))
            if line:
                blocks.append(line)
    return meta, blocks


def read_docx(path: Path) -> tuple[list[Page], dict[str, str]]:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise IngestError(path, "python-docx is not installed") from exc
    from docx.opc.exceptions import PackageNotFoundError

    try:
        meta, blocks = _docx_blocks(docx.Document(str(path)))
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError) as exc:
        raise IngestError(path, f"not a readable DOCX file ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:  # damaged XML inside the zip surfaces as lxml or attribute errors
        raise IngestError(path, f"not a readable DOCX file (damaged: {exc.__class__.__name__})") from exc
    if not blocks:
        raise IngestError(path, "DOCX document has no text")
    # DOCX has no fixed pages; page breaks are a rendering matter.
    return [Page(number=1, text="\n\n".join(blocks))], meta
