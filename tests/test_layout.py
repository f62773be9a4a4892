"""Reading order, running lines and the never-empty rule, on PDFs written here and on the shared corpus.

The PDFs written here place text with pdfium's standard fonts at exact
positions, so each test controls the layout it is about: a column running
into the bottom margin above a footer, a line repeated on every page.
"""

from __future__ import annotations

import ctypes
import re
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from plansok.api import Index
from plansok.ingest.clean import clean_pages
from plansok.ingest.passages import split_passages
from plansok.ingest.pdf import extract_pdf
from plansok.models import Page

A4 = (595.0, 842.0)
# (x, y of the baseline, text, standard font, size in points)
Item = tuple[float, float, str, str, float]


def write_pdf(path: Path, pages: list[list[Item]], size: tuple[float, float] = A4) -> Path:
    """A PDF with real text objects in the 14 standard fonts (Latin-1 covers æøå)."""
    pdf = pdfium.PdfDocument.new()
    fonts: dict[str, object] = {}
    try:
        for items in pages:
            page = pdf.new_page(*size)
            for x, y, text, font, points in items:
                if font not in fonts:
                    fonts[font] = pdfium_c.FPDFText_LoadStandardFont(pdf.raw, font.encode())
                obj = pdfium_c.FPDFPageObj_CreateTextObj(pdf.raw, fonts[font], points)
                buf = ctypes.create_string_buffer((text + "\0").encode("utf-16-le"))
                pdfium_c.FPDFText_SetText(obj, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
                pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
                pdfium_c.FPDFPage_InsertObject(page.raw, obj)
            pdfium_c.FPDFPage_GenerateContent(page.raw)
            page.close()
        pdf.save(str(path))
    finally:
        pdf.close()
    return path


def column(x: float, top: float, lines: list[str], pitch: float = 11.0, size: float = 9.0) -> list[Item]:
    return [(x, top - i * pitch, line, "Helvetica", size) for i, line in enumerate(lines)]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- written here

LEFT = [
    "Andelen som mottar arbeidsavklaringspenger",
    "har gått ned i hele kommunen de siste",
    "årene, og forskjellene mellom sonene er",
    "mindre enn før. Stønaden er tidsbegrenset",
    "til fire år, med mulighet for forlengelse i",
    "spesielle tilfelle. Samlet for kommunen har",
    "andelen gått",
]
RIGHT = [
    "ned fra 5,7 prosent i 2016 til 4,2 prosent",
    "i både 2018 og 2020. Internt i kommunen er",
    "de geografiske mønstrene av variasjon",
    "mellom soner relativt stabile over tid, og",
    "sonene ligger i hovedsak på samme nivå som",
    "kommunesnittet alle tre år i perioden.",
]


def test_column_running_into_the_bottom_margin_is_read_before_the_next(tmp_path: Path) -> None:
    """A column's last lines sit in the footer band; only the footer, set off by a gap, is furniture."""
    items = column(56, 772, ["Levekår i Drammen"])
    # Both columns run down to y = 49: their last lines are in the bottom 7 % of the page.
    items += column(56, 49 + 11 * (len(LEFT) - 1), LEFT) + column(307, 49 + 11 * (len(RIGHT) - 1), RIGHT)
    items += [(56, 28, "Levekårsstatistikkrapport Drammen januar 2022 | side 10", "Helvetica", 8)]
    pages, _ = extract_pdf(write_pdf(tmp_path / "spalter.pdf", [items]))
    text = _flat(pages[0].text)
    assert _flat(" ".join(LEFT + RIGHT)) in text, text


def test_every_page_holding_one_repeated_line_keeps_its_text(tmp_path: Path) -> None:
    line = "Kommuneplan for Ål 2015–2027: eit levande Ål for alle"
    path = write_pdf(tmp_path / "same.pdf", [[(72, 770, line, "Helvetica", 11)] for _ in range(4)])
    pages, _ = extract_pdf(path)
    assert [(p.text, p.source) for p in pages] == [(line, "text")] * 4
    index = Index.open(tmp_path / "ix", create=True)
    report = index.ingest([path])
    assert report.ok, report.failed


def test_running_lines_still_removed_when_pages_have_a_body(tmp_path: Path) -> None:
    body = ["Folkehelse er viktig for alle innbyggjarar.", "Bustad for alle er eit mål.", "Skulen er god.", "Slutt."]
    pages = [
        [(72, 800, "Kommuneplan for Ål 2015–2027", "Helvetica", 9), (72, 700, text, "Helvetica", 11)] for text in body
    ]
    # A page with nothing but the running header is a blank page, not body text.
    pages.append([(72, 800, "Kommuneplan for Ål 2015–2027", "Helvetica", 9)])
    out, _ = extract_pdf(write_pdf(tmp_path / "header.pdf", pages))
    assert [p.text for p in out] == [*body, ""]
    assert out[-1].source == "empty"


def test_alternating_headers_with_page_numbers_are_running_lines() -> None:
    """Left pages carry "N | Title", right pages "Report | N": each on only half the pages."""
    topics = ("barn", "bustad", "helse", "skule", "arbeid", "inntekt", "flytting", "utdanning", "gjeld", "uføre")
    bodies = [f"Dette avsnittet handlar om {t} i sonene, med tal for kvart år." for t in (*topics, "vald", "rus")]
    pages = []
    for n, body in enumerate(bodies, 1):
        header = f"{n} | Levekår i Drammen" if n % 2 == 0 else f"Statistikkrapport | {n}"
        pages.append(Page(n, f"{header}\n{body}"))
    cleaned = clean_pages(pages)
    assert [p.text for p in cleaned] == bodies
    assert [p.label for p in cleaned] == [str(n) for n in range(1, 13)]


def test_a_chart_label_repeated_on_some_pages_stays() -> None:
    """Repeated, at page ends, but its numbers do not follow the pages and it is on a third of them."""
    pages = []
    for n in range(1, 13):
        label = f"Gjennomsnitt for kommunen: {n * 7 % 10},{n % 4} %" if n % 3 == 0 else ""
        pages.append(Page(n, f"Side {n}\nTekst om levekår på side {n}.\n{label}".strip()))
    cleaned = clean_pages(pages)
    kept = [p.text for p in cleaned if "Gjennomsnitt" in p.text]
    assert len(kept) == 4


def test_footer_with_the_page_number_dropped_anywhere_on_its_page() -> None:
    """A map page puts the footer among its labels, away from the page edges."""
    places = ("Hønefoss", "Sokna", "Hallingby", "Tyristrand", "Vik", "Nes", "Ask", "Veme")
    pages = [
        Page(n, f"Planen for {place} skal følgjast opp.\nMeir tekst her.\n{n} Ringerike kommune – samfunnsdelen.")
        for n, place in enumerate(places, 1)
    ]
    labels = "Kart over Hønefoss\nHaugsbygd\nGullerudmarka\n9 Ringerike kommune – samfunnsdelen.\n2890\nE16"
    pages.append(Page(9, f"{labels}\nPrestmoen\nHvervenmoen\nTanberg"))
    cleaned = clean_pages(pages)
    assert all("Ringerike kommune" not in p.text for p in cleaned)
    assert "2890\nE16" in cleaned[-1].text
    assert cleaned[-1].label == "9"


# ---------------------------------------------------------------- 2-up sheets

SPREAD = (842.0, 595.0)  # A4 landscape: two A5 printed pages side by side
SPREAD_TOPICS = ("oppvekst", "bustad", "helse", "arbeid", "kultur", "samferdsel", "klima", "beredskap")


def _half_body(topic: str) -> list[str]:
    """Lines that differ from half to half (a line repeated on every half would be a running line)."""
    return [
        f"Arbeidet med {topic} startar i år, og kommunen",
        f"vil styrkje {topic} i alle bygder saman med",
        f"lag og organisasjonar. Mål for {topic} blir",
        f"følgde opp kvart år i rapporten om {topic}.",
    ]


def _half(x: float, printed: int, header: str, lines: list[str]) -> list[Item]:
    """One printed page of a sheet: its header, body and number inside the sheet, away from its margins."""
    items = column(x, 520, [header], size=8) + column(x, 496, lines, pitch=12, size=8)
    return [*items, (x + 170, 70, str(printed), "Helvetica", 8)]


def _spread_pdf(path: Path, halves: list[tuple[str, list[str]]], header: str = "Helseplan 2024–2028") -> Path:
    """Sheets of two printed pages each: the halves in order, numbered from 2 (the cover is not a sheet)."""
    sheets = []
    for k in range(0, len(halves), 2):
        items: list[Item] = []
        for half, (x0) in enumerate((40.0, 461.0)):
            if k + half < len(halves):
                items += _half(x0, k + half + 2, header, halves[k + half][1])
        sheets.append(items)
    return write_pdf(path, sheets, size=SPREAD)


def test_running_lines_of_both_halves_of_a_2up_sheet_are_removed(tmp_path: Path) -> None:
    """Each printed half has its own header and number: the left half's footer and the right
    half's header meet mid-page, where no page edge is; the body still reads left half, right half."""
    halves = [(t, _half_body(t)) for t in SPREAD_TOPICS]
    pages, _ = extract_pdf(_spread_pdf(tmp_path / "spread.pdf", halves))
    assert len(pages) == 4
    for k, page in enumerate(pages):
        assert "Helseplan" not in page.text
        assert not [ln for ln in page.text.split("\n") if ln.strip().isdigit()], page.text
        left, right = halves[2 * k][0], halves[2 * k + 1][0]
        assert _flat(page.text) == _flat(" ".join(_half_body(left) + _half_body(right)))


def test_2up_headers_at_one_height_lose_the_half_that_repeats(tmp_path: Path) -> None:
    """The halves' headers in the top margin read as one line, "Helseplan 2024–2028 | Kapittel 2: Bustad"."""
    chapters = ("Oppvekst", "Bustad", "Helse", "Arbeid")
    sheets = []
    for n, chapter in enumerate(chapters, 1):
        items: list[Item] = []
        for half, x0 in enumerate((40.0, 461.0)):
            header = "Helseplan 2024–2028" if half == 0 else f"Kapittel {n}: {chapter}"
            items += [(x0, 570, header, "Helvetica", 8), (x0 + 170, 20, str(2 * n + half), "Helvetica", 8)]
            items += column(x0, 520, _half_body(SPREAD_TOPICS[2 * n - 2 + half]), pitch=12, size=8)
        sheets.append(items)
    pages, _ = extract_pdf(write_pdf(tmp_path / "spread.pdf", sheets, size=SPREAD))
    for n, page in enumerate(pages, 1):
        assert "Helseplan" not in page.text
        halves = _half_body(SPREAD_TOPICS[2 * n - 2]) + _half_body(SPREAD_TOPICS[2 * n - 1])
        assert _flat(page.text).endswith(_flat(" ".join(halves)))
        assert page.label == str(2 * n)


def test_2up_sheets_in_running_text_lose_the_lines_where_printed_pages_meet() -> None:
    """The same sheets as a flowed text layer ("... 4 / Title / ... / Title / 5"), as in the corpus renderings."""
    pages, bodies = [], []
    for n, (a, b) in enumerate(zip(SPREAD_TOPICS[::2], SPREAD_TOPICS[1::2], strict=True), 1):
        left, right = "\n".join(_half_body(a)), "\n".join(_half_body(b))
        bodies.append(f"{left}\n{right}")
        text = f"Folkehelsestrategi 2019 - 2028\n{left}\n{2 * n}\nFolkehelsestrategi 2019 - 2028\n{right}\n{2 * n + 1}"
        pages.append(Page(n, text))
    cleaned = clean_pages(pages)
    assert [p.text for p in cleaned] == bodies
    # A list item or table value that is a number of the sheet stays where no running line is beside it.
    table = (
        "Tiltak i planen\nDei viktigaste tiltaka er lista her.\nSkule\nTiltak\n8\nNy gymsal.\nBustad\nEin plan.\nSlutt."
    )
    listed = [*pages[:3], Page(4, f"Folkehelsestrategi 2019 - 2028\n{table}\n9")]
    assert clean_pages(listed)[3].text == table


def test_a_2up_page_whose_body_repeats_is_not_emptied() -> None:
    """The right half of every sheet opens with the same goal; on the last sheet that goal is all the text.

    Counted where printed pages meet, the goal repeats like a running line, and the
    other sheets lose it; the last sheet keeps it, as it would without the joins.
    """
    goal = "Mål: trygge lokalsamfunn for alle innbyggjarar"
    pages = []
    for n, (a, b) in enumerate(zip(SPREAD_TOPICS[::2], SPREAD_TOPICS[1::2], strict=True), 1):
        left, right = "\n".join(_half_body(a)), "\n".join(_half_body(b))
        text = f"Helseplan 2024\n{left}\n{2 * n}\nHelseplan 2024\n{goal}\n{right}\n{2 * n + 1}"
        pages.append(Page(n, text))
    pages.append(Page(5, f"Helseplan 2024\n{goal}\n10\nHelseplan 2024\n{goal}\n11"))
    cleaned = clean_pages(pages)
    assert all("Helseplan" not in p.text and goal not in p.text for p in cleaned[:4])
    assert goal in cleaned[4].text


# ---------------------------------------------------------------- shared corpus


@pytest.fixture(scope="module")
def drammen(corpus: Path) -> list[Page]:
    return extract_pdf(corpus / "pdf" / "3301_drammen_levekarsstatistikk_2022.pdf")[0]


def test_drammen_page_10_reads_in_order(drammen: list[Page]) -> None:
    text = _flat(drammen[9].text)
    assert (
        "Stønaden er tidsbegrenset til fire år, med mulighet for forlengelse i spesielle tilfelle. "
        "Samlet for kommunen har andelen gått ned fra 5,7 prosent i 2016 til 4,2 prosent i både 2018 og 2020."
    ) in text


def test_drammen_tables_in_two_columns_read_column_by_column(drammen: list[Page]) -> None:
    """Page 14 sets a table of numbers in the document's two columns: no row joins the two."""
    text = drammen[13].text
    assert " | " not in text
    assert "Andel barn m enslig forelder\n\nAndel som bor alene" in text


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _order(source: str, extracted: str) -> float:
    src, ext = _words(source), _words(extracted)
    want = Counter(zip(src, src[1:], src[2:]))
    got = Counter(zip(ext, ext[1:], ext[2:]))
    return sum((want & got).values()) / max(sum(want.values()), 1)


def test_every_two_column_page_keeps_the_source_order(corpus: Path) -> None:
    import json

    pagemap = json.loads((corpus / "pdf" / "pagemap.json").read_text(encoding="utf-8"))
    low = []
    for doc_id, entry in pagemap.items():
        if entry["layout"] != "twocol":
            continue
        pages = {p.number: p.text for p in extract_pdf(corpus / "pdf" / entry["pdf"])[0]}
        md = (corpus / "plans" / f"{doc_id}.md").read_text(encoding="utf-8")
        parts = re.split(r"<!-- side (\d+) -->", md)
        source = {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}
        for label, info in entry["pages"].items():
            if len(_words(source.get(label, ""))) < 60:
                continue  # photo pages and covers: a few words, nothing to order
            order = _order(source[label], "\n".join(pages.get(n, "") for n in info["pdf_pages"]))
            if order < 0.9:
                low.append((doc_id, label, round(order, 3)))
    assert not low


def test_no_running_lines_left_in_drammen_or_ringerike(corpus: Path, drammen: list[Page]) -> None:
    ringerike = extract_pdf(corpus / "pdf" / "3305_ringerike_samfunnsdel_2021-2030.pdf")[0]
    assert not [p.number for p in drammen if re.search(r"Statistikkrapport \| \d|\d+ \| Levekår i Drammen", p.text)]
    assert not [p.number for p in ringerike if "Ringerike kommune – kommuneplanens samfunnsdel 2021-2030." in p.text]
    passages = split_passages("drammen", drammen) + split_passages("ringerike", ringerike)
    footers = ("Statistikkrapport |", "kommuneplanens samfunnsdel 2021-2030.")
    assert not [p.text[:80] for p in passages if any(f in p.text for f in footers)]


@pytest.mark.parametrize(
    ("doc_id", "running"),
    [
        ("3312_lier_folkehelsestrategi", r"FOLKEHELSESTRATEGI 2019 - 2028"),
        ("3338_nore-og-uvdal_samfunnsdel_tett_paa_folk", r"Tepttå folk|\d+ Kommuneplanens samfunnsdel"),
    ],
)
def test_no_running_lines_left_where_printed_pages_meet_mid_page(corpus: Path, doc_id: str, running: str) -> None:
    """Source pages that are 2-up sheets: each printed half's header and number sit mid-page."""
    pages = extract_pdf(corpus / "pdf" / f"{doc_id}.pdf")[0]
    left = [p.number for p in pages if any(re.fullmatch(running, ln.strip()) for ln in p.text.split("\n"))]
    assert not left
    assert all(p.text for p in pages[1:])


# ---------------------------------------------------------------- headings from type

TOPICS = ("oppvekst", "skule", "bustad", "tomter", "helse", "omsorg")


def body(topic: str) -> str:
    """A paragraph of its own for every block: repeated text would be taken for running lines."""
    return (
        f"Kommunen skal arbeide for betre {topic} for alle innbyggjarar, med tenester som heng saman "
        f"og tilsette som ser kvar einskild. Arbeidet med {topic} krev samarbeid mellom sektorane."
    )


def _wrap(text: str, width: int = 80) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def _typeset_page(blocks: list[tuple[str, str]]) -> list[Item]:
    """Blocks of (kind, text) top-down: "h" bold 14 pt heading, "b" 10 pt body, "l" 10 pt label."""
    items: list[Item] = []
    y = 780.0
    for kind, text in blocks:
        if kind == "h":
            items.append((72, y, text, "Helvetica-Bold", 14))
            y -= 26
            continue
        for line in _wrap(text) if kind == "b" else [text]:
            items.append((72, y, line, "Helvetica", 10))
            y -= 13
        y -= 13
    return items


@pytest.fixture(scope="module")
def typeset_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = [body(topic) for topic in TOPICS]
    pages = [
        [("h", "Oppvekst og læring"), ("b", t[0]), ("l", "Barn i låginntektsfamiliar"), ("b", t[1])],
        [("h", "Bustad for alle"), ("b", t[2]), ("l", "1. Fleire kommunale bustader"), ("b", t[3])],
        [("l", "Kilde: SSB"), ("b", t[4]), ("h", "Helse og omsorg"), ("h", "Heimetenester"), ("b", t[5])],
    ]
    return write_pdf(tmp_path_factory.mktemp("type") / "typeset.pdf", [_typeset_page(p) for p in pages])


def test_headings_come_from_type_where_the_pdf_has_it(typeset_pdf: Path) -> None:
    from plansok.ingest.passages import section_headings

    pages, _ = extract_pdf(typeset_pdf)
    found = [(h.page, h.text) for h in section_headings(pages)]
    # The short lines in body type (a chart title, a numbered list item) are not headings,
    # although they look like titles and are followed by body text.
    # A heading straight above a sub-heading (no paragraph between) counts too.
    assert found == [(1, "Oppvekst og læring"), (2, "Bustad for alle"), (3, "Helse og omsorg"), (3, "Heimetenester")]
    sections = {p.page_start: [] for p in split_passages("typeset", pages)}
    for p in split_passages("typeset", pages):
        sections[p.page_start].append(p.section)
    # The text under the chart title and the list item stays in its section.
    assert sections == {1: ["Oppvekst og læring"], 2: ["Bustad for alle"], 3: ["Bustad for alle", "Heimetenester"]}
