"""What a researcher must never get silently: nynorsk query words against a
bokmål-only index, filter values that match nothing, an emptied result without
a reason, a phrase turned into a bag of words, a stale index, a tag search
whose snippet hides the evidence."""

from __future__ import annotations

import sqlite3

import pytest

from plansok.api import Filters, Index
from plansok.errors import PlansokError
from plansok.lang.no.register import register
from plansok.query.filters import FilterError

HOUSING = (
    "Bostøtte er en statlig ordning for husstander med lav inntekt og høye boutgifter. "
    "Mange barn i lavinntektsfamilier bor trangt, og enslige forsørgere får ofte bostøtte."
)
SOCIAL = (
    "Antall sosialhjelpsmottakere har økt. Kommunen vil styrke boligpolitikken og "
    "samarbeide med NAV om økonomisk rådgivning til familier med lav inntekt."
)
POVERTY = (
    "Fattigdom i kommunen handler om mer enn inntekt. Tiltak mot fattigdom skal nå barna "
    "tidlig, og kommunen vil følge utviklingen i levekårene."
)


@pytest.fixture(scope="module")
def bokmaal_only(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """Two bokmål plans and no nynorsk text at all."""
    from conftest import index_of_plans

    return index_of_plans(
        tmp_path_factory.mktemp("bm"),
        {
            "3303_kongsberg_boligsosial_plan_2023-2030": ([HOUSING, SOCIAL], {"Dokumenttype": "temaplan"}),
            "3301_drammen_samfunnsdel_2021-2040": ([POVERTY], {"Dokumenttype": "samfunnsdel"}),
        },
    )


def muni(hits) -> set[str]:
    return {h.doc.municipality for h in hits}


@pytest.mark.parametrize(
    ("nynorsk", "bokmaal_word"),
    [
        ("bustøtte", "bostøtte"),
        ("låginntektsfamiliar", "lavinntektsfamilier"),
        ("einslege forsørgjarar", "forsørgere"),
        ("sosialhjelpsmottakarar", "sosialhjelpsmottakere"),
        ("bustadpolitikk", "boligpolitikken"),
    ],
)
def test_nynorsk_query_words_find_bokmaal_plans_without_any_nynorsk_document(
    bokmaal_only: Index, nynorsk: str, bokmaal_word: str
) -> None:
    hits = bokmaal_only.search(nynorsk)
    assert hits, nynorsk
    assert bokmaal_word in hits[0].passage.text.lower()
    assert any(bokmaal_word.startswith(t) or t.startswith(bokmaal_word[:5]) for t in hits[0].matched_terms)


def test_born_i_laaginntektsfamiliar_finds_what_its_bokmaal_twin_finds(bokmaal_only: Index) -> None:
    nn = [h.passage.passage_id for h in bokmaal_only.search("born i låginntektsfamiliar")]
    nb = [h.passage.passage_id for h in bokmaal_only.search("barn i lavinntektsfamilier")]
    assert nn and nn[0] == nb[0]


def test_laag_inntekt_is_read_as_low_income(bokmaal_only: Index) -> None:
    hits = bokmaal_only.search('"låg inntekt"')
    assert hits and all("lav inntekt" in h.passage.text for h in hits)


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        (Filters(municipality=["9999"]), "not a Norwegian municipality"),
        (Filters(municipality=["Drammn"]), "did you mean Drammen"),
        (Filters(municipality=["Krodsherad"]), "no indexed document is from Krødsherad"),
        (Filters(municipality=["Flaa"]), "Flå"),
        (Filters(doc_type=["samfunnsdelen"]), "did you mean samfunnsdel"),
        (Filters(doc_ids=["nonexistent"]), "no such document"),
    ],
)
def test_unknown_filter_values_are_errors_not_empty_answers(bokmaal_only: Index, filters: Filters, needle: str) -> None:
    with pytest.raises(FilterError, match=needle):
        bokmaal_only.search("fattigdom", filters=filters)


@pytest.mark.parametrize("value", ["Drammen", "drammen", "3301", "3005", "0602"])
def test_municipality_by_name_and_by_numbers_before_the_reforms(bokmaal_only: Index, value: str) -> None:
    hits = bokmaal_only.search("fattigdom", filters=Filters(municipality=[value]))
    assert hits and muni(hits) == {"Drammen"}


@pytest.mark.parametrize(
    ("spelling", "number"),
    [("Flaa", "3320"), ("Aal", "3328"), ("Ovre Eiker", "3314"), ("ovre-eiker", "3314"), ("Krodsherad", "3318")],
)
def test_register_matches_ascii_spellings_of_file_names(spelling: str, number: str) -> None:
    assert number in register().numbers_for(spelling)


def test_register_knows_every_current_municipality_and_drammens_history() -> None:
    reg = register()
    assert sum(1 for m in reg.by_nr.values() if m.current) == 357
    assert {"0602", "3005", "3301"} <= reg.numbers_for("0602")
    assert [m.nr for m in reg.current_of("0602")] == ["3301"]


def test_an_empty_result_names_the_filter_that_emptied_it(bokmaal_only: Index) -> None:
    filters = Filters(municipality=["Drammen"], doc_type=["temaplan"])
    assert bokmaal_only.search("fattigdom", filters=filters) == []
    assert "--kommune Drammen and --type temaplan together" in bokmaal_only.why_empty("fattigdom", filters)
    only_type = Filters(doc_type=["arealdel"])
    assert bokmaal_only.why_empty("fattigdom", only_type) == "no indexed document passes --type arealdel"
    kongsberg = Filters(municipality=["Kongsberg"])
    assert bokmaal_only.search("levekår", filters=kongsberg) == []
    assert "without the filters it matches" in bokmaal_only.why_empty("levekår", kongsberg)


def test_stop_words_only_and_unknown_words_say_so(bokmaal_only: Index) -> None:
    assert bokmaal_only.search("og i som") == []
    assert "only stop words" in bokmaal_only.why_empty("og i som")
    assert "no word like xyzzyq" in bokmaal_only.why_empty("xyzzyq")


def test_a_phrase_stays_a_phrase_inside_or(bokmaal_only: Index) -> None:
    # "inntekt lav" is not in any text in that order: only the plain alternative may match.
    hits = bokmaal_only.search('"inntekt lav" OR levekårene', fold_duplicates=False)
    assert hits and all("levekår" in h.passage.text for h in hits)
    both = bokmaal_only.search('"lav inntekt" OR levekårene', fold_duplicates=False)
    assert {h.doc.municipality for h in both} == {"Kongsberg", "Drammen"}


def test_tag_search_snippet_shows_the_tags_evidence(bokmaal_only: Index) -> None:
    hits = bokmaal_only.search("", filters=Filters(tags=["bolig"]))
    assert hits
    for h in hits:
        evidence = next(t["evidence"] for t in h.tags if t["tag"] == "bolig")
        marked = [h.snippet[s:e].lower() for s, e in h.highlights]
        assert marked, h.snippet
        assert any(any(m.startswith(e[:4]) or e.startswith(m[:4]) for e in evidence) for m in marked)


def test_a_document_analysed_with_another_analysis_is_an_error_not_a_silent_miss(tmp_path, bokmaal_only: Index) -> None:
    import shutil

    copy = tmp_path / "ix"
    shutil.copytree(bokmaal_only.path, copy)
    db = sqlite3.connect(copy / "plansok.sqlite")
    with db:
        db.execute("UPDATE documents SET sha256 = substr(sha256, 1, 64) || '@7'")
    db.close()
    with Index.open(copy) as ix, pytest.raises(PlansokError, match="plansok ingest FOLDER"):
        ix.search("fattigdom")
