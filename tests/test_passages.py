"""Passage splitting: sizes, page spans, heading paths, on synthetic and real pages."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from plansok.ingest.passages import heading_level, split_passages, split_sentences
from plansok.ingest.pdf import extract_pdf
from plansok.models import Page


def _sentence(i: int, n_words: int = 12) -> str:
    return "Kommunen skal " + " ".join(f"ord{i}x{k}" for k in range(n_words - 3)) + " arbeide."


def _para(i: int, n_sentences: int) -> str:
    return " ".join(_sentence(i * 100 + k) for k in range(n_sentences))


# ---------------------------------------------------------------- synthetic


def test_markdown_style_pages_with_numbered_headings() -> None:
    text = "\n\n".join(
        [
            "8 Hovudutfordringar",
            _para(1, 5),
            "8.2 Folkehelse",
            _para(2, 5),
            "8.3 Bustad",
            _para(3, 5),
        ]
    )
    passages = split_passages("gol", [Page(1, text)])
    assert [p.section for p in passages] == [
        "8 Hovudutfordringar",
        "8 Hovudutfordringar > 8.2 Folkehelse",
        "8 Hovudutfordringar > 8.3 Bustad",
    ]
    assert all(p.doc_id == "gol" for p in passages)
    assert [p.ordinal for p in passages] == [0, 1, 2]
    assert passages[1].passage_id == "gol#1"
    assert "8.2 Folkehelse" not in passages[1].text


def test_short_paragraphs_merge_within_section_only() -> None:
    text = "\n\n".join(["1 Innleiing", _sentence(1), _sentence(2), "2 Mål", _sentence(3), _sentence(4)])
    passages = split_passages("d", [Page(1, text)])
    assert len(passages) == 2
    assert passages[0].section == "1 Innleiing" and passages[1].section == "2 Mål"
    assert _sentence(1) in passages[0].text and _sentence(2) in passages[0].text


def test_long_paragraph_split_at_sentence_boundaries() -> None:
    long = _para(7, 60)  # about 720 words
    passages = split_passages("d", [Page(1, long)])
    assert len(passages) >= 3
    for p in passages:
        assert 40 <= len(p.text.split()) <= 250
        assert p.text.endswith("arbeide.")


def test_passages_never_cross_a_page_break() -> None:
    # A citation must name the page the words stand on: a paragraph cut by a
    # page break becomes two passages, each on its own page.
    first = _para(1, 4) + " Dette gjeld særleg dei som"
    second = "bur aleine og har låg inntekt. " + _para(2, 1)
    pages = [Page(3, first, label="2"), Page(4, second, label="3")]
    passages = split_passages("d", pages)
    assert all(p.page_start == p.page_end for p in passages)
    before = [p for p in passages if p.text.endswith("dei som")]
    after = [p for p in passages if p.text.startswith("bur aleine")]
    assert [(p.page_start, p.page_label) for p in before] == [(3, "2")]
    assert [(p.page_start, p.page_label) for p in after] == [(4, "3")]


def test_empty_pages_skipped_and_source_kept() -> None:
    pages = [Page(1, "", source="empty"), Page(2, _para(1, 5), source="ocr")]
    passages = split_passages("d", pages)
    assert [(p.page_start, p.source) for p in passages] == [(2, "ocr")]


def test_list_items_and_table_rows_are_not_headings() -> None:
    assert heading_level("• Styrke folkehelsa", _para(1, 2)) is None
    assert heading_level("Andel barn | 7,5 | 22,6", _para(1, 2)) is None
    assert heading_level("RINGERIKE KOMMUNE SKAL:", _para(1, 2)) is None
    assert heading_level("8.2 Folkehelse ........ 9", _para(1, 2)) is None
    assert heading_level("8.2 Folkehelse", "8.3 Bustad") is None  # contents list
    assert heading_level("Folkehelse", _para(1, 2)) == (0, "Folkehelse")
    assert heading_level("8.2 Folkehelse", _para(1, 2)) == (2, "8.2 Folkehelse")


def test_numbered_list_items_do_not_reset_the_path() -> None:
    text = "\n\n".join(
        [
            "3 Økonomi",
            _para(1, 4),
            "1 Finansielle muskler",  # a list item set like a heading: numbering goes back
            _para(2, 4),
        ]
    )
    passages = split_passages("d", [Page(1, text)])
    assert {p.section for p in passages} == {"3 Økonomi"}


def test_a_plan_that_lost_its_line_breaks_keeps_its_text() -> None:
    # A real plan (markdown title, contents list with dot leaders, body) run onto
    # one line, as some text exports write it: the title mark and the leaders of
    # the contents list must not make the whole document a heading or a contents list.
    md = (Path(__file__).parent.parent / "corpus" / "3330_hol_handlingsplan_folkehelse_2021-2033.md").read_text("utf-8")
    one_line = " ".join(md.replace("<!--", " ").replace("-->", " ").split())
    passages = split_passages("hol", [Page(1, one_line)])
    words = sum(len(p.text.split()) for p in passages)
    assert words >= 0.9 * len(one_line.split())
    # A contents entry on its own line is still one.
    toc = "Forord ........................ 3\n\nSammendrag ..................... 4\n\n" + _para(1, 4)
    texts = [p.text for p in split_passages("x", [Page(1, toc)])]
    assert not any("Forord" in t for t in texts) and any("Kommunen skal" in t for t in texts)


def test_split_sentences_keeps_abbreviations() -> None:
    text = "Dette gjeld bl.a. Drammen og Lier. Tiltaket kostar ca. 5 mill. Det er mykje."
    assert split_sentences(text) == [
        "Dette gjeld bl.a. Drammen og Lier.",
        "Tiltaket kostar ca. 5 mill. Det er mykje.",
    ]


# ---------------------------------------------------------------- real PDFs


@pytest.fixture(scope="module")
def ovre_eiker(corpus: Path) -> list:
    pages, _ = extract_pdf(corpus / "pdf" / "3314_ovre-eiker_samfunnsdel_2021-2033.pdf")
    return split_passages("3314_ovre-eiker", pages)


@pytest.fixture(scope="module")
def thesis(corpus: Path) -> list:
    pages, _ = extract_pdf(corpus / "reports" / "thesis.pdf")
    return split_passages("thesis", pages)


def _find(passages: list, phrase: str):
    hits = [p for p in passages if phrase in " ".join(p.text.split())]
    assert hits, phrase
    return hits[0]


def test_passage_sizes_on_real_pdfs(ovre_eiker: list, thesis: list) -> None:
    for passages in (ovre_eiker, thesis):
        words = [len(p.text.split()) for p in passages]
        assert 40 <= statistics.median(words) <= 250
        assert max(words) <= 250
        assert sum(40 <= w <= 250 for w in words) / len(words) >= 0.9


def test_section_paths_on_twocol_pdf(ovre_eiker: list) -> None:
    p = _find(ovre_eiker, "Bærekraftig utvikling er definert som")
    assert p.section == "3 Bærekraftig utvikling i Øvre Eiker"
    assert p.page_start == 6 and p.page_label == "6"
    p = _find(ovre_eiker, "En forutsetning for vekst og verdiskaping")
    assert p.section.startswith("3 Bærekraftig utvikling i Øvre Eiker")


def test_sentence_across_columns_stays_in_one_passage(ovre_eiker: list) -> None:
    _find(
        ovre_eiker,
        "en stor andel i de eldre aldersgruppene. Dagens befolkningsstruktur og flyttemønster",
    )


def test_section_paths_in_thesis(thesis: list) -> None:
    p = _find(thesis, "Troen på at det fins en positiv sammenheng mellom autonomi")
    assert p.section == "1 RESULTATENHETSMODELLEN OG SOSIAL ULIKHET"
    sections = {p.section for p in thesis}
    assert any(
        s.endswith("> 3.2 RESULTATENHETSMODELLEN > 3.2.1 RESULTATENHETSMODELLEN SOM INSTRUMENT") for s in sections
    )


def test_passages_in_order_and_pages_monotonic(thesis: list) -> None:
    assert [p.ordinal for p in thesis] == list(range(len(thesis)))
    starts = [p.page_start for p in thesis]
    assert starts == sorted(starts)
    assert all(p.page_start <= p.page_end for p in thesis)


# ---------------------------------------------------------------- sections on the shared plans


@pytest.fixture(scope="module")
def aal(corpus: Path) -> list:
    pages, _ = extract_pdf(corpus / "pdf" / "3328_aal_kommuneplan_2015-2027_tekstdel.pdf")
    return split_passages("aal", pages)


@pytest.fixture(scope="module")
def gol(corpus: Path) -> list:
    pages, _ = extract_pdf(corpus / "pdf" / "3324_gol_samfunnsdel_2018-2030.pdf")
    return split_passages("gol", pages)


def test_aal_chapter_4_sections_are_cited(aal: list) -> None:
    """Chapter 4's goal lists once hid its headings; 4.5 text was cited as "4.3 Helse og omsorg"."""
    p = _find(aal, "Eit attraktivt sentrum med gode fasilitetar")
    assert p.section == "4 Delmål 2015-2027 > 4.5 Attraktivt sentrum og levande grender"
    p = _find(aal, "Utarbeide ROS (risiko- og sårbarheits)")
    assert p.section.endswith("> 4.9 Trygt for alle")
    # A numbered goal ("4. Ha god samhandling ...") is a list item, not chapter 4.
    assert not any("Ha god samhandling" in p.section for p in aal)


def test_gol_pages_12_to_15_cite_their_own_sections(gol: list) -> None:
    cited = {p.page_start: p.section for p in gol if 13 <= p.page_start <= 15}
    assert cited == {
        13: "10 Satsingsområde 2030 > 10.1 Gol sin plassering regionalt og nasjonalt",
        14: "10 Satsingsområde 2030 > 10.2 Næring og arbeidsplassar",
        15: "10 Satsingsområde 2030 > 10.3 Det gode liv i Gol",
    }
    p = _find(gol, "Strategi er «slik gjer vi det»")
    assert p.section.endswith("9.2 Strategi")


def test_captions_chart_labels_and_sentences_are_not_headings(gol: list) -> None:
    sections = {p.section for p in gol}
    for label in ("Sentrumsparken (JMF)", "C Landet (verdi 100)", "Handling er tiltak", "Utfordringar"):
        assert not any(label in s for s in sections), label


def test_contents_pages_give_no_passages(corpus: Path) -> None:
    for name in ("3305_ringerike_samfunnsdel_2021-2030", "3330_hol_handlingsplan_folkehelse_2021-2033"):
        pages, _ = extract_pdf(corpus / "pdf" / f"{name}.pdf")
        on_contents = [p.text[:60] for p in split_passages(name, pages) if p.page_start == 2]
        assert not [t for t in on_contents if "…" in t or "Innledning" in t], on_contents


def test_contents_list_decides_unnumbered_headings() -> None:
    """Listed titles are headings even glued to text; an unlisted short line is not."""
    contents = "Innhold\nForord … 2\nBustad for alle … 3\nHelse og omsorg … 4"
    pages = [
        Page(1, contents),
        Page(2, "Forord\n\n" + _para(1, 3)),
        Page(3, "Bustad for alle\n" + _para(2, 3) + "\n\nBarn i låginntektsfamiliar\n\n" + _para(3, 3)),
        Page(4, _para(4, 2) + "\nHelse og omsorg\n" + _para(5, 3)),
    ]
    passages = split_passages("d", pages)

    def section_of(i: int) -> str:
        return _find(passages, _sentence(i * 100)).section

    assert [section_of(i) for i in range(1, 6)] == ["Forord"] + ["Bustad for alle"] * 3 + ["Helse og omsorg"]
    assert not any(p.page_start == 1 for p in passages)


def test_numbered_heading_run_into_its_paragraph_is_split_off() -> None:
    text = "\n\n".join(
        [
            "3.5 Gjennomgripande tema",
            _para(1, 2),
            "3.5.1 Barn og unge Barn og unge er framtida til kommunen, og " + _para(2, 2),
            "3.5.2 Universell utforming Universell utforming er ein langsiktig strategi. " + _para(3, 2),
        ]
    )
    passages = split_passages("d", [Page(1, text)])
    assert [p.section.rsplit(" > ", 1)[-1] for p in passages] == [
        "3.5 Gjennomgripande tema",
        "3.5.1 Barn og unge",
        "3.5.2 Universell utforming",
    ]
    assert passages[1].text.startswith("Barn og unge er framtida")
