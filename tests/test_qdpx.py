"""REFI-QDA .qdpx export: zip layout, schema validity, round trip of codings and memos."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

try:
    from plansok.collect import qdpx
except ImportError:  # until pyproject maps plansok.collect -> collect/
    _path = Path(__file__).resolve().parent.parent / "collect" / "qdpx.py"
    _spec = importlib.util.spec_from_file_location("plansok_collect_qdpx", _path)
    assert _spec and _spec.loader
    qdpx = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = qdpx  # dataclasses look the module up while building the classes
    _spec.loader.exec_module(qdpx)

NS = {"q": qdpx.NS}

PLAN_A = (
    "Kommuneplanens samfunnsdel 2023–2035, Ås kommune.\n"
    "Kommunen skal redusere klimagassutslippene med 55 % innen 2030.\n"
    "Nye boliger skal primært lokaliseres nær kollektivknutepunkt, "
    "slik at flere kan gå, sykle eller reise kollektivt til skole og arbeid.\n"
    "Grønnstrukturen og strandsonen langs Øyeren skal bevares for fremtidige generasjoner."
)
PLAN_B = (
    "Kommunedelplan for klima og energi, Bærum kommune.\n"
    "Bærum skal være et lavutslippssamfunn og tilpasse seg klimaendringene.\n"
    "Overvann skal håndteres lokalt med blågrønne løsninger før det føres til bekker og fjord.\n"
    "Medvirkning fra barn og unge skal sikres i all planlegging – også i små tiltak."
)

# (source, quote, code key, note): every quote must occur once in its source.
CODED = [
    ("a", "redusere klimagassutslippene med 55 % innen 2030", "utslipp", "Kvantifisert mål"),
    ("a", "nær kollektivknutepunkt", "fortetting", ""),
    ("a", "strandsonen langs Øyeren skal bevares", "natur", ""),
    ("a", "strandsonen langs Øyeren skal bevares", "klima", ""),  # same span, second code
    ("b", "lavutslippssamfunn", "utslipp", ""),
    ("b", "tilpasse seg klimaendringene", "tilpasning", "Klimatilpasning, ikke utslipp"),
    ("b", "blågrønne løsninger", "tilpasning", ""),
    ("b", "Medvirkning fra barn og unge", "medvirkning", ""),
]
CODE_NAMES = {
    "klima": "Klima",
    "utslipp": "Utslippsreduksjon",
    "tilpasning": "Klimatilpasning",
    "fortetting": "Fortetting",
    "natur": "Natur og friluft",
    "medvirkning": "Medvirkning",
}


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    assert text.count(quote) == 1
    return start, start + len(quote)


@pytest.fixture
def project() -> qdpx.QdaProject:
    g = qdpx.new_guid
    codes = {key: qdpx.QdaCode(g(), name) for key, name in CODE_NAMES.items()}
    klima = codes["klima"]
    klima.description, klima.color = "Alt om klima", "#2ca02c"
    klima.children = [codes["utslipp"], codes["tilpasning"]]
    areal = qdpx.QdaCode(
        g(), "Arealbruk", color="#ff7f0e", is_codable=False, children=[codes["fortetting"], codes["natur"]]
    )
    sources = {
        "a": qdpx.QdaSource(g(), "Ås – samfunnsdel", PLAN_A, description="Vedtatt 2023"),
        "b": qdpx.QdaSource(g(), "Bærum – klima og energi", PLAN_B),
    }
    for key, quote, code, note in CODED:
        start, end = _span(sources[key].text, quote)
        sources[key].codings.append(qdpx.QdaCoding(codes[code].guid, start, end, note))
    m_start, m_end = _span(PLAN_B, "Overvann skal håndteres lokalt")
    notes = [
        qdpx.QdaNote(
            g(), "Overvann", "Sammenlign med Ås: «blågrønn» brukes ikke der.", sources["b"].guid, m_start, m_end
        ),
        qdpx.QdaNote(g(), "Om Ås-planen", "Hele planen: sterk klimaprofil.", sources["a"].guid),
        qdpx.QdaNote(g(), "Prosjektlogg", "Frie notater.\nLinje to – æøå."),
    ]
    return qdpx.QdaProject(
        "Klima i kommuneplaner",
        list(sources.values()),
        [klima, areal, codes["medvirkning"]],
        notes,
        user_name="Forsker Ødegård",
        created=datetime(2024, 5, 17, 10, 30, tzinfo=UTC),
        description="Eksport fra plansok",
    )


def test_new_guid_matches_schema_pattern() -> None:
    guid = qdpx.new_guid()
    assert qdpx._GUID_RE.match(guid)
    assert guid != qdpx.new_guid()


def test_zip_layout(project: qdpx.QdaProject, tmp_path: Path) -> None:
    out = qdpx.write_qdpx(project, tmp_path / "ut" / "prosjekt.qdpx")
    assert out.exists()
    assert not list(out.parent.glob("*.tmp"))  # the temp file was moved, not left behind
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        texts = [*project.sources, *project.notes]  # memos are text files too
        assert names == {"project.qde"} | {f"sources/{t.guid}.txt" for t in texts}
        for source in texts:
            # verbatim UTF-8, no BOM, no newline translation: positions stay valid
            assert zf.read(f"sources/{source.guid}.txt") == source.text.encode("utf-8")
        root = etree.fromstring(zf.read("project.qde"))
    paths = [el.get("plainTextPath") for el in root.iterfind("q:Sources/q:TextSource", NS)]
    assert paths == [f"internal://{s.guid}.txt" for s in project.sources]


def test_xml_validates_against_schema(project: qdpx.QdaProject) -> None:
    xml = qdpx.project_xml(project)
    assert qdpx.validate(xml) == []
    # and independently of validate(), straight through lxml
    schema = etree.XMLSchema(etree.parse(str(qdpx.SCHEMA_PATH)))
    schema.assertValid(etree.fromstring(xml))


def test_xml_structure(project: qdpx.QdaProject) -> None:
    root = etree.fromstring(qdpx.project_xml(project))
    (user,) = root.findall("q:Users/q:User", NS)
    assert user.get("name") == "Forsker Ødegård"
    assert root.get("creatingUserGUID") == user.get("guid")
    assert root.get("creationDateTime") == "2024-05-17T10:30:00Z"
    for tag in ("TextSource", "PlainTextSelection", "Coding", "Note"):
        for el in root.iter(f"{{{qdpx.NS}}}{tag}"):
            assert el.get("creatingUser") == user.get("guid"), tag
    # nested codes, category not codable
    top = root.findall("q:CodeBook/q:Codes/q:Code", NS)
    assert [c.get("name") for c in top] == ["Klima", "Arealbruk", "Medvirkning"]
    assert [c.get("name") for c in top[0].findall("q:Code", NS)] == ["Utslippsreduksjon", "Klimatilpasning"]
    assert top[1].get("isCodable") == "false"
    # two codes on one span share a selection
    sel = [s for s in root.iter(f"{{{qdpx.NS}}}PlainTextSelection") if len(s.findall("q:Coding", NS)) == 2]
    assert len(sel) == 1
    # the anchored memo hangs off a selection, the source memo off the TextSource
    note_guids = {n.get("name"): n.get("guid") for n in root.iterfind("q:Notes/q:Note", NS)}
    anchored = root.find(f".//q:PlainTextSelection/q:NoteRef[@targetGUID='{note_guids['Overvann']}']", NS)
    assert anchored is not None
    on_source = root.find(f"q:Sources/q:TextSource/q:NoteRef[@targetGUID='{note_guids['Om Ås-planen']}']", NS)
    assert on_source is not None


def test_export_is_deterministic(project: qdpx.QdaProject) -> None:
    assert qdpx.project_xml(project) == qdpx.project_xml(project)


def test_round_trip(project: qdpx.QdaProject, tmp_path: Path) -> None:
    back = qdpx.read_qdpx(qdpx.write_qdpx(project, tmp_path / "p.qdpx"))
    assert back.name == project.name
    assert back.user_name == project.user_name
    assert back.created == project.created
    assert back.description == project.description
    assert back.codes == project.codes  # tree, names, colours, descriptions, isCodable
    names = {c.guid: c.name for c in qdpx._walk_codes(back.codes)}
    by_source = {s.guid: s for s in back.sources}
    for original in project.sources:
        source = by_source[original.guid]
        assert source.text == original.text
        assert source.name == original.name
        assert source.description == original.description
        key = lambda c: (c.start, c.end, c.code_guid)  # noqa: E731
        assert sorted(source.codings, key=key) == sorted(original.codings, key=key)
    # every coding's slice is the quote that was coded, under the intended code
    expected = {(quote, CODE_NAMES[code]) for _, quote, code, _ in CODED}
    got = {(by_source[s.guid].text[c.start : c.end], names[c.code_guid]) for s in back.sources for c in s.codings}
    assert got == expected
    assert {n.guid: n for n in back.notes} == {n.guid: n for n in project.notes}
    memo = next(n for n in back.notes if n.name == "Overvann")
    assert by_source[memo.source_guid].text[memo.start : memo.end] == "Overvann skal håndteres lokalt"


def test_positions_count_characters_not_bytes(project: qdpx.QdaProject) -> None:
    root = etree.fromstring(qdpx.project_xml(project))
    source = project.sources[0]
    quote = "strandsonen langs Øyeren skal bevares"
    start = source.text.index(quote)
    sel = root.find(f".//q:PlainTextSelection[@startPosition='{start}']", NS)
    assert sel is not None
    # 'Ø' and '–', 'Å' come earlier: a byte offset would be larger than the character offset
    assert len(source.text[:start].encode("utf-8")) > start
    assert int(sel.get("endPosition")) - start == len(quote)


def test_validate_reports_broken_documents(project: qdpx.QdaProject) -> None:
    root = etree.fromstring(qdpx.project_xml(project))
    coding = next(root.iter(f"{{{qdpx.NS}}}Coding"))
    coding.set("weight", "3")  # attribute the schema does not know
    sel = next(root.iter(f"{{{qdpx.NS}}}PlainTextSelection"))
    del sel.attrib["startPosition"]  # required attribute
    errors = qdpx.validate(etree.tostring(root))
    assert any("weight" in e for e in errors)
    assert any("startPosition" in e for e in errors)
    assert qdpx.validate(b"<Project") and qdpx.validate(b"<Project")[0].startswith("not well-formed")
    bad_guid = qdpx.project_xml(project).replace(project.sources[0].guid.encode(), b"not-a-guid", 1)
    assert qdpx.validate(bad_guid)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.sources[0].codings.append(qdpx.QdaCoding(qdpx.new_guid(), 0, 3)),  # unknown code
        lambda p: p.sources[0].codings.append(qdpx.QdaCoding(p.codes[0].guid, 5, 10_000)),  # past the end
        lambda p: p.sources[0].codings.append(qdpx.QdaCoding(p.codes[1].guid, 0, 3)),  # category not codable
        lambda p: p.notes.append(qdpx.QdaNote(qdpx.new_guid(), "x", "y", qdpx.new_guid(), 0, 1)),  # unknown source
        lambda p: setattr(p.codes[0], "guid", "klima"),  # not a GUID
    ],
)
def test_write_refuses_inconsistent_projects(project: qdpx.QdaProject, tmp_path: Path, mutate) -> None:
    mutate(project)
    target = tmp_path / "p.qdpx"
    with pytest.raises(ValueError):
        qdpx.write_qdpx(project, target)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_write_replaces_existing_file(project: qdpx.QdaProject, tmp_path: Path) -> None:
    target = tmp_path / "p.qdpx"
    target.write_bytes(b"old")
    qdpx.write_qdpx(project, target)
    assert zipfile.is_zipfile(target)


def test_control_characters_from_pdf_text(tmp_path: Path) -> None:
    # PDF extraction leaves form feeds; the text file keeps them (positions!), XML names drop them.
    code = qdpx.QdaCode(qdpx.new_guid(), "Side\x0cskift")
    text = "Side 1\x0cSide 2 om æøå"
    start = text.index("Side 2")
    src = qdpx.QdaSource(qdpx.new_guid(), "Plan", text, [qdpx.QdaCoding(code.guid, start, len(text))])
    back = qdpx.read_qdpx(qdpx.write_qdpx(qdpx.QdaProject("p", [src], [code]), tmp_path / "p.qdpx"))
    assert back.sources[0].text == text
    assert back.codes[0].name == "Sideskift"
    (c,) = back.sources[0].codings
    assert back.sources[0].text[c.start : c.end] == "Side 2 om æøå"


def test_read_tolerates_other_layouts(project: qdpx.QdaProject, tmp_path: Path) -> None:
    # Other tools write "Sources/" and a BOM; read_qdpx matches on the file name and strips the BOM.
    xml = qdpx.project_xml(project)
    path = tmp_path / "andre.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", xml)
        for s in [*project.sources, *project.notes]:
            zf.writestr(f"Sources/{s.guid}.txt", b"\xef\xbb\xbf" + s.text.encode("utf-8"))
    back = qdpx.read_qdpx(path)
    assert [s.text for s in back.sources] == [s.text for s in project.sources]
    assert [n.text for n in back.notes] == [n.text for n in project.notes]
