"""Document metadata: municipality, kommunenummer, title, document type, plan
period and written standard, inferred from what the file states (PDF
metadata, a text header), its first pages and its file name, in that order
of trust; a manifest CSV given on the command line overrides all of it."""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from plansok.errors import PlansokError
from plansok.models import DOC_TYPES, DocumentMeta, Page

logger = logging.getLogger(__name__)

# Buskerud (the sample corpus) and a few large municipalities; others come from
# the document text or the manifest.
KOMMUNER = {
    "0301": "Oslo",
    "3301": "Drammen",
    "3303": "Kongsberg",
    "3305": "Ringerike",
    "3310": "Hole",
    "3312": "Lier",
    "3314": "Øvre Eiker",
    "3316": "Modum",
    "3318": "Krødsherad",
    "3320": "Flå",
    "3322": "Nesbyen",
    "3324": "Gol",
    "3326": "Hemsedal",
    "3328": "Ål",
    "3330": "Hol",
    "3332": "Sigdal",
    "3334": "Flesberg",
    "3336": "Rollag",
    "3338": "Nore og Uvdal",
    "4601": "Bergen",
    "5001": "Trondheim",
    "1103": "Stavanger",
    "5021": "Oppdal",
    "5501": "Tromsø",
}

# Checked in order against title, file name and first page: the first match wins,
# so the specific kinds come before the general ones.
DOC_TYPE_RULES: list[tuple[str, str]] = [
    ("økonomiplan", r"økonomiplan|budsjett"),
    ("årsmelding", r"årsmelding|årsrapport|årsberetning"),
    ("planstrategi", r"planstrategi"),
    ("planprogram", r"planprogram"),
    ("arealdel", r"arealdel|arealplan"),
    ("samfunnsdel", r"samfunnsdel|kommuneplan(?:en)?s? ?(?:-|–)? ?tekstdel|kommuneplan 20"),
    ("handlingsplan", r"handlingsplan|handlingsprogram|tiltaksplan|handlingsdel"),
    (
        "rapport",
        r"rapport|kunnskapsgrunnlag|oversiktsdokument|folkehelseoversikt|oversikt over|statistikk|"
        r"masteravhandling|masteroppgave|avhandling|utredning|evaluering|analyse",
    ),
    ("temaplan", r"temaplan|kommunedelplan|strategi|plan\b|boligplan|boligsosial|velferdsplan"),
]
# Filenames say the same with underscores: "3324_gol_samfunnsdel_2018-2030".
PERIOD_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*(?:-|–|—|til)\s*((?:19|20)\d\d|\d\d)(?!\d)")
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
KOMMUNE_RE = re.compile(r"\b([A-ZÆØÅ][a-zæøåA-ZÆØÅ-]+(?: og [A-ZÆØÅ][a-zæøå]+)?) kommune\b")
NN_MARKERS = frozenset(
    [
        "ikkje",
        "eg",
        "frå",
        "kva",
        "korleis",
        "kvar",
        "dei",
        "eit",
        "òg",
        "vere",
        "vore",
        "berre",
        "mykje",
        "noko",
        "nokre",
        "desse",
        "heile",
        "vart",
        "me",
        "deira",
        "sjølv",
        "saman",
        "utfordringar",
        "tenester",
    ]
)
NB_MARKERS = frozenset(
    [
        "ikke",
        "jeg",
        "fra",
        "hva",
        "hvordan",
        "hver",
        "de",
        "et",
        "også",
        "være",
        "vært",
        "bare",
        "mye",
        "noe",
        "noen",
        "disse",
        "hele",
        "ble",
        "vi",
        "selv",
        "sammen",
        "utfordringer",
        "tjenester",
    ]
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
)


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


def _period(*texts: str) -> tuple[int | None, int | None]:
    """A plan period ("2018-2030") from the first text that has one; else the
    latest year up to now that the texts mention (a report of 2015 mentions
    2013 too, rarely a year after its own)."""
    for text in texts:
        if text and (m := PERIOD_RE.search(text)):
            lo, hi = int(m.group(1)), m.group(2)
            hi_i = int(hi) if len(hi) == 4 else (lo // 100) * 100 + int(hi)
            if lo <= hi_i <= lo + 40:
                return lo, hi_i
    this_year = datetime.now().year
    years = [int(y) for text in texts if text for y in YEAR_RE.findall(text) if int(y) <= this_year]
    if years:
        return max(years), max(years)
    return None, None


def _useful_title(title: str | None, path: Path) -> str:
    if not title:
        return ""
    t = title.strip()
    if t.lower() in {"untitled", "unspecified", "", "title", "dokument", "document"} or t == path.stem:
        return ""
    if t.lower().startswith("microsoft word - "):
        t = t[len("microsoft word - ") :]
    return t


def _title_from_pages(pages: list[Page]) -> str:
    """The title block of the first page: its first short lines, up to a
    sentence or a blank line ("Kommuneplan / Øvre Eiker kommune / Samfunnsdel")."""
    for page in pages[:2]:
        block: list[str] = []
        for line in page.text.splitlines():
            s = line.strip()
            if not s:
                if block:
                    break
                continue
            if len(s) > 80 or s.endswith(".") or sum(c.isalpha() for c in s) < len(s) * 0.5:
                break
            block.append(s)
            if len(" ".join(block)) > 100:
                break
        title = " ".join(block)[:120].strip()
        if len(title) >= 8:
            return title
    return ""


def infer_metadata(path: Path, pages: list[Page], stated: dict[str, str], doc_id: str) -> DocumentMeta:
    """Metadata from what the file states, its first pages and its name."""
    stem = Path(display_path(path)).stem
    head = "\n".join(p.text for p in pages[:3])
    sample = "\n".join(p.text for p in pages[:12])[:60000]

    knr = stated.get("kommunenummer", "")
    if not knr and (m := re.match(r"(\d{4})[_\- ]", stem)):
        knr = m.group(1)
    municipality = stated.get("municipality", "")
    author = stated.get("Author") or stated.get("author") or ""
    if not municipality and (m := re.match(r"(.+?) kommune$", author.strip())):
        municipality = m.group(1)
    if not municipality and (m := re.match(r"#?\s*([^:]+):", stated.get("heading", ""))):
        municipality = m.group(1).strip()
    if not municipality and knr in KOMMUNER:
        municipality = KOMMUNER[knr]
    if not municipality:
        counts = Counter(KOMMUNE_RE.findall(head))
        if counts:
            municipality = counts.most_common(1)[0][0]
    if not knr and municipality:
        knr = next((k for k, v in KOMMUNER.items() if v.lower() == municipality.lower()), "")

    title = _useful_title(stated.get("title") or stated.get("Title"), path)
    if not title and stated.get("heading"):
        title = stated["heading"].split(":", 1)[-1].strip()
    if not title:
        title = _title_from_pages(pages) or stem

    subject = stated.get("Subject", "")
    stated_type = stated.get("doc_type", "")
    if stated_type in DOC_TYPES:
        doc_type = stated_type
    else:
        # The body names other plans ("jf. økonomiplanen"), so it only decides
        # when the title, file name and stated subject say nothing.
        doc_type = classify_doc_type(title, stem, stated_type, subject)
        if doc_type == "other":
            doc_type = classify_doc_type(head[:3000])

    year_from, year_to = _period(title, stem, head[:3000])
    standard = stated.get("standard", "")
    if standard not in ("nb", "nn"):
        standard = detect_standard(sample)
    return DocumentMeta(
        doc_id=doc_id,
        path=display_path(path),
        title=title,
        municipality=municipality,
        kommunenummer=knr,
        doc_type=doc_type,
        year_from=year_from,
        year_to=year_to,
        standard=standard,
        source_url=stated.get("source_url", ""),
        n_pages=len(pages),
        extra={k: v for k, v in stated.items() if k in ("status", "Author", "Subject")},
    )


def load_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Rows keyed by doc_id or file name (with or without extension).

    Columns: ``file`` or ``doc_id``, and any of municipality, kommunenummer,
    title, doc_type, year_from, year_to, standard, source_url.
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
        out[Path(key).stem] = {k: (v or "").strip() for k, v in row.items() if k in MANIFEST_FIELDS and v}
    return out


def apply_manifest(meta: DocumentMeta, row: dict[str, str]) -> DocumentMeta:
    for key, value in row.items():
        if key in ("year_from", "year_to"):
            setattr(meta, key, int(value) if value.isdigit() else None)
        elif key == "doc_type" and value not in DOC_TYPES:
            logger.warning("%s: unknown doc_type %r in manifest (known: %s)", meta.doc_id, value, ", ".join(DOC_TYPES))
            meta.doc_type = value
        else:
            setattr(meta, key, value)
    return meta
