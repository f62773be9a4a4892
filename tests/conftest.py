"""Shared fixtures: the repository's sample corpus, the shared corpus beside
the repository (skipped when absent), and a sample index built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plansok.api import Index

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def shared_dir() -> Path | None:
    root = Path(os.environ.get("PLANSOK_SHARED") or REPO.parent / "shared")
    return root if (root / "corpus").is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_dir()
    if root is None:
        pytest.skip("shared corpus not found (set PLANSOK_SHARED)")
    return root


@pytest.fixture(scope="session")
def corpus(shared: Path) -> Path:
    """The shared corpus: plans/ (text), pdf/ (with pagemap.json), reports/thesis.pdf."""
    return shared / "corpus"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The embedded sample corpus, ingested once for the whole session."""
    ix = Index.open(tmp_path_factory.mktemp("sample") / "index", create=True)
    report = ix.ingest([CORPUS])
    assert report.ok, report.failed
    return ix


@pytest.fixture
def write_plan():  # -> Callable[..., Path]
    """Write a small plan in the shared corpus's text format (header, page markers)."""
    return _write_plan


def _write_plan(folder: Path, name: str, pages: list[str], header: dict[str, str] | None = None) -> Path:
    """A small plan in the shared corpus's text format (header, page markers)."""
    head = [f"# {name}", ""] + [f"- {k}: {v}" for k, v in (header or {}).items()]
    body = [f"<!-- side {i} -->\n\n{text}\n" for i, text in enumerate(pages, start=1)]
    path = folder / f"{name}.md"
    path.write_text("\n".join(head) + "\n\n" + "\n".join(body), encoding="utf-8")
    return path


def index_of_plans(root: Path, plans: dict[str, tuple[list[str], dict[str, str] | None]]) -> Index:
    """An index of small plans (name -> pages, header), ingested from text files under ``root``."""
    src = root / "src"
    src.mkdir()
    for name, (pages, header) in plans.items():
        _write_plan(src, name, pages, header)
    index = Index.open(root / "ix", create=True)
    assert index.ingest([src]).ok
    return index


def minimal_pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A PDF file from its objects (1-based, object 1 the catalog), with a
    correct cross-reference table: for tests that need PDFs no library writes."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer_extra + b">>\n"
    return bytes(out + b"startxref\n%d\n%%%%EOF\n" % xref)
