"""The layers you can see in the folders hold in the code: models and errors
at the bottom; language data and analysis; ingest (the writer), index, tag and
query above them; the API, the CLI and the server on top. A lower layer never
imports a higher one, and the writer never imports the reader (query)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package folder -> plansok subpackages it must not import
FORBIDDEN = {
    "plansok/models.py": {"analysis", "ingest", "index", "query", "tag", "collect", "serve", "api", "cli"},
    "plansok/errors.py": {"analysis", "ingest", "index", "query", "tag", "collect", "serve", "api", "cli"},
    "lang": {"ingest", "index", "query", "tag", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "analysis": {"ingest", "index", "query", "tag", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "index": {"ingest", "query", "tag", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "ingest": {"query", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "tag": {"query", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "query": {"ingest", "collect", "serve", "api", "cli", "evaluation", "bench"},
    "views": {"serve", "api", "cli", "evaluation", "bench"},
    "collect": {"serve", "api", "cli", "evaluation", "bench", "views"},
    "plansok/api.py": {"cli", "serve", "evaluation", "bench"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "plansok" and len(parts) > 1:
                out.add(parts[1])
    return out


def _files(where: str) -> list[Path]:
    target = ROOT / where
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_a_layer_never_imports_a_layer_above_it(where: str) -> None:
    files = _files(where)
    assert files, where
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[where]) for f in files}
    assert not {f: b for f, b in bad.items() if b}
