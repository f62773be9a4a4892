"""Norwegian analysis on real word forms from the corpus, both written standards."""

from __future__ import annotations

import pytest

from plansok.analysis.analyzer import PART_PREFIX, STEM_PREFIX, Analyzer, tokenize


@pytest.fixture(scope="module")
def an() -> Analyzer:
    return Analyzer()


def lemma(an: Analyzer, form: str, standard: str = "nb") -> str:
    whole, _parts, stop = an.analyze_form(form, standard)
    assert not stop, form
    return whole[0]


@pytest.mark.parametrize(
    ("bokmaal", "nynorsk"),
    [
        ("tjenestene", "tenestene"),
        ("innbyggere", "innbyggjarar"),
        ("innbyggerne", "innbyggjarane"),
        ("skolen", "skulen"),
        ("lavinntektsfamiliene", "låginntektsfamiliane"),
        ("forsørgere", "forsørgjarar"),
        ("samfunnssikkerhet", "samfunnstryggleik"),
        ("flyktninger", "flyktningar"),
        ("tidlig", "tidleg"),
        ("kommunene", "kommunane"),
    ],
)
def test_bokmaal_and_nynorsk_forms_share_one_term(an: Analyzer, bokmaal: str, nynorsk: str) -> None:
    assert lemma(an, bokmaal, "nb") == lemma(an, nynorsk, "nn")


def test_nynorsk_housing_word_maps_to_bokmaal_in_nynorsk_text(an: Analyzer) -> None:
    assert lemma(an, "bustader", "nn") == "bolig"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("barnefattigdommen", "barnefattigdom"),
        ("sosialhjelpsmottakere", "sosialhjelpsmottaker"),
        ("lavinntektsfamiliene", "lavinntektsfamilie"),
        ("levekårene", "levekår"),
        ("resultatenhetsmodellen", "resultatenhetsmodell"),
        ("eldre", "eldre"),  # the elderly, kept beside the reading as a form of "gammel"
    ],
)
def test_inflected_forms_and_unknown_compounds_get_their_lemma(an: Analyzer, form: str, expected: str) -> None:
    assert expected in an.analyze_form(form, "nb")[0]


@pytest.mark.parametrize(
    ("word", "part"),
    [
        ("barnefattigdom", "fattigdom"),
        ("sosialhjelpsmottakere", "sosialhjelp"),
        ("levekårsundersøkelse", "levekår"),
        ("folkehelseoversikt", "folkehelse"),
        ("kommunestyret", "styre"),
        ("helsetenestene", "tjeneste"),
    ],
)
def test_compounds_have_their_parts(an: Analyzer, word: str, part: str) -> None:
    _whole, parts, _ = an.analyze_form(word, "nn" if word == "helsetenestene" else "nb")
    assert part in parts


@pytest.mark.parametrize("word", ["bosetting", "beredskap", "aldrende", "kommune", "befolkning"])
def test_simple_words_are_not_split(an: Analyzer, word: str) -> None:
    assert an.analyze_form(word, "nb")[1] == ()


def test_split_compound_in_a_bad_pdf_meets_the_whole_word(an: Analyzer) -> None:
    terms = an.terms("Tiltak for god livs kvalitet i kommunen")
    assert "livskvalitet" in terms
    # ... but not across punctuation
    assert "livskvalitet" not in an.terms("Et godt livs. Kvalitet i tjenestene")


def test_hyphenated_compound_keeps_its_parts(an: Analyzer) -> None:
    terms = an.terms("Kontakt NAV-kontoret i Gol")
    assert "navkontor" in terms
    assert PART_PREFIX + "nav" in terms and PART_PREFIX + "kontor" in terms
    assert an.terms("navkontoret")[0] == "navkontor"


def test_stop_words_of_both_standards_are_dropped(an: Analyzer) -> None:
    assert an.terms("det er ikke slik") == []
    assert an.terms("det er ikkje slik eg meiner") == [t for t in an.terms("meiner")]


def test_stem_backoff_links_derivations(an: Analyzer) -> None:
    stems = {t for t in an.terms("frivillighet frivillige") if t.startswith(STEM_PREFIX)}
    assert len(stems) == 1


def test_tokens_keep_offsets_and_inner_hyphens() -> None:
    text = "Helse- og omsorgstenester, NAV-kontoret og EU-60."
    toks = tokenize(text)
    assert [t.text for t in toks] == ["Helse", "og", "omsorgstenester", "NAV-kontoret", "og", "EU-60"]
    assert all(text[t.start : t.end] == t.text for t in toks)


def test_spacy_pipeline_gives_the_same_terms_as_the_query_path(shared) -> None:
    from plansok.analysis.pipeline import doc_terms, make_nlp

    an = Analyzer()
    for name, std in (("3324_gol_samfunnsdel_2018-2030", "nn"), ("3312_lier_folkehelsestrategi", "nb")):
        text = (shared / "corpus" / "plans" / f"{name}.md").read_text(encoding="utf-8")[:20000]
        nlp = make_nlp(std, an)
        doc = nlp(text)
        assert doc.text == text
        assert doc_terms(doc) == an.doc_terms(text, std)


def test_word_frequencies_come_from_a_cached_table_equal_to_wordfreq(tmp_path) -> None:
    from wordfreq import get_frequency_dict

    from plansok.analysis.frequencies import WordFrequencies

    words = ["tiltak", "foranstaltning", "betenke", "vurdere", "barnefattigdom", "ikkeetord"]
    full = get_frequency_dict("nb")
    first = WordFrequencies("nb", folder=tmp_path / "cache")
    assert [first.get(w) for w in words] == [full.get(w, 0.0) for w in words]
    tables = list((tmp_path / "cache").glob("wordfreq-nb-*.sqlite"))
    assert len(tables) == 1 and not list((tmp_path / "cache").glob("*.tmp"))
    # A later process reads its few words from the table, without loading the list.
    later = WordFrequencies("nb", folder=tmp_path / "cache")
    assert [later.get(w) for w in words] == [full.get(w, 0.0) for w in words]
    assert later._all is None
    # No writable cache folder: the whole list, the same answers.
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    fallback = WordFrequencies("nb", folder=blocked / "cache")
    assert [fallback.get(w) for w in words] == [full.get(w, 0.0) for w in words]
    # A damaged table: the same answers from the list.
    tables[0].write_bytes(b"not a database" * 100)
    damaged = WordFrequencies("nb", folder=tmp_path / "cache")
    assert [damaged.get(w) for w in words] == [full.get(w, 0.0) for w in words]
