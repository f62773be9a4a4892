"""Theory and theme tags: codebook, rules on real word forms, the classifier,
tags in the index and in query results, batch reports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from plansok.analysis.analyzer import Analyzer
from plansok.api import Filters, Index
from plansok.errors import PlansokError
from plansok.tag.codebook import Codebook
from plansok.tag.model import TagModel
from plansok.tag.tagger import Tagger

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.build(Codebook.default(), Analyzer())


def rule_tags(tagger: Tagger, text: str, standard: str = "nb") -> dict[str, list[str]]:
    from plansok.tag.rules import Word

    words = [Word.from_token_terms(tt) for tt in tagger.analyzer.analyze(text, standard)]
    return {k: h.evidence for k, h in tagger.rules.fired(tagger.rules.tag(words, text)).items()}


def test_shipped_codebook_has_the_theories_and_themes() -> None:
    cb = Codebook.default()
    assert {"npm", "resultatenhetsmodellen", "institusjonell", "utviklingsokologi", "sosial-eksklusjon"} <= set(
        t.id for t in cb.by_kind("theory")
    )
    assert {"barnefattigdom", "sosialhjelp", "livskvalitet", "bolig", "oppvekst"} <= set(
        t.id for t in cb.by_kind("theme")
    )
    assert all(t.references for t in cb.by_kind("theory"))


@pytest.mark.parametrize(
    ("text", "standard", "tag", "evidence"),
    [
        ("Barnefattigdommen har økt i kommunen de siste ti årene.", "nb", "barnefattigdom", "barnefattigdommen"),
        ("Mange barn i lavinntektsfamiliar får ikkje delta.", "nn", "barnefattigdom", "barn i lavinntektsfamiliar"),
        ("Antall sosialhjelpsmottakere har gått ned etter NAV-reformen.", "nb", "sosialhjelp", "sosialhjelpsmottakere"),
        ("Kommunen har innført resultatenhetsmodellen med flat struktur.", "nb", "resultatenhetsmodellen",
         "resultatenhetsmodellen"),
        ("RE-modellen gir enhetslederne stor operativ frihet.", "nb", "resultatenhetsmodellen", "operativ frihet"),
        ("Reformen handler mest om legitimitet og omdømme.", "nb", "institusjonell", "legitimitet"),
        ("Bronfenbrenner skiller mellom mikrosystem og makrosystem.", "nb", "utviklingsokologi", "bronfenbrenner"),
    ],
)  # fmt: skip
def test_rules_match_real_word_forms(tagger: Tagger, text: str, standard: str, tag: str, evidence: str) -> None:
    found = rule_tags(tagger, text, standard)
    assert tag in found, found
    assert evidence in [e.lower() for e in found[tag]]


def test_negative_patterns_are_not_evidence(tagger: Tagger) -> None:
    assert "inkludering" not in rule_tags(tagger, "Kommunen er en IA-bedrift med inkluderende arbeidsliv.")
    assert "inkludering" in rule_tags(tagger, "Inkludering av flyktninger i lokalsamfunnet er et mål.")
    assert "helse" not in rule_tags(tagger, "Enheten Helse og familie har ansvaret for saken.")


def test_codebook_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "cb.toml"
    bad.write_text(
        '[[tag]]\nid = "Bolig"\nkind = "topic"\nlabel = "x"\nterms = ["bolig"]\npatterns = ["(unclosed"]\n'
        '[[tag]]\nid = "a"\nkind = "theme"\nlabel = "a"\nterms = []\n',
        encoding="utf-8",
    )
    with pytest.raises(PlansokError) as exc:
        Codebook.load(bad)
    msg = str(exc.value)
    assert "id must be lower-case" in msg and "kind must be one of" in msg
    assert "bad regular expression" in msg and "needs terms or patterns" in msg


def test_classifier_learns_saves_and_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    house = ["bolig", "husleie", "utleiebolig", "startlån", "bostøtte"]
    other = ["vei", "vann", "avløp", "næring", "turisme", "hytte"]
    docs, y = [], []
    for _ in range(80):
        pos = rng.random() < 0.5
        words = list(rng.choice(house if pos else other, 4)) + list(rng.choice(other, 3))
        docs.append(words)
        y.append(1 if pos else 0)
    model = TagModel.train(docs, {"bolig": np.asarray(y, dtype=np.int8)})
    p = model.predict_proba([["startlån", "bostøtte", "vei"], ["avløp", "vann"]])
    assert p[0, 0] > 0.7 > 0.3 > p[1, 0]
    model.save(tmp_path / "tagger")
    loaded = TagModel.load(tmp_path / "tagger")
    assert loaded is not None and loaded.tags == ["bolig"]
    np.testing.assert_allclose(loaded.predict_proba([["startlån"]]), model.predict_proba([["startlån"]]), rtol=1e-6)
    assert "startlån" in loaded.top_terms(["startlån", "vei"], "bolig")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    src = tmp_path_factory.mktemp("src")
    for name in ("3324_gol_samfunnsdel_2018-2030.pdf", "3330_hol_handlingsplan_folkehelse_2021-2033.md"):
        shutil.copy(REPO / "corpus" / name, src / name)
    ix = Index.open(tmp_path_factory.mktemp("ix") / "index", create=True)
    assert ix.ingest([src]).ok
    return ix


def test_passages_are_tagged_at_ingest_and_filterable(small_index: Index) -> None:
    hits = small_index.search("folkehelse", k=5)
    assert any(t["tag"] == "helse" for h in hits for t in h.tags)
    tagged = small_index.search("", k=5, filters=Filters(tags=["helse"]))
    assert tagged and all(any(t["tag"] == "helse" for t in h.tags) for h in tagged)
    assert [h.score for h in tagged] == sorted((h.score for h in tagged), reverse=True)
    both = small_index.search("tiltak", k=20, filters=Filters(tags=["helse", "oppvekst"]))
    assert all({"helse", "oppvekst"} <= {t["tag"] for t in h.tags} for h in both)
    with pytest.raises(PlansokError, match="unknown tag"):
        small_index.search("", filters=Filters(tags=["nosuchtag"]))


def test_tags_come_from_the_shipped_model_from_the_first_ingest_and_training_on_nothing_changes_nothing(
    small_index: Index, tmp_path: Path
) -> None:
    """A fresh index is tagged by the shipped, calibrated model (no training
    step the user has to know about); `tag --train` with no new labels gives
    the same model back and changes no tag; a training with labels reports
    what changed and can be undone."""
    assert not (small_index.path / "tagger").exists()  # no model of its own: the shipped one tags
    sources = {t["source"] for h in small_index.search("folkehelse", k=20) for t in h.tags}
    assert sources & {"rule+model", "model"}, sources
    before = small_index.store.tag_sets()

    report = small_index.train_tagger([])
    assert report.changes == {} and small_index.store.tag_sets() == before

    labels = tmp_path / "labels.jsonl"
    hol = small_index.store.passages_of("3330_hol_handlingsplan_folkehelse_2021-2033")
    rows = [{"text": p.text, "tags": ["fritid"]} for _, p in hol[:12]]
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    report = small_index.train_tagger([labels])
    assert report.labels == 12 and report.changes.get("fritid", {}).get("added", 0) > 0, report.changes
    assert small_index.store.tag_sets() != before

    undone = small_index.undo_training()
    assert small_index.store.tag_sets() == before
    assert undone.changes.get("fritid", {}).get("removed", 0) == report.changes["fritid"]["added"]


def test_batch_report_dry_run_leaves_the_index_alone(small_index: Index, tmp_path: Path) -> None:
    before = [d.doc_id for d in small_index.documents()]
    out = tmp_path / "report"
    report, written = small_index.tag_batch(
        [REPO / "corpus" / "3326_hemsedal_samfunnsdel_2019-2030.pdf"], out, dry_run=True
    )
    assert report.ok and [d.doc_id for d in small_index.documents()] == before
    names = {p.name for p in written}
    assert {"passages.csv", "passages.json", "document_tags.csv", "municipality_tags.csv", "theory_theme.csv",
            "report.html", "heatmap_documents.png"} <= names  # fmt: skip
    with open(out / "document_tags.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["doc_id"] for r in rows] == ["3326_hemsedal_samfunnsdel_2019-2030"]
    assert int(rows[0]["passages"]) > 10 and float(rows[0]["helse_share"]) <= 1
    with open(out / "passages.csv", newline="", encoding="utf-8") as fh:
        passages = list(csv.DictReader(fh))
    assert passages[0]["citation"].startswith("Hemsedal, ")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Hemsedal, Kommuneplan" in page and "max-width" in page
    assert (out / "heatmap_documents.png").read_bytes()[:4] == b"\x89PNG"


def test_codebook_check_and_show(small_index: Index, capsys: pytest.CaptureFixture[str]) -> None:
    from plansok.cli import main

    assert main(["codebook", "check", "--index", str(small_index.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] and result["tags"] == 23
    assert "bronfenbrenner" in result["never_in_index"]["utviklingsokologi"]
    assert main(["codebook", "show", "--index", str(small_index.path)]) == 0
    assert "resultatenhetsmodellen" in capsys.readouterr().out


def test_codebook_check_finds_the_index_through_plansok_index_and_the_api_agrees(
    small_index: Index, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every command honours $PLANSOK_INDEX, and the CLI only prints what the API returns."""
    from plansok.cli import main

    monkeypatch.chdir(tmp_path)  # no ./plansok-index here
    monkeypatch.setenv("PLANSOK_INDEX", str(small_index.path))
    assert main(["codebook", "check", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == small_index.check_codebook().to_dict()
    assert "bronfenbrenner" in printed["never_in_index"]["utviklingsokologi"]


NOT_PROSE = {
    "references": "Hood, C. (1991). A public management for all seasons? Public Administration, 69(1), 3-19.\n"
    "Christensen, T. & Lægreid, P. (2001). New Public Management. Oslo: Universitetsforlaget.\n"
    "Røvik, K. A. (2007). Trender og translasjoner. Oslo: Universitetsforlaget.",
    "table": "Resultatenhet | Budsjett 2015 | Regnskap 2015 | Avvik\nSkole | 41 200 | 40 900 | 300\n"
    "Helse og familie | 38 100 | 39 400 | -1 300",
    "list": "Enhetsleder\nAvdelingsleder\nRådmann\nKommunalsjef\nResultatenhetsleder\nFagleder",
}


@pytest.mark.parametrize("kind", sorted(NOT_PROSE))
def test_no_theory_tags_on_text_that_is_not_prose(tagger: Tagger, kind: str) -> None:
    from plansok.analysis.prose import why_not_prose

    text = NOT_PROSE[kind]
    assert why_not_prose(text) == kind
    theories = {t.id for t in tagger.codebook.by_kind("theory")}
    tags = {t.tag for t in tagger.tag_texts([text])[0]}
    assert not tags & theories, tags


def test_the_same_theory_words_in_prose_keep_their_tag(tagger: Tagger) -> None:
    text = (
        "Kommunen innførte resultatenhetsmodellen i 2004. Enhetslederne fikk totalansvar og operativ frihet "
        "innenfor lederavtalen, og reformen var inspirert av New Public Management."
    )
    tags = {t.tag for t in tagger.tag_texts([text])[0]}
    assert {"resultatenhetsmodellen", "npm"} <= tags, tags


SENSES = [
    # (text, tag, expected): the cue word in the theory's sense and in another sense
    ("Næringslivet i Hallingdal skal være konkurransedyktig, og kommunen vil styrke markedet for lokale "
     "bedrifter gjennom næringsutvikling.", "npm", False),
    ("Konkurranse og marked ble innført i offentlig sektor: tjenesteproduksjonen skulle effektiviseres, og "
     "brukerne ble kunder.", "npm", True),
    ("Kulturlandskapet og verneverdiene i grendene skal tas vare på, og kulturen i bygdene er en verdi "
     "for identiteten vår.", "kulturperspektiv", False),
    ("En felles kultur og felles verdier blant medarbeiderne og lederne preger organisasjonen.",
     "kulturperspektiv", True),
    ("Økt spesialisering i spesialisthelsetjenesten gir pasientene bedre behandling på sykehuset.",
     "instrumentelt", False),
    ("Spesialisering og arbeidsdeling i organisasjonen gir klare styringslinjer mellom enhetene.",
     "instrumentelt", True),
    ("Visjonen er at kommunen skal ha et godt omdømme og være et attraktivt sted å bo.", "institusjonell", False),
    ("Kommunen innførte reformen for å styrke sitt omdømme og sin legitimitet i omgivelsene, mer som "
     "symbol enn som endring.", "institusjonell", True),
]  # fmt: skip


@pytest.mark.parametrize(("text", "tag", "expected"), SENSES)
def test_theory_cue_words_count_only_in_the_theorys_sense(tagger: Tagger, text: str, tag: str, expected: bool) -> None:
    tags = {t.tag for t in tagger.tag_texts([text])[0]}
    assert (tag in tags) == expected, tags


def test_the_shipped_model_is_rebuilt_exactly_from_the_labels_in_the_repository(tmp_path: Path) -> None:
    """`python -m plansok.tag.build` from tag/data/labels gives the shipped model back."""
    from plansok.tag.build import build, same_model, shipped_model
    from plansok.tag.model import TagModel

    build(tmp_path)
    assert same_model(TagModel.load(tmp_path), shipped_model())


def test_a_disputed_label_pulls_half_as_hard_as_an_agreed_one() -> None:
    """Passages two coders disagree on (share 0.5) sit between agreed positives
    and agreed negatives in what the model learns."""
    from plansok.tag.model import fit_calibrated

    rng = np.random.default_rng(3)
    house = ["bolig", "husleie", "utleiebolig", "startlån", "bostøtte"]
    other = ["vei", "vann", "avløp", "næring", "turisme", "hytte"]
    docs, share = [], []
    for i in range(150):
        kind = i % 3  # agreed yes, agreed no, disputed ("kommunal" marks the disputed ones)
        words = list(rng.choice(house if kind != 1 else other, 3)) + list(rng.choice(other, 3))
        docs.append([*words, "kommunal"] if kind == 2 else words)
        share.append((1.0, 0.0, 0.5)[kind])
    extra = np.zeros((len(docs), 0), np.float32)
    model = fit_calibrated(docs, extra, [], {"bolig": np.asarray(share)}, ["d"] * len(docs), c=16.0)
    agreed, disputed = model.predict_proba([["bolig", "startlån", "vei"], ["bolig", "startlån", "vei", "kommunal"]])
    assert agreed[0] > disputed[0] + 0.1
    assert model.info["tags"]["bolig"]["positives"] == 75.0  # 50 agreed + 50 x 0.5


def test_the_shipped_labels_record_both_coders_and_the_adjudication() -> None:
    from plansok.tag.build import LABELS_DIR
    from plansok.tag.codebook import Codebook

    kinds = {t.id: t.kind for t in Codebook.default().tags}
    rows = [json.loads(line) for line in (LABELS_DIR / "annotated_2026-12.jsonl").read_text("utf-8").splitlines()]
    for kind in ("theme", "theory"):
        of_kind = {t for t, k in kinds.items() if k == kind}
        # A passage whose tags of one kind were coded again takes them from
        # the second coding (its own coders and adjudication), otherwise from
        # the first.

        def coding(r: dict, kind: str = kind, of_kind: set[str] = of_kind) -> tuple[set[str], set[str], str]:
            if f"{kind}_coder_a" in r:
                return set(r[f"{kind}_coder_a"]), set(r[f"{kind}_coder_b"]), f"{kind}_adjudication"
            return set(r["coder_a"]) & of_kind, set(r["coder_b"]) & of_kind, "adjudication"

        disputed = [r for r in rows if coding(r)[0] != coding(r)[1]]
        assert all(r.get(coding(r)[2]) for r in disputed), kind
        # Passages no one adjudicated carry what both coders gave.
        agreed = [r for r in rows if coding(r)[0] == coding(r)[1] and not r.get(coding(r)[2])]
        assert all(set(r["tags"]) & of_kind == coding(r)[0] for r in agreed), kind
        assert len(agreed) > 1000
    assert sum("theme_coder_a" in r for r in rows) > 1000 and sum("theory_coder_a" in r for r in rows) > 300


def _hol_excerpts(tmp_path: Path, second_pages: slice) -> tuple[Path, Path]:
    """Two folders, each with a text of some pages of the embedded Hol plan:
    pages 3-6, and ``second_pages``."""
    md = (REPO / "corpus" / "3330_hol_handlingsplan_folkehelse_2021-2033.md").read_text(encoding="utf-8")
    pages = md.split("<!-- side ")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "hol_del1.txt").write_text(" ".join(pages[3:7]), encoding="utf-8")
    (second / "hol_del2.txt").write_text(" ".join(pages[second_pages]), encoding="utf-8")
    return first, second


def test_worker_processes_tag_with_the_model_the_index_records(tmp_path: Path) -> None:
    # After a change of codebook the index tags by its rules alone (the model was
    # trained on other tags); documents read by worker processes must be tagged
    # the same way, not with the model a folder or the shipped data holds.
    first, second = _hol_excerpts(tmp_path, second_pages=slice(7, 12))
    ix = Index.open(tmp_path / "index", create=True)
    assert ix.ingest([first]).ok
    ix.set_codebook(REPO / "tag" / "data" / "codebook.toml")  # the shipped codebook's text: a change of record
    assert ix.ingest([second], workers=2).ok
    after_ingest = ix.store.tag_sets()
    ix.retag()  # with the recorded model, in this process
    assert ix.store.tag_sets() == after_ingest
    assert any(after_ingest.values())


def test_tags_from_an_older_plansoks_shipped_model_are_redone_at_the_next_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An index tagged by the model an older plansok shipped: its old passages
    # must not keep that model's tags while new ones get this model's.
    first, second = _hol_excerpts(tmp_path, second_pages=slice(7, 10))
    ix = Index.open(tmp_path / "index", create=True)
    assert ix.ingest([first]).ok
    fresh = ix.store.tag_sets()
    assert any(fresh.values())
    # What an older plansok leaves: another shipped model's record and its tags.
    with ix.store.transaction():
        ix.store.set_meta("tag_shipped_model", "sha256:" + "0" * 64)
        ix.store.db.execute("DELETE FROM tags")
    with caplog.at_level("WARNING"):
        assert ix.ingest([second]).ok
    assert "re-tagged its" in caplog.text
    after = ix.store.tag_sets()
    assert {pid: tags for pid, tags in after.items() if pid in fresh} == fresh
    # Up to date: the next ingest re-tags nothing.
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert ix.ingest([first, second]).ok
    assert "re-tagged" not in caplog.text and ix.store.tag_sets() == after


def test_a_theory_tags_confidence_weighs_its_rule_score_and_survives_saving(tmp_path: Path) -> None:
    """The calibration's third column (the tag's own rule score) is fitted,
    saved and applied on loading, and a model of the earlier format (two
    columns) still loads and predicts as it did."""
    from plansok.tag.model import MODEL_FORMAT, TagModel, fit_calibrated

    rng = np.random.default_rng(0)
    docs, rule, y = [], [], []
    for i in range(300):
        positive = i % 3 == 0
        # The words say little; the codebook's words (the rule score) say more.
        docs.append(["kommune", "tjeneste", "effektiv" if rng.random() < (0.6 if positive else 0.4) else "plan"])
        rule.append(1.0 if (positive and rng.random() < 0.8) or (not positive and rng.random() < 0.1) else 0.0)
        y.append(1.0 if positive else 0.0)
    extra = np.asarray(rule, np.float32).reshape(-1, 1)
    model = fit_calibrated(docs, extra, ["rule:npm"], {"npm": np.asarray(y)}, ["d"] * 300, rule_calibration=["npm"])
    assert model.calib is not None and model.calib.shape == (1, 3)
    probe = [["kommune", "tjeneste", "effektiv"]] * 2
    probe_extra = np.asarray([[1.0], [0.0]], np.float32)
    with_words, without = model.predict_proba(probe, probe_extra)[:, 0]
    assert with_words > 0.5 > without
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["format"] == MODEL_FORMAT == 2
    loaded = TagModel.load(tmp_path / "m")
    assert loaded is not None
    np.testing.assert_allclose(loaded.predict_proba(probe, probe_extra), model.predict_proba(probe, probe_extra))

    model.calib = model.calib[:, :2]  # as a format-1 model stored it
    model.save(tmp_path / "old")
    old = TagModel.load(tmp_path / "old")
    assert old is not None and old.calib is not None and old.calib.shape == (1, 2)
    np.testing.assert_allclose(old.predict_proba(probe, probe_extra), model.predict_proba(probe, probe_extra))


def test_the_recheck_set_is_training_text_coded_again_by_coders_the_model_never_learnt_from() -> None:
    # eval-tags calls the recheck figures "passages in-sample, coders not":
    # that holds only while every recheck passage is a training passage and
    # none is in the held-out half. (The recheck coders' labels must never
    # join the training labels, or the set would measure the model against
    # its own labels: the build reads tag/data/labels only.)
    from plansok.evaluation.tags import DEFAULT_GOLD, load_gold
    from plansok.tag.build import LABELS_DIR, normalise

    gold, recheck = (load_gold(p) for p in DEFAULT_GOLD)
    assert len(recheck) >= 500 and {r["part"] for r in recheck} == {"recheck"}
    training = {}
    for path in LABELS_DIR.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            r = json.loads(line)
            training[normalise(r["text"])] = r
    heldout = {normalise(g["text"]) for g in gold if g["part"] == "heldout"}
    for r in recheck:
        key = normalise(r["text"])
        assert key in training and key not in heldout, r["id"]
        a, b = set(r["coder_a"]), set(r["coder_b"])
        # Agreed tags stand; disputed passages carry an adjudication.
        assert (a == b and r["tags"] == a) or (a != b and r["adjudication"]), r["id"]


def test_eval_tags_names_what_each_part_measures_and_refuses_an_unknown_part(tmp_path: Path) -> None:
    from plansok.evaluation.tags import SYSTEMS, Counts, PartReport, TagReport, format_report, load_gold

    kinds = {"bolig": "theme", "npm": "theory"}
    parts = {}
    for name in ("heldout", "recheck"):
        part = PartReport(per_tag={s: {t: Counts() for t in kinds} for s in SYSTEMS})
        part.passages = 10
        part.per_tag["tags"]["bolig"].add(True, True)
        parts[name] = part
    text = format_report(TagReport(kinds, parts))
    held, recheck = text.index("held-out half (never tuned on)"), text.index("passages in-sample, coders not")
    assert held < recheck

    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "x", "text": "a b c", "part": "heldout"}\n{"id": "y", "text": "d e f", "part": "dev"}\n')
    with pytest.raises(PlansokError, match=r"gold.jsonl:2: unknown part 'dev'"):
        load_gold(bad)


def test_eval_tags_scores_a_researchers_own_coded_passages_from_their_text(tmp_path: Path, capsys) -> None:
    from plansok.evaluation.tags import main

    own = tmp_path / "mine.jsonl"
    rows = [
        {
            "text": "Kommunen skal skaffe flere kommunale utleieboliger til vanskeligstilte på boligmarkedet, "
            "og startlån og bostøtte skal brukes aktivt for at familier kan eie egen bolig.",
            "themes": ["bolig"],
        },
        {
            "text": "Barnevernstenesta fekk 120 meldingar i fjor, og talet på barn med hjelpetiltak etter "
            "barnevernslova auka.",
            "standard": "nn",
            "themes": ["barnevern", "oppvekst"],
        },
        {"text": "Fylkesvegen gjennom sentrum får ny gang- og sykkelveg og to nye busslommer i 2026.", "themes": []},
    ]
    own.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert main(["--texts", str(own), "--json"]) == 0
    part = json.loads(capsys.readouterr().out)["parts"]["texts"]
    assert part["passages"] == 3 and part["unmatched"] == 0
    assert part["per_tag"]["tags"]["bolig"]["tp"] == 1 and part["micro"]["tags"]["theme"]["fp"] == 0

    own.write_text(json.dumps({"text": "Noe tekst her om skolen.", "themes": ["skole"]}) + "\n", encoding="utf-8")
    with pytest.raises(PlansokError, match="not in the codebook: skole"):
        main(["--texts", str(own)])
    # A missing, empty or broken file is an error naming it, not an empty report.
    with pytest.raises(PlansokError, match=r"nope\.jsonl: no such file"):
        main(["--texts", str(tmp_path / "nope.jsonl")])
    own.write_text("\n", encoding="utf-8")
    with pytest.raises(PlansokError, match=r"no passages in .*mine\.jsonl"):
        main(["--texts", str(own)])
    own.write_text('{"text": "a b c", "themes": [\n', encoding="utf-8")
    with pytest.raises(PlansokError, match=r"mine\.jsonl:1: not a JSON object"):
        main(["--texts", str(own)])


def test_the_other_plans_set_keeps_both_codings_and_no_third_party_text() -> None:
    from plansok.tag.codebook import Codebook

    kinds = {t.id: t.kind for t in Codebook.default().tags}
    path = REPO / "evaluation" / "data" / "tag_gold" / "other_plans.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(rows) >= 500 and {r["batch"] for r in rows} == {"looked-at", "unseen", "third"}
    for r in rows:
        assert "text" not in r and len(r["text_sha1"]) == 40 and r["url"].startswith("http")
        final = set(r["themes"]) | set(r["theories"])
        assert all(kinds[t] == "theme" for t in r["themes"]) and all(kinds[t] == "theory" for t in r["theories"])
        a, b = set(r["coder_a"]), set(r["coder_b"])
        assert (a == b and final == a and r["adjudication"] is None) or (a != b and r["adjudication"]), r["id"]
