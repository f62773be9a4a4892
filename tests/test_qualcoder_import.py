"""A collection exported as .qdpx, read the way QualCoder reads it: memos arrive,
cases carry the documents' attributes, source names are legal file names."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from qualcoder_refi import import_with_qualcoder, memo_view, qualcoder_files

from plansok.api import Index
from plansok.collect.qdpx import NS, SCHEMA_PATH, portable_file_name, read_qdpx, validate

PLANS = ["3324_gol_samfunnsdel_2018-2030", "3310_hole_samfunnsdel_2018-2030"]  # nynorsk and bokmål
ITEM_MEMO = "Gol ser fattigdom som eit ansvar for heile kommunen – «alle sektorar»"
COLLECTION_MEMO = "Planane legg ansvaret for barnefattigdom på tvers av sektorar; NAV er nemnt i to av tre."
WINDOWS_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Index, Path]:
    from conftest import shared_dir

    shared = shared_dir()
    if shared is None:
        pytest.skip("the shared corpus is not here")
    root = tmp_path_factory.mktemp("qc")
    src = root / "src"
    src.mkdir()
    for name in PLANS:
        shutil.copy(shared / "corpus" / "plans" / f"{name}.md", src / f"{name}.md")
    ix = Index.open(root / "ix", create=True)
    assert ix.ingest([src]).ok
    hits = ix.collect("fattigdom", "fattigdom OR levekår", k=6)
    assert {h.doc.municipality for h in hits} == {"Gol", "Hole"}
    cols = ix.collections()
    gol = next(h for h in hits if h.doc.municipality == "Gol")
    cols.code("fattigdom", gol.passage.passage_id, ["sektorovergripande", "ansvar"])
    cols.item_memo("fattigdom", gol.passage.passage_id, ITEM_MEMO)
    hole = next(h for h in hits if h.doc.municipality == "Hole")
    cols.item_memo("fattigdom", hole.passage.passage_id, "Andre funn")
    cols.set_memo("fattigdom", COLLECTION_MEMO)
    out = ix.export(root / "fattigdom.qdpx", "qdpx", collection="fattigdom")
    return ix, out.path


def test_export_validates_against_the_refi_qda_schema(exported: tuple[Index, Path]) -> None:
    _ix, path = exported
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("project.qde")
    assert validate(xml) == []
    etree.XMLSchema(etree.parse(str(SCHEMA_PATH))).assertValid(etree.fromstring(xml))


def test_cases_carry_each_documents_attributes(exported: tuple[Index, Path]) -> None:
    ix, path = exported
    project = read_qdpx(path)
    names = {v.guid: v.name for v in project.variables}
    assert sorted(names.values()) == ["kommunenummer", "municipality", "period", "standard", "type"]
    docs = {d.doc_id: d for d in ix.documents()}
    sources = {s.guid: s for s in project.sources}
    cases = {c.description: c for c in project.cases}  # the case description is the document id
    cited = {i.doc_id for i in ix.collections().get("fattigdom").items}
    assert set(cases) == cited
    for doc_id, case in cases.items():
        d = docs[doc_id]
        values = {names[g]: v for g, v in case.values.items()}
        assert values["municipality"] == d.municipality and values["kommunenummer"] == d.kommunenummer
        assert values["type"] == d.doc_type and values["standard"] == d.standard
        assert values["period"] == d.period
        (source_guid,) = case.source_guids
        assert sources[source_guid].name == case.name
    gol = next(c for c in cases.values() if "Gol" in c.name)
    assert {names[g]: v for g, v in gol.values.items()} == {
        "municipality": "Gol",
        "kommunenummer": "3324",
        "type": "samfunnsdel",
        "period": "2018-2030",
        "standard": "nn",
    }


def test_source_names_are_legal_file_names(exported: tuple[Index, Path]) -> None:
    _ix, path = exported
    names = memo_view(path).source_names
    assert any(n.startswith("Gol – ") for n in names)  # "Gol: ..." would be illegal on Windows
    for name in names:
        assert not WINDOWS_ILLEGAL.search(name), name
        assert name == name.strip(" .") and len(name) <= 120
    assert len({n.casefold() for n in names}) == len(names)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Gol: Kommuneplanens samfunnsdel", "Gol - Kommuneplanens samfunnsdel"),
        ('Plan "2030" <utkast>?', "Plan _2030_ _utkast__"),
        ("a/b\\c|d*e", "a_b_c_d_e"),
        ("Slutt med punktum. ", "Slutt med punktum"),
        ("CON", "CON_"),
        ("nul.txt", "nul.txt_"),
        ("Com1", "Com1_"),
        ("...", "source"),
        ("linje\nto\tfane", "linje to fane"),
    ],
)
def test_portable_file_name(name: str, expected: str) -> None:
    assert portable_file_name(name) == expected


def test_portable_file_names_are_bounded_and_unique_ignoring_case() -> None:
    taken: set[str] = set()
    long = "Ål: " + "kommuneplan " * 30
    first, second = portable_file_name(long, taken), portable_file_name(long, taken)
    assert len(first) <= 120 and len(second) <= 120 and first != second and second.endswith(" (2)")
    assert portable_file_name("Hol – plan", taken) == "Hol – plan"
    assert portable_file_name("HOL – PLAN", taken) == "HOL – PLAN (2)"


def test_memos_reach_qualcoders_reading_of_the_file(exported: tuple[Index, Path]) -> None:
    """QualCoder's rules, restated (tests/qualcoder_refi.py, memo_view): runs without QualCoder."""
    _ix, path = exported
    view = memo_view(path)
    gol_memos = [m for m in view.coding_memos if m[3] == ITEM_MEMO]
    # one coding memo per code on the quote: the collection's code, its tags, and the two own codes
    assert len(gol_memos) >= 3
    assert any(m[3] == "Andre funn" for m in view.coding_memos)
    assert COLLECTION_MEMO in view.project_memo
    journal = next(text for name, text in view.journals.items() if name == "plansok: fattigdom")
    assert COLLECTION_MEMO in journal and "Query: fattigdom OR levekår" in journal
    assert view.annotations == []  # every memo'd quote is coded: memos are coding memos, not annotations


def test_memos_arrive_through_qualcoders_own_import(exported: tuple[Index, Path], tmp_path: Path) -> None:
    """QualCoder's RefiImport itself (its GUI replaced by stand-ins, see tests/qualcoder_refi.py)."""
    files = qualcoder_files()
    if files is None:
        pytest.skip("no QualCoder source: set $QUALCODER_SRC to a checkout or $QUALCODER_GIT to a git mirror")
    ix, path = exported
    qc = import_with_qualcoder(path, tmp_path, files)
    assert not [m for m in qc.messages if "error" in m.lower()], qc.messages
    # every memo: the collection memo as a journal and as the project memo, item memos as coding memos
    journals = dict(qc.rows("SELECT name, jentry FROM journal"))
    assert COLLECTION_MEMO in journals["plansok: fattigdom"]
    assert any("Parsing Notes. Journals loaded: " in line and not line.endswith(": 0") for line in qc.log)
    (project_memo,) = qc.rows("SELECT memo FROM project")
    assert COLLECTION_MEMO in project_memo[0]
    memos = [m for (m,) in qc.rows("SELECT memo FROM code_text WHERE memo != ''")]
    assert memos.count(ITEM_MEMO) >= 3 and "Andre funn" in memos
    coded = qc.rows(
        "SELECT seltext FROM code_text JOIN code_name USING (cid) WHERE code_name.name = 'sektorovergripande'"
    )
    assert [row[0] for row in coded] and all(row[0] for row in coded)
    # codings at the positions of the saved quotes
    saved = {i.text for i in ix.collections().get("fattigdom").items}
    collection_codings = qc.rows(
        "SELECT seltext FROM code_text JOIN code_name USING (cid) WHERE code_name.name = 'plansok: fattigdom'"
    )
    assert {row[0] for row in collection_codings} == saved
    # each source copied to documents/<name>.txt: the names are legal file names
    sources = [name for (name,) in qc.rows("SELECT name FROM source")]
    assert len(sources) == len({c.doc_id for c in ix.collections().get("fattigdom").items})
    for name in sources:
        assert (qc.project_path / "documents" / f"{name}.txt").exists()
        assert not WINDOWS_ILLEGAL.search(name)
    # cases with the five attributes
    cases = dict(qc.rows("SELECT name, caseid FROM cases"))
    assert set(cases) == set(sources)
    gol = next(cid for name, cid in cases.items() if name.startswith("Gol"))
    attrs = dict(qc.rows("SELECT name, value FROM attribute WHERE attr_type = 'case' AND id = ?", gol))
    assert attrs == {
        "municipality": "Gol",
        "kommunenummer": "3324",
        "type": "samfunnsdel",
        "period": "2018-2030",
        "standard": "nn",
    }


def test_note_text_is_a_file_not_inline(exported: tuple[Index, Path]) -> None:
    """The schema allows one of PlainTextContent and plainTextPath; QualCoder reads only the file."""
    _ix, path = exported
    with zipfile.ZipFile(path) as zf:
        root = etree.fromstring(zf.read("project.qde"))
        for note in root.iter(f"{{{NS}}}Note"):
            assert note.find(f"{{{NS}}}PlainTextContent") is None
            member = "sources/" + note.get("plainTextPath").removeprefix("internal://")
            assert zf.read(member).decode("utf-8")
