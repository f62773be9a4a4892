"""What a researcher checks in a concordance: every occurrence is found as
search finds it (inflections, both written standards, compounds, phrases,
words near each other), each line stands on the page it cites, sorting and
export work, and the command line prints aligned lines."""

from __future__ import annotations

import csv
import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from plansok.analysis.analyzer import tokenize
from plansok.api import Filters, Index
from plansok.cli import main
from plansok.models import DocumentMeta, Page, Passage
from plansok.views.kwic import AnalysedText, Occurrence, _PageFinder, _words_key, analyse_texts

REPO = Path(__file__).resolve().parent.parent
NB_DOC = "3301_drammen_samfunnsdel_2021-2040"  # two pages of bokmål
NN_DOC = "3326_hemsedal_samfunnsdel_2019-2030"  # a page of nynorsk
GOL_DOC = "3324_gol_samfunnsdel_2018-2030"  # the real plan, from the sample corpus's PDF
SMALL = Filters(doc_ids=[NB_DOC, NN_DOC])

BOKMAL_1 = (
    "Barnefattigdommen har økt i kommunen de siste årene. Fattigdom blant barn henger sammen med "
    "foreldrenes tilknytning til arbeidslivet, og kommunen vil styrke tjenestene til barnefamilier."
)
BOKMAL_2 = (
    "Kommunen vil redusere barnefattigdom gjennom tidlig innsats. Barn som vokser opp i fattigdom "
    "skal få delta i fritidsaktiviteter. Tiltak mot fattigdom. Mange barn får gratis tilbud i skoleferiene."
)
NYNORSK = (
    "Barnefattigdomen i kommunen skal reduserast. Mange barn lever i fattigdom, og kommunen skal gje "
    "gode tenester til alle innbyggjarane. Tenestene skal vere tilgjengelege for alle, og ingen skal stå "
    "utanfor fordi dei ikkje har råd. Kommunen vil òg at det skal vere eit godt tilbod."
)


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """Two small plans (bokmål over two pages, nynorsk) and the sample corpus's Gol plan as a real PDF."""
    from conftest import _write_plan

    root = tmp_path_factory.mktemp("kwic")
    src = root / "src"
    src.mkdir()
    _write_plan(src, NB_DOC, [BOKMAL_1, BOKMAL_2], {"Dokumenttype": "samfunnsdel"})
    _write_plan(src, NN_DOC, [NYNORSK], {"Dokumenttype": "samfunnsdel"})
    shutil.copy(REPO / "corpus" / f"{GOL_DOC}.pdf", src)
    index = Index.open(root / "ix", create=True)
    assert index.ingest([src], tag=False).ok
    return index


def keywords(result) -> list[str]:
    return [ln.keyword.lower() for ln in result.lines]


def test_lemma_and_compound_aware_in_both_standards(ix: Index) -> None:
    result = ix.kwic("barnefattigdom", SMALL)
    assert sorted(keywords(result)) == ["barnefattigdom", "barnefattigdomen", "barnefattigdommen"]
    assert {ln.match for ln in result.lines} == {"word"}
    assert {ln.doc.standard for ln in result.lines} == {"nb", "nn"}
    # The word inside a compound: fattigdom finds barnefattigdommen, marked as a compound match.
    fattig = ix.kwic("fattigdom", Filters(doc_ids=[NB_DOC]))
    kinds = {ln.keyword.lower(): ln.match for ln in fattig.lines}
    assert kinds["barnefattigdommen"] == "compound"
    assert kinds["fattigdom"] == "word"


def test_phrase_and_words_within_n(ix: Index) -> None:
    phrase = ix.kwic('"fattigdom blant barn"')
    assert keywords(phrase) == ["fattigdom blant barn"]
    assert phrase.lines[0].match == "phrase"
    assert phrase.lines[0].right.startswith("henger sammen")
    # The words of a phrase up to N words apart, in any order, within one sentence.
    near = ix.kwic('"fattigdom barn"', within=3, filters=SMALL)
    assert sorted(keywords(near)) == ["barn lever i fattigdom", "fattigdom blant barn"]
    assert {ln.match for ln in near.lines} == {"near"}
    wider = ix.kwic('"fattigdom barn"', within=5, filters=Filters(doc_ids=[NB_DOC]))
    assert "barn som vokser opp i fattigdom" in keywords(wider)
    # "... mot fattigdom. Mange barn ..." stands two words apart, but across a sentence end.
    assert not any(k.startswith("fattigdom. mange") for k in keywords(wider))
    assert "fattigdom. mange barn" not in keywords(ix.kwic('"fattigdom barn"', within=2))
    assert ix.kwic('"fattigdom barn"', within=1).total == 0
    # A compound query word also finds its parts said apart, with --within.
    compound = ix.kwic("barnefattigdom", within=3, filters=Filters(doc_ids=[NN_DOC]))
    assert sorted(keywords(compound)) == ["barn lever i fattigdom", "barnefattigdomen"]


def test_a_phrase_that_is_not_there_says_how_to_loosen_it(ix: Index) -> None:
    result = ix.kwic('"fattigdom barn"')
    assert result.total == 0
    assert "within" in (result.message or "")


@pytest.mark.parametrize("query", ["fattigdom", "tenester", "kommune", '"tidlig innsats"', "bolig OR bustad"])
def test_kwic_finds_what_query_highlights(ix: Index, query: str) -> None:
    """Every word `plansok query` highlights in a passage is a concordance line,
    and no line is in a passage search does not return."""
    hits = ix.search(query, k=10_000, fold_duplicates=False, snippet_words=100_000)
    result = ix.kwic(query)
    assert result.total > 0
    by_passage: dict[str, set[tuple[int, int]]] = {}
    for ln in result.lines:
        by_passage.setdefault(ln.passage.passage_id, set()).add((ln.start, ln.end))
    highlighted = {h.passage.passage_id: {tuple(s) for s in h.highlights} for h in hits}
    assert set(by_passage) <= set(highlighted)
    for pid, spans in highlighted.items():
        words = {(s, e) for s, e in spans}
        found = by_passage.get(pid, set())
        # A phrase line spans its words; each highlighted word lies inside some line.
        assert all(any(a <= s and e <= b for a, b in found) for s, e in words), pid


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_every_line_stands_on_the_page_it_cites(ix: Index) -> None:
    result = ix.kwic("kommune OR tenester OR barn", Filters(doc_ids=[GOL_DOC]))
    assert result.total > 20
    for ln in result.lines:
        page_text = _norm(ix.page(ln.doc.doc_id, ln.page)[0].text)
        assert ln.keyword in page_text, (ln.citation, ln.keyword)
        # The keyword with the word before it, as printed on that page.
        before = re.search(r"\S*\s*$", ln.passage.text[: ln.start])
        assert before is not None
        quoted = _norm(ln.passage.text[before.start() : ln.end])
        assert quoted in page_text, (ln.citation, quoted)
        assert f"s. {ln.page}" in ln.citation


def test_a_passage_over_a_page_break_is_cited_to_the_keyword_page(ix: Index) -> None:
    """Passages are split at page breaks today; one that runs over a break
    (an index made by another version) cites the page holding the keyword."""
    doc = DocumentMeta("d", standard="nb")
    pages = {
        1: Page(1, "Kommunen skal ha gode tjenester for alle innbyggere og"),
        2: Page(2, "særlig for barn og unge, og tjenester skal være tilgjengelige.", label="ii"),
    }
    text = _norm(pages[1].text + " " + pages[2].text)
    passage = Passage("d", 0, text, 1, 2, "1 Mål", "1")

    class Store:
        def pages(self, doc_id: str) -> list[Page]:
            return list(pages.values())

    class Searcher:
        class ix:
            store = Store()

    finder = _PageFinder(Searcher())  # type: ignore[arg-type]
    a = analyse_texts(ix.searcher().forms, [(text, "nb")])[0]
    places = [i for i, t in enumerate(a.tokens) if t.form == "tjenester"]
    assert [finder.locate(doc, passage, a, Occurrence(i, i, "word")) for i in places] == [(1, "1"), (2, "ii")]


ALPHABET = "abcdefghijklmnopqrstuvwxyzæøå"


def _norwegian(words: list[str]) -> list[list[tuple[int, int]]]:
    """Norwegian alphabetical order: digits and signs first, then a-z, æ, ø, å;
    other accented letters with their base letter (òg as og)."""
    key = []
    for w in words:
        chars = []
        for c in w:
            base = c if c in ALPHABET else unicodedata.normalize("NFD", c)[0]
            chars.append((1, ALPHABET.index(base)) if base in ALPHABET else (0, ord(c)))
        key.append(chars)
    return key


def test_sorting_by_context(ix: Index) -> None:
    right = ix.kwic("kommune", sort="right")
    keys = [[t.form for t in tokenize(ln.right)] for ln in right.lines]
    assert keys == sorted(keys, key=_norwegian)
    left = ix.kwic("kommune", sort="left")
    lefts = [[t.form for t in reversed(tokenize(ln.left))] for ln in left.lines]
    assert lefts == sorted(lefts, key=_norwegian)
    # æ, ø, å after z, in that order (code points would put å first).
    assert _words_key("zebra") < _words_key("ære") < _words_key("øl") < _words_key("åpen")
    doc = ix.kwic("kommune", sort="doc")
    order = [(ln.doc.doc_id, ln.passage.ordinal, ln.start) for ln in doc.lines]
    assert order == sorted(order)
    assert len(doc.lines) == len(right.lines) == len(left.lines)


def test_limit_and_export(ix: Index, tmp_path: Path) -> None:
    result = ix.kwic("kommune", limit=3)
    assert len(result.lines) == 3 and result.total > 3
    out = result.write(tmp_path / "kwic.csv")
    with out.open(encoding="utf-8-sig") as fh:
        first = fh.readline()
        rows = list(csv.DictReader(fh))
    assert first.startswith("# query: kommune")
    assert len(rows) == 3
    assert rows[0]["keyword"].lower().startswith("kommun") and rows[0]["citation"]
    data = json.loads(result.write(tmp_path / "kwic.json").read_text(encoding="utf-8"))
    assert data["total"] == result.total and len(data["lines"]) == 3
    with pytest.raises(Exception, match=r"csv or \.json"):
        result.write(tmp_path / "kwic.xlsx")


def test_command_line(ix: Index, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["kwic", "barnefattigdom", "--index", str(ix.path), "--width", "30", "--doc",
                 NB_DOC, "--doc", NN_DOC]) == 0  # fmt: skip
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 3
    # Aligned: every keyword starts in the same column, after 30 characters of left context.
    starts = {re.search(r"barnefattigdom", ln, re.I).start() for ln in lines}  # type: ignore[union-attr]
    assert starts == {32}
    assert all(", s. " in ln for ln in lines)

    assert main(["kwic", "barnefattigdom", "--index", str(ix.path), "--json", "--within", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["within"] == 3 and data["total"] == len(data["lines"]) > 3

    out = tmp_path / "k.csv"
    assert main(["kwic", "kommune", "--index", str(ix.path), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 2 + ix.kwic("kommune").total

    assert main(["kwic", "stølsdrift", "--index", str(ix.path)]) == 1
    assert "stølsdrift" in capsys.readouterr().err
    assert main(["kwic", "barn", "--index", str(ix.path), "--kommune", "Gool"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_forms_are_read_in_batches(ix: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """One look-up of stored forms per batch of passages, not one per passage or word."""
    searcher = ix.searcher()
    calls: list[int] = []
    real = searcher.forms.store.forms

    def counting(keys):  # type: ignore[no-untyped-def]
        calls.append(len(keys))
        return real(keys)

    monkeypatch.setattr(searcher.forms.store, "forms", counting)
    searcher.forms._known.clear()
    result = ix.kwic("kommune OR barn OR tenester")
    assert result.passages > 10
    assert len(calls) <= 2


def test_words_are_read_through_the_stored_forms(ix: Index) -> None:
    """Lemmas come from the analysis made at ingest: bokmål lemmas for nynorsk
    words, none for stop words."""
    a: AnalysedText = analyse_texts(ix.searcher().forms, [("Tenestene skal vere tilgjengelege for alle", "nn")])[0]
    assert [a.lemma(i) for i in range(len(a.tokens))] == ["tjeneste", None, None, "tilgjengelig", None, None]
    # A word with several readings counts under the one the analysis put first,
    # every time (not whichever a set happens to yield).
    store = ix.store
    for _pid, p in store.passages_of(GOL_DOC)[:40]:
        a = analyse_texts(ix.searcher().forms, [(p.text, "nn")])[0]
        stored = store.forms([f"nn:{t.form}" for t in a.tokens])
        for i, t in enumerate(a.tokens):
            whole = [x for x in stored.get(f"nn:{t.form}", []) if x[0] not in "~^"]
            expected = whole[0] if whole and len(whole[0]) > 1 and any(c.isalpha() for c in whole[0]) else None
            assert a.lemma(i) == expected, (t.form, whole)
