"""QualCoder's own REFI-QDA import, run headless against a .qdpx, for tests.

QualCoder (https://github.com/ccbogel/QualCoder, LGPL-3) is not vendored
here: its ``src/qualcoder/refi.py`` (class ``RefiImport``) and the
``CREATE TABLE`` statements of a new project (``src/qualcoder/__main__.py``)
are read at test time from a QualCoder checkout named by ``$QUALCODER_SRC``
or from a read-only git mirror of the repository (``$QUALCODER_GIT``, by
default ``/work/.mirror/ccbogel+QualCoder/repo``), at ``QUALCODER_COMMIT``
when the mirror has it. Without either, the tests that need it skip.

What is replaced: only the GUI. ``RefiImport`` asks for the file with a
``QFileDialog``, shows a ``QProgressDialog`` and ends with a modal message
box, none of which can run without a person; ``PyQt6`` is replaced by
stand-ins that return the file name and do nothing else, ``helpers.Message``
records the messages, and ``color_selector`` (a Qt dialog module) by its two
names the import uses. Every line that parses the XML and writes QualCoder's
SQLite tables is QualCoder's own.
"""

from __future__ import annotations

import ast
import builtins
import os
import sqlite3
import subprocess
import sys
import types
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

QUALCODER_COMMIT = "c3204641e0a997c08219d2377eb5736cd94504bc"
DEFAULT_GIT = Path("/work/.mirror/ccbogel+QualCoder/repo")


def qualcoder_files() -> tuple[str, str, str] | None:
    """(refi.py, __main__.py, where from), or None when no QualCoder source is at hand."""
    checkout = os.environ.get("QUALCODER_SRC")
    if checkout:
        base = Path(checkout) / "src" / "qualcoder"
        if (base / "refi.py").exists():
            return (
                (base / "refi.py").read_text(encoding="utf-8"),
                (base / "__main__.py").read_text(encoding="utf-8"),
                str(base),
            )
    git_dir = Path(os.environ.get("QUALCODER_GIT") or DEFAULT_GIT)
    if not git_dir.exists():
        return None
    for rev in (QUALCODER_COMMIT, "HEAD"):
        try:
            refi = _git_show(git_dir, rev, "src/qualcoder/refi.py")
            main = _git_show(git_dir, rev, "src/qualcoder/__main__.py")
        except (subprocess.CalledProcessError, FileNotFoundError):
            continue
        return refi, main, f"{git_dir}@{rev}"
    return None


def _git_show(git_dir: Path, rev: str, path: str) -> str:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{rev}:{path}"], capture_output=True, check=True, timeout=60
    )
    return out.stdout.decode("utf-8")


def create_table_statements(main_py: str) -> list[str]:
    """The CREATE TABLE statements QualCoder runs for a new project (the
    function of ``__main__.py`` that creates the ``project`` table)."""
    tree = ast.parse(main_py)
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        sql = [
            node.args[0].value
            for node in ast.walk(fn)
            if isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "execute"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.lstrip().upper().startswith("CREATE TABLE")
        ]
        if any(s.split("(")[0].split()[-1] == "project" for s in sql):
            return sql
    raise ValueError("no function creating QualCoder's project table in __main__.py")


@dataclass
class Imported:
    """What QualCoder's import left in its project."""

    db: sqlite3.Connection
    project_path: Path
    log: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def rows(self, sql: str, *args: object) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()


class _TextEdit:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def append(self, text: str) -> None:
        self.log.append(str(text))


def _gui_stand_ins(qdpx: Path, messages: list[str]) -> dict[str, types.ModuleType]:
    class FileDialog:
        class Option:
            DontUseNativeDialog = 0

        @staticmethod
        def getOpenFileName(*_args: object, **_kwargs: object) -> tuple[str, str]:
            return str(qdpx), "(*.qdpx *.QDPX)"

    class ProgressDialog:
        def __init__(self, *_args: object) -> None:
            pass

        def setWindowModality(self, *_args: object) -> None:
            pass

        def setValue(self, *_args: object) -> None:
            pass

        def close(self) -> None:
            pass

    class Dialog:
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            pass

    class Message:
        def __init__(self, _app: object, title: str, text: str, *_args: object) -> None:
            messages.append(f"{title}: {text}")

        def exec(self) -> int:
            return 0

    qt_widgets = types.ModuleType("PyQt6.QtWidgets")
    qt_widgets.QFileDialog = FileDialog  # type: ignore[attr-defined]
    qt_widgets.QProgressDialog = ProgressDialog  # type: ignore[attr-defined]
    qt_widgets.QDialog = Dialog  # type: ignore[attr-defined]
    qt_core = types.ModuleType("PyQt6.QtCore")
    qt_core.Qt = types.SimpleNamespace(  # type: ignore[attr-defined]
        WindowModality=types.SimpleNamespace(WindowModal=0),
        WindowType=types.SimpleNamespace(WindowContextHelpButtonHint=0),
    )
    pyqt = types.ModuleType("PyQt6")
    pyqt.QtWidgets, pyqt.QtCore = qt_widgets, qt_core  # type: ignore[attr-defined]
    helpers = types.ModuleType("qualcoder.helpers")
    helpers.Message = Message  # type: ignore[attr-defined]
    colours = types.ModuleType("qualcoder.color_selector")
    colours.colors = ["#999999"] * 120  # type: ignore[attr-defined]
    colours.color_matcher = lambda colour: colour  # type: ignore[attr-defined]
    gui = types.ModuleType("qualcoder.GUI")
    gui.__path__ = []  # type: ignore[attr-defined]
    endings = types.ModuleType("qualcoder.GUI.ui_dialog_refi_export_endings")
    endings.Ui_Dialog_refi_export_line_endings = object  # type: ignore[attr-defined]
    package = types.ModuleType("qualcoder")
    package.__path__ = []  # type: ignore[attr-defined]
    return {
        "PyQt6": pyqt,
        "PyQt6.QtWidgets": qt_widgets,
        "PyQt6.QtCore": qt_core,
        "qualcoder": package,
        "qualcoder.helpers": helpers,
        "qualcoder.color_selector": colours,
        "qualcoder.GUI": gui,
        "qualcoder.GUI.ui_dialog_refi_export_endings": endings,
    }


def import_with_qualcoder(qdpx: Path, workdir: Path, files: tuple[str, str, str]) -> Imported:
    """Import ``qdpx`` into a new, empty QualCoder project under ``workdir``
    with QualCoder's ``RefiImport``, as *Project → Import → REFI-QDA project* does."""
    refi_py, main_py, _where = files
    project_path = workdir / "imported.qda"
    for sub in ("images", "audio", "video", "documents"):
        (project_path / sub).mkdir(parents=True)
    db = sqlite3.connect(project_path / "data.qda")
    for sql in create_table_statements(main_py):
        db.execute(sql)
    db.execute(
        "INSERT INTO project VALUES(?,?,?,?,?,?,?,?,null,null,null)",
        ("v17", datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "", "test", 0, 0, "tester", ""),
    )
    db.commit()
    result = Imported(db, project_path)
    # The import unpacks beside the .qdpx: give it a copy in the work folder.
    copy = workdir / qdpx.name
    copy.write_bytes(qdpx.read_bytes())
    app = types.SimpleNamespace(
        conn=db,
        settings={"directory": str(workdir), "codername": "tester", "ai_enable": "False"},
        project_path=str(project_path),
        ai_models=None,
        write_config_ini=lambda *_args: None,
    )
    saved = {name: sys.modules.get(name) for name in [*_gui_stand_ins(copy, []), "qualcoder.refi"]}
    had_gettext = hasattr(builtins, "_")
    old_gettext = getattr(builtins, "_", None)
    try:
        sys.modules.update(_gui_stand_ins(copy, result.messages))
        builtins._ = lambda text: text  # type: ignore[attr-defined]  # QualCoder installs gettext's _ globally
        module = types.ModuleType("qualcoder.refi")
        module.__package__ = "qualcoder"
        sys.modules["qualcoder.refi"] = module
        exec(compile(refi_py, "qualcoder/refi.py", "exec"), module.__dict__)
        module.RefiImport(app, _TextEdit(result.log), "qdpx")
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
        if had_gettext:
            builtins._ = old_gettext  # type: ignore[attr-defined]
        else:
            del builtins._  # type: ignore[attr-defined]
    return result


# ---------------------------------------------------------------- the same rules, restated


@dataclass
class MemoView:
    """What QualCoder's import makes of a project's memos, by its rules."""

    journals: dict[str, str] = field(default_factory=dict)  # name -> text
    coding_memos: list[tuple[str, int, int, str]] = field(default_factory=list)  # (source, pos0, pos1, memo)
    annotations: list[tuple[str, int, int, str]] = field(default_factory=list)
    project_memo: str = ""
    source_names: list[str] = field(default_factory=list)


def memo_view(qdpx: Path) -> MemoView:
    """QualCoder's reading of memos, restated from ``src/qualcoder/refi.py`` at
    ``QUALCODER_COMMIT`` so the check runs where no QualCoder source is at hand:

    * ``load_codings_for_text``: a ``PlainTextSelection``'s ``Description`` is
      the memo of each of its ``Coding``s (a coding memo); a selection without
      a ``Coding`` becomes an annotation with that text. ``NoteRef`` inside a
      selection is not read.
    * ``load_text_source``: only a ``NoteRef`` directly under the
      ``TextSource`` marks a Note as an annotation, and ``insert_annotation``
      keeps it only if the Note has ``PlainTextContent`` and a
      ``PlainTextSelection`` of its own (its positions).
    * ``parse_notes``: any other Note with a ``plainTextPath`` and a non-empty
      ``name`` becomes a journal whose text is that file; a Note with inline
      ``PlainTextContent`` only is dropped.
    * ``parse_project_description``: the project's ``Description`` is the project memo.
    """
    import zipfile

    from lxml import etree

    ns = "{urn:QDA-XML:project:1.0}"
    view = MemoView()
    with zipfile.ZipFile(qdpx) as zf:
        root = etree.fromstring(zf.read("project.qde"))
        files = {Path(n).name: n for n in zf.namelist()}
        annotation_refs: dict[str, str] = {}
        for src in root.iter(f"{ns}TextSource"):
            name = src.get("name", "")
            view.source_names.append(name)
            for sel in src.findall(f"{ns}PlainTextSelection"):
                desc = sel.find(f"{ns}Description")
                memo = desc.text if desc is not None and desc.text is not None else ""
                pos = (int(sel.get("startPosition")), int(sel.get("endPosition")))
                codings = sel.findall(f"{ns}Coding")
                for _ in codings:
                    view.coding_memos.append((name, *pos, memo))
                if not codings:
                    view.annotations.append((name, *pos, memo))
            for ref in src.findall(f"{ns}NoteRef"):
                annotation_refs[ref.get("targetGUID")] = name
        for note in root.iter(f"{ns}Note"):
            guid = note.get("guid")
            if guid in annotation_refs:
                content, sel = note.find(f"{ns}PlainTextContent"), note.find(f"{ns}PlainTextSelection")
                if content is not None and sel is not None and content.text is not None:
                    span = (int(sel.get("startPosition")), int(sel.get("endPosition")))
                    view.annotations.append((annotation_refs[guid], *span, content.text))
                continue
            path, name = note.get("plainTextPath"), note.get("name")
            if path is not None and name != "":
                member = files.get(path.split("internal:/")[1].lstrip("/"))
                view.journals[name] = zf.read(member).decode("utf-8") if member else ""
        desc = root.find(f"{ns}Description")
        view.project_memo = desc.text or "" if desc is not None else ""
    return view
