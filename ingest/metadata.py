"""Document metadata: municipality, kommunenummer, title, document type,
period or year, written standard, author and adoption date.

Order of trust
--------------
Each field is decided on its own, by the first source below that answers it:

1. **the manifest** (``plansok ingest --manifest meta.csv``): any column a row
   sets (applied by :func:`apply_manifest` after inference);
2. **what the document states about itself**: the PDF's metadata (Title,
   Author, Subject; used only when it is not a placeholder such as
   "untitled", a Word file name or a user name, and its words occur in the
   document), a text file's header (``- Kommunenr: 3324``), the **title page**
   (the first page's title block: its largest lines where the font sizes
   differ, else the first block of short lines that names a kind of document)
   and the **running lines** (a header or footer repeated on many pages, which
   often carries the title, the year or the author);
3. **the text** of the first pages: "X kommune" counted against the national
   register, "for perioden 2018-2030", an adoption date, nynorsk marker words;
4. **the file name**: a leading kommunenummer, a municipality, a kind or a
   period in ``3324_gol_samfunnsdel_2018-2030.pdf`` or
   ``kommuneplanens-samfunnsdel-2021-2033-egengodkjenning-2022.pdf``. A
   download name such as ``dec50ec7-4c9a-….pdf`` says nothing and is not needed.

Fields
------
- ``municipality``/``kommunenummer``: the municipality the document is from or
  about (the thesis about Oppdal is "Oppdal"), with its current number from
  the register (``plansok.lang.no.register``); a number a header or manifest
  states is kept as stated.
- ``doc_type``: plansok's vocabulary (``plansok.models.DOC_TYPES``), including
  ``masteroppgave`` and ``høringsuttalelse``.
- ``year_from``/``year_to``: a plan's **planning period** where the document
  states one in its title or title page ("2021-2040"); otherwise the year the
  document was **published or adopted**, in both ("januar 2022" on a report
  whose data are from 2016-2020 is 2022). Years in a list ("2016, 2018 og
  2020") or after "for årene" are data years and never the document's.
- ``title``: from the metadata, the title page or a running line, whole
  lines only (never cut mid-phrase); an all-capitals title is set in sentence
  case with municipality names capitalised.
- ``author``: a named person (or, for a hearing statement, the sender) where
  the document has one. Plans are issued by the municipality and get no
  personal author unless the manifest sets one.
- ``adopted``: the adoption date (vedtatt/vedteke/egengodkjent) the title page
  or running lines state, as ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``.

Where each field came from is kept in ``extra["sources"]``.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path

from plansok.errors import PlansokError
from plansok.lang.no import stop_words
from plansok.lang.no.register import fold, register
from plansok.models import DOC_TYPES, DocumentMeta, Page

logger = logging.getLogger(__name__)

# Checked in order against the texts of one source: the first match wins, so
# the specific kinds come before the general ones ("Høringsuttalelse til
# kommuneplanens samfunnsdel" is a hearing statement, not a samfunnsdel).
DOC_TYPE_RULES: list[tuple[str, str]] = [
    (
        "masteroppgave",
        r"masteroppg[aå]ve|masteravhandling|mastergradsoppg[aå]ve|master ?thesis|master of public administration"
        r"|\bmpa\b|hovudoppg[aå]ve|hovedoppgave",
    ),
    ("høringsuttalelse", r"høringsuttalelse|høyringsuttale|høringsuttale|høringssvar|høyringssvar|høyringsfråsegn"),
    ("økonomiplan", r"økonomiplan|budsjett"),
    ("årsmelding", r"årsmelding|årsrapport|årsberetning"),
    ("planstrategi", r"planstrategi"),
    ("planprogram", r"planprogram"),
    ("arealdel", r"arealdel|arealplan"),
    ("samfunnsdel", r"samfunnsdel|kommuneplan(?:en)?s? ?(?:-|–)? ?tekstdel|kommuneplan 20"),
    # "handlingplan" is a frequent misspelling (Ringerike's Leve hele livet).
    ("handlingsplan", r"handlings?plan|handlingsprogram|tiltaksplan|handlingsdel"),
    (
        "rapport",
        r"rapport|kunnskapsgrunnlag|oversiktsdokument|folkehelseoversikt|oversikt over|statistikk|"
        r"avhandling|utredning|evaluering|analyse",
    ),
    ("temaplan", r"temaplan|kommunedelplan|strategi|plan\b|boligplan|boligsosial|velferdsplan"),
]
# Kinds issued by the municipality as such: they get no personal author from inference.
PLAN_TYPES = frozenset(
    {"samfunnsdel", "arealdel", "planstrategi", "planprogram", "handlingsplan", "temaplan", "økonomiplan", "årsmelding"}
)
PERIOD_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:-|–|—|til)\s*((?:19|20)\d\d|\d\d)(?!\d|\.\d)")
YEAR_RE = re.compile(r"(?<![\d.,/])((?:19|20)\d\d)(?![\d]|\.\d)")
# A year in a list ("2016, 2018 og 2020") or after these words is a year of data;
# a single year after "fra"/"siden" is where a series starts, not the document's year.
_DATA_BEFORE = re.compile(r"(?:årene|åra|data|datasett|tall|tala|statistikk)\s*$", re.IGNORECASE)
_SINCE_BEFORE = re.compile(r"(?:fra|frå|siden|sidan)\s*$", re.IGNORECASE)
_LIST_NEIGHBOUR = re.compile(r"^\s*(?:,|og|and|&)\s*(?:19|20)\d\d")
_LIST_BEFORE = re.compile(r"(?:19|20)\d\d\s*(?:,|og|and|&)\s*$")
_MONTHS = {
    "januar": 1, "jan": 1, "februar": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4, "apr": 4, "mai": 5,
    "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "okt": 10, "november": 11, "nov": 11, "desember": 12, "des": 12,
}  # fmt: skip
_MONTH = (
    r"(januar|februar|mars|april|mai|juni|juli|august|september|oktober|november|desember"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|okt|nov|des)\.?"
)
_DATE_PATTERNS = [
    # 15.06.2022, 15.6.22
    (re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?((?:19|20)?\d\d)(?![\d])"), "dmy"),
    # 5. september 2024, 5.sept.-24, 24. mars 2021
    (re.compile(r"(?<!\d)(\d{1,2})\.\s*" + _MONTH + r"\s*-?\s*((?:19|20)?\d\d)(?!\d)", re.IGNORECASE), "dMy"),
    # januar 2022, des.2023
    (re.compile(r"(?<![\w])" + _MONTH + r"\s*((?:19|20)\d\d)(?!\d)", re.IGNORECASE), "My"),
]
_SAK_YEAR = re.compile(r"\bsak\s*[A-Za-z]*\s*\d{1,4}\s*/\s*((?:19|20)?\d\d)(?!\d)", re.IGNORECASE)
_ADOPTED_WORDS = re.compile(
    r"\b(?:vedtatt|vedteke|vedteken|vedtekne|egengodkjent|godkjent|sluttbehandlet|ks-vedtak|k-vedtak|"
    r"kommunestyrevedtak)\b",
    re.IGNORECASE,
)
# Lines on a title page that end the title: who adopted it, revisions, credits, version logs.
_STATUS_LINE = re.compile(
    r"\b(?:vedtatt|vedteke|vedteken|vedtak|egengodkjent|godkjent|revidert|rullert|høringsutkast|høyringsutkast|"
    r"utkast|versjon|logg|ps-sak|k-sak|ks-sak|sak\s+\d|behandlet|sluttbehandlet|forlenget|dato)\b",
    re.IGNORECASE,
)
_CREDIT_LINE = re.compile(
    r"^(?:foto|fotograf|illustrasjon|illustrasjonar|bilde|bilete|forsidebilde|forsidefoto|omslag|photo|"
    r"design|layout|trykk|kart)\b",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(
    r"^(?:forord|føreord|sammendrag|samandrag|innledning|innleiing|bakgrunn|abstract|summary|preface)\b", re.IGNORECASE
)
_CONTENTS_LINE = re.compile(r"^(?:innhold|innhald|innholdsfortegnelse|innhaldsliste|contents)\b", re.IGNORECASE)
_PAGE_LABEL = re.compile(
    r"^(?:(?:side|page|s\.)\s*)?\d{1,4}(?:\s*(?:av|of|/)\s*\d{1,4})?$|^(?:side|page)\s*\d{1,4}\b", re.IGNORECASE
)
_AUTHOR_LEAD = re.compile(
    r"^(?:forfattar|forfatter|forfattere|skrevet av|skrive av|utarbeidet av|utarbeida av|av|author|by|avsendar"
    r"|avsender)\s*:?\s+(.+)$",
    re.IGNORECASE,
)
_NOT_AUTHOR_LEAD = re.compile(
    r"^(?:ordfører|ordførar|rådmann|rådmannen|kommunedirektør|kommunedirektøren|kontaktperson|saksbehandler|"
    r"saksbehandlar|leder|leiar)\b",
    re.IGNORECASE,
)
_ORG_WORDS = re.compile(
    r"\b(?:kommune|kommunes|fylkeskommune|fylke|statsforvalter\w*|fylkesmann\w*|departement\w*|direktorat\w*|"
    r"etat\w*|avdeling\w*|avd|enhet\w*|eining\w*|seksjon\w*|sektor\w*|as|asa|ks|nav|høgskole\w*|høgskule\w*|"
    r"universitet\w*|institutt\w*|senter|senteret|forening\w*|forbund\w*|lag|laget|råd|rådet|utvalg\w*|"
    r"administrasjon\w*|user|bruker|admin|administrator|anonymous|microsoft|office|adobe|word|windows|owner|eier)\b",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"[A-ZÆØÅÉÜÖÄ][a-zæøåéüöäèáò]+(?:-[A-ZÆØÅ][a-zæøåéüöäèáò]+)?|[A-ZÆØÅ]\.")
_ROLE_SUFFIX = re.compile(
    r"(?:koordinator|rådgiver|rådgjevar|leder|leiar|sjef|konsulent|direktør|sekretær|ansvarlig|ansvarleg|"
    r"student|sykepleier|planlegger|planleggar|analytiker|medarbeider|medarbeidar|forsker|forskar)$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
_UUIDISH = re.compile(r"^[0-9a-f]{6,}(?:-[0-9a-f]{3,})+$|^[0-9a-f]{16,}$|^[\d_\-.]+$", re.IGNORECASE)
_FUNCTION_WORDS = frozenset(
    re.findall(r"\S+", "og i for av til med på om fra frå and of the in at ved etter under mot")
)
_PLACEHOLDER_TITLES = frozenset(
    re.findall(
        r"\S+",
        "untitled unspecified title tittel dokument document dokument1 document1 ny nytt mal template "
        "powerpoint-presentasjon powerpoint presentation presentasjon forside side rapport notat",
    )
)

NN_MARKERS = frozenset(
    re.findall(
        r"\S+",
        "ikkje eg frå kva korleis kvar dei eit òg vere vore berre mykje noko nokre desse heile vart me deira sjølv "
        "saman utfordringar tenester",
    )
)
NB_MARKERS = frozenset(
    re.findall(
        r"\S+",
        "ikke jeg fra hva hvordan hver de et også være vært bare mye noe noen disse hele ble vi selv sammen "
        "utfordringer tjenester",
    )
)
MANIFEST_FIELDS = (
    "municipality",
    "kommunenummer",
    "title",
    "doc_type",
    "year_from",
    "year_to",
    "standard",
    "source_url",
    "author",
    "adopted",
)
FRONT_PAGES = 12  # pages read for running lines and corroboration
TITLE_MAX = 160  # a title block longer than this is a page of prose, not a title
RUNNING_SHARE = 0.4  # share of the front pages a running line repeats on


# ---------------------------------------------------------------- small helpers


def display_path(path: Path | str) -> str:
    """A path as text: a name that is not UTF-8 on disk (Latin-1 from an old
    archive) is read as cp1252 rather than left as undecodable bytes."""
    raw = os.fsencode(str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def detect_standard(text: str) -> str:
    """ "nn" when nynorsk marker words outnumber bokmål ones."""
    words = re.findall(r"[a-zæøåò]+", text.lower())
    nn = sum(1 for w in words if w in NN_MARKERS)
    nb = sum(1 for w in words if w in NB_MARKERS)
    return "nn" if nn > nb * 1.2 and nn >= 3 else "nb"


def classify_doc_type(*texts: str) -> str:
    """The first rule that matches any of the texts: a specific kind named
    anywhere (the file name says "samfunnsdel") beats a general one named first
    (the title says "Kommuneplan")."""
    lows = [(text or "").lower().replace("_", " ") for text in texts]
    for doc_type, pattern in DOC_TYPE_RULES:
        if any(re.search(pattern, low) for low in lows):
            return doc_type
    return "other"


def _key(line: str) -> str:
    """A line without case, digits or spacing: how running lines are recognised."""
    return re.sub(r"\d+", "#", " ".join(line.casefold().split()))


def _year(two_or_four: str) -> int:
    y = int(two_or_four)
    return y if y >= 100 else 2000 + y if y < 70 else 1900 + y


def _this_year() -> int:
    return datetime.now().year


# ---------------------------------------------------------------- the front of a document


@dataclass
class Line:
    """One line of a page as printed: its text, its position (PDF points from
    the bottom; 0 for text sources) and font size (0 when unknown)."""

    text: str
    top: float = 0.0
    size: float = 0.0
    new_block: bool = False  # a blank line or a vertical gap comes before it


@dataclass
class Front:
    """What the first pages show: their lines as printed (running headers and
    footers still in) and the running lines found on them."""

    pages: list[list[Line]] = field(default_factory=list)
    running: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (text, pages it is on)

    @property
    def text(self) -> str:
        return "\n".join(ln.text for page in self.pages for ln in page)

    def is_running(self, line: str) -> bool:
        return _key(line) in self.running


def read_front(path: Path, pages: Sequence[Page]) -> Front:
    """The first pages of a document as printed. PDFs are read again here,
    with positions and font sizes and with running lines in (the cleaned pages
    have lost them, and a title page often repeats the running title); other
    formats use their pages' text."""
    front: list[list[Line]] | None = None
    if Path(path).suffix.lower() == ".pdf":
        try:
            front = _pdf_front(Path(path))
        except Exception as exc:  # pdfium raises its own and ctypes errors; the cleaned pages still serve
            logger.warning("%s: cannot read the title page's layout (%s); using the extracted text", path, exc)
    if front is None:
        front = [_text_lines(p.text) for p in pages[:FRONT_PAGES]]
    return Front(pages=front, running=_running_lines(front))


def _text_lines(text: str) -> list[Line]:
    out: list[Line] = []
    gap = False
    for raw in text.splitlines():
        s = raw.strip().lstrip("#").strip()
        if not s:
            gap = True
            continue
        out.append(Line(s, new_block=gap or not out))
        gap = False
    return out


def _pdf_front(path: Path) -> list[list[Line]]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    doc = pdfium.PdfDocument(str(path))
    try:
        out = []
        for index in range(min(len(doc), FRONT_PAGES)):
            page = doc[index]
            try:
                textpage = page.get_textpage()
                try:
                    segs = []
                    for i in range(textpage.count_rects()):
                        left, bottom, right, top = textpage.get_rect(i)
                        text = textpage.get_text_bounded(left, bottom, right, top).replace("\r\n", " ").strip()
                        if not text:
                            continue
                        height = top - bottom
                        char = pdfium_c.FPDFText_GetCharIndexAtPos(
                            textpage.raw, left + min(2.0, (right - left) / 2), bottom + height / 2, 2.0, 2.0
                        )
                        size = pdfium_c.FPDFText_GetFontSize(textpage.raw, char) if char >= 0 else 0.0
                        segs.append((left, bottom, right, top, text, size if size > 1.5 else height))
                finally:
                    textpage.close()
            finally:
                page.close()
            out.append(_lines_from_segments(segs))
        return out
    finally:
        doc.close()


def _lines_from_segments(segs: list[tuple[float, float, float, float, str, float]]) -> list[Line]:
    """Segments grouped into lines top to bottom; a wide gap inside a line (a
    year set at the right margin) becomes " | "."""
    lines: list[list[tuple[float, float, float, float, str, float]]] = []
    for seg in sorted(segs, key=lambda s: (-(s[1] + s[3]) / 2, s[0])):
        mid = (seg[1] + seg[3]) / 2
        if lines:
            last = lines[-1]
            last_mid = sum((s[1] + s[3]) / 2 for s in last) / len(last)
            if abs(mid - last_mid) < 0.5 * min(seg[3] - seg[1], last[0][3] - last[0][1]):
                last.append(seg)
                continue
        lines.append([seg])
    out: list[Line] = []
    prev_top: float | None = None
    prev_size = 0.0
    for group in lines:
        group.sort(key=lambda s: s[0])
        parts = [group[0][4]]
        for a, b in pairwise(group):
            gap = b[0] - a[2]
            parts.append((" | " if gap > 2.5 * max(a[3] - a[1], b[3] - b[1]) else " ") + b[4])
        top = max(s[3] for s in group)
        size = max(s[5] for s in group)
        new_block = prev_top is None or (prev_top - top) > 1.8 * max(size, prev_size, 1.0)
        out.append(Line("".join(parts).strip(), top, size, new_block))
        prev_top, prev_size = top, size
    return out


def _running_lines(pages: list[list[Line]]) -> dict[str, tuple[str, int]]:
    """Lines repeated at the top or bottom of many of the front pages (digit-blind)."""
    if len(pages) < 3:
        return {}
    counts: Counter[str] = Counter()
    text_of: dict[str, str] = {}
    for number, lines in enumerate(pages):
        edge = lines[:2] + lines[-2:] if len(lines) > 4 else lines
        keys = set()
        for ln in edge:
            k = _key(ln.text)
            if k and k != "#":
                keys.add(k)
                # The title page's copy may be set differently; later pages give the running form.
                if k not in text_of or number == 1:
                    text_of[k] = ln.text
        counts.update(keys)
    threshold = max(3, RUNNING_SHARE * len(pages))
    return {k: (text_of[k], n) for k, n in counts.items() if n >= threshold}


# ---------------------------------------------------------------- municipalities


@cache
def _name_index() -> dict[str, frozenset[str]]:
    """Folded municipality name -> the numbers that have carried it (current and old);
    "Herøy (Nordland)" is also filed under "herøy"."""
    out: dict[str, set[str]] = {}
    for m in register().by_nr.values():
        for name in m.names:
            base = re.sub(r"\s*\(.*\)\s*$", "", name)
            for k in {fold(name), fold(base)}:
                out.setdefault(k, set()).add(m.nr)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def _current_names() -> frozenset[str]:
    """Folded names (and base names) of today's municipalities."""
    out = set()
    for m in register().by_nr.values():
        if m.current:
            for name in m.names:
                out.add(fold(name))
                out.add(fold(re.sub(r"\s*\(.*\)\s*$", "", name)))
    return frozenset(out)


def current_number(name_or_number: str) -> str:
    """Today's kommunenummer for a name or a number (old numbers and names
    included), or "" when the register does not know it or it is ambiguous
    (Herøy, Våler; a municipality that was split)."""
    v = name_or_number.strip()
    reg = register()
    if v.isdigit():
        nrs: Iterable[str] = [v.zfill(4)] if v.zfill(4) in reg.by_nr else []
    else:
        nrs = _name_index().get(fold(v), frozenset())
    current = {m.nr for nr in nrs for m in reg.current_of(nr)}
    return next(iter(current)) if len(current) == 1 else ""


def _name_for(number: str) -> str:
    return register().name_of(number) or ""


MAX_MENTION_WORDS = 50_000


def municipality_mentions(text: str, *, bare: bool) -> list[str]:
    """Today's kommunenummer of each municipality the text names, in order.

    "X kommune" (kommunes, kommunestyre, ...) always counts, old names too
    ("Sørum kommune" is Lillestrøm). With ``bare``, a capitalised name of a
    current municipality standing alone counts as well ("Levekår i Drammen",
    "KOMMUNEPLAN FOR GOL"): right for titles and running lines, too loose for
    prose, where Hole, Lier and Gol are also words.
    """
    index = _name_index()
    # A municipality is named early; reading a whole 1 MB one-line text here
    # would take minutes for nothing.
    words = list(itertools.islice(_WORD.finditer(text), MAX_MENTION_WORDS))
    out: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(5, len(words) - i), 0, -1):
            span = text[words[i].start() : words[i + n - 1].end()]
            if "\n" in span or re.search(r"[^\w\s'-]", span):
                continue
            key = fold(span)
            if key not in index:
                continue
            after = words[i + n].group(0).casefold() if i + n < len(words) else ""
            explicit = after.startswith("kommune") and "\n" not in text[words[i + n - 1].end() : words[i + n].start()]
            if not explicit and not (bare and span[0].isupper() and key in _current_names()):
                continue
            nr = current_number(span)
            if nr:
                out.append(nr)
                i += n
                break
        else:
            i += 1
    return out


def _pick_municipality(mentions: Sequence[str], min_count: int = 1) -> str:
    """The most named municipality (ties: the first named), if named often enough
    and more often than any other."""
    if not mentions:
        return ""
    counts = Counter(mentions)
    ranked = sorted(counts, key=lambda nr: (-counts[nr], mentions.index(nr)))
    best = ranked[0]
    if counts[best] < min_count or (len(ranked) > 1 and counts[ranked[1]] == counts[best] and min_count > 1):
        return ""
    return best


# ---------------------------------------------------------------- years, periods, dates


def find_period(text: str, *, anywhere: bool = True) -> tuple[int, int] | None:
    """A period ("2021-2040", "2018-30", "2019 – 2028") that is not a span of
    data years ("tall for årene 2016-2018"). Without ``anywhere``, only a
    period introduced as the plan's ("for perioden 2018-2030", "planperiode")."""
    for m in PERIOD_RE.finditer(text or ""):
        lo, hi = int(m.group(1)), m.group(2)
        hi_i = int(hi) if len(hi) == 4 else (lo // 100) * 100 + int(hi)
        if not lo < hi_i <= lo + 40:
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        if _DATA_BEFORE.search(before):
            continue
        if not anywhere and not re.search(r"(?:periode[n]?|planperiode[n]?|gjeld(?:er|ande)? for)\s*$", before, re.I):
            continue
        return lo, hi_i
    return None


def title_year(text: str) -> int | None:
    """The year a title or running line gives the document: a month and year
    ("januar 2022") first, else a year standing on its own ("Kunnskapsgrunnlag
    2023"); never a year of data ("for årene 2016, 2018 og 2020") or a year
    inside a date or a case number."""
    text = text or ""
    for m in _DATE_PATTERNS[2][0].finditer(text):
        return int(m.group(2))
    for m in YEAR_RE.finditer(text):
        before, after = text[max(0, m.start() - 40) : m.start()], text[m.end() : m.end() + 12]
        if _DATA_BEFORE.search(before) or _SINCE_BEFORE.search(before):
            continue
        if _LIST_NEIGHBOUR.match(after) or _LIST_BEFORE.search(before):
            continue
        if re.search(r"/\s*$", before) or re.search(r"\d\.\s*$", before):
            continue  # "sak 24/2018", "6.12.2021"
        y = int(m.group(1))
        if 1900 < y <= _this_year() + 1:
            return y
    return None


def parse_date(text: str) -> str:
    """The first date in the text as ISO (``YYYY-MM-DD``, ``YYYY-MM``), or ""."""
    best: tuple[int, str] | None = None
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            try:
                if kind == "dmy":
                    d = date(_year(m.group(3)), int(m.group(2)), int(m.group(1)))
                    iso = d.isoformat()
                elif kind == "dMy":
                    month = _MONTHS[m.group(2).lower().rstrip(".")]
                    iso = date(_year(m.group(3)), month, int(m.group(1))).isoformat()
                else:
                    iso = f"{int(m.group(2)):04d}-{_MONTHS[m.group(1).lower().rstrip('.')]:02d}"
            except (ValueError, KeyError):
                continue
            if best is None or m.start() < best[0]:
                best = (m.start(), iso)
            break
    return best[1] if best else ""


def adoption_date(texts: Iterable[str]) -> str:
    """The date after the first "vedtatt"/"vedteke"/"egengodkjent" in the texts
    (looked for within the next 80 characters), else the year of the case
    number ("k-sak 52/20" is 2020); "" when none is stated."""
    for text in texts:
        for m in _ADOPTED_WORDS.finditer(text or ""):
            window = text[m.end() : m.end() + 80]
            iso = parse_date(window)
            if iso:
                return iso
            if sak := _SAK_YEAR.search(window):
                return str(_year(sak.group(1)))
    return ""


def normalise_date(value: str) -> str:
    """A manifest's adoption date as ISO: ``2021-09-30``, ``2021-09``, ``2021``,
    or Norwegian ``30.09.2021``. Raises ValueError otherwise."""
    v = value.strip()
    if re.fullmatch(r"(?:19|20)\d\d", v):
        return v
    if (m := re.fullmatch(r"((?:19|20)\d\d)-(\d{1,2})", v)) and 1 <= int(m.group(2)) <= 12:
        return f"{m.group(1)}-{int(m.group(2)):02d}"
    if re.fullmatch(r"(?:19|20)\d\d-\d{1,2}-\d{1,2}", v):
        return date.fromisoformat("-".join(p.zfill(2) for p in v.split("-"))).isoformat()
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.(?:19|20)\d\d", v):
        return parse_date(v)
    raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD, YYYY-MM, YYYY or DD.MM.YYYY)")


# ---------------------------------------------------------------- titles


def _useful_title(title: str | None, path: Path) -> str:
    """A stated title unless it is a placeholder: "untitled", a Word or file
    name, the file's own name, a lone number."""
    if not title:
        return ""
    t = " ".join(title.split())
    if re.match(r"(?i)microsoft (?:word|powerpoint) - ", t):
        t = t.split(" - ", 1)[1]
    low = t.lower()
    if (
        low in _PLACEHOLDER_TITLES
        or t == path.stem
        or re.search(r"\.(?:docx?|pdf|pptx?|indd|odt|rtf)$", low)
        or (("_" in t) and " " not in t)
        or len(re.findall(r"[^\W\d_]{2,}", t)) < 1
    ):
        return ""
    return t


def _corroborated(title: str, front_text: str) -> bool:
    """Most of a metadata title's words occur in the document: a template's
    leftover title ("Mal for temaplan") does not."""
    words = [w for w in re.findall(r"[^\W\d_]{4,}", title.casefold())]
    if not words:
        return True
    seen = front_text.casefold()
    return sum(w in seen for w in words) >= max(1, len(words) // 2)


def _strip_page_parts(line: str) -> tuple[str, list[str], bool]:
    """A running line without its page label ("| side 3", "Side 3 av 16", "2 |"):
    the text, the parts set apart from it (a year at the right margin), and
    whether a page label was taken off."""
    parts = [p.strip() for p in re.split(r"\s+\|\s+|\s+\|$|^\|\s+", line) if p.strip()]
    kept, aside = [], []
    labelled = False
    for p in parts:
        if _PAGE_LABEL.match(p) or re.fullmatch(r"(?i)(?:side|page)\s*\d+(?:\s*(?:av|of)\s*\d+)?", p):
            labelled = True
            continue
        if re.fullmatch(r"(?:19|20)\d\d", p):
            aside.append(p)
            continue
        kept.append(p)
    text = " ".join(kept)
    cut = re.sub(r"(?i)\s*\b(?:side|page)\s*\d+(?:\s*(?:av|of)\s*\d+)?\s*$", "", text)
    cut = re.sub(r"^\d{1,3}\s+(?=[^\d\s])|(?<=[^\d\s])\s+\d{1,3}$", "", cut)
    return cut.strip(), aside, labelled or cut != text


def _municipality_only(text: str) -> bool:
    """ "Ål kommune", "HEMSEDAL KOMMUNE", "Sigdal": a line that only names a municipality."""
    t = re.sub(r"(?i)\s+kommune$", "", text.strip())
    return fold(t) in _name_index()


def _strip_municipality_prefix(title: str) -> str:
    """ "Drammen kommune – Kommuneplanens samfunnsdel" -> "Kommuneplanens samfunnsdel", and
    "Temaplan for idrett - Bamble kommune" -> "Temaplan for idrett"."""
    m = re.match(r"^(.{2,40}?\s+kommune)\s*[–—\-:|•]\s*(.+)$", title, re.IGNORECASE)
    if m and _municipality_only(m.group(1)):
        return m.group(2)
    # A web page's title: "Temaplan for idrett - Bamble kommune".
    m = re.match(r"^(.+?)\s+[–—\-:|•]\s+(.{2,40}?\s+kommune)$", title, re.IGNORECASE)
    if m and _municipality_only(m.group(2)):
        return m.group(1)
    return title


def tidy_title(title: str) -> str:
    """Whitespace collapsed, no trailing full stop or dangling separator; an
    all-capitals title in sentence case with municipality names capitalised."""
    t = " ".join(title.replace("\u00ad", "").split()).strip(" |•")
    t = re.sub(r"\s*[–—\-:,]$", "", t).rstrip(".").strip()
    t = re.sub(r"\b((?:19|20)\d\d)\s*[-–]\s*((?:19|20)\d\d)\b", r"\1-\2", t)
    letters = [c for c in t if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.7 * len(letters) and len(t.split()) > 1:
        t = _sentence_case(t)
    return t


def _sentence_case(text: str) -> str:
    words = text.split(" ")
    out = [w.lower() if w.isupper() or not any(c.isalpha() for c in w) else w for w in words]
    low = " ".join(out)
    # Names of municipalities keep their capitals ("for Flesberg kommune").
    for m in sorted(_iter_names(low), key=lambda s: -len(s[2])):
        start, end, name = m
        low = low[:start] + name + low[end:]
    return low[:1].upper() + low[1:]


def _iter_names(text: str) -> list[tuple[int, int, str]]:
    index = _name_index()
    # A municipality is named early; reading a whole 1 MB one-line text here
    # would take minutes for nothing.
    words = list(itertools.islice(_WORD.finditer(text), MAX_MENTION_WORDS))
    found = []
    for i in range(len(words)):
        for n in range(min(4, len(words) - i), 0, -1):
            span = text[words[i].start() : words[i + n - 1].end()]
            key = fold(span)
            if key in index and key in _current_names() and len(key) > 1:
                nr = current_number(span)
                name = _name_for(nr) if nr else ""
                if name and fold(name) == key and len(name) == len(span):
                    found.append((words[i].start(), words[i + n - 1].end(), name))
                break
    return found


@dataclass
class TitleBlock:
    text: str  # the title as set on the page (lines joined)
    lines: list[str]  # every line of the block up to the first that ends the title (for years, places)
    anchored: bool  # the block names a kind of document ("samfunnsdel", "rapport")


def title_blocks(front: Front) -> list[TitleBlock]:
    """Title candidates from the title page, best first: where font sizes
    differ, the block of the largest lines; then the blocks of short lines
    (not prose, not a contents list) on the first page, or the second when the
    first is a bare cover. Running lines that carry a page number or only a
    municipality's name are left out; a running line that names a kind of
    document is kept (it is often the title itself)."""
    out: list[TitleBlock] = []
    for lines in front.pages[:2]:
        usable = [ln for ln in lines if not _skip_line(ln.text, front)]
        blocks = _blocks(lines, front)
        sizes = [ln.size for ln in usable if ln.size]
        if sizes:
            body = sorted(sizes)[len(sizes) // 2]
            big = [ln for ln in usable if ln.size >= 1.3 * body]
            if big and len(" ".join(ln.text for ln in big)) <= TITLE_MAX:
                text = " ".join(ln.text for ln in big if not _municipality_only(ln.text))
                if text:
                    out.append(TitleBlock(text, [ln.text for ln in big], classify_doc_type(text) != "other"))
        out.extend(blocks)
        if any(b.anchored for b in out):
            break
    return out


def _skip_line(text: str, front: Front) -> bool:
    """Lines that are on a title page but no part of a title."""
    stripped, _, labelled = _strip_page_parts(text)
    if not stripped or _PAGE_LABEL.match(text.strip()):
        return True
    return front.is_running(text) and (labelled or classify_doc_type(stripped) == "other")


def _blocks(lines: list[Line], front: Front) -> list[TitleBlock]:
    groups: list[list[Line]] = []
    for ln in lines:
        if ln.new_block or not groups:
            groups.append([])
        groups[-1].append(ln)
    out = []
    for group in groups[:12]:
        kept: list[str] = []
        seen: list[str] = []
        for ln in group:
            text = ln.text.strip()
            if _CONTENTS_LINE.match(text):
                return out  # a contents list follows: no title below it
            if _skip_line(text, front):
                continue
            if _STATUS_LINE.search(text) or _CREDIT_LINE.match(text):
                seen.append(text)
                if kept:
                    break  # what follows the title: who adopted it, a photo credit
                continue
            if re.match(r"^\d+(?:\.\d+)*\.?\s+\S", text) and not PERIOD_RE.match(text):
                break  # a numbered heading or list item
            if _FRONT_MATTER.match(text):
                break  # "Forord", "Sammendrag": a section starts, not a title
            if len(text) > 120 or (text.endswith((".", "?", "!")) and len(text.split()) >= 3):
                break  # a sentence, a question or a slogan ends the block
            if text.endswith(",") and len(text) > 40:
                break  # a line of wrapped prose
            seen.append(text)
            if _municipality_only(text) or (not kept and re.fullmatch(r"[\d\s–—\-]+", text)):
                continue
            kept.append(text)
        joined = _join(kept)
        if not joined or len(joined) > TITLE_MAX:
            continue
        out.append(TitleBlock(joined, seen, classify_doc_type(joined) != "other"))
    return out


def _join(lines: list[str]) -> str:
    """Lines joined into a title; a title never ends on a word that needs a next one."""
    while lines and lines[-1].split()[-1].lower() in _FUNCTION_WORDS:
        lines = lines[:-1]
    return " ".join(lines).strip()


def running_titles(front: Front) -> list[tuple[str, list[str]]]:
    """Running lines that read as a title ("Levekårsstatistikkrapport Drammen
    januar 2022 | side 3"), without their page numbers, most frequent first;
    each with the parts set apart from it (a year at the margin)."""
    out = []
    for text, _n in sorted(front.running.values(), key=lambda v: (-v[1], -len(v[0]))):
        stripped, aside, _ = _strip_page_parts(text)
        title = _strip_municipality_prefix(stripped)
        if len(title.split()) >= 2 and classify_doc_type(title) != "other" and not _municipality_only(title):
            out.append((title, aside))
    return out


def _slug_words(stem: str) -> str:
    return " ".join(w for w in re.split(r"[-_+.\s]+", stem) if w)


def _title_from_name(stem: str) -> str:
    """A title from a descriptive file name ("kommuneplanens-samfunnsdel-2021-2033"), or ""."""
    if _UUIDISH.match(stem):
        return ""
    words = _slug_words(stem)
    if len(re.findall(r"[^\W\d_]{3,}", words)) < 2:
        return ""
    return words[:1].upper() + words[1:]


# ---------------------------------------------------------------- authors


def person_name(text: str) -> str:
    """The text as a person's name ("Anne-Lise Sørum Eklid", "Eklid, Anne-Lise
    Sørum", "Kari M. Nordmann"), or "" for an organisation, a user name or a
    placeholder."""
    t = " ".join(text.strip().strip(",;").split())
    if t.count(",") == 1:
        last, first = (p.strip() for p in t.split(","))
        t = f"{first} {last}"
    tokens = t.split()
    if not 2 <= len(tokens) <= 5 or _ORG_WORDS.search(t):
        return ""
    if not all(_NAME_TOKEN.fullmatch(tok) for tok in tokens):
        return ""
    if sum(len(tok) > 2 for tok in tokens) < 2 or any(tok.lower() in stop_words() for tok in tokens):
        return ""
    if _municipality_only(t) or classify_doc_type(t) != "other":
        return ""
    return t


MAX_BYLINE = 200  # characters


def _author_from_line(line: str) -> str:
    """A named author on a title page: "Utarbeidet av: Kari Nordmann",
    "Siv Merethe Glesne Folkehelsekoordinator" (a name and a role)."""
    text = line.strip()
    # A byline is a line, not a paragraph (a text file can be one line of a megabyte).
    if len(text) > MAX_BYLINE or _CREDIT_LINE.match(text) or _NOT_AUTHOR_LEAD.match(text):
        return ""
    if m := _AUTHOR_LEAD.match(text):
        text = re.split(r",|\s+[–—-]\s+|\(", m.group(1))[0]
        return person_name(text)
    tokens = text.split()
    # A trailing role ("folkehelsekoordinator", "rådgiver"): long compound words are no names.
    end = len(tokens)
    while end and (len(tokens[end - 1]) > 12 or _ROLE_SUFFIX.search(tokens[end - 1]) or tokens[end - 1].islower()):
        end -= 1
    if end < 2 or end > 4:
        return ""
    return person_name(" ".join(tokens[:end]))


def _author_from_running(line: str) -> str:
    """A person named in a running line ("MPA 2015 Anne-Lise Sørum Eklid Side 3"),
    without the page label, numbers and acronyms around the name."""
    stripped, _, _ = _strip_page_parts(line)
    tokens = [t for t in stripped.split() if not re.search(r"\d", t) and not (t.isupper() and len(t) <= 5)]
    return person_name(" ".join(tokens))


def _hearing_sender(texts: Iterable[str]) -> str:
    """Who a hearing statement is from: "Høringsuttalelse fra X til …"."""
    for text in texts:
        m = re.search(
            r"(?:høringsuttalelse|høyringsuttale|høringsuttale|høringssvar|høyringssvar|høyringsfråsegn)\s+"
            r"(?:fra|frå)\s+(.+?)(?:\s+(?:til|om|på|vedkommande|vedrørende|ang\.?)\b|[.:;,\n]|$)",
            text or "",
            re.IGNORECASE,
        )
        if m:
            return m.group(1).strip()
    return ""


# ---------------------------------------------------------------- inference


@dataclass
class _Choice:
    """A field's value and the source it came from: the first offer wins, so
    offers are made in the order of trust."""

    value: object = None
    source: str = ""

    def offer(self, value: object, source: str) -> None:
        if self.source == "" and value not in (None, "", (None, None)):
            self.value, self.source = value, source


@dataclass
class _Evidence:
    """What one document shows, gathered once for every field."""

    stem: str
    stated: dict[str, str]
    front: Front
    body_pages: list[str]  # the first cleaned pages (running lines out)
    stated_title: str = ""
    title: str = ""
    title_texts: list[str] = field(default_factory=list)  # where the document states its title, best first
    block_lines: list[str] = field(default_factory=list)  # the title block as printed, with its status lines

    @property
    def title_page(self) -> str:
        return "\n".join(ln.text for ln in (self.front.pages[0] if self.front.pages else []))

    @property
    def running_text(self) -> list[str]:
        return [text for text, _ in self.front.running.values()]


def infer_metadata(path: Path, pages: list[Page], stated: dict[str, str], doc_id: str) -> DocumentMeta:
    """Metadata from what the file states, its title page and running lines,
    its first pages and its name, field by field in that order of trust."""
    stem = Path(display_path(path)).stem
    ev = _Evidence(stem, stated, read_front(path, pages), [p.text for p in pages[:5]])
    sources: dict[str, str] = {}
    title = _infer_title(ev, is_pdf=Path(path).suffix.lower() == ".pdf")
    doc_type = _infer_type(ev)
    kind = str(doc_type.value)
    # The author before the place: a person's name ("Sørum") is not a municipality.
    author = _infer_author(ev, kind)
    place = _infer_place(ev, str(author.value or ""))
    adopted = _infer_adopted(ev)
    years = _infer_years(ev, kind, str(adopted.value or ""), adopted.source)

    knr = str(place.value or "")
    municipality = _name_for(knr) if knr else stated.get("municipality", "")
    knr_stated = stated.get("kommunenummer", "").strip()
    if place.source == "stated" and knr_stated and current_number(knr_stated) == knr:
        knr = knr_stated.zfill(4)  # a stated number is kept as stated (an old one too)
    standard = stated.get("standard", "")
    if standard in ("nb", "nn"):
        sources["standard"] = "stated"
    else:
        standard = detect_standard("\n".join(p.text for p in pages[:12])[:60000])
        sources["standard"] = "text"
    for name, choice in (
        ("title", title),
        ("doc_type", doc_type),
        ("author", author),
        ("municipality", place),
        ("adopted", adopted),
        ("year", years),
    ):
        if choice.value:
            sources[name] = choice.source
    year_from, year_to = years.value if isinstance(years.value, tuple) else (None, None)
    extra = {k: v for k, v in stated.items() if k in ("status", "Author", "Subject")}
    extra["sources"] = sources
    return DocumentMeta(
        doc_id=doc_id,
        path=display_path(path),
        title=ev.title,
        municipality=municipality,
        kommunenummer=knr,
        doc_type=kind,
        year_from=year_from,
        year_to=year_to,
        standard=standard,
        source_url=stated.get("source_url", ""),
        n_pages=len(pages),
        author=str(author.value or ""),
        adopted=str(adopted.value or ""),
        extra=extra,
    )


def _infer_title(ev: _Evidence, *, is_pdf: bool) -> _Choice:
    """The stated title (a PDF's only if its words occur in the document), a
    short title block that names a kind of document, a running title, a
    longer title block, a descriptive file name; the file name as a last resort."""
    title = _Choice()
    stated = ev.stated
    ev.stated_title = _useful_title(stated.get("title") or stated.get("Title"), Path(ev.stem))
    if ev.stated_title and (not is_pdf or _corroborated(ev.stated_title, ev.front.text)):
        title.offer(ev.stated_title, "stated")
    if stated.get("heading"):
        title.offer(stated["heading"].split(":", 1)[-1].strip(), "stated")
    blocks = title_blocks(ev.front)
    anchored = [b for b in blocks if b.anchored]
    running = running_titles(ev.front)
    if anchored and len(anchored[0].text) <= 100:
        title.offer(anchored[0].text, "title page")
    if running:
        title.offer(running[0][0], "running lines")
    if anchored:
        title.offer(anchored[0].text, "title page")
    if blocks:
        title.offer(blocks[0].text, "title page")
    title.offer(_title_from_name(ev.stem), "file name")
    title.offer(ev.stem, "file name")
    ev.title = tidy_title(_strip_municipality_prefix(str(title.value)))
    ev.block_lines = [ln for b in (anchored[:1] or blocks[:1]) for ln in b.lines]
    texts = [ev.stated_title, stated.get("heading", ""), ev.title, " ".join(ev.block_lines)]
    texts += [t for t, _ in running] + [a for _, aside in running for a in aside]
    ev.title_texts = [t for t in texts if t]
    return title


def _infer_type(ev: _Evidence) -> _Choice:
    doc_type = _Choice()
    stated = ev.stated
    if stated.get("doc_type") in DOC_TYPES:
        doc_type.offer(stated["doc_type"], "stated")
    # The title itself first: a kind named by another line of the title page
    # (a list of the municipality's plans on a web page) must not outrank it.
    candidates = [
        ((ev.title, ev.stated_title, stated.get("heading", ""), stated.get("doc_type", "")), "title page"),
        ((*ev.title_texts, stated.get("Subject", "")), "title page"),
        ((ev.title_page[:3000],), "text"),
        ((_slug_words(ev.stem),), "file name"),
        (("\n".join(ev.body_pages[:3])[:3000],), "text"),
    ]
    for texts, source in candidates:
        kind = classify_doc_type(*texts)
        doc_type.offer(kind if kind != "other" else None, source)
    doc_type.offer("other", "default")
    return doc_type


def _infer_author(ev: _Evidence, kind: str) -> _Choice:
    """A named author for kinds that have one: stated (a PDF's Author only if
    the name occurs in the document), a hearing statement's sender, a name on
    the title page, a name in a running line."""
    author = _Choice()
    if kind in PLAN_TYPES:
        return author
    # A file's author field is often the last person to save it: it counts
    # only when the document itself names that person.
    shown = fold(ev.front.text + "\n" + "\n".join(ev.body_pages[:3]))
    for key in ("author", "Author"):
        name = person_name(ev.stated.get(key, ""))
        if name and fold(name) in shown:
            author.offer(name, "stated")
    if kind == "høringsuttalelse":
        author.offer(_hearing_sender([*ev.title_texts, ev.title_page]), "title page")
    for ln in ev.front.pages[0] if ev.front.pages else []:
        if not ev.front.is_running(ln.text):
            author.offer(_author_from_line(ln.text), "title page")
    for text in ev.running_text:
        author.offer(_author_from_running(text), "running lines")
    return author


def _infer_place(ev: _Evidence, author: str) -> _Choice:
    """Today's kommunenummer of the municipality the document is from or about."""
    place = _Choice()
    stated = ev.stated

    def mentions(texts: Iterable[str], *, bare: bool) -> list[str]:
        return [nr for t in texts for nr in municipality_mentions(t.replace(author, " ") if author else t, bare=bare)]

    knr_stated = stated.get("kommunenummer", "").strip()
    if knr_stated:
        place.offer(current_number(knr_stated), "stated")
    heading = stated.get("heading", "")
    for value in (stated.get("municipality", ""), heading.split(":", 1)[0] if ":" in heading else ""):
        if value:
            place.offer(current_number(value), "stated")
    for value in (stated.get("Author", ""), stated.get("author", "")):
        place.offer(_pick_single(municipality_mentions(value, bare=True)), "stated")
    cover = [ln.text for ln in (ev.front.pages[0] if ev.front.pages else [])][:15]
    # Bare names count in titles and short cover lines, not in prose, where Hole, Lier and Gol are also words.
    prose = [t for t in cover if len(t.split()) > 10 or t.rstrip().endswith((".", ",", ";"))]
    titles = [*ev.title_texts, *ev.block_lines, *ev.running_text, stated.get("Subject", ""), stated.get("Keywords", "")]
    titles += [t for t in cover if t not in prose]
    place.offer(_pick_municipality(mentions(titles, bare=True) + mentions(prose, bare=False)), "title page")
    body = mentions(ev.body_pages, bare=False)
    place.offer(_pick_municipality(body, min_count=2) or _pick_single(body), "text")
    if m := re.match(r"(\d{4})(?=[_\- ]|$)", ev.stem):
        place.offer(current_number(m.group(1)), "file name")
    place.offer(_pick_municipality(_name_mentions_in_slug(ev.stem)), "file name")
    return place


def _infer_adopted(ev: _Evidence) -> _Choice:
    adopted = _Choice()
    # The date printed on the title page first: a metadata title may name a later revision.
    adopted.offer(adoption_date([" ".join(ev.block_lines), ev.title_page]), "title page")
    adopted.offer(adoption_date(ev.running_text), "running lines")
    adopted.offer(adoption_date(ev.title_texts), "stated")
    adopted.offer(adoption_date(ev.body_pages[:2]), "text")
    return adopted


def _infer_years(ev: _Evidence, kind: str, adopted: str, adopted_source: str) -> _Choice:
    """A planning period the title states, else the document's year: a year
    the title states, the adoption year, a period the text introduces as the
    plan's, the file name's; the latest dated year of the first pages last."""
    years = _Choice()
    if stated_year := ev.stated.get("year", ""):
        y = title_year(stated_year)
        years.offer(find_period(stated_year) or ((y, y) if y else None), "stated")
    if kind == "høringsuttalelse":
        # A statement's year is its date, not the period of the plan it comments on.
        iso = parse_date(ev.title_page)
        years.offer((int(iso[:4]),) * 2 if iso else None, "title page")
    for t in ev.title_texts:
        years.offer(find_period(t), "title page")
    for t in ev.title_texts:
        y = title_year(t)
        years.offer((y, y) if y else None, "title page")
    if adopted:
        years.offer((int(adopted[:4]),) * 2, adopted_source)
    for t in ev.body_pages[:3]:
        years.offer(find_period(t, anywhere=False), "text")
    slug = _slug_words(ev.stem)
    years.offer(find_period(slug), "file name")
    y = title_year(slug)
    years.offer((y, y) if y else None, "file name")
    years.offer(_latest_year("\n".join(ev.body_pages[:3])), "text")
    return years


def _pick_single(mentions: Sequence[str]) -> str:
    return mentions[0] if len(set(mentions)) == 1 else ""


def _name_mentions_in_slug(stem: str) -> list[str]:
    """Municipalities a file name names ("ovre-eiker", "nore-og-uvdal", "Flaa")."""
    if _UUIDISH.match(stem):
        return []
    words = [w for w in re.split(r"[-_+.\s]+", stem) if w and not w.isdigit()]
    out = []
    i = 0
    while i < len(words):
        for n in range(min(4, len(words) - i), 0, -1):
            span = " ".join(words[i : i + n])
            if fold(span) in _current_names() and (nr := current_number(span)):
                out.append(nr)
                i += n
                break
        else:
            i += 1
    return out


def _latest_year(text: str) -> tuple[int, int] | None:
    """The latest dated year up to now in the text ("20. mars 2015"), else the
    latest plain year: weak evidence, used when nothing else says."""
    now = _this_year()
    dated = []
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            y = _year(m.group(3) if kind != "My" else m.group(2))
            if y <= now:
                dated.append(y)
    years = dated or [int(y) for y in YEAR_RE.findall(text) if int(y) <= now]
    return (max(years), max(years)) if years else None


# ---------------------------------------------------------------- the manifest


def load_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Rows keyed by doc_id or file name (with or without extension).

    Columns: ``file`` or ``doc_id``, and any of municipality, kommunenummer,
    title, doc_type, year_from, year_to, standard, source_url, author (a
    person, or several separated by ";") and adopted (the vedtatt date:
    YYYY-MM-DD, YYYY-MM, YYYY or DD.MM.YYYY). Values are checked here, so a
    bad row names its line.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
            rows = list(csv.DictReader(fh, dialect=dialect))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise PlansokError(f"{path}: cannot read manifest ({exc})") from exc
    out: dict[str, dict[str, str]] = {}
    for i, row in enumerate(rows, start=2):
        key = (row.get("doc_id") or row.get("file") or "").strip()
        if not key:
            raise PlansokError(f"{path}:{i}: manifest row needs a 'file' or 'doc_id' column")
        values = {k: (v or "").strip() for k, v in row.items() if k in MANIFEST_FIELDS and v and v.strip()}
        for col in ("year_from", "year_to"):
            if col in values and not re.fullmatch(r"(?:19|20)\d\d", values[col]):
                raise PlansokError(f"{path}:{i}: {col} {values[col]!r} is not a year")
        if "adopted" in values:
            try:
                values["adopted"] = normalise_date(values["adopted"])
            except ValueError as exc:
                raise PlansokError(f"{path}:{i}: adopted: {exc}") from exc
        if "standard" in values and values["standard"] not in ("nb", "nn"):
            raise PlansokError(f"{path}:{i}: standard {values['standard']!r} is not nb or nn")
        out[Path(key).stem] = values
    return out


def apply_manifest(meta: DocumentMeta, row: dict[str, str]) -> DocumentMeta:
    """The manifest's values over the inferred ones (the top of the order of trust)."""
    sources = meta.extra.setdefault("sources", {})
    for key, value in row.items():
        if key in ("year_from", "year_to"):
            setattr(meta, key, int(value) if value.isdigit() else None)
            sources["year"] = "manifest"
            continue
        if key == "doc_type" and value not in DOC_TYPES:
            logger.warning("%s: unknown doc_type %r in manifest (known: %s)", meta.doc_id, value, ", ".join(DOC_TYPES))
        # A corrected name brings its number and a number its name, so filters agree with it.
        if key == "municipality" and "kommunenummer" not in row:
            meta.kommunenummer = current_number(value)
            if not meta.kommunenummer:
                logger.warning(
                    "%s: manifest municipality %r is not in the register (or two municipalities share the name); "
                    "add a kommunenummer column",
                    meta.doc_id,
                    value,
                )
        if key == "kommunenummer" and "municipality" not in row and (nr := current_number(value)):
            meta.municipality = _name_for(nr)
        setattr(meta, key, value)
        sources["title" if key == "title" else key] = "manifest"
    if "year_from" in row and "year_to" not in row and (meta.year_to or 0) < (meta.year_from or 0):
        meta.year_to = meta.year_from  # a manifest year alone is a year, not a period ending before it
    return meta
