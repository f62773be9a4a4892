"""PDF extraction and cleaning, checked against the real corpus PDFs and their .md text.

The shared corpus lives outside the repository: ``$PLANSOK_SHARED/corpus`` or
``<repo>/../shared/corpus``. Tests that need it skip when it is absent.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from conftest import minimal_pdf

from plansok.errors import IngestError
from plansok.ingest.clean import (
    clean_pages,
    collapse_dot_leaders,
    join_hyphenated,
    label_from_line,
    normalize_chars,
)
from plansok.ingest.pdf import extract_pdf
from plansok.models import Page


@pytest.fixture(scope="module")
def pagemap(corpus: Path) -> dict:
    return json.loads((corpus / "pdf" / "pagemap.json").read_text(encoding="utf-8"))


_cache: dict[Path, tuple[list[Page], dict[str, str]]] = {}


def _extract(path: Path) -> tuple[list[Page], dict[str, str]]:
    if path not in _cache:
        _cache[path] = extract_pdf(path)
    return _cache[path]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _md_pages(corpus: Path, name: str) -> dict[str, str]:
    text = (corpus / "plans" / f"{name}.md").read_text(encoding="utf-8")
    parts = re.split(r"<!-- (?:side|seksjon) (\S+) -->", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _md_sentences(page_text: str, running: set[str]) -> list[str]:
    """Body sentences of one .md page (running lines and bullets left out)."""
    lines = [ln for ln in page_text.splitlines() if re.sub(r"\d+", "#", ln.strip()) not in running]
    flat = _flat(re.sub("[\uf0b7•▪]", " ", " ".join(lines)))
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-ZÆØÅ])", flat)
    return [s for s in sentences if len(s.split()) >= 8 and "..." not in s]


def _share_found(corpus: Path, pagemap: dict, layout: str) -> tuple[int, int]:
    found = total = 0
    for name, entry in pagemap.items():
        if entry["layout"] != layout:
            continue
        pages, _ = _extract(corpus / "pdf" / entry["pdf"])
        text = {p.number: p.text for p in pages}
        md = _md_pages(corpus, name)
        counts = Counter(key for t in md.values() for key in {re.sub(r"\d+", "#", ln.strip()) for ln in t.splitlines()})
        running = {k for k, n in counts.items() if n >= max(3, 0.3 * len(md))}
        for label, md_text in md.items():
            pdf_pages = entry["pages"].get(label, {}).get("pdf_pages", [])
            extracted = _flat(" ".join(text.get(n, "") for n in pdf_pages))
            for sentence in _md_sentences(md_text, running):
                total += 1
                found += sentence in extracted
    return found, total


# ---------------------------------------------------------------- real PDFs


@pytest.mark.parametrize("layout", ["plain", "twocol", "hyph"])
def test_md_sentences_read_contiguously(corpus: Path, pagemap: dict, layout: str) -> None:
    found, total = _share_found(corpus, pagemap, layout)
    assert total > 500
    assert found / total >= 0.93, f"{layout}: {found}/{total} sentences contiguous"


def test_twocol_sentence_runs_from_left_into_right_column(corpus: Path) -> None:
    pages, _ = _extract(corpus / "pdf" / "3314_ovre-eiker_samfunnsdel_2021-2033.pdf")
    text = _flat(pages[5].text)
    assert (
        "Kommuner med befolkningsvekst og en jevn aldersprofil vil være bedre skodd for "
        "fremtiden enn kommuner med fraflytting og en stor andel i de eldre aldersgruppene. "
        "Dagens befolkningsstruktur og flyttemønster er med på å legge grunnlaget"
    ) in text
    # The heading above the columns comes first, not interleaved with column text.
    assert text.startswith("3. Bærekraftig utvikling i Øvre Eiker Bærekraftig utvikling er")


def test_twocol_columns_not_interleaved(corpus: Path) -> None:
    pages, _ = _extract(corpus / "pdf" / "3301_drammen_levekarsstatistikk_2022.pdf")
    text = _flat(pages[3].text)
    assert (
        "Folkehelseloven understreker kommunenes ansvar for å legge til rette for en "
        "samfunnsutvikling som fremmer folkehelse og utjevner sosiale helseforskjeller."
    ) in text


def test_hyphenated_words_joined(corpus: Path) -> None:
    pages, _ = _extract(corpus / "pdf" / "3310_hole_samfunnsdel_2018-2030.pdf")
    assert "slik at lokalsamfunnet skal utvikle seg" in _flat(pages[2].text)
    assert "lokal-" not in pages[2].text
    thesis, _ = _extract(corpus / "reports" / "thesis.pdf")
    # The author writes "resultatenhets-modellen" inline; only line-end breaks must go.
    assert not re.search(r"resultatenhets-\s*\n", "\n".join(p.text for p in thesis))
    assert "har hatt resultatenhetsmodellen i lang tid" in _flat(thesis[30].text)


def test_real_hyphens_kept(corpus: Path) -> None:
    thesis, _ = _extract(corpus / "reports" / "thesis.pdf")
    assert "kommunal organisering-RE-modellen" in thesis[33].text
    assert "stillingshjemler- eller" in thesis[68].text
    pages, _ = _extract(corpus / "pdf" / "3303_kongsberg_boligsosial_plan_2023-2030.pdf")
    assert "Integrerings- og mangfolds direktoratet" in _flat(pages[26].text)


def test_running_header_and_footer_removed(corpus: Path) -> None:
    thesis, _ = _extract(corpus / "reports" / "thesis.pdf")
    body = "\n".join(p.text for p in thesis[1:])
    assert "Anne-Lise Sørum Eklid Side" not in body
    assert "Masteravhandling: Resultatenhetsmodellen og sosial ulikhet 2015" not in body
    hole, _ = _extract(corpus / "pdf" / "3310_hole_samfunnsdel_2018-2030.pdf")
    for page in hole[1:]:
        assert not re.search(r"Side \d+ av 16", page.text)
        assert not page.text.startswith("Hole kommune")


def test_page_labels_match_printed_numbers(corpus: Path, pagemap: dict) -> None:
    wrong = []
    for entry in pagemap.values():
        pages, _ = _extract(corpus / "pdf" / entry["pdf"])
        labels = {p.number: p.label for p in pages}
        for label, info in entry["pages"].items():
            wrong += [(entry["pdf"], n, label) for n in info["pdf_pages"] if labels[n] != label]
    assert not wrong
    thesis, _ = _extract(corpus / "reports" / "thesis.pdf")
    assert [p.label for p in thesis[:5]] == ["1", "2", "3", "4", "5"]


def test_toc_dot_leaders_shortened(corpus: Path) -> None:
    pages, _ = _extract(corpus / "pdf" / "3301_drammen_levekarsstatistikk_2022.pdf")
    assert "....." not in pages[2].text
    # The entries stay: they are what the page shows.
    assert "Kommunedel 2: Krokstadelva, Stenseth … 16" in _flat(pages[2].text)


def test_metadata_and_physical_numbering(corpus: Path) -> None:
    pages, meta = _extract(corpus / "reports" / "thesis.pdf")
    assert meta["Title"] == "Resultatenhetsmodellen og sosial ulikhet"
    assert meta["Author"] == "Anne-Lise Sørum Eklid"
    assert [p.number for p in pages] == list(range(1, 101))
    assert all(p.source == "text" for p in pages)


def test_extraction_is_fast(corpus: Path) -> None:
    path = corpus / "reports" / "thesis.pdf"
    # CPU time of this process: the work extraction does, not how busy the machine is.
    start = time.process_time()
    pages, _ = extract_pdf(path)
    rate = len(pages) / (time.process_time() - start)
    assert rate > 100, f"{rate:.0f} pages/s"


# ---------------------------------------------------------------- broken files


_PAGE_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
]


def _raises(path: Path, fragment: str) -> None:
    with pytest.raises(IngestError) as info:
        extract_pdf(path)
    assert info.value.path == str(path)
    assert fragment in info.value.reason


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    _raises(path, "empty")


def test_non_pdf_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("Dette er ikke en PDF.\n", encoding="utf-8")
    _raises(path, "not a PDF")


def test_truncated_pdf(tmp_path: Path) -> None:
    data = minimal_pdf(_PAGE_OBJECTS)
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "corrupt")


def test_truncated_real_pdf(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "pdf" / "3310_hole_samfunnsdel_2018-2030.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "corrupt")


def test_encrypted_pdf(tmp_path: Path) -> None:
    # pypdfium2 cannot write encrypted files and pypdf is not a dependency, so the
    # file carries a Standard security handler whose user password is not empty.
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <%s> /U <%s> >>" % (
        b"11" * 32,
        b"22" * 32,
    )
    file_id = b"<" + b"33" * 16 + b">"
    data = minimal_pdf([*_PAGE_OBJECTS, encrypt], b"/Encrypt 4 0 R /ID [%s %s] " % (file_id, file_id))
    path = tmp_path / "locked.pdf"
    path.write_bytes(data)
    _raises(path, "password")


def test_missing_file(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.pdf", "not found")


def test_page_without_text_layer_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf(_PAGE_OBJECTS))
    pages, _ = extract_pdf(path)
    assert [(p.number, p.text, p.source) for p in pages] == [(1, "", "empty")]


def test_blank_page_among_text_pages(tmp_path: Path) -> None:
    pdf = pdfium.PdfDocument.new()
    pdf.new_page(200, 200)
    path = tmp_path / "blank.pdf"
    pdf.save(path)
    pdf.close()
    pages, _ = extract_pdf(path)
    assert pages[0].source == "empty"


# ---------------------------------------------------------------- clean.py


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("resultatenhets-\nmodellen", "resultatenhetsmodellen"),
        ("NAV-\nkontoret", "NAV-kontoret"),
        ("helse-\nog omsorg", "helse- og omsorg"),
        ("helse- og omsorgstenester", "helse- og omsorgstenester"),
        ("barne-\neller ungdomsskole", "barne- eller ungdomsskole"),
        ("1990-\ntallet", "1990-tallet"),
        ("Nord-\nNorge", "Nord-Norge"),
    ],
)
def test_join_hyphenated(raw: str, expected: str) -> None:
    assert join_hyphenated(raw) == expected


def test_normalize_chars() -> None:
    assert normalize_chars("\uf0b7 punkt\u00a0en") == "• punkt en"
    assert normalize_chars("signiﬁkant") == "signifikant"
    assert normalize_chars("bo\u00adlig") == "bolig"
    assert normalize_chars("m²") == "m²"


def test_contents_dot_leaders_shortened_not_dropped() -> None:
    text = "8.2 Folkehelse ........ 9\nFolkehelse er viktig...\nInnledning....................4\n........"
    assert collapse_dot_leaders(text) == "8.2 Folkehelse … 9\nFolkehelse er viktig...\nInnledning … 4"


def test_label_from_line() -> None:
    assert label_from_line("MPA 2015 Anne-Lise Sørum Eklid Side 11") == "11"
    assert label_from_line("Side 3 av 20") == "3"
    assert label_from_line("14 | Levekår i Drammen") == "14"
    assert label_from_line("Kommuneplanens samfunnsdel 2021-2033 | side 6") == "6"
    assert label_from_line("7") == "7"


def test_clean_pages_drops_running_lines_modulo_digits() -> None:
    bodies = [
        "Folkehelse er viktig.",
        "Bolig for alle.",
        "Skolen er god.",
        "Vegen er lang.",
        "Slutt.",
    ]
    pages = [
        Page(n, f"Masteravhandling 2015\nMPA 2015 Eklid Side {n}\n{body}\n{n}") for n, body in enumerate(bodies, 1)
    ]
    cleaned = clean_pages(pages)
    assert [p.text for p in cleaned] == bodies
    assert [p.label for p in cleaned] == ["1", "2", "3", "4", "5"]
