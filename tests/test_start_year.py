"""Keyness between periods when plan periods overlap: ``--start-year``.

A plan's period is a range (2018-2030), so ``--year 2020-2024`` and ``--year
2014-2019`` select the same long plans and there is nothing left to compare.
``--start-year`` puts each plan on one side by the first year of its period.
Five real samfunnsdeler from the shared corpus: two that start in 2021-2022
(bokmål) and three that start in 2018-2019 (two of them nynorsk).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plansok.api import Filters, Index
from plansok.cli import main
from plansok.errors import PlansokError
from plansok.query.filters import EmptySelection, FilterError
from plansok.serve.app import ServeApp

NEWER = ["3305_ringerike_samfunnsdel_2021-2030", "3332_sigdal_samfunnsdel_2022-2035"]
OLDER = ["3310_hole_samfunnsdel_2018-2030", "3324_gol_samfunnsdel_2018-2030", "3326_hemsedal_samfunnsdel_2019-2030"]
PORT = 8765


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Index:
    root = tmp_path_factory.mktemp("start-year")
    src = root / "src"
    src.mkdir()
    for name in NEWER + OLDER:
        shutil.copy(corpus / "plans" / f"{name}.md", src)
    index = Index.open(root / "ix", create=True)
    assert index.ingest([src], tag=False).ok
    return index


def test_start_year_selects_each_plan_once(ix: Index) -> None:
    newer = Filters(doc_type=["samfunnsdel"], start_year=(2020, 2024))
    older = Filters(doc_type=["samfunnsdel"], start_year=(2014, 2019))
    assert sorted(d.doc_id for d in ix.documents() if newer.accepts(d)) == NEWER
    assert sorted(d.doc_id for d in ix.documents() if older.accepts(d)) == OLDER
    # --year selects by overlap: every plan of 2018-2030 is in both spans.
    overlap = Filters(year=(2020, 2024))
    assert sorted(d.doc_id for d in ix.documents() if overlap.accepts(d)) == sorted(NEWER + OLDER)
    assert newer.describe() == ["--type samfunnsdel", "--start-year 2020-2024"]


def test_keyness_by_start_year_ranks_a_word_of_the_newer_plans_high(ix: Index) -> None:
    result = ix.keyness(
        Filters(doc_type=["samfunnsdel"], start_year=(2020, 2024)),
        Filters(doc_type=["samfunnsdel"], start_year=(2014, 2019)),
        top=0,
    )
    assert result.documents == NEWER and result.documents_ref == OLDER and not result.message
    # bærekraftsmål: the national expectations of 2019 asked municipalities to make the UN's
    # sustainable development goals the frame of their planning, and plans written after them
    # do (Ringerike 21 times, Sigdal 19), while Gol and Hole (2018) never name them and Hemsedal
    # (2019) twice. Each plan's own place names (Ringerike, E16, Sigdal) rank above it, being
    # typical of one plan; of the words both newer plans use it is among the first three (the
    # other two: hovedmål, their label for goals, and økt, a bokmål participle where the older,
    # nynorsk plans write auka).
    both = [k.lemma for k in result.keywords if k.documents == len(NEWER)]
    assert "bærekraftsmål" in both[:3], both[:10]
    word = next(k for k in result.keywords if k.lemma == "bærekraftsmål")
    assert word.count >= 35 and word.count_ref <= 2 and word.p < 0.001
    assert [k.lemma for k in result.keywords].index("bærekraftsmål") < 15

    # The same question by --year leaves nothing to compare: a plan counts on one side only.
    by_year = ix.keyness(
        Filters(doc_type=["samfunnsdel"], year=(2020, 2024)), Filters(doc_type=["samfunnsdel"], year=(2014, 2019))
    )
    assert by_year.message and "nothing left to compare" in by_year.message and "--start-year" in by_year.message


def test_bad_and_empty_start_years(ix: Index, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FilterError, match="first year is after the last"):
        ix.keyness(Filters(start_year=(2024, 2020)))
    with pytest.raises(FilterError, match="four digits"):
        ix.keyness(Filters(start_year=(20, 24)))
    with pytest.raises(EmptySelection, match="start in 2018, 2019, 2021, 2022"):
        ix.keyness(Filters(start_year=(2030, 2035)))

    index = ["--index", str(ix.path)]
    assert main(["keyness", *index, "--start-year", "twenty"]) == 2
    assert "--start-year: expected YEAR or FROM-TO" in capsys.readouterr().err
    # Valid filters that select no plan: nothing found, exit 1 with the reason (like grep).
    assert main(["keyness", *index, "--start-year", "2030-2035"]) == 1
    assert "no indexed document passes --start-year 2030-2035" in capsys.readouterr().err
    assert main(["keyness", *index, "--start-year", "2020-", "--json", "--against", "--start-year=-2019"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["subset"] == "--start-year 2020-" and data["documents_ref"] == OLDER
    # A general filter: search takes it too.
    assert main(["query", "bærekraftsmål", *index, "--start-year", "2014-2019", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and {h["doc_id"] for h in hits} <= set(OLDER)


def test_keyness_reference_in_the_web_api(ix: Index) -> None:
    from test_serve import call

    app = ServeApp(ix, PORT)
    status, _, data = call(
        app, "/api/keyness", {"type": "samfunnsdel", "start_year": "2020-2024", "ref_start_year": "2014-2019"}
    )
    assert status == 200, data
    assert data["reference"] == "--start-year 2014-2019" and data["documents_ref"] == OLDER
    assert "bærekraftsmål" in [k["lemma"] for k in data["keywords"]]
    status, _, data = call(app, "/api/keyness", {"start_year": "2020-2024", "ref_start_year": "2030"})
    assert status == 400 and "reference" in data["error"] and "start in" in data["error"]
    assert call(app, "/api/keyness", {"start_year": "soon"})[0] == 400
    with pytest.raises(PlansokError):
        ix.keyness(Filters(), Filters(start_year=(2014, 2019)))


def test_keyness_with_a_range_criterion_puts_the_newer_plans_word_first(ix: Index) -> None:
    """--min-docs 2: only words both newer plans use can be key, so one plan's
    place names (Ringerike, E16, Sigdal) no longer outrank what the group has
    in common, and bærekraftsmål (see above) is among the first three."""
    result = ix.keyness(
        Filters(doc_type=["samfunnsdel"], start_year=(2020, 2024)),
        Filters(doc_type=["samfunnsdel"], start_year=(2014, 2019)),
        top=0,
        min_docs=2,
    )
    lemmas = [k.lemma for k in result.keywords]
    assert "bærekraftsmål" in lemmas[:3], lemmas[:10]
    assert not {"ringerike", "sigdal", "e16"} & set(lemmas)
    assert all(k.documents >= 2 for k in result.keywords) and result.to_dict()["min_docs"] == 2
    with pytest.raises(PlansokError, match="min-docs"):
        ix.keyness(Filters(doc_type=["samfunnsdel"]), min_docs=0)
