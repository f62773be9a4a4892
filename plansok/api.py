"""The Python API researchers use from notebooks; the CLI is a thin layer on it.

from plansok.api import Index, Filters
ix = Index.open("plansok-index", create=True)
ix.ingest(["plans/"])
for hit in ix.search("barnefattigdom", k=5, filters=Filters(municipality=["Gol"])):
    print(hit.citation, hit.snippet)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plansok.errors import PlansokError
from plansok.index.searcher import LoadedIndex
from plansok.index.store import IndexStore
from plansok.models import DocumentMeta, Hit, Page, Passage
from plansok.query.search import Filters, Searcher, SearchOptions

DEFAULT_INDEX = "plansok-index"

__all__ = ["DEFAULT_INDEX", "Filters", "Index", "SearchOptions", "default_index_path"]


def default_index_path() -> Path:
    """``$PLANSOK_INDEX`` if set, else ``./plansok-index``."""
    return Path(os.environ.get("PLANSOK_INDEX") or DEFAULT_INDEX)


class Index:
    """One index directory: ingest into it, search it, read its pages."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self._searcher: Searcher | None = None
        self._generation: str | None = None
        self._analyser: Any = None  # loaded on first ingest, then reused

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = False) -> Index:
        return cls(IndexStore(Path(path) if path else default_index_path(), create=create))

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        manifest: str | Path | dict[str, dict[str, str]] | None = None,
        progress: bool = False,
    ) -> Any:
        """Ingest files or folders; returns an ``IngestReport``."""
        from plansok.ingest.metadata import load_manifest
        from plansok.ingest.pipeline import DocumentAnalyser, ingest

        rows = load_manifest(Path(manifest)) if isinstance(manifest, (str, Path)) else manifest
        if self._analyser is None:
            self._analyser = DocumentAnalyser()
        return ingest(self.store, paths, manifest=rows, progress=progress, analyser=self._analyser)

    def remove(self, doc_ids: Iterable[str]) -> list[str]:
        with self.store.write_lock():
            return self.store.remove_documents(list(doc_ids))

    # -- reading -------------------------------------------------------------------
    def documents(self) -> list[DocumentMeta]:
        return self.store.documents()

    def document(self, doc_id: str) -> DocumentMeta:
        for d in self.store.documents():
            if d.doc_id == doc_id:
                return d
        raise PlansokError(f"no document {doc_id!r} in {self.path} (see `plansok docs`)")

    def page(self, doc_id: str, number: int) -> tuple[Page, list[Passage]]:
        """A page's cleaned text and the passages that start or run on it."""
        self.document(doc_id)
        pages = {p.number: p for p in self.store.pages(doc_id)}
        if number not in pages:
            raise PlansokError(f"{doc_id} has pages 1-{max(pages, default=0)}, not {number}")
        passages = [p for _, p in self.store.passages_of(doc_id) if p.page_start <= number <= p.page_end]
        return pages[number], passages

    def searcher(self) -> Searcher:
        """The loaded searcher, reloaded when another process changed the index."""
        generation = self.store.get_meta("generation", "0")
        if self._searcher is None or generation != self._generation:
            self._searcher = Searcher(LoadedIndex.load(self.store))
            self._generation = generation
        return self._searcher

    def search(self, query: str, k: int = 10, filters: Filters | None = None, **options: Any) -> list[Hit]:
        """Ranked passages for ``query``. ``options`` are ``SearchOptions`` fields
        (e.g. ``expand=False``, ``fold_duplicates=False``)."""
        unknown = set(options) - set(SearchOptions.__dataclass_fields__)
        if unknown:
            raise PlansokError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        opts = SearchOptions(k=k, **options)
        return self.searcher().search(query, opts, filters)
