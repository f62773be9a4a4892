"""What a researcher checks in frequency lists, keyness and collocations:
counts by lemma with both written standards folded and stop words out; a word
typical of a subset ranks first; the statistics are the textbook ones; the
command line and the exports work."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import pytest
from scipy.stats import chi2_contingency

from plansok.api import Filters, Index
from plansok.cli import main
from plansok.errors import PlansokError
from plansok.views.frequencies import g2, log_ratio

NN_DOC = "3328_aal_samfunnsdel_2015-2027"  # small, nynorsk, written here
NB_DOC = "3301_drammen_samfunnsdel_2021-2040"  # small, bokmål, written here
HEMSEDAL = "3326_hemsedal_samfunnsdel_2019-2030"  # real, nynorsk (shared corpus)
FLESBERG = "3334_flesberg_boligsosial_strategi_2022-2026"  # real, bokmål (shared corpus)

NYNORSK = [
    "Stølsdrift er viktig for bygda. Stølsdrifta held kulturlandskapet ope, og stølsdrift gjev arbeid. "
    "Kommunen skal gje gode tenester til alle. Tenestene skal vere tilgjengelege, og dei skal ikkje "
    "koste meir enn naudsynt. I 2024 var det 12 stølar i drift.",
    "Kommunen vil støtte stølsdrift og landbruk. Tenestene i kommunen skal vere gode, og me vil òg "
    "at stølsdrifta skal halde fram. Tenester til eldre er viktige for heile bygda.",
]
BOKMAL = [
    "Kommunen skal gi gode tjenester til alle innbyggere. Tjenestene skal være tilgjengelige, og de skal "
    "ikke koste mer enn nødvendig. Startlån og bostøtte hjelper familier inn i egen bolig.",
    "Kommunen vil gi startlån og bostøtte til flere. Tjenestene til eldre er viktige, og tjenester for "
    "barn skal styrkes. Familier med startlån og bostøtte får bedre råd over lang tid. Også startlån og "
    "bostøtte til unge.",
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Index:
    from conftest import _write_plan

    root = tmp_path_factory.mktemp("freq")
    src = root / "src"
    src.mkdir()
    _write_plan(src, NN_DOC, NYNORSK, {"Dokumenttype": "samfunnsdel"})
    _write_plan(src, NB_DOC, BOKMAL, {"Dokumenttype": "samfunnsdel"})
    for name in (HEMSEDAL, FLESBERG):
        shutil.copy(corpus / "plans" / f"{name}.md", src)
    index = Index.open(root / "ix", create=True)
    assert index.ingest([src], tag=False).ok
    return index


SMALL = Filters(doc_ids=[NN_DOC, NB_DOC])


def test_counts_fold_both_standards_and_leave_stop_words_out(ix: Index) -> None:
    result = ix.frequencies(SMALL, by="document", top=0)
    by_doc = {g.key: {x.lemma: x.count for x in g.lemmas} for g in result.groups}
    assert set(by_doc) == {NN_DOC, NB_DOC}
    # tenester/tenestene (nynorsk) and tjenester/tjenestene (bokmål) are one lemma.
    assert by_doc[NN_DOC]["tjeneste"] == len(re.findall(r"\btenest", " ".join(NYNORSK), re.I)) == 4
    assert by_doc[NB_DOC]["tjeneste"] == len(re.findall(r"\btjenest", " ".join(BOKMAL), re.I)) == 4
    assert by_doc[NN_DOC]["stølsdrift"] == 5  # stølsdrift and stølsdrifta
    for counts in by_doc.values():
        assert not {"og", "ikkje", "ikke", "skal", "er", "til"} & set(counts)  # stop words
        assert not any(lem.isdigit() for lem in counts)  # 2024, 12
    group = next(g for g in result.groups if g.key == NN_DOC)
    assert group.words == sum(x.count for x in group.lemmas)
    kommune = next(x for x in group.lemmas if x.lemma == "kommune")
    assert kommune.per_10k == round(10_000 * kommune.count / group.words, 2)


def test_groups_by_municipality_type_and_year(ix: Index) -> None:
    docs = {d.doc_id: d for d in ix.documents()}
    by_mun = ix.frequencies(by="municipality", top=3)
    assert {g.key for g in by_mun.groups} == {d.municipality for d in docs.values()}
    by_year = ix.frequencies(by="year", top=3)
    assert [g.key for g in by_year.groups] == sorted({str(d.year_from) for d in docs.values()})
    by_type = ix.frequencies(Filters(doc_ids=[HEMSEDAL, FLESBERG]), by="type", top=3)
    assert {g.key for g in by_type.groups} == {docs[HEMSEDAL].doc_type, docs[FLESBERG].doc_type}
    overall = ix.frequencies(top=5)
    assert len(overall.groups) == 1 and overall.groups[0].documents == 4
    assert overall.groups[0].words == sum(g.words for g in by_mun.groups)
    # Every lemma listed for a group has its count in every group, for comparing them.
    assert all(len(v) == len(by_mun.groups) for v in by_mun.across.values())


@pytest.mark.parametrize("table", [[[10, 20], [990, 3980]], [[5, 0], [1000, 2000]], [[1, 30], [77, 4000]]])
def test_g2_is_the_log_likelihood_of_the_table(table: list[list[int]]) -> None:
    expected, *_ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert g2(table) == pytest.approx(expected, rel=1e-9)


def test_log_ratio() -> None:
    assert log_ratio(20, 1000, 10, 1000) == pytest.approx(1.0)
    assert log_ratio(0, 1000, 10, 2000) == pytest.approx(math.log2((0.5 / 1000) / (10 / 2000)))


def test_a_word_typical_of_the_subset_ranks_first(ix: Index) -> None:
    result = ix.keyness(Filters(doc_ids=[NN_DOC]), against=Filters(doc_ids=[NB_DOC]), min_freq=2)
    assert result.keywords[0].lemma == "stølsdrift"
    top = result.keywords[0]
    freq = {x.lemma: x.count for x in ix.frequencies(Filters(doc_ids=[NN_DOC]), top=0).groups[0].lemmas}
    assert top.count == freq["stølsdrift"] and top.count_ref == 0
    assert top.g2 == pytest.approx(g2(((top.count, 0), (result.words - top.count, result.words_ref))))
    # Folded standards are not "key": tenester and tjenester are equally common on both sides.
    tjeneste = next(k for k in result.keywords + result.negative if k.lemma == "tjeneste")
    assert (tjeneste.count, tjeneste.count_ref) == (4, 4) and tjeneste.p > 0.5
    assert result.negative[0].lemma in {"startlån", "bostøtte"}


def test_keyness_of_a_real_hallingdal_plan(ix: Index) -> None:
    """Hemsedal (nynorsk, a mountain and tourism municipality in Hallingdal)
    against Flesberg's housing strategy: Hemsedal's own name, tourism and
    farming are typical of it; housing is typical of the other."""
    result = ix.keyness(Filters(municipality=["Hemsedal"]), against=Filters(municipality=["Flesberg"]), top=10)
    lemmas = [k.lemma for k in result.keywords]
    assert lemmas[0] == "hemsedal"
    assert {"reiseliv", "landbruk"} <= set(lemmas[:6])
    assert "bolig" in [k.lemma for k in result.negative[:3]]
    assert all(k.p < 0.001 for k in result.keywords[:5])
    g2s = [k.g2 for k in result.keywords]
    assert g2s == sorted(g2s, reverse=True)
    by_ratio = ix.keyness(Filters(municipality=["Hemsedal"]), against=Filters(municipality=["Flesberg"]), sort="ratio")
    ratios = [k.log_ratio for k in by_ratio.keywords]
    assert ratios == sorted(ratios, reverse=True)
    assert all(k.count >= 5 for k in by_ratio.keywords)  # the minimum frequency


def test_keyness_against_the_rest_and_overlapping_subsets(ix: Index) -> None:
    rest = ix.keyness(Filters(doc_ids=[HEMSEDAL]))
    assert sorted(rest.documents_ref) == sorted([NN_DOC, NB_DOC, FLESBERG])
    # Hemsedal is nynorsk too: a passage both sides select counts in the subset only.
    nn = ix.keyness(Filters(doc_ids=[HEMSEDAL]), against=Filters(standard="nn"))
    assert nn.documents_ref == [NN_DOC] and nn.overlap > 0
    with pytest.raises(PlansokError, match="needs a subset"):
        ix.keyness(Filters())
    with pytest.raises(PlansokError, match="reference"):
        ix.keyness(Filters(doc_ids=[HEMSEDAL]), against=Filters(doc_type=["masteroppgave"]))
    same = ix.keyness(Filters(doc_ids=[HEMSEDAL]), against=Filters(doc_ids=[HEMSEDAL]))
    assert same.message and "nothing left to compare" in same.message


def test_collocations_count_neighbours_and_score_them(ix: Index) -> None:
    result = ix.collocations("bostøtte", Filters(doc_ids=[NB_DOC, NN_DOC]), window=3, min_freq=2)
    first = result.collocates[0]
    assert first.lemma == "startlån"
    assert (first.together, first.left, first.right) == (4, 4, 0)  # always "startlån og bostøtte"
    assert result.occurrences == 4
    assert first.expected == pytest.approx(result.window_words * first.count / result.words)
    assert first.mi == pytest.approx(math.log2(first.together / first.expected))
    mi = ix.collocations("bostøtte", Filters(doc_ids=[NB_DOC, NN_DOC]), window=3, min_freq=2, measure="mi")
    assert [c.mi for c in mi.collocates] == sorted((c.mi for c in mi.collocates), reverse=True)
    assert all(c.together >= 2 and c.together > c.expected for c in mi.collocates)


def test_repeated_views_read_the_plans_once(ix: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    ix.frequencies(by="municipality")
    calls = []
    monkeypatch.setattr(ix.store, "passages_of", lambda doc_id: calls.append(doc_id) or [])
    again = ix.frequencies(by="document")
    assert not calls and len(again.groups) == 4


def test_command_line(ix: Index, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    index = ["--index", str(ix.path)]
    assert main(["freq", *index, "--by", "municipality", "--top", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == "municipality" and all(len(g["lemmas"]) == 3 for g in data["groups"])

    png = tmp_path / "f.png"
    assert main(["freq", *index, "--doc", HEMSEDAL, "--top", "5", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "hemsedal" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    csv_out = tmp_path / "k.csv"
    args = ["keyness", *index, "--kommune", "Hemsedal", "--top", "5", "--out", str(csv_out), "--negative"]
    assert main([*args, "--against", "--kommune", "Flesberg"]) == 0
    text = capsys.readouterr().out
    assert "more frequent in the subset" in text and "less frequent in the subset" in text
    assert "against --kommune Flesberg" in text
    with csv_out.open(encoding="utf-8-sig") as fh:
        assert fh.readline().startswith("# keyness of: --kommune Hemsedal; against: --kommune Flesberg")
        rows = list(csv.DictReader(fh))
    assert rows[0]["lemma"] == "hemsedal" and rows[0]["direction"] == "+"

    assert main(["keyness", *index, "--kommune", "Hemsedal", "--against", "--top", "3"]) == 2
    assert "only filters" in capsys.readouterr().err
    assert main(["keyness", *index]) == 2
    assert main(["keyness", *index, "--kommune", "Hemsdal"]) == 2
    assert "did you mean Hemsedal" in capsys.readouterr().err

    assert main(["collocations", "bostøtte", *index, "--min-freq", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["collocates"][0]["lemma"] == "startlån"
    assert main(["collocations", "stølsdrift", *index, "--doc", NB_DOC]) == 1
    assert capsys.readouterr().err.strip()
