"""Plan structure: the units a researcher would list from a plan (goals, strategies,
measures with ansvar and frist), a revision comparison that reports a goal added, one
removed and one reworded, and the plans that do and do not commit to measures on a theme.

The plans are excerpts of real plans from the shared corpus (Gol's nynorsk samfunnsdel,
Hol's bokmål handlingsplan) and two small plans written here for what the corpus lacks
(a ruled Mål | Tiltak | Ansvar | Frist table; a nynorsk measure on barnefattigdom)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import _write_plan

from plansok.api import Filters, Index
from plansok.cli import main
from plansok.errors import PlansokError
from plansok.models import DocumentMeta
from plansok.views.compare import compare_structures
from plansok.views.structure import PlanStructure, PlanUnit
from plansok.views.units_eval import load_gold, score

GOLD = Path(__file__).parent / "data" / "plan_units_gold.jsonl"
GOL = "3324_gol_samfunnsdel_2018-2030"
HOL = "3330_hol_handlingsplan_folkehelse_2021-2033"
GOL_PAGES = range(12, 17)  # chapter 9-11: goals and strategies
HOL_PAGES = (7, 14, 15, 16)  # goal and strategies; the flattened tiltak table

ADDED = "Gol skal ha eit samanhengande nett av gang- og sykkelvegar innan 2030"
REMOVED = "Det skal utviklast minst ein større attraksjon/fyrtårn i planperioden"
REWORDED_OLD = "Gol skal ha eit variert kultur og fritidstilbod"
REWORDED_NEW = "Gol skal ha eit rikt og variert kultur- og fritidstilbod for alle"

TABLE_PLAN = """3 Tiltak

Mål | Tiltak | Ansvar | Frist
Færre barn veks opp i fattigdom | Gratis deltaking i fritidsaktivitetar for barn i låginntektsfamiliar | Kultur | 2025
 | Tilby familiekoordinator til familiar med langvarig sosialhjelp | NAV | Innan 2026
Alle barn går i barnehage | Gratis kjernetid i barnehage | Oppvekst | Kontinuerleg

Planen vert rullert kvart år i samband med økonomiplanen."""

LIST_PLAN = """2 Mål og tiltak

Hovudmål: Alle barn og unge i kommunen skal ha ein trygg oppvekst

Tiltak
• Redusere barnefattigdommen gjennom tett oppfølging av familiane
• Auke talet på lærlingplassar i kommunen innan 2027
• Styrke helsestasjonen for ungdom

Ansvar: Kommunedirektøren"""


def _pages(corpus: Path, doc_id: str, numbers) -> list[str]:
    text = (corpus / "plans" / f"{doc_id}.md").read_text(encoding="utf-8")
    parts = re.split(r"<!-- side (\d+) -->", text)
    pages = {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts), 2)}
    return [pages[n] for n in numbers]


def _revise(pages: list[str]) -> list[str]:
    """Gol's goals with one added (chapter 10.1), one removed (10.2) and one reworded (10.3)."""
    out = list(pages)
    p13, p14, p15 = 1, 2, 3  # positions of source pages 13, 14, 15 in GOL_PAGES
    assert "i høve 2009" in out[p13]
    out[p13] = out[p13].replace("i høve 2009", f"i høve 2009 4. {ADDED}", 1)
    old = "2. Det skal utviklast minst ein større\nattraksjon/fyrtårn i planperioden 3. Gol skal vere"
    assert old in out[p14]
    out[p14] = (
        out[p14]
        .replace(old, "2. Gol skal vere")
        .replace("4. Gol skal vere ein leiande", "3. Gol skal vere ein leiande")
        .replace("5. Gol skal vere ein av landets 3", "4. Gol skal vere ein av landets 3")
    )
    assert "Gol skal ha eit variert kultur og\nfritidstilbod" in out[p15]
    out[p15] = out[p15].replace("Gol skal ha eit variert kultur og\nfritidstilbod", REWORDED_NEW)
    return out


@pytest.fixture(scope="module")
def plans(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Index:
    root = tmp_path_factory.mktemp("structure")
    src = root / "src"
    src.mkdir()
    gol = _pages(corpus, GOL, GOL_PAGES)
    gol_header = {"Kommunenr": "3324", "Dokumenttype": "samfunnsdel"}
    _write_plan(src, "gol_samfunnsdel_2018", gol, gol_header)
    _write_plan(src, "gol_samfunnsdel_2022", _revise(gol), gol_header)
    _write_plan(src, "hol_handlingsplan_folkehelse", _pages(corpus, HOL, HOL_PAGES), {"Kommunenr": "3330"})
    _write_plan(src, "flesberg_handlingsplan_barn_2024", [TABLE_PLAN], {"Kommunenr": "3334"})
    _write_plan(src, "hemsedal_tiltaksplan_oppvekst_2024", [LIST_PLAN], {"Kommunenr": "3326"})
    index = Index.open(root / "ix", create=True)
    report = index.ingest([src])
    assert report.ok, report.failed
    return index


def _unit(st: PlanStructure, kind: str, text: str) -> PlanUnit:
    found = [u for u in st.of_kind(kind) if u.text == text]
    assert found, f"no {kind} {text!r} among {[u.text for u in st.of_kind(kind)]}"
    return found[0]


# -- extraction ----------------------------------------------------------------------------


def test_the_goals_and_strategies_of_a_nynorsk_samfunnsdel_are_listed_with_their_page(plans: Index) -> None:
    st = plans.plan_structure("gol_samfunnsdel_2018")
    assert len(st.of_kind("mål")) == 17
    assert len(st.of_kind("strategi")) == 57
    goal = _unit(st, "mål", "Gol skal redusere klimagassutsleppa med 40 % innan 2030 i høve 2009")
    assert goal.page == 2  # source page 13, the second page of the excerpt
    assert goal.number == "3"
    assert goal.frist == "innan 2030"
    assert "s. 2" in goal.citation and goal.citation.startswith("Gol")
    # The quote is the plan's own words, as printed on the cited page.
    page_text = " ".join(plans.page("gol_samfunnsdel_2018", goal.page)[0].text.split())
    assert goal.text in page_text
    # "Sentrale kommunale planer:" and "Utfordringar" lists are not strategies.
    assert not [u for u in st.units if "Kommunedelplan" in u.text or "Befolkningsutvikling" in u.text]


def test_a_handlingsplan_gives_measures_with_ansvar_and_frist_under_their_strategy(plans: Index) -> None:
    st = plans.plan_structure("hol_handlingsplan_folkehelse")
    goal = _unit(st, "mål", "Hol kommune skal ha «en aktiv befolkning med høy livskvalitet»")
    assert goal.page == 1
    assert len(st.of_kind("strategi")) == 5
    measure = _unit(st, "tiltak", "Videreføre organisering av folkehelsearbeidet som beskrevet i denne planen")
    assert measure.ansvar == "Rådmann/ folkehelsekoordinator"
    assert measure.frist == "Kontinuerlig"
    assert measure.parent == "Ivareta folkehelseperspektivet i all kommunal planlegging, inkludert arealdisponering"
    # Measures run together in one table cell are told apart by their infinitives.
    assert _unit(st, "tiltak", "Styrke samarbeidet mellom psykisk helse, friskliv og helsestasjonen")
    # Names and abbreviations from the Ansvar column are no measures.
    assert not [u for u in st.of_kind("tiltak") if u.text.startswith(("K&O", "Folkehelsekoordinator"))]


def test_a_ruled_table_gives_goals_measures_ansvar_and_frist_by_column(plans: Index) -> None:
    st = plans.plan_structure("flesberg_handlingsplan_barn_2024")
    assert [u.text for u in st.of_kind("mål")] == ["Færre barn veks opp i fattigdom", "Alle barn går i barnehage"]
    second = _unit(st, "tiltak", "Tilby familiekoordinator til familiar med langvarig sosialhjelp")
    # A goal printed once holds for the rows under it (a merged cell).
    assert second.parent == "Færre barn veks opp i fattigdom"
    assert (second.ansvar, second.frist) == ("NAV", "Innan 2026")
    assert len(st.of_kind("tiltak")) == 3


def test_an_attribute_after_a_list_belongs_to_the_list_only_when_it_is_one_value(plans: Index) -> None:
    st = plans.plan_structure("hemsedal_tiltaksplan_oppvekst_2024")
    assert [u.text for u in st.of_kind("mål")] == ["Alle barn og unge i kommunen skal ha ein trygg oppvekst"]
    measures = st.of_kind("tiltak")
    assert len(measures) == 3
    # One "Ansvar" for three measures cannot be lined up with them: none is guessed.
    assert [u.ansvar for u in measures] == ["", "", ""]
    assert measures[1].frist == "innan 2027"


def test_gold_units_are_found_in_the_held_out_plans(corpus: Path) -> None:
    """Recall and precision on the hand-labelled plans held out from tuning (README, 'Plan structure')."""
    from plansok.ingest.passages import split_passages
    from plansok.ingest.pipeline import read_document
    from plansok.views.structure import WordClasses, extract_structure

    gold = [g for g in load_gold(GOLD) if g["split"] == "heldout"]
    words = WordClasses()
    structures = {}
    for doc_id in sorted({g["doc_id"] for g in gold}):
        doc = read_document(corpus / "plans" / f"{doc_id}.md", doc_id)
        structures[doc_id] = extract_structure(doc.meta, doc.pages, split_passages(doc_id, doc.pages), words)
    ev = score(gold, structures)
    total = ev.total()
    assert total.recall >= 0.95, ev.missed
    assert total.precision >= 0.9, [u.text for u in ev.spurious]
    assert ev.kinds["tiltak"].recall >= 0.8


# -- revisions -------------------------------------------------------------------------------


def test_a_revision_reports_the_goal_added_the_goal_removed_and_the_goal_reworded(plans: Index) -> None:
    result = plans.compare_plans("gol_samfunnsdel_2018", "gol_samfunnsdel_2022")
    goals = {c: result.of(c, "mål") for c in ("added", "removed", "reworded", "unchanged")}
    assert [c.new.text for c in goals["added"]] == [ADDED]
    assert goals["added"][0].new.page == 2 and goals["added"][0].old is None
    assert [c.old.text for c in goals["removed"]] == [REMOVED]
    assert [(c.old.text, c.new.text) for c in goals["reworded"]] == [(REWORDED_OLD, REWORDED_NEW)]
    assert 0.5 <= goals["reworded"][0].similarity < 1
    # Renumbered goals are the same goals; the strategies did not change.
    assert len(goals["unchanged"]) == 15
    assert result.counts()["strategi"] == {"added": 0, "removed": 0, "reworded": 0, "unchanged": 57}


def test_without_a_threshold_that_low_a_reworded_goal_is_one_removed_and_one_added(plans: Index) -> None:
    result = plans.compare_plans("gol_samfunnsdel_2018", "gol_samfunnsdel_2022", threshold=0.95, kinds=["mål"])
    assert REWORDED_OLD in [c.old.text for c in result.removed]
    assert REWORDED_NEW in [c.new.text for c in result.added]
    assert set(result.counts()) == {"mål"}
    with pytest.raises(PlansokError, match="unknown unit kind"):
        plans.compare_plans("gol_samfunnsdel_2018", "gol_samfunnsdel_2022", kinds=["visjon"])


def test_a_goal_in_the_other_written_standard_is_the_same_goal_reworded() -> None:
    def structure(doc_id: str, standard: str, text: str) -> PlanStructure:
        meta = DocumentMeta(doc_id=doc_id, standard=standard)
        return PlanStructure(meta, [PlanUnit("mål", text, doc_id, 1)])

    old = structure("a", "nn", "Born og unge opplever meistring, tryggleik og inkludering")
    new = structure("b", "nb", "Barn og unge opplever mestring, trygghet og inkludering")
    result = compare_structures(old, new)
    assert [c.change for c in result.changes] == ["reworded"]
    assert result.changes[0].similarity >= 0.8


# -- themes ------------------------------------------------------------------------------------


def test_commitments_list_the_plans_with_measures_on_a_theme_and_those_without(plans: Index) -> None:
    report = plans.commitments("barnefattigdom")
    by_doc = {p.doc.doc_id: p for p in report.plans}
    assert set(by_doc) == {"flesberg_handlingsplan_barn_2024", "hemsedal_tiltaksplan_oppvekst_2024"}
    # "fattigdom" and "barn" as words of their own, and the inflected nynorsk compound.
    assert [c.unit.text for c in by_doc["flesberg_handlingsplan_barn_2024"].commitments] == [
        "Færre barn veks opp i fattigdom"
    ]
    nn = by_doc["hemsedal_tiltaksplan_oppvekst_2024"].commitments
    assert [(c.unit.kind, c.matched) for c in nn] == [("tiltak", ["barnefattigdommen"])]
    assert nn[0].unit.citation.startswith("Hemsedal") and "s. 1" in nn[0].unit.citation
    without = {p.doc.doc_id for p in report.without}
    assert {"gol_samfunnsdel_2018", "hol_handlingsplan_folkehelse"} <= without


def test_commitments_by_tag_use_the_codebook_rules_on_each_unit(plans: Index) -> None:
    report = plans.commitments("", Filters(tags=["barnefattigdom"]), kinds=["tiltak"])
    texts = [c.unit.text for p in report.plans for c in p.commitments]
    assert "Gratis deltaking i fritidsaktivitetar for barn i låginntektsfamiliar" in texts
    assert all(c.unit.kind == "tiltak" for p in report.plans for c in p.commitments)
    with pytest.raises(PlansokError, match="unknown tag"):
        plans.commitments("", Filters(tags=["fattigdomm"]))
    with pytest.raises(PlansokError, match="need a theme"):
        plans.commitments("  ")


def test_commitments_filters_choose_the_plans_and_an_empty_answer_says_why(plans: Index) -> None:
    report = plans.commitments("barnefattigdom", Filters(municipality=["Gol"]))
    assert report.plans == []
    assert "no plan states" in (report.message or "") and "2 plan(s)" in (report.message or "")
    with pytest.raises(PlansokError):
        plans.commitments("barnefattigdom", Filters(municipality=["Golx"]))


# -- command line ------------------------------------------------------------------------------


def test_cli_structure_compare_and_commitments(plans: Index, capsys: pytest.CaptureFixture[str]) -> None:
    ix = str(plans.path)
    assert main(["structure", "hol_handlingsplan_folkehelse", "--index", ix, "--kind", "tiltak"]) == 0
    out = capsys.readouterr().out
    assert "Videreføre organisering av folkehelsearbeidet" in out and "ansvar: Rådmann/ folkehelsekoordinator" in out
    assert "strategi " not in out

    assert main(["compare", "gol_samfunnsdel_2018", "gol_samfunnsdel_2022", "--index", ix]) == 0
    out = capsys.readouterr().out
    assert f"+ mål (new, s. 2): {ADDED}" in out
    assert f"- mål (old, s. 3): {REMOVED}" in out
    assert "mål: 1 added, 1 removed, 1 reworded, 15 unchanged" in out

    assert main(["commitments", "barnefattigdom", "--index", ix, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {p["doc_id"] for p in data["plans"]} == {
        "flesberg_handlingsplan_barn_2024",
        "hemsedal_tiltaksplan_oppvekst_2024",
    }
    assert data["plans"][0]["commitments"][0]["citation"]

    assert main(["commitments", "sykkelveg", "--index", ix, "--type", "handlingsplan"]) == 1
    assert "no plan states" in capsys.readouterr().err
    assert main(["structure", "no_such_plan", "--index", ix]) == 2
    assert "no document 'no_such_plan'" in capsys.readouterr().err
