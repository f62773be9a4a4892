"""What a researcher sees from `search`: ranking, matching across inflection,
written standard and compounds, query syntax, filters, folding, snippets."""

from __future__ import annotations

import pytest

from plansok.api import Filters, Index

WHOLE = (
    "Fattigdom rammer mange husholdninger. Kommunen vil kartlegge fattigdom og sette inn tiltak "
    "der behovet er størst, i samarbeid med frivillige lag og organisasjoner."
)
PART = (
    "Barnefattigdommen har økt de siste årene. Kommunen vil sette inn tiltak der behovet er "
    "størst, i samarbeid med frivillige lag, organisasjoner og skolene."
)
NYNORSK = (
    "Kommunen skal gje gode tenester til alle innbyggjarane. Tenestene skal vere tilgjengelege "
    "og tilpassa behova til den einskilde, og kommunen skal samarbeide med frivilligheita."
)
COPY = (
    "Kommunen skal arbeide for at alle barn og unge får delta i fritidsaktiviteter uavhengig av "
    "foreldrenes økonomi, og vil styrke tilbudet om gratis aktiviteter i skoleferiene."
)
HOUSING = (
    "Kommunen eier 40 kommunale utleieboliger. Tidlig innsats overfor vanskeligstilte på "
    "boligmarkedet gjør at færre blir bostedsløse. Skolen og helsestasjonen samarbeider."
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Index:
    from conftest import index_of_plans

    return index_of_plans(
        tmp_path_factory.mktemp("small"),
        {
            "3301_drammen_samfunnsdel_2021-2040": ([WHOLE, COPY], {"Dokumenttype": "samfunnsdel"}),
            "3303_kongsberg_boligsosial_plan_2023-2030": ([PART, HOUSING], {"Dokumenttype": "temaplan"}),
            "3324_gol_samfunnsdel_2018-2030": ([NYNORSK, COPY + " Dette gjeld òg Gol."], None),
        },
    )


def ids(hits) -> list[str]:
    return [h.doc.doc_id.split("_")[1] for h in hits]


def test_whole_word_ranks_above_part_of_compound(small: Index) -> None:
    hits = small.search("fattigdom", fold_duplicates=False)
    assert ids(hits)[:2] == ["drammen", "kongsberg"]
    assert hits[0].score > hits[1].score
    assert "barnefattigdommen" in hits[1].matched_terms


def test_compound_query_finds_inflected_compound(small: Index) -> None:
    assert ids(small.search("barnefattigdom")) == ["kongsberg"]


def test_bokmaal_query_finds_nynorsk_text(small: Index) -> None:
    hits = small.search("tjenester til innbyggere")
    assert ids(hits)[0] == "gol"
    assert {"tenester", "tenestene", "innbyggjarane"} <= set(hits[0].matched_terms)


def test_phrase_exclusion_and_or(small: Index) -> None:
    assert ids(small.search('"tidlig innsats"')) == ["kongsberg"]
    assert small.search('"innsats tidlig"') == []
    kept = small.search("kommunen -utleieboliger", k=20, fold_duplicates=False)
    assert kept and not any("utleieboliger" in h.passage.text for h in kept)
    assert len(kept) == len(small.search("kommunen", k=20, fold_duplicates=False)) - 1
    both = ids(small.search("utleieboliger OR innbyggjarar", k=20))
    assert {"kongsberg", "gol"} <= set(both)


def test_filters(small: Index) -> None:
    assert set(ids(small.search("kommunen", k=20, filters=Filters(municipality=["Gol"])))) == {"gol"}
    assert set(ids(small.search("kommunen", k=20, filters=Filters(municipality=["3303"])))) == {"kongsberg"}
    assert set(ids(small.search("kommunen", k=20, filters=Filters(standard="nn")))) == {"gol"}
    assert set(ids(small.search("kommunen", k=20, filters=Filters(doc_type=["temaplan"])))) == {"kongsberg"}
    hits = small.search("kommunen", k=20, filters=Filters(year=(2035, 2040)), fold_duplicates=False)
    assert set(ids(hits)) == {"drammen"}


def test_near_duplicates_fold_into_one_hit(small: Index) -> None:
    hits = small.search("fritidsaktiviteter")
    assert len(hits) == 1
    assert [a["municipality"] for a in hits[0].also_in] in (["Gol"], ["Drammen"])
    assert len(small.search("fritidsaktiviteter", fold_duplicates=False)) == 2


def test_snippet_highlights_every_matched_word(small: Index) -> None:
    hit = small.search("fattigdom", fold_duplicates=False)[1]
    marked = [hit.snippet[s:e] for s, e in hit.highlights]
    assert marked == ["Barnefattigdommen"]
    d = hit.to_dict()
    assert d["citation"].startswith("Kongsberg, ") and "s. 1" in d["citation"]
    assert {"rank", "score", "doc_id", "page", "section", "snippet", "highlights", "also_in", "tags"} <= set(d)


def test_real_corpus_query_returns_cited_passages(sample_index: Index) -> None:
    hits = sample_index.search("barnefattigdom", k=5)
    assert len(hits) == 5
    for h in hits:
        assert h.highlights, h.snippet
        assert 1 <= h.passage.page_start <= h.doc.n_pages
        assert h.doc.municipality
    # The nynorsk plans answer a bokmål query too.
    gol = sample_index.search("tjenester", filters=Filters(municipality=["Gol"]), k=3)
    assert gol and all(h.doc.standard == "nn" for h in gol)


def test_empty_and_stopword_queries_return_nothing(sample_index: Index) -> None:
    assert sample_index.search("") == []
    assert sample_index.search("og i på") == []


def test_page_shows_passages(sample_index: Index) -> None:
    page, passages = sample_index.page("3324_gol_samfunnsdel_2018-2030", 9)
    assert "folkehelse" in page.text.lower()
    assert passages and all(p.page_start == 9 for p in passages)


def test_unknown_option_is_an_error(sample_index: Index) -> None:
    from plansok.errors import PlansokError

    with pytest.raises(PlansokError, match="unknown search option"):
        sample_index.search("bolig", boost=3)
