"""Proximity queries ("fattigdom barn"~3) as a researcher checks them: a real
plan sentence with the words a few words apart is found, a phrase or a tighter
window does not find it, words far apart or across a sentence end are not
found, nynorsk text is found from bokmål and nynorsk queries, the concordance
gives one cited line per occurrence, a matrix counts what search counts, and a
malformed ~ is an error rather than an empty answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import _write_plan

from plansok.analysis.analyzer import tokenize
from plansok.api import Filters, Index
from plansok.cli import main
from plansok.query.parse import QuerySyntaxError, parse_query
from plansok.query.phrases import near_spans

RINGERIKE = "3305_ringerike_samfunnsdel_2021-2030"  # "... og ingen barn vokser opp i fattigdom." (s. 13)
AAL = "3328_aal_kommuneplan_2015-2027_tekstdel"  # nynorsk: "andel born som veks opp i familiar med låg inntekt"
WRITTEN_NB = "3301_drammen_levekar_notat_2024"
WRITTEN_NN = "3324_gol_oppvekst_notat_2024"
HUGE = 1_000_000

FAR_APART = (
    "Fattigdom er et tema som kommunen følger nøye gjennom mange år med planarbeid, statistikk, "
    "dialog med frivillige lag og samarbeid med staten, og det gjelder også barn."
)
ACROSS_SENTENCES = "Kommunen har en egen innsats mot fattigdom. Barn og unge skal få gratis fritidstilbud."
NYNORSK = (
    "Mange born lever i fattigdom, og dei skal få vere med på fritidsaktivitetar. Kommunen skal gje gode "
    "tenester til alle innbyggjarane, og ingen skal stå utanfor fordi dei ikkje har råd til det."
)


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Index:
    root = tmp_path_factory.mktemp("proximity")
    src = root / "src"
    src.mkdir()
    for name in (RINGERIKE, AAL):
        shutil.copy(corpus / "plans" / f"{name}.md", src)
    _write_plan(src, WRITTEN_NB, [FAR_APART, ACROSS_SENTENCES], {"Dokumenttype": "rapport"})
    _write_plan(src, WRITTEN_NN, [NYNORSK], {"Dokumenttype": "rapport"})
    index = Index.open(root / "ix", create=True)
    assert index.ingest([src], tag=False).ok
    return index


def hit_docs(ix: Index, query: str, filters: Filters | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in ix.search(query, k=HUGE, filters=filters, fold_duplicates=False):
        out[h.doc.doc_id] = out.get(h.doc.doc_id, 0) + 1
    return out


def marked(hit) -> list[str]:
    return [hit.snippet[s:e].lower() for s, e in hit.highlights]


def test_a_real_sentence_is_found_within_n_words_and_not_as_a_phrase(ix: Index) -> None:
    hits = ix.search('"fattigdom barn"~3', k=50, filters=Filters(standard="nb"))
    assert [(h.doc.doc_id, h.passage.page_start) for h in hits] == [(RINGERIKE, 13)]
    assert "ingen barn vokser opp i fattigdom" in " ".join(hits[0].passage.text.split())
    # Highlighted as a phrase's words are.
    assert {"barn", "fattigdom"} <= set(marked(hits[0]))
    # "barn vokser opp i fattigdom": three words between, so ~2 and tighter miss it,
    # as do the phrase and the phrase in the sentence's own order.
    for query in ('"fattigdom barn"~2', '"fattigdom barn"~0', '"fattigdom barn"', '"barn fattigdom"'):
        assert RINGERIKE not in hit_docs(ix, query), query
    # Order costs nothing: the words as the plan has them need the same window.
    assert RINGERIKE in hit_docs(ix, '"barn fattigdom"~3')
    # Stop words in the quotes widen the window without having to occur.
    assert RINGERIKE in hit_docs(ix, '"fattigdom blant barn"~2')
    assert RINGERIKE not in hit_docs(ix, '"fattigdom blant barn"~1')
    # The plain words find it too, among many more passages.
    assert RINGERIKE in hit_docs(ix, "fattigdom barn")


def test_words_far_apart_or_in_two_sentences_are_not_found(ix: Index) -> None:
    both = ix.search("fattigdom barn", k=HUGE, filters=Filters(doc_ids=[WRITTEN_NB]), fold_duplicates=False)
    assert len(both) == 2, "both passages hold both words"
    assert hit_docs(ix, '"fattigdom barn"~5', Filters(doc_ids=[WRITTEN_NB])) == {}
    # "fattigdom. Barn": side by side, but a sentence ends between them.
    assert hit_docs(ix, '"fattigdom barn"~0', Filters(doc_ids=[WRITTEN_NB])) == {}
    # A window wide enough for the long sentence finds it, and only it.
    wide = ix.search('"fattigdom barn"~30', k=10, filters=Filters(doc_ids=[WRITTEN_NB]))
    assert [h.passage.page_start for h in wide] == [1]
    # In the real nynorsk plan: "born ... låg inntekt" spans nine words.
    assert AAL in hit_docs(ix, '"barn inntekt"~7')
    assert AAL not in hit_docs(ix, '"barn inntekt"~6')


def test_nynorsk_text_is_found_from_either_standard(ix: Index) -> None:
    for query in ('"fattigdom born"~3', '"fattigdom barn"~3', '"fattigdom born"~3 OR barnefattigdom'):
        assert hit_docs(ix, query, Filters(standard="nn")).get(WRITTEN_NN) == 1, query
    # "born lever i fattigdom": two words between.
    assert WRITTEN_NN in hit_docs(ix, '"fattigdom born"~2')
    assert WRITTEN_NN not in hit_docs(ix, '"fattigdom born"~1')
    # The real Ål plan: bokmål query words find "born ... låg inntekt".
    for query in ('"barn lav inntekt"~6', '"born låg inntekt"~6'):
        hits = ix.search(query, k=10, filters=Filters(doc_ids=[AAL]))
        assert len(hits) == 1 and {"born", "låg", "inntekt"} <= set(marked(hits[0])), query
    assert hit_docs(ix, '"barn lav inntekt"~5', Filters(doc_ids=[AAL])) == {}


def test_an_excluded_proximity_leaves_out_only_passages_where_the_words_stand_close(ix: Index) -> None:
    with_barn = hit_docs(ix, "barn", Filters(doc_ids=[RINGERIKE]))
    without = hit_docs(ix, 'barn -"fattigdom barn"~3', Filters(doc_ids=[RINGERIKE]))
    assert without[RINGERIKE] == with_barn[RINGERIKE] - 1


def test_kwic_gives_one_line_per_occurrence_centred_on_the_span_and_cited_to_its_page(ix: Index) -> None:
    result = ix.kwic('"fattigdom barn"~3')
    lines = {ln.doc.doc_id: ln for ln in result.lines}
    assert set(lines) == {RINGERIKE, WRITTEN_NN} and result.total == 2
    nb, nn = lines[RINGERIKE], lines[WRITTEN_NN]
    assert nb.keyword == "barn vokser opp i fattigdom" and nb.match == "near"
    assert nb.left.endswith("og ingen") and nb.right.startswith(".")
    assert nn.keyword == "born lever i fattigdom" and nn.left == "Mange"
    pages = {p.number: p.text for p in ix.store.pages(RINGERIKE)}
    assert nb.page == 13 and "s. 13" in nb.citation
    assert nb.keyword in " ".join(pages[nb.page].split())
    # No line when the words stand too far apart; the reason says how to widen.
    tight = ix.kwic('"fattigdom barn"~2', Filters(doc_ids=[RINGERIKE]))
    assert tight.total == 0 and "~N" in (tight.message or "")
    unknown = ix.kwic('"fattigdom blåbærsyltetøy"~3')
    assert unknown.total == 0 and "no word like blåbærsyltetøy" in (unknown.message or "")
    assert "within=N" not in (unknown.message or ""), "a proximity is not loosened by --within"


def test_kwic_on_the_command_line(ix: Index, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kwic", '"fattigdom born"~3', "--index", str(ix.path), "--standard", "nn"]) == 0
    out, err = capsys.readouterr()
    assert "born lever i fattigdom" in out and "Gol, 3324_gol_oppvekst_notat_2024, s. 1" in out
    assert "1 occurrence(s)" in err


@pytest.mark.parametrize("f", [Filters(), Filters(standard="nn"), Filters(doc_type=["samfunnsdel"])])
def test_a_matrix_counts_what_search_counts(ix: Index, f: Filters) -> None:
    queries = ['"fattigdom barn"~3', '"barn unge"~1', '"fattigdom barn"~30 -"barn unge"~0']
    m = ix.matrix(queries, by="document", filters=f, include_references=True)
    for q, row in zip(queries, m.rows):
        assert {c.key: n for c, n in zip(m.columns, row.counts) if n} == hit_docs(ix, q, f), q
        assert row.total == len(ix.search(q, k=HUGE, filters=f, fold_duplicates=False))
    # Every "barn og unge" / "born og unge" is a hit of "barn unge"~1, in either order.
    phrase = ix.search('"barn og unge"', k=HUGE, filters=f, fold_duplicates=False)
    assert m.rows[1].total >= len(phrase) > 0


@pytest.mark.parametrize(
    "query, needle",
    [
        ('"fattigdom barn"~x', "not 'x'"),
        ('"fattigdom barn"~', "nothing follows"),
        ('"fattigdom barn"~2.5', "not '2.5'"),
        ('"fattigdom barn" ~3', "right after"),
        ("barn~3", "right after"),
    ],
)
def test_a_malformed_proximity_is_an_error_naming_the_query(ix: Index, query: str, needle: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        ix.search(query)
    assert query in str(err.value) and needle in str(err.value)
    with pytest.raises(QuerySyntaxError):
        ix.kwic(query)


def test_a_malformed_proximity_on_the_command_line_says_why(ix: Index, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["query", '"fattigdom barn"~x', "--index", str(ix.path)])
    err = capsys.readouterr().err
    assert code != 0 and "whole number of words" in err and "Traceback" not in err


def test_the_web_page_search_accepts_proximity(ix: Index) -> None:
    """The page's search box and concordance send the query as typed to these endpoints."""
    from test_serve import PORT, call

    from plansok.serve.app import ServeApp

    app = ServeApp(ix, PORT)
    status, _, data = call(app, "/api/search", {"q": '"fattigdom barn"~3', "kommune": "Ringerike"})
    assert status == 200 and data["total"] == 1
    hit = data["hits"][0]
    assert hit["page"] == 13 and "<mark>barn</mark>" in hit["snippet_html"]
    status, _, kwic = call(app, "/api/kwic", {"q": '"fattigdom barn"~3'})
    assert status == 200 and kwic["total"] == 2
    status, _, bad = call(app, "/api/search", {"q": '"fattigdom barn"~x'})
    assert status == 400 and "whole number of words" in bad["error"]


def test_near_spans_take_any_order_and_a_word_of_their_own_for_each() -> None:
    text = "barn og unge. unge barn i barnehagen og barn"
    toks = tokenize(text)
    terms = [{t.form} for t in toks]
    # The tightest ranges, in any order, never across the sentence end.
    assert near_spans(text, toks, terms, [{"barn"}, {"unge"}], 2) == [(0, 2), (3, 4)]
    # "barn barn": two words of their own, not the same word twice.
    assert near_spans(text, toks, terms, [{"barn"}, {"barn"}], 5) == [(4, 8)]
    assert near_spans(text, toks, terms, [{"barn"}, {"barn"}], 3) == []


def test_the_parser_keeps_phrases_and_reads_the_number() -> None:
    parsed = parse_query('"fattigdom barn"~3 OR barnefattigdom -"tidlig innsats"~0 "helse"')
    (first, second, third), excluded = [c for alts in parsed.concepts for c in alts], parsed.excluded
    assert (first.text, first.slop, first.proximity) == ("fattigdom barn", 3, True)
    assert second.text == "barnefattigdom" and not second.phrase
    assert third.phrase and not third.proximity
    assert excluded[0].slop == 0 and excluded[0].proximity
