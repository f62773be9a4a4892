"""REFI-QDA project exchange files (``.qdpx``) and codebooks (``.qdc``): write and read.

A ``.qdpx`` is a zip holding ``project.qde`` (XML in namespace
``urn:QDA-XML:project:1.0``, schema ``data/Project-mrt2019.xsd``) at its root
and the source files under ``sources/``, referenced from the XML as
``internal://<file>``. NVivo, ATLAS.ti, MAXQDA and QualCoder import it. A
``.qdc`` is the codebook alone (namespace ``urn:QDA-XML:codebook:1.0``,
schema ``data/Codebook.xsd``).

What this module writes:

* each source is a ``TextSource`` whose plain text is ``sources/<guid>.txt``
  (UTF-8, no BOM, stored verbatim: no newline translation, so positions stay
  valid); its ``name`` is a legal file name on Windows, macOS and Linux and
  unique ignoring case, because QualCoder copies each source to a file
  called after it (``documents/<name>.txt``);
* codings are ``PlainTextSelection`` (``startPosition``/``endPosition``) with
  one ``Coding``/``CodeRef`` per code; codings of the same span and note share
  one selection, so tools show one quotation with several codes;
* a coding's note becomes the selection's ``Description``: QualCoder stores it
  as the memo of each of the selection's codings, MAXQDA writes and reads a
  coded segment's comment there (QualCoder issue #491), and the schema gives a
  ``Coding`` no text of its own;
* memos are ``Notes/Note`` whose text is a file, ``sources/<guid>.txt``
  (``plainTextPath``), as NVivo, ATLAS.ti and QualCoder write them (the schema
  allows inline ``PlainTextContent`` instead, but QualCoder only turns a Note
  with a text file into a journal). An anchored memo is a ``NoteRef`` from
  the selection of its span, a memo on a whole source a ``NoteRef`` from the
  ``TextSource``, a free memo referenced from nowhere; Note names are unique
  (QualCoder's journal table requires it);
* ``Variables`` and ``Cases``: each case names its sources (``SourceRef``) and
  carries ``VariableValue``s, so NVivo (case classifications) and ATLAS.ti
  can compare by attribute;
* the project's ``Description`` (QualCoder's project memo);
* one ``User`` and ``creatingUser``/``creationDateTime`` on everything that
  takes them.

No one element reaches every importer: see the README's table of which
program reads which encoding of a memo.

Positions are Python ``str`` indices, i.e. Unicode code points, end exclusive.
For text inside the Basic Multilingual Plane (all Norwegian text, æøå
included) that is also the UTF-16 offset .NET/Java tools use internally; text
with emoji or other astral characters may be off by one per such character in
those tools.

GUIDs for users, selections and codings are derived (uuid5) from their
content, so exporting the same project twice gives the same XML apart from
timestamps that are not fixed by ``QdaProject.created``.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath

from lxml import etree

NS = "urn:QDA-XML:project:1.0"
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "Project-mrt2019.xsd"
CODEBOOK_SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "Codebook.xsd"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
QDE_NAME = "project.qde"
SOURCES_DIR = "sources"
INTERNAL = "internal://"
ORIGIN = "plansok"

# Stable namespace for derived GUIDs (users, selections, codings).
_GUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:plansok:qdpx")
_GUID_RE = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
# Characters XML 1.0 cannot carry at all (form feeds from PDF extraction are the usual culprit).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NAME_LEN = 60
# Characters no file name may hold on Windows (the strictest of the three
# systems), plus control characters; "/" also on macOS and Linux.
_FILE_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
# Device names Windows reserves whatever the extension (CON.txt is still CON).
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# Room for QualCoder's ".txt" and a "_2" duplicate suffix within the 255 bytes
# most file systems allow, and well inside Windows' 260-character path limit.
FILE_NAME_MAX = 120


@dataclass
class QdaCode:
    guid: str
    name: str
    description: str = ""
    color: str = "#1f77b4"
    children: list[QdaCode] = field(default_factory=list)
    is_codable: bool = True


@dataclass
class QdaCoding:
    """A code applied to ``text[start:end]`` of its source (code points, end exclusive)."""

    code_guid: str
    start: int
    end: int
    note: str = ""


@dataclass
class QdaSource:
    """A plain-text source."""

    guid: str
    name: str
    text: str
    codings: list[QdaCoding] = field(default_factory=list)
    description: str = ""


@dataclass
class QdaNote:
    """A memo; anchored to ``text[start:end]`` of a source, to a whole source
    (``source_guid`` only), or free (neither)."""

    guid: str
    name: str
    text: str
    source_guid: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass
class QdaVariable:
    """An attribute cases are compared by (NVivo: a classification attribute)."""

    guid: str
    name: str
    description: str = ""


@dataclass
class QdaCase:
    """A unit of analysis (here: a document) with its sources and attribute values."""

    guid: str
    name: str
    source_guids: list[str]
    values: dict[str, str] = field(default_factory=dict)  # variable guid -> text value
    description: str = ""


@dataclass
class QdaProject:
    name: str
    sources: list[QdaSource]
    codes: list[QdaCode]
    notes: list[QdaNote] = field(default_factory=list)
    user_name: str = "plansok"
    created: datetime | None = None
    description: str = ""
    variables: list[QdaVariable] = field(default_factory=list)
    cases: list[QdaCase] = field(default_factory=list)


# ---------------------------------------------------------------- helpers


def new_guid() -> str:
    """A random GUID in the form the schema's ``GUIDType`` accepts (8-4-4-4-12 hex, no braces)."""
    return str(uuid.uuid4())


def derived_guid(*parts: object) -> str:
    """A GUID that is the same for the same ``parts`` in every export (uuid5)."""
    return str(uuid.uuid5(_GUID_NS, "\x1f".join(str(p) for p in parts)))


_derived_guid = derived_guid


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _xml_safe(text: str) -> str:
    # lxml refuses these outright; dropping them beats failing a whole export over a stray form feed.
    return _XML_ILLEGAL.sub("", text)


def _timestamp(dt: datetime) -> str:
    # xs:dateTime in UTC; naive datetimes are taken as local time (datetime.astimezone's rule).
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _label(text: str) -> str:
    """A one-line excerpt used as the selection name (ATLAS.ti shows it as the quotation name)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _NAME_LEN else flat[: _NAME_LEN - 1] + "…"


def portable_file_name(name: str, taken: set[str] | None = None, limit: int = FILE_NAME_MAX) -> str:
    """``name`` made a legal file name on Windows, macOS and Linux: no
    ``<>:"/\\|?*`` or control characters (a colon becomes " -", the rest "_"),
    no leading or trailing dot or space, not a Windows device name (CON, NUL,
    COM1 ...), at most ``limit`` characters, and, if ``taken`` is given, unique
    in it ignoring case (Windows and macOS file systems ignore case); the
    chosen name is added to ``taken``."""
    flat = " ".join(unicodedata.normalize("NFC", name).split())
    flat = flat.replace(": ", " - ").replace(":", "-")
    flat = _FILE_ILLEGAL.sub("_", flat)
    flat = flat.strip(" .") or "source"
    if flat.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        flat = f"{flat}_"
    base = flat[:limit].rstrip(" .")
    candidate, n = base, 1
    while taken is not None and candidate.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        candidate = base[: limit - len(suffix)].rstrip(" .") + suffix
    if taken is not None:
        taken.add(candidate.casefold())
    return candidate


def _unique_names(names: list[str]) -> list[str]:
    """Names made unique by a " (2)", " (3)" ... suffix, in order."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate)
        out.append(candidate)
    return out


# ---------------------------------------------------------------- consistency checks


def _walk_codes(codes: list[QdaCode]) -> Iterator[QdaCode]:
    for code in codes:
        yield code
        yield from _walk_codes(code.children)


def _check_span(what: str, start: int, end: int, text: str) -> None:
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"{what}: span [{start}:{end}] outside text of length {len(text)}")


def _check_project(project: QdaProject) -> None:
    """Cross-references the schema cannot express (it has no key/keyref): fail before writing."""
    codes = {c.guid: c for c in _walk_codes(project.codes)}
    guids = [
        *codes,
        *(s.guid for s in project.sources),
        *(n.guid for n in project.notes),
        *(v.guid for v in project.variables),
        *(c.guid for c in project.cases),
    ]
    for guid in guids:
        if not _GUID_RE.match(guid):
            raise ValueError(f"not a REFI-QDA GUID: {guid!r} (use new_guid())")
    if len(set(guids)) != len(guids):
        raise ValueError("GUIDs of codes, sources, notes, variables and cases must be unique")
    sources = {s.guid: s for s in project.sources}
    variables = {v.guid for v in project.variables}
    for case in project.cases:
        for guid in case.source_guids:
            if guid not in sources:
                raise ValueError(f"case {case.name!r}: unknown source {guid}")
        for guid in case.values:
            if guid not in variables:
                raise ValueError(f"case {case.name!r}: unknown variable {guid}")
    for source in project.sources:
        for coding in source.codings:
            code = codes.get(coding.code_guid)
            if code is None:
                raise ValueError(f"source {source.name!r}: coding references unknown code {coding.code_guid}")
            if not code.is_codable:
                raise ValueError(f"source {source.name!r}: code {code.name!r} is not codable")
            _check_span(f"source {source.name!r}", coding.start, coding.end, source.text)
    for note in project.notes:
        if (note.start is None) != (note.end is None):
            raise ValueError(f"note {note.name!r}: give both start and end, or neither")
        if note.source_guid is None:
            if note.start is not None:
                raise ValueError(f"note {note.name!r}: a span needs a source_guid")
            continue
        source = sources.get(note.source_guid)
        if source is None:
            raise ValueError(f"note {note.name!r}: unknown source {note.source_guid}")
        if note.start is not None and note.end is not None:
            _check_span(f"note {note.name!r}", note.start, note.end, source.text)


# ---------------------------------------------------------------- writing


def _sub(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, _q(tag), {k: _xml_safe(v) for k, v in attrs.items()})


def _text_child(parent: etree._Element, tag: str, text: str) -> None:
    if text:
        _sub(parent, tag).text = _xml_safe(text)


def _code_element(parent: etree._Element, code: QdaCode) -> None:
    el = _sub(parent, "Code", guid=code.guid, name=code.name, isCodable="true" if code.is_codable else "false")
    if code.color:
        el.set("color", code.color)
    _text_child(el, "Description", code.description)
    for child in code.children:
        _code_element(el, child)


@dataclass
class _Selection:
    start: int
    end: int
    description: str
    code_guids: list[str] = field(default_factory=list)
    note_guids: list[str] = field(default_factory=list)


def _selections(source: QdaSource, notes: list[QdaNote]) -> list[_Selection]:
    """Group codings by (span, note) and hang anchored memos on a selection of the same span."""
    by_key: dict[tuple[int, int, str], _Selection] = {}
    for coding in source.codings:
        key = (coding.start, coding.end, coding.note)
        by_key.setdefault(key, _Selection(*key)).code_guids.append(coding.code_guid)
    for note in notes:
        if note.source_guid != source.guid or note.start is None or note.end is None:
            continue
        span = (note.start, note.end)
        target = next((s for k, s in by_key.items() if k[:2] == span), None)
        if target is None:
            target = by_key.setdefault((*span, ""), _Selection(*span, ""))
        target.note_guids.append(note.guid)
    return sorted(by_key.values(), key=lambda s: (s.start, s.end, s.description))


def _source_element(
    parent: etree._Element, source: QdaSource, name: str, notes: list[QdaNote], user: str, stamp: str
) -> None:
    el = _sub(
        parent,
        "TextSource",
        guid=source.guid,
        name=name,
        plainTextPath=f"{INTERNAL}{source.guid}.txt",
        creatingUser=user,
        creationDateTime=stamp,
    )
    _text_child(el, "Description", source.description)
    for sel in _selections(source, notes):
        sel_guid = _derived_guid("selection", source.guid, sel.start, sel.end, sel.description)
        sel_el = _sub(
            el,
            "PlainTextSelection",
            guid=sel_guid,
            name=_label(source.text[sel.start : sel.end]),
            startPosition=str(sel.start),
            endPosition=str(sel.end),
            creatingUser=user,
            creationDateTime=stamp,
        )
        _text_child(sel_el, "Description", sel.description)
        for i, code_guid in enumerate(sel.code_guids):
            coding = _sub(
                sel_el,
                "Coding",
                guid=_derived_guid("coding", sel_guid, code_guid, i),
                creatingUser=user,
                creationDateTime=stamp,
            )
            _sub(coding, "CodeRef", targetGUID=code_guid)
        for note_guid in sel.note_guids:
            _sub(sel_el, "NoteRef", targetGUID=note_guid)
    for note in notes:
        if note.source_guid == source.guid and note.start is None:
            _sub(el, "NoteRef", targetGUID=note.guid)


def _note_element(parent: etree._Element, note: QdaNote, name: str, user: str, stamp: str) -> None:
    # The text as a file, not inline: QualCoder makes a journal only of a Note
    # with a plainTextPath (refi.py, parse_notes), NVivo and ATLAS.ti write
    # memos this way, and the schema allows one of the two, not both.
    _sub(
        parent,
        "Note",
        guid=note.guid,
        name=name,
        plainTextPath=f"{INTERNAL}{note.guid}.txt",
        creatingUser=user,
        creationDateTime=stamp,
    )


def _variables_element(parent: etree._Element, variables: list[QdaVariable]) -> None:
    el = _sub(parent, "Variables")
    for var in variables:
        v = _sub(el, "Variable", guid=var.guid, name=var.name, typeOfVariable="Text")
        _text_child(v, "Description", var.description)


def _cases_element(parent: etree._Element, cases: list[QdaCase], variables: list[QdaVariable]) -> None:
    el = _sub(parent, "Cases")
    order = [v.guid for v in variables]
    for case in cases:
        c = _sub(el, "Case", guid=case.guid, name=case.name)
        _text_child(c, "Description", case.description)
        for guid in order:
            if guid in case.values:
                vv = _sub(c, "VariableValue")
                _sub(vv, "VariableRef", targetGUID=guid)
                _sub(vv, "TextValue").text = _xml_safe(case.values[guid])
        for guid in case.source_guids:
            _sub(c, "SourceRef", targetGUID=guid)


def source_file_names(project: QdaProject) -> dict[str, str]:
    """The name each source gets in the XML (by GUID): its own name made a
    portable file name, unique ignoring case."""
    taken: set[str] = set()
    return {s.guid: portable_file_name(s.name, taken) for s in project.sources}


def project_xml(project: QdaProject) -> bytes:
    """The ``project.qde`` document (UTF-8 XML with declaration)."""
    _check_project(project)
    user = _derived_guid("user", project.user_name)
    stamp = _timestamp(project.created or datetime.now(UTC))
    root = etree.Element(
        _q("Project"),
        {
            "name": _xml_safe(project.name),
            "origin": ORIGIN,
            "creatingUserGUID": user,
            "creationDateTime": stamp,
        },
        nsmap={None: NS},
    )
    _sub(_sub(root, "Users"), "User", guid=user, name=project.user_name)
    if project.codes:  # CodeBook/Codes needs at least one Code
        codes = _sub(_sub(root, "CodeBook"), "Codes")
        for code in project.codes:
            _code_element(codes, code)
    if project.variables:
        _variables_element(root, project.variables)
    if project.cases:
        _cases_element(root, project.cases, project.variables)
    if project.sources:  # Sources needs at least one source
        sources = _sub(root, "Sources")
        names = source_file_names(project)
        for source in project.sources:
            _source_element(sources, source, names[source.guid], project.notes, user, stamp)
    if project.notes:
        notes = _sub(root, "Notes")
        for note, name in zip(project.notes, _unique_names([n.name for n in project.notes]), strict=True):
            _note_element(notes, note, name, user, stamp)
    _text_child(root, "Description", project.description)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write_qdpx(project: QdaProject, path: Path) -> Path:
    """Write ``project`` as a ``.qdpx`` at ``path`` (atomically: temp file, then ``os.replace``).

    Raises ``ValueError`` on broken cross-references or if the XML does not
    validate against the shipped schema, so a bad file never reaches a tool.
    """
    path = Path(path)
    xml = project_xml(project)
    errors = validate(xml)
    if errors:
        raise ValueError("project.qde does not validate: " + "; ".join(errors[:5]))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(QDE_NAME, xml)
                for source in project.sources:
                    zf.writestr(f"{SOURCES_DIR}/{source.guid}.txt", source.text.encode("utf-8"))
                for note in project.notes:
                    zf.writestr(f"{SOURCES_DIR}/{note.guid}.txt", _xml_safe(note.text).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def codebook_xml(codes: list[QdaCode], origin: str = ORIGIN) -> bytes:
    """A REFI-QDA codebook (``.qdc``): the code tree with descriptions and colours."""
    for code in _walk_codes(codes):
        if not _GUID_RE.match(code.guid):
            raise ValueError(f"code {code.name!r}: not a REFI-QDA GUID: {code.guid!r}")
    if not codes:
        raise ValueError("a codebook needs at least one code")
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": origin}, nsmap={None: CODEBOOK_NS})
    codes_el = etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")

    def add(parent: etree._Element, code: QdaCode) -> None:
        el = etree.SubElement(
            parent,
            f"{{{CODEBOOK_NS}}}Code",
            {"guid": code.guid, "name": _xml_safe(code.name), "isCodable": "true" if code.is_codable else "false"},
        )
        if code.color:
            el.set("color", code.color)
        if code.description:
            etree.SubElement(el, f"{{{CODEBOOK_NS}}}Description").text = _xml_safe(code.description)
        for child in code.children:
            add(el, child)

    for code in codes:
        add(codes_el, code)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def write_qdc(codes: list[QdaCode], path: Path, origin: str = ORIGIN) -> Path:
    """Write a ``.qdc`` codebook at ``path`` (atomically), after validating it
    against ``data/Codebook.xsd``."""
    xml = codebook_xml(codes, origin)
    errors = validate_codebook(xml)
    if errors:
        raise ValueError("codebook does not validate: " + "; ".join(errors[:5]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(xml)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- validation


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _parser()))


@lru_cache(maxsize=1)
def _codebook_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CODEBOOK_SCHEMA_PATH), _parser()))


def validate_codebook(xml: bytes) -> list[str]:
    """Errors of ``xml`` against the REFI-QDA Codebook schema; ``[]`` if valid."""
    return _validate(xml, _codebook_schema())


def _parser() -> etree.XMLParser:
    # Files come from other tools and other people: no entity expansion, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def validate(xml: bytes) -> list[str]:
    """Errors of ``xml`` against the REFI-QDA Project schema; ``[]`` if valid."""
    return _validate(xml, _schema())


def _validate(xml: bytes, schema: etree.XMLSchema) -> list[str]:
    try:
        doc = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# ---------------------------------------------------------------- reading


def _find_member(names: list[str], internal_path: str) -> str | None:
    """The zip member for ``internal://<file>``: implementations disagree on the
    folder's case ("sources/", "Sources/"), so match on the file name."""
    wanted = PurePosixPath(internal_path).name.lower()
    matches = [n for n in names if PurePosixPath(n).name.lower() == wanted]
    # Prefer the file in the sources folder if another folder holds one of the same name.
    matches.sort(key=lambda n: n.lower() != f"{SOURCES_DIR}/{wanted}")
    return matches[0] if matches else None


def _read_text(zf: zipfile.ZipFile, el: etree._Element) -> str:
    inline = el.find(_q("PlainTextContent"))
    if inline is not None:
        return inline.text or ""
    path = el.get("plainTextPath") or ""
    if not path.startswith(INTERNAL):
        return ""  # relative:// and absolute:// point outside the archive
    member = _find_member(zf.namelist(), path[len(INTERNAL) :])
    if member is None:
        raise ValueError(f"{path} is not in the archive")
    # utf-8-sig: tolerate a BOM from other tools; it is not part of the text.
    return zf.read(member).decode("utf-8-sig")


def _child_text(el: etree._Element, tag: str) -> str:
    child = el.find(_q(tag))
    return (child.text or "") if child is not None else ""


def _read_code(el: etree._Element) -> QdaCode:
    return QdaCode(
        guid=el.get("guid", ""),
        name=el.get("name", ""),
        description=_child_text(el, "Description"),
        color=el.get("color", ""),
        children=[_read_code(c) for c in el.findall(_q("Code"))],
        is_codable=el.get("isCodable", "true").strip() in ("true", "1"),
    )


@dataclass
class _Anchor:
    source_guid: str
    start: int | None
    end: int | None


def _read_source(zf: zipfile.ZipFile, el: etree._Element, anchors: dict[str, _Anchor]) -> QdaSource:
    text = _read_text(zf, el)
    guid = el.get("guid", "")
    codings: list[QdaCoding] = []
    for sel in el.findall(_q("PlainTextSelection")):
        start, end = int(sel.get("startPosition", "0")), int(sel.get("endPosition", "0"))
        note = _child_text(sel, "Description")
        for coding in sel.findall(_q("Coding")):
            ref = coding.find(_q("CodeRef"))
            if ref is not None:
                codings.append(QdaCoding(ref.get("targetGUID", ""), start, end, note))
        for ref in sel.findall(_q("NoteRef")):
            anchors.setdefault(ref.get("targetGUID", ""), _Anchor(guid, start, end))
    # A Coding directly on the source codes the whole document.
    for coding in el.findall(_q("Coding")):
        ref = coding.find(_q("CodeRef"))
        if ref is not None:
            codings.append(QdaCoding(ref.get("targetGUID", ""), 0, len(text)))
    for ref in el.findall(_q("NoteRef")):
        anchors.setdefault(ref.get("targetGUID", ""), _Anchor(guid, None, None))
    return QdaSource(guid, el.get("name", ""), text, codings, _child_text(el, "Description"))


def _read_note(zf: zipfile.ZipFile, el: etree._Element, anchors: dict[str, _Anchor]) -> QdaNote:
    guid = el.get("guid", "")
    anchor = anchors.get(guid)
    return QdaNote(
        guid=guid,
        name=el.get("name", ""),
        text=_read_text(zf, el),
        source_guid=anchor.source_guid if anchor else None,
        start=anchor.start if anchor else None,
        end=anchor.end if anchor else None,
    )


def _read_cases(root: etree._Element) -> tuple[list[QdaVariable], list[QdaCase]]:
    variables = [
        QdaVariable(v.get("guid", ""), v.get("name", ""), _child_text(v, "Description"))
        for v in root.findall(f"{_q('Variables')}/{_q('Variable')}")
    ]
    cases = []
    for c in root.findall(f"{_q('Cases')}/{_q('Case')}"):
        values = {}
        for vv in c.findall(_q("VariableValue")):
            ref = vv.find(_q("VariableRef"))
            value = next((e.text or "" for e in vv if e.tag != _q("VariableRef")), "")
            if ref is not None:
                values[ref.get("targetGUID", "")] = value
        sources = [r.get("targetGUID", "") for r in c.findall(_q("SourceRef"))]
        cases.append(QdaCase(c.get("guid", ""), c.get("name", ""), sources, values, _child_text(c, "Description")))
    return variables, cases


def _user_name(root: etree._Element) -> str:
    users = root.findall(f"{_q('Users')}/{_q('User')}")
    creator = root.get("creatingUserGUID")
    user = next((u for u in users if u.get("guid") == creator), users[0] if users else None)
    return (user.get("name") or "") if user is not None else ""


def read_qdpx(path: Path) -> QdaProject:
    """Read a ``.qdpx``: text sources with their selections, the code tree and the notes.

    Cases and variables are read as text values. Other source kinds (PDF,
    pictures, audio, video), sets, links and graphs are skipped.
    """
    with zipfile.ZipFile(Path(path)) as zf:
        qde = next((n for n in zf.namelist() if n.lower() == QDE_NAME), None)
        if qde is None:
            raise ValueError(f"{path}: no {QDE_NAME} at the root of the archive")
        root = etree.fromstring(zf.read(qde), _parser())
        if root.tag != _q("Project"):
            raise ValueError(f"{path}: root element is {root.tag}, expected {{{NS}}}Project")
        codes = [_read_code(c) for c in root.findall(f"{_q('CodeBook')}/{_q('Codes')}/{_q('Code')}")]
        anchors: dict[str, _Anchor] = {}
        sources = [_read_source(zf, s, anchors) for s in root.findall(f"{_q('Sources')}/{_q('TextSource')}")]
        notes = [_read_note(zf, n, anchors) for n in root.findall(f"{_q('Notes')}/{_q('Note')}")]
        variables, cases = _read_cases(root)
    return QdaProject(
        name=root.get("name", ""),
        sources=sources,
        codes=codes,
        notes=notes,
        user_name=_user_name(root),
        created=_parse_timestamp(root.get("creationDateTime")),
        description=_child_text(root, "Description"),
        variables=variables,
        cases=cases,
    )
