"""Document metadata as a researcher's downloads give it: the shared PDFs under
their real download names (the last part of each source URL), the thesis, PDFs
rendered here for other municipalities, and the manifest's author and adoption
date reaching BibTeX and RIS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import minimal_pdf

from plansok.collect.export import bibtex, ris
from plansok.errors import PlansokError
from plansok.evaluation.metadata import FIELDS, download_names, metadata_table, normalise_title
from plansok.ingest.metadata import (
    adoption_date,
    find_period,
    load_manifest,
    municipality_mentions,
    person_name,
    title_year,
)
from plansok.ingest.pipeline import doc_id_for, read_document
from plansok.models import DocumentMeta
from plansok.query.filters import Filters


def _download(corpus: Path, doc_id: str, folder: Path) -> Path:
    """A shared PDF copied under the name its municipality's web site gives it."""
    name = download_names(corpus / "plans")[doc_id]
    path = folder / name
    shutil.copyfile(corpus / "pdf" / f"{doc_id}.pdf", path)
    return path


def _meta(path: Path, manifest_row: dict[str, str] | None = None) -> DocumentMeta:
    return read_document(path, doc_id_for(path), manifest_row).meta


# ---------------------------------------------------------------- the failures the issue names


def test_levekar_report_is_a_2022_document_with_a_whole_title(corpus: Path, tmp_path: Path) -> None:
    path = _download(corpus, "3301_drammen_levekarsstatistikk_2022", tmp_path)
    assert path.name == "levekarsstatistikkrapport-drammen-januar-2022.pdf"
    meta = _meta(path)
    # Its data are from 2016, 2018 and 2020; the report is of January 2022.
    assert (meta.year_from, meta.year_to) == (2022, 2022)
    assert Filters(year=(2022, 2022)).accepts(meta)
    assert meta.title == "Levekårsstatistikkrapport Drammen januar 2022"
    assert (meta.municipality, meta.kommunenummer, meta.doc_type) == ("Drammen", "3301", "rapport")


def test_titles_are_not_cut_mid_phrase(corpus: Path, tmp_path: Path) -> None:
    # Both PDFs have no usable metadata title ("untitled"): the title page decides.
    eiker = _meta(_download(corpus, "3314_ovre-eiker_samfunnsdel_2021-2033", tmp_path))
    assert eiker.title == "Kommuneplan Samfunnsdel 2021-2033"
    assert (eiker.municipality, eiker.doc_type, eiker.year_from, eiker.year_to) == (
        "Øvre Eiker",
        "samfunnsdel",
        2021,
        2033,
    )
    assert eiker.adopted == "2022-06-15"  # "Egengodkjent av kommunestyret 15.6.2022" on the title page
    leve = _meta(_download(corpus, "3305_ringerike_leve_hele_livet_handlingsplan_2021", tmp_path))
    assert leve.title == "Delrapport og handlingplan leve hele livet 2019-2024"
    assert (leve.municipality, leve.doc_type, leve.year_from, leve.year_to) == (
        "Ringerike",
        "handlingsplan",
        2019,
        2024,
    )


def test_thesis_is_a_2015_masters_thesis_by_its_author_about_oppdal(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "thesis.pdf"
    shutil.copyfile(corpus / "reports" / "thesis.pdf", path)
    meta = _meta(path)
    assert meta.doc_type == "masteroppgave"
    assert (meta.year_from, meta.year_to) == (2015, 2015)
    assert meta.author == "Anne-Lise Sørum Eklid"
    assert (meta.municipality, meta.kommunenummer) == ("Oppdal", "5021")
    assert meta.title == "Resultatenhetsmodellen og sosial ulikhet"
    bib = bibtex([meta])
    assert bib.startswith("@mastersthesis{Eklid2015masteroppgave,")
    assert "author = {Eklid, Anne-Lise Sørum}" in bib and "year = {2015}" in bib
    assert "Oppdal kommune}}" not in bib and "2013" not in bib
    record = ris([meta])
    assert "TY  - THES" in record and "AU  - Eklid, Anne-Lise Sørum" in record and "PY  - 2015" in record


def test_real_download_names_say_nothing_and_are_not_needed(corpus: Path, tmp_path: Path) -> None:
    kongsberg = _meta(_download(corpus, "3303_kongsberg_boligsosial_plan_2023-2030", tmp_path))
    assert kongsberg.doc_id == "dec50ec7-4c9a-48ad-bd00-5cf9f9ad0cd5"
    assert (kongsberg.municipality, kongsberg.kommunenummer, kongsberg.doc_type) == ("Kongsberg", "3303", "temaplan")
    assert (kongsberg.year_from, kongsberg.year_to) == (2023, 2030)
    # The name's "egengodkjenning-2022" is the adoption year, not the plan period.
    flesberg = _meta(_download(corpus, "3334_flesberg_boligsosial_strategi_2022-2026", tmp_path))
    assert flesberg.title == "Boligsosial strategi for Flesberg kommune 2022-2026"
    assert (flesberg.municipality, flesberg.kommunenummer, flesberg.year_from, flesberg.year_to) == (
        "Flesberg",
        "3334",
        2022,
        2026,
    )
    assert flesberg.adopted == "2022-12-15"


def test_named_author_of_a_report_but_none_for_a_plan(corpus: Path, tmp_path: Path) -> None:
    flaa = _meta(_download(corpus, "3320_flaa_folkehelse_oversikt_2024-2027", tmp_path))
    assert (flaa.doc_type, flaa.author, flaa.municipality) == ("rapport", "Siv Merethe Glesne", "Flå")
    # Modum's title page credits a photographer: a plan gets no personal author from it.
    modum = _meta(_download(corpus, "3316_modum_helse_velferdsplan_2021", tmp_path))
    assert modum.author == "" and modum.adopted == "2021-12-06"
    assert (modum.year_from, modum.year_to) == (2017, 2025)


def test_metadata_accuracy_on_real_download_names(corpus: Path) -> None:
    result = metadata_table(corpus / "pdf", corpus / "reports" / "thesis.pdf")
    assert [d["file"] for d in result["documents"] if d["doc_id"] == "3303_kongsberg_boligsosial_plan_2023-2030"] == [
        "dec50ec7-4c9a-48ad-bd00-5cf9f9ad0cd5.pdf"
    ]
    assert list(result["parts"]) == ["heldout", "tuning"] and result["parts"]["heldout"]["n"] == 8
    for part in ("heldout", "tuning"):
        for f in FIELDS:
            assert result["parts"][part]["fields"][f] >= 0.95, (part, f, result["parts"][part])


# ---------------------------------------------------------------- other municipalities, other layouts


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf(path: Path, pages: list[list[tuple[float, float, str]]], info: dict[str, str] | None = None) -> Path:
    """A PDF whose pages hold lines (font size, height from the bottom, text) in Helvetica."""
    n = len(pages)
    font = 3 + 2 * n
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n))
    for i, lines in enumerate(pages):
        stream = b"".join(b"BT /F1 %.1f Tf 60 %.1f Td (%s) Tj ET\n" % (size, y, _escape(t)) for size, y, t in lines)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font, 4 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    trailer = b""
    if info:
        entries = b" ".join(b"/%s (%s)" % (k.encode(), _escape(v)) for k, v in info.items())
        objects.append(b"<< %s >>" % entries)
        trailer = b"/Info %d 0 R " % len(objects)
    path.write_bytes(minimal_pdf(objects, trailer))
    return path


_BODY = [
    (10, 760 - 14 * i, line)
    for i, line in enumerate(
        [
            "Bamble kommune har i denne planen samlet tiltakene for idrett og friluftsliv.",
            "Planen bygger på kommuneplanens samfunnsdel, og Bamble kommune skal følge den opp",
            "hvert år i handlingsprogrammet. Idrettsrådet og lagene har gitt innspill.",
        ]
    )
]


def test_largest_lines_of_a_title_page_are_the_title(tmp_path: Path) -> None:
    # A download from another county, no metadata, a photo credit above the title.
    # A download from another county, no metadata; above the title, in small print,
    # the plan series it belongs to and a photo credit.
    cover = [
        (11, 800, "Kommuneplan for Bamble – temaplaner"),
        (9, 785, "Foto: Kari Nordmann"),
        (26, 700, "Handlingsplan mot vold"),
        (26, 670, "i nære relasjoner 2023-2026"),
        (12, 600, "Vedtatt i kommunestyret 16.06.2022, sak 45/22"),
        (9, 60, "Bamble kommune"),
    ]
    pages = [cover] + [[*_BODY, (8, 30, f"Side {n}")] for n in range(2, 6)]
    meta = _meta(_pdf(tmp_path / "3f6e1c2a-77b1-4c1e-9d53-0a9c4e1f2b6d.pdf", pages))
    assert meta.title == "Handlingsplan mot vold i nære relasjoner 2023-2026"
    assert (meta.municipality, meta.kommunenummer) == ("Bamble", "4012")
    assert (meta.doc_type, meta.year_from, meta.year_to, meta.adopted) == ("handlingsplan", 2023, 2026, "2022-06-16")
    assert meta.author == ""  # the photographer is no author


def test_placeholder_pdf_metadata_is_ignored(tmp_path: Path) -> None:
    cover = [(20, 700, "Boligsosial handlingsplan 2024-2027"), (12, 670, "Bamble kommune")]
    pages = [cover] + [_BODY] * 3
    info = {"Title": "Microsoft Word - Dokument1.docx", "Author": "kari.nordmann"}
    meta = _meta(_pdf(tmp_path / "download.pdf", pages, info))
    assert meta.title == "Boligsosial handlingsplan 2024-2027"
    assert (meta.doc_type, meta.municipality, meta.author) == ("handlingsplan", "Bamble", "")


def test_hearing_statement_has_its_sender_as_author_and_its_date_as_year(tmp_path: Path) -> None:
    path = tmp_path / "uttalelse.txt"
    path.write_text(
        "Høringsuttalelse fra Naturvernforbundet i Hallingdal til kommuneplanens samfunnsdel 2018-2030\n\n"
        "Gol, 12. mars 2018\n\n"
        "Vi viser til høringen av samfunnsdelen for Gol kommune. Gol kommune har lagt fram et godt utkast,\n"
        "og vi ber Gol kommune ta inn et mål om vern av vassdragene.\n",
        encoding="utf-8",
    )
    meta = _meta(path)
    assert meta.doc_type == "høringsuttalelse"
    assert meta.author == "Naturvernforbundet i Hallingdal"
    assert (meta.municipality, meta.kommunenummer) == ("Gol", "3324")
    assert (meta.year_from, meta.year_to) == (2018, 2018)  # the statement's date, not the plan's period
    assert bibtex([meta]).startswith("@misc{") and "TY  - GEN" in ris([meta])


def test_municipality_from_the_text_and_the_register(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text(
        "Temaplan for psykisk helse\n\nHerøy kommune i Nordland og Sørum kommune er ikke nevnt her for å lure.\n"
        "Kautokeino kommune har vedtatt planen. Planen gjelder for Guovdageaidnu - Kautokeino.\n"
        "Kautokeino kommune skal følge opp tiltakene.\n",
        encoding="utf-8",
    )
    meta = _meta(path)
    assert (meta.municipality, meta.kommunenummer) == ("Guovdageaidnu - Kautokeino", "5612")
    # Old names count as "X kommune" and map to today's number; ambiguous names do not count.
    assert municipality_mentions("Sørum kommune og Herøy kommune", bare=False) == ["3205"]
    assert municipality_mentions("Planen for Hole er vedtatt", bare=False) == []
    assert municipality_mentions("Levekår i Drammen", bare=True) == ["3301"]


# ---------------------------------------------------------------- periods, years, dates, names


def test_periods_years_and_dates() -> None:
    assert find_period("Kommuneplanens samfunnsdel 2018-30") == (2018, 2030)
    assert find_period("Helse- og velferdsplan 2017 – 2025") == (2017, 2025)
    assert find_period("tall for årene 2016-2018") is None
    assert find_period("Hovedmål i perioden 2018–2030", anywhere=False) == (2018, 2030)
    assert find_period("22 % av elevene, 2023-2024", anywhere=False) is None
    assert title_year("Levekårsstatistikkrapport Drammen januar 2022") == 2022
    assert title_year("datasett på sonenivå for årene 2016, 2018 og 2020") is None
    assert title_year("Helse- og velferdsplan (vedtatt 6.12.2021)") is None
    assert adoption_date(["Vedtatt i Nesbyen kommunestyre 5.sept.-24 KS-sak 80/24"]) == "2024-09-05"
    assert adoption_date(["KS-vedtak 118/23 des.2023"]) == "2023-12"
    assert adoption_date(["1 Vedteke k-sak 52/20"]) == "2020"
    assert person_name("Eklid, Anne-Lise Sørum") == "Anne-Lise Sørum Eklid"
    assert person_name("Flå kommune") == "" and person_name("anonymous") == ""
    assert normalise_title("HELSE- OG VELFERDSPLAN 2017-2025") == normalise_title("Helse- og velferdsplan 2017 – 2025")


# ---------------------------------------------------------------- the manifest


def test_manifest_author_and_adopted_reach_bibtex_and_ris(tmp_path: Path, write_plan) -> None:
    path = write_plan(tmp_path, "plan_a", ["Kommunen skal gi gode tjenester til alle."], {"Kommunenr": "3324"})
    manifest = tmp_path / "meta.csv"
    manifest.write_text(
        "file,title,doc_type,author,adopted,year_from,year_to\n"
        "plan_a.md,Kommuneplanens samfunnsdel,samfunnsdel,Kari Nordmann; Ola Hansen,30.09.2021,2021,2030\n",
        encoding="utf-8",
    )
    row = load_manifest(manifest)["plan_a"]
    assert row["adopted"] == "2021-09-30"
    meta = _meta(path, row)
    assert (meta.author, meta.adopted, meta.municipality) == ("Kari Nordmann; Ola Hansen", "2021-09-30", "Gol")
    assert meta.extra["sources"]["author"] == "manifest"
    bib = bibtex([meta])
    assert "author = {Nordmann, Kari and Hansen, Ola}" in bib
    assert "year = {2021}" in bib and "date = {2021-09-30}" in bib and "vedtatt 2021-09-30" in bib
    record = ris([meta])
    assert "AU  - Nordmann, Kari\nAU  - Hansen, Ola" in record and "DA  - 2021/09/30/" in record
    # A number alone brings its municipality's name (an old number too), a name alone its number.
    assert (
        _meta(path, {"kommunenummer": "0602"}).municipality,
        _meta(path, {"municipality": "Aal"}).kommunenummer,
    ) == (
        "Drammen",
        "3328",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("adopted", "i fjor", "adopted: not a date"), ("year_from", "20x1", "year_from '20x1' is not a year")],
)
def test_manifest_bad_values_name_the_line(tmp_path: Path, column: str, value: str, message: str) -> None:
    manifest = tmp_path / "meta.csv"
    manifest.write_text(f"file,{column}\nplan_a.md,2021\nplan_b.md,{value}\n", encoding="utf-8")
    with pytest.raises(PlansokError, match=rf"meta\.csv:3: {message}"):
        load_manifest(manifest)
