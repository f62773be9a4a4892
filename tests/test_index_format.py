"""The versioned on-disk format: named migrations, refusal of newer formats,
forms keyed by analysis, and the README's table of the schema (issue 10)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from plansok.api import Index
from plansok.errors import PlansokError
from plansok.index.migrations import FORMAT_VERSION, MIGRATIONS
from plansok.index.store import IndexStore

README = Path(__file__).resolve().parent.parent / "README.md"
GOL = "3324_gol_samfunnsdel_2018-2030"
HOL = "3330_hol_handlingsplan_folkehelse_2021-2033"


@pytest.fixture
def built(shared: Path, tmp_path: Path) -> Path:
    for stem in (GOL, HOL):
        shutil.copy(shared / "corpus" / "plans" / f"{stem}.md", tmp_path / f"{stem}.md")
    ix = Index.open(tmp_path / "ix", create=True)
    ix.ingest([tmp_path / f"{GOL}.md", tmp_path / f"{HOL}.md"], tag=False)
    ix.close()
    return tmp_path / "ix"


def _as_format_1(path: Path) -> None:
    """Rewrite an index into what plansok wrote before migrations were named."""
    db = sqlite3.connect(path / "plansok.sqlite", isolation_level=None)
    db.executescript(
        """
        DROP TABLE migrations;
        CREATE TABLE forms_old (form TEXT PRIMARY KEY, terms TEXT NOT NULL);
        INSERT INTO forms_old SELECT form, terms FROM forms;
        DROP TABLE forms;
        ALTER TABLE forms_old RENAME TO forms;
        DELETE FROM meta WHERE key IN ('next_pid', 'analysis');
        UPDATE meta SET value = '1' WHERE key = 'version';
        """
    )
    db.close()


def test_an_index_in_format_1_is_migrated_on_open_and_answers_the_same(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = [(h.doc.doc_id, h.passage.text) for h in Index.open(built).search("folkehelse", k=20)]
    _as_format_1(built)
    ix = Index.open(built)
    assert "migrated to format" in caplog.text
    assert ix.store.get_meta("version") == str(FORMAT_VERSION)
    names = {r[0] for r in ix.store.db.execute("SELECT name FROM migrations")}
    assert names == {m.name for m in MIGRATIONS}
    assert ix.store.get_meta("analysis") and int(ix.store.get_meta("next_pid")) > 1
    assert [(h.doc.doc_id, h.passage.text) for h in ix.search("folkehelse", k=20)] == before
    # Phrases are matched through the migrated word forms.
    assert ix.search('"helse og"', k=5)


def test_an_index_from_a_newer_plansok_is_refused_with_what_to_do(built: Path) -> None:
    db = sqlite3.connect(built / "plansok.sqlite", isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(FORMAT_VERSION + 1),))
    db.close()
    with pytest.raises(PlansokError, match=r"written by a newer plansok .*upgrade plansok"):
        Index.open(built)


def test_a_tag_model_from_a_newer_plansok_is_refused(tmp_path: Path) -> None:
    from plansok.tag.model import MODEL_FORMAT, TagModel

    folder = tmp_path / "tagger"
    folder.mkdir()
    (folder / "model.npz").write_bytes(b"")
    (folder / "model.json").write_text(json.dumps({"format": MODEL_FORMAT + 1, "tags": []}))
    with pytest.raises(PlansokError, match="newer plansok"):
        TagModel.load(folder)


def test_forms_follow_an_analysis_change(tmp_path: Path) -> None:
    from plansok.models import AnalysedDoc, DocumentMeta, Page, Passage

    store = IndexStore(tmp_path / "ix", create=True)

    def doc(forms: dict[str, str]) -> AnalysedDoc:
        meta = DocumentMeta(doc_id="d", sha256="x")
        passage = Passage("d", 0, "Tilbud til eldre.", 1, 1)
        return AnalysedDoc(meta, [Page(1, passage.text)], [passage], [["eldre"]], [3], forms)

    store.add_documents([doc({"nb:eldre": "gammel"})], analysis="7")
    assert store.forms(["nb:eldre"]) == {"nb:eldre": ["gammel"]}
    store.add_documents([doc({"nb:eldre": "eldre"})], analysis="8")
    assert store.forms(["nb:eldre"]) == {"nb:eldre": ["eldre"]}


def test_the_readme_lists_every_table_and_column_of_the_schema(tmp_path: Path) -> None:
    """The README's format section is the schema: a table or column added
    without documenting it fails here."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("`plansok.sqlite` tables:") :]
    section = section[: section.index("\n\n", section.index("| table |"))]
    documented = {}
    for m in re.finditer(r"^\| `(\w+)` \| `([^`]+)` \|", section, re.M):
        documented[m.group(1)] = [c.strip() for c in m.group(2).split(",")]
    store = IndexStore(tmp_path / "ix", create=True)
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    actual = {t: [r[1] for r in store.db.execute(f"PRAGMA table_info({t})")] for t in tables}
    assert documented == actual
