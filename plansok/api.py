"""The Python API researchers use from notebooks; the CLI is a thin layer on it.

from plansok.api import Index, Filters
ix = Index.open("plansok-index", create=True)
ix.ingest(["plans/"])
for hit in ix.search("barnefattigdom", k=5, filters=Filters(municipality=["Gol"])):
    print(hit.citation, hit.snippet)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plansok.analysis import ANALYSIS_VERSION
from plansok.errors import IndexError_, PlansokError
from plansok.index.searcher import LoadedIndex
from plansok.index.store import IndexStore
from plansok.models import DocumentMeta, Hit, Page, Passage, cite
from plansok.query.filters import EmptySelection, check_filters, explain_empty
from plansok.query.search import Filters, Searcher, SearchOptions

if TYPE_CHECKING:
    from plansok.views.frequencies import Collocations, Frequencies, Keyness
    from plansok.views.kwic import Concordance

DEFAULT_INDEX = "plansok-index"

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_INDEX", "Filters", "Index", "SearchOptions", "default_index_path"]


def default_index_path() -> Path:
    """``$PLANSOK_INDEX`` if set, else ``./plansok-index``."""
    return Path(os.environ.get("PLANSOK_INDEX") or DEFAULT_INDEX)


class SharedSearcher:
    """One loaded searcher shared by the threads of a server.

    Each search uses the snapshot it started with (one commit throughout). When
    a commit changes the index, the next search starts loading the new one in
    a background thread and goes on answering from the old one; the reference
    is swapped when the load is done. Only the very first load is waited for.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._current: tuple[str, Searcher] | None = None
        self.checked: str | None = None  # the generation whose analysis was checked
        self._first = threading.Lock()
        self._loading = threading.Lock()

    def get(self, generation: str) -> Searcher:
        current = self._current
        if current is None:
            with self._first:
                if self._current is None:
                    self._current = self._load()
            return self._current[1]
        if current[0] != generation and self._loading.acquire(blocking=False):
            threading.Thread(target=self._reload, name="plansok-reload", daemon=True).start()
        return current[1]

    def _load(self) -> tuple[str, Searcher]:
        # The searcher's own connection: it reads passages for every thread.
        store = IndexStore(self.path)
        generation = store.get_meta("generation", "0") or "0"
        return generation, Searcher(LoadedIndex.load(store))

    def _reload(self) -> None:
        try:
            self._current = self._load()
        except Exception:  # the old snapshot keeps answering; the next search tries again
            logger.exception("%s: reloading the index failed", self.path)
        finally:
            self._loading.release()


class Index:
    """One index directory: ingest into it, search it, read its pages."""

    def __init__(self, store: IndexStore, shared: SharedSearcher | None = None) -> None:
        self.store = store
        self._shared = shared
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
        tag: bool = True,
        ocr: bool = False,
        workers: int = 1,
        timeout: float | None = None,
        dask_client: Any = None,
        prefer: str | None = None,
    ) -> Any:
        """Ingest files or folders; returns an ``IngestReport``.

        ``workers`` > 1 reads and analyses documents in that many processes;
        ``dask_client`` (a ``distributed.Client``) on a Dask cluster instead.
        ``ocr`` reads pages without a text layer with Tesseract. ``timeout``
        is the deadline per document in seconds. ``tag=False`` skips theory and
        theme tagging (the benchmark measures its cost). Content is indexed
        once (copies are skipped and listed in ``report.skipped``). Files with
        the same stem in several formats (plan.pdf, plan.md) are one document:
        ``prefer`` (pdf, docx, html or text) picks the format to index, also
        over an indexed one; without it an indexed document keeps its format
        and a new one is read from the PDF."""
        from plansok.ingest.metadata import load_manifest
        from plansok.ingest.pipeline import DocumentAnalyser, ingest

        rows = load_manifest(Path(manifest)) if isinstance(manifest, (str, Path)) else manifest
        if self._analyser is None:
            self._analyser = DocumentAnalyser()
        from plansok.ingest.workers import DEFAULT_TIMEOUT

        return ingest(
            self.store,
            paths,
            manifest=rows,
            progress=progress,
            analyser=self._analyser,
            tag=tag,
            ocr=ocr,
            workers=workers,
            timeout=timeout or DEFAULT_TIMEOUT,
            dask_client=dask_client,
            prefer=prefer,
        )

    # -- tagging -------------------------------------------------------------------
    def set_codebook(self, path: str | Path | None) -> int:
        """Use the codebook at ``path`` (None: the shipped one) and re-tag every
        passage with it; returns the number of passages tagged."""
        from plansok.tag.codebook import Codebook

        codebook = Codebook.load(path)
        return self.retag(codebook)

    def retag(self, codebook: Any = None) -> int:
        """Tag every passage again (rules and, where trained, the classifier)."""
        from plansok.analysis.analyzer import Analyzer
        from plansok.tag.tagger import Tagger
        from plansok.tag.train import retag

        # A new codebook drops the classifier: it was trained on the old tags.
        analyzer = Analyzer()
        tagger = Tagger.for_index(self.store, analyzer) if codebook is None else Tagger.build(codebook, analyzer)
        n = retag(self.store, tagger)
        self._searcher = None
        return n

    def train_tagger(self, label_files: Iterable[str | Path] = ()) -> TrainReport:
        """Train the classifier on the shipped labelled passages plus the
        researcher's (``label_files`` and the review decisions), save it beside
        the index (the previous model kept for ``undo_training``) and re-tag
        everything. Reports, per tag, how many passages gained and lost it."""
        from plansok.analysis.analyzer import Analyzer
        from plansok.tag.tagger import Tagger, load_labels
        from plansok.tag.train import install, review_labels, tag_changes, train

        # The codebook and the analyser: training needs no model of the index's.
        tagger = Tagger.build(self.codebook(), Analyzer())
        labelled = [lab for f in label_files for lab in load_labels(f, tagger.codebook)]
        reviewed = len(review_labels(self.store, tagger.codebook))
        before = self.store.tag_sets()
        with self.store.write_lock():
            model = train(self.store, tagger, labelled, save=False)
            n = install(self.store, tagger, model)
        self._searcher = None
        changes = tag_changes(before, self.store.tag_sets())
        return TrainReport(n, len(labelled), reviewed, changes, model.info)

    def review_queue(self, n: int = 20, tag: str | None = None) -> list[ReviewItem]:
        """The ``n`` least certain tags (confidence closest to the tag's
        decision threshold), for a researcher to accept or reject."""
        from plansok.analysis.analyzer import Analyzer
        from plansok.tag.tagger import Tagger
        from plansok.tag.train import review_labels

        tagger = Tagger.for_index(self.store, Analyzer())
        model = tagger.model
        reviewed = review_labels(self.store, tagger.codebook)
        decided = {(lab.text, t) for lab in reviewed for t in lab.tags | lab.negatives}
        rows = self.store.db.execute(
            "SELECT t.pid, t.tag, t.confidence, t.evidence, p.doc_id, p.ordinal FROM tags t "
            "JOIN passages p ON p.pid = t.pid" + (" WHERE t.tag = ?" if tag else ""),
            (tag,) if tag else (),
        ).fetchall()

        def threshold(t: str) -> float:
            return model.threshold(t, 0.5) if model is not None and t in model.tags else 0.5

        rows.sort(key=lambda r: (abs(r[2] - threshold(r[1])), r[0], r[1]))
        docs = {d.doc_id: d for d in self.documents()}
        out: list[ReviewItem] = []
        for pid, t, conf, evidence, doc_id, _ordinal in rows:
            if len(out) >= n:
                break
            passage = self.store.passages_by_pid([pid]).get(pid)
            if passage is None or (passage.text, t) in decided:
                continue
            citation = cite(passage, docs[doc_id])
            out.append(ReviewItem(passage.passage_id, t, float(conf), passage.text, citation, json.loads(evidence)))
        return out

    def review_decision(self, passage_id: str, tag: str, accept: bool) -> int:
        """Save one accept/reject decision as a label for the next training;
        returns how many decisions the index holds."""
        from plansok.tag.train import record_review

        if tag not in self.codebook().ids:
            raise PlansokError(f"unknown tag {tag!r}")
        doc_id, _, ordinal = passage_id.rpartition("#")
        for _pid, p in self.store.passages_of(doc_id):
            if str(p.ordinal) == ordinal:
                return record_review(self.store, p.text, tag, accept, passage_id)
        raise PlansokError(f"no passage {passage_id!r} (passage ids look like {doc_id}#12)")

    def undo_training(self) -> TrainReport:
        """Put back the model the last ``train_tagger`` replaced, and re-tag."""
        from plansok.analysis.analyzer import Analyzer
        from plansok.tag.train import tag_changes, undo_training

        before = self.store.tag_sets()
        undone = undo_training(self.store, Analyzer())
        if undone is None:
            raise PlansokError(f"{self.path}: no training to undo (`plansok tag --train` keeps one step)")
        tagger, n = undone
        self._searcher = None
        model = tagger.model
        return TrainReport(n, 0, 0, tag_changes(before, self.store.tag_sets()), model.info if model else {})

    def tag_batch(
        self,
        paths: Iterable[str | Path],
        out_dir: str | Path,
        *,
        dry_run: bool = False,
        progress: bool = False,
        **ingest_options: Any,
    ) -> tuple[Any, list[Path]]:
        """Ingest and tag a batch of documents and write the batch's reports
        to ``out_dir``. With ``dry_run`` the index is left as it was: the batch
        goes into a temporary index with this index's codebook and model."""
        import shutil
        import tempfile

        from plansok.ingest.pipeline import doc_id_for, expand_paths
        from plansok.tag.report import collect, write_reports

        paths = list(paths)
        files, _ = expand_paths(paths)
        target = self
        tmp = None
        if dry_run:
            tmp = Path(tempfile.mkdtemp(prefix="plansok-dry-run-"))
            target = Index.open(tmp / "index", create=True)
            codebook = self.store.get_meta("codebook")
            if codebook:
                target.store.set_meta("codebook", codebook)
            if (self.path / "tagger").is_dir():
                shutil.copytree(self.path / "tagger", target.path / "tagger")
        try:
            report = target.ingest(paths, progress=progress, **ingest_options)
            failed = {str(Path(p)) for p, _ in report.failed}
            doc_ids = [doc_id_for(f) for f in files if str(f) not in failed]
            known = {d.doc_id for d in target.documents()}
            passages = collect(target.store, [d for d in dict.fromkeys(doc_ids) if d in known])
            written = write_reports(Path(out_dir), passages, target.codebook())
        finally:
            if tmp is not None:
                target.close()
                shutil.rmtree(tmp, ignore_errors=True)
        return report, written

    # -- collections and exports ------------------------------------------------------
    def collections(self) -> Any:  # -> plansok.collect.collections.Collections
        from plansok.collect.collections import Collections

        return Collections(self.path)

    def collect(
        self,
        name: str,
        query: str,
        *,
        k: int = 10,
        ranks: Iterable[int] | None = None,
        filters: Filters | None = None,
        **options: Any,
    ) -> list[Hit]:
        """Save the hits of ``query`` (all ``k``, or the chosen ranks) in collection ``name``."""
        hits = self.search(query, k=max([k, *(ranks or [])]), filters=filters, **options)
        if ranks is not None:
            wanted = set(ranks)
            hits = [h for h in hits if h.rank in wanted]
        fingerprints = self.store.document_hashes()
        filters_dict = filters.__dict__ if filters is not None else {}
        self.collections().add_hits(name, hits, query, filters_dict, fingerprints)
        return hits

    def collect_passage(self, name: str, passage_id: str) -> int:
        """Add one passage by id (``doc_id#ordinal``) to collection ``name``."""
        doc_id, _, ordinal = passage_id.rpartition("#")
        doc = self.document(doc_id)
        for pid, p in self.store.passages_of(doc_id):
            if str(p.ordinal) == ordinal:
                citation = cite(p, doc)
                tags = self.store.tags_of([pid]).get(pid, [])
                return self.collections().add_passage(name, p, citation, doc.source_url, doc.sha256, tags)
        raise PlansokError(f"no passage {passage_id!r} (passage ids look like {doc_id}#12; see `plansok show`)")

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
        if self._shared is not None:
            if generation != self._shared.checked:
                self.check_analysis()
                self._shared.checked = generation
            return self._shared.get(generation or "0")
        if self._searcher is None or generation != self._generation:
            self.check_analysis()
            self._searcher = Searcher(LoadedIndex.load(self.store))
            self._generation = generation
        return self._searcher

    def check_analysis(self) -> None:
        """Refuse to search documents analysed with another analysis: the
        query's terms would not be the documents' terms, and hits would be
        silently missing."""
        stale = self.store.stale_documents(ANALYSIS_VERSION)
        if stale:
            names = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            raise IndexError_(
                f"{self.path}: {len(stale)} document(s) were analysed with another version of plansok's "
                f"Norwegian analysis ({names}); this plansok uses analysis {ANALYSIS_VERSION}. "
                f"Analyse them again with: plansok ingest FOLDER --index {self.path} "
                "(unchanged files are re-read because the analysis changed), or drop them with plansok remove"
            )

    def search(self, query: str, k: int = 10, filters: Filters | None = None, **options: Any) -> list[Hit]:
        """Ranked passages for ``query``. ``options`` are ``SearchOptions`` fields
        (e.g. ``expand=False``, ``fold_duplicates=False``)."""
        unknown = set(options) - set(SearchOptions.__dataclass_fields__)
        if unknown:
            raise PlansokError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        opts = SearchOptions(k=k, **options)
        if filters is not None and filters.tags:
            known = set(self.codebook().ids)
            unknown = [t for t in filters.tags if t not in known]
            if unknown:
                raise PlansokError(f"unknown tag(s) {', '.join(unknown)}; tags are: {', '.join(sorted(known))}")
        searcher = self.searcher()
        if filters is not None:
            # Against the documents of the commit being searched, held by the searcher:
            # reading them all from SQLite again cost more than the search.
            check_filters(filters, searcher.ix.docs)
        return searcher.search(query, opts, filters)

    def why_empty(self, query: str, filters: Filters | None = None) -> str:
        """Why ``search(query, filters)`` found nothing, in one sentence: the
        filter that leaves no document, a query of stop words only, or the
        words the index does not contain."""
        docs = self.documents()
        if not docs:
            return f"the index at {self.path} holds no documents (add some with plansok ingest FOLDER)"
        reason = explain_empty(filters, docs)
        if reason:
            return reason
        searcher = self.searcher()
        plan = searcher.plan(query, SearchOptions())
        if not plan.parsed.is_empty and not plan.concepts:
            return (
                f"{query!r} has only stop words (such as og, i, som, ikkje), which are not indexed; add a content word"
            )
        if filters is not None and (filters.kinds or filters.tags):
            unfiltered = searcher.search(query, SearchOptions(k=1000, fold_duplicates=False), None)
            if unfiltered:
                return (
                    f"no passages match {query!r} with {' '.join(filters.describe())}; "
                    f"without the filters it matches {len(unfiltered)}{'+' if len(unfiltered) >= 1000 else ''} passages"
                )
        missing = [w.form for c in plan.concepts for w in c.words if not searcher.has_any(w)]
        if missing:
            return f"no passages match {query!r}: the index has no word like {', '.join(missing)}"
        return f"no passages match {query!r}"

    def codebook(self) -> Any:  # -> plansok.tag.codebook.Codebook
        """The codebook the index's tags were made with."""
        from plansok.tag.codebook import Codebook

        text = self.store.get_meta("codebook")
        return Codebook.from_text(text, f"{self.path} (stored codebook)") if text else Codebook.default()

    def check_codebook(self, codebook: Any = None) -> CodebookCheck:
        """Check a codebook (default: the index's) against the analysis and this
        index: terms with no words to match, and terms no indexed passage has."""
        return check_codebook(codebook if codebook is not None else self.codebook(), self)

    def export(
        self,
        out: str | Path,
        fmt: str = "csv",
        *,
        query: str | None = None,
        collection: str | None = None,
        k: int = 50,
        filters: Filters | None = None,
    ) -> ExportResult:
        """Write the hits of ``query`` or the passages of ``collection`` as
        ``fmt``: csv, xlsx, bibtex, ris, qdpx (REFI-QDA project), md or docx
        (a chain of evidence); qdc writes the codebook (needs neither)."""
        from plansok.collect import export
        from plansok.collect.qdpx_project import Quote, write_project

        if fmt == "qdc":
            return self.export_codebook_qdc(out)
        if (query is None) == (collection is None):
            raise PlansokError("export needs a query or a collection (one of them)")
        if fmt not in EXPORT_FORMATS:
            raise PlansokError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
        docs = {d.doc_id: d for d in self.documents()}
        if collection is not None:
            col = self.collections().get(collection, self.store)
            table = export.collection_table(col, docs)
            doc_ids = list(dict.fromkeys(i.doc_id for i in col.items))
            quotes = [
                Quote(i.doc_id, i.ordinal, i.text, [t["tag"] for t in i.tags], i.codes, i.memo, i.citation)
                for i in col.items
            ]
            title, memo, queries = col.name, col.memo, [q["query"] for q in col.queries]
        else:
            col = None
            filters = filters or Filters()
            hits = self.search(str(query), k=k, filters=filters)
            table = export.hits_table(hits, str(query), filters.__dict__)
            doc_ids = list(dict.fromkeys(h.doc.doc_id for h in hits))
            quotes = [
                Quote(h.doc.doc_id, h.passage.ordinal, h.passage.text, [t["tag"] for t in h.tags], [], "", h.citation)
                for h in hits
            ]
            title, memo, queries = f"query {query}", "", [str(query)]
        cited = [docs[d] for d in doc_ids if d in docs]
        if fmt == "csv":
            path = export.write_csv(table, out)
        elif fmt == "xlsx":
            path = export.write_xlsx(table, out)
        elif fmt == "bibtex":
            path = export.write_text(out, export.bibtex(cited))
        elif fmt == "ris":
            path = export.write_text(out, export.ris(cited))
        elif fmt in ("md", "docx"):
            evidence = col if col is not None else export.collection_from_hits(hits, str(query), filters.__dict__)
            parents = self.collections().code_parents()
            labels = {t.id: t.label for t in self.codebook().tags}
            if fmt == "md":
                path = export.write_text(out, export.evidence_markdown(evidence, docs, parents, labels))
            else:
                path = export.write_evidence_docx(evidence, docs, out, parents, labels)
        else:
            path = write_project(self, quotes, out, title, memo, queries, self.collections().code_parents())
        return ExportResult(Path(path), len(table.rows), len(doc_ids))

    def export_terms(self, out: str | Path, filters: Filters | None = None) -> ExportResult:
        """Write every live passage (of the documents ``filters`` selects) as
        one JSON line with the analysed terms the index ranks (``terms``:
        space-separated, each as often as it occurs), for a distributed search
        engine to index with a whitespace analyzer; ``pid``, page, section and
        tags say where it is and what it is about. The terms are read back
        from the segments of one commit."""
        from plansok.index.terms_export import passage_terms

        doc_ids = None
        if filters is not None and filters != Filters():
            if filters.tags:
                raise PlansokError("the terms export selects documents; a tag is not a document filter")
            docs = self.documents()
            check_filters(filters, docs)
            doc_ids = [d.doc_id for d in docs if filters.accepts(d)]
            if not doc_ids:
                raise PlansokError(explain_empty(filters, docs) or "no document matches the filters")
        path = Path(out)
        n = 0
        docs: set[str] = set()
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                for p in passage_terms(self.store, doc_ids):
                    fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
                    n += 1
                    docs.add(p.doc_id)
            tmp.replace(path)
        except OSError as exc:
            raise PlansokError(f"{path}: cannot write the terms export ({exc})") from exc
        finally:
            tmp.unlink(missing_ok=True)
        analysis = self.store.get_meta("analysis", "")
        logger.info("%s: terms of %d passages from %d documents (analysis %s)", path, n, len(docs), analysis)
        return ExportResult(path, n, len(docs))

    # -- the researcher's codes, across collections -------------------------------------
    def codes(self) -> CodesResult:
        """The researcher's codes with their parents and the passages each codes, per collection."""
        return CodesResult(self.collections().codes())

    def rename_code(self, old: str, new: str) -> CodesResult:
        """Rename a code in every collection; its codings and children stay."""
        n = self.collections().rename_code(old, new)
        return CodesResult(self.collections().codes(), f"renamed {old!r} to {new!r} ({n} passages)")

    def merge_codes(self, source: str, target: str) -> CodesResult:
        """Recode every passage coded ``source`` as ``target`` and drop ``source``."""
        n = self.collections().merge_codes(source, target)
        return CodesResult(self.collections().codes(), f"merged {source!r} into {target!r} ({n} passages)")

    def set_code_parent(self, child: str, parent: str | None) -> CodesResult:
        """Put code ``child`` under ``parent`` (None: at the top)."""
        self.collections().set_code_parent(child, parent)
        where = f"under {parent!r}" if parent else "at the top"
        return CodesResult(self.collections().codes(), f"{child!r} is now {where}")

    def export_codebook_qdc(self, out: str | Path) -> ExportResult:
        """The codebook as REFI-QDA ``.qdc``: plansok's theory and theme tags and
        the researcher's codes with their hierarchy (validated against the schema)."""
        from plansok.collect.qdpx_project import write_codebook

        cols = self.collections()
        own = [c.name for c in cols.codes()]
        path = write_codebook(self.codebook(), own, cols.code_parents(), Path(out))
        return ExportResult(path, 0, 0, codes=len(self.codebook().tags) + len(own))

    # -- analysis views: concordance, frequencies, keyness, collocations ---------------
    def _view_filters(self, filters: Filters | None) -> Filters:
        """The filters checked as search checks them (unknown values are errors)."""
        filters = filters or Filters()
        check_filters(filters, self.documents())
        if filters.tags:
            known = set(self.codebook().ids)
            unknown = [t for t in filters.tags if t not in known]
            if unknown:
                raise PlansokError(f"unknown tag(s) {', '.join(unknown)}; tags are: {', '.join(sorted(known))}")
        return filters

    def kwic(
        self,
        query: str,
        filters: Filters | None = None,
        *,
        within: int | None = None,
        width: int = 60,
        sort: str = "doc",
        limit: int | None = None,
    ) -> Concordance:
        """Every occurrence of ``query`` with ``width`` characters of context on
        each side, cited to the page it stands on, as ``search`` matches it
        (lemmas in both standards, compounds). ``within``: a phrase's words, or
        a compound's parts standing apart, up to that many words apart.
        ``sort``: doc, left or right (by the words next to the keyword)."""
        from plansok.views.kwic import concordance

        filters = self._view_filters(filters)
        if not query.strip():
            raise PlansokError("kwic needs a query (a word, a phrase in quotes, or words joined by OR)")
        result = concordance(self.searcher(), query, filters, within=within, width=width, sort=sort, limit=limit)
        if not result.total and not result.message:
            result.message = self.why_empty(query, filters)
            if '"' in query and within is None:
                result.message += "; a phrase must stand word for word (within=N lets its words stand apart)"
        return result

    def frequencies(self, filters: Filters | None = None, *, by: str | None = None, top: int = 30) -> Frequencies:
        """The ``top`` content-word lemmas (both standards folded to bokmål, stop
        words out) of the documents the filters select, overall or ``by``
        document, municipality, type or year."""
        from plansok.views.frequencies import frequencies

        filters = self._view_filters(filters)
        result = frequencies(self.searcher(), filters, by=by, top=top)
        if not result.groups:
            result.message = explain_empty(filters, self.documents()) or result.message
        return result

    def keyness(
        self,
        filters: Filters,
        against: Filters | None = None,
        *,
        min_freq: int = 5,
        top: int = 30,
        sort: str = "ll",
        max_p: float | None = None,
        min_docs: int = 1,
    ) -> Keyness:
        """Lemmas typical of the passages ``filters`` selects against the rest
        of the index (or against the passages ``against`` selects): G² with
        its p-value and the log ratio, sorted by G² (``sort="ll"``) or by
        log ratio (``"ratio"``), used in at least ``min_docs`` documents of
        their side; see ``plansok.views.frequencies``."""
        from plansok.views.frequencies import keyness

        filters = self._view_filters(filters)
        if against is not None:
            against = self._view_filters(against)
        if not (filters.kinds or filters.tags):
            raise PlansokError("keyness needs a subset: give filters (e.g. --kommune Gol or --type samfunnsdel)")
        docs = self.documents()
        for side, f in (("the subset", filters), ("the reference (--against)", against)):
            reason = explain_empty(f, docs) if f is not None else None
            if reason:
                raise EmptySelection(f"{side}: {reason}")
        return keyness(
            self.searcher(), filters, against, min_freq=min_freq, top=top, sort=sort, max_p=max_p, min_docs=min_docs
        )

    def collocations(
        self,
        query: str,
        filters: Filters | None = None,
        *,
        window: int = 5,
        min_freq: int = 3,
        measure: str = "ll",
        top: int = 30,
    ) -> Collocations:
        """Lemmas standing within ``window`` content words of ``query`` more
        often than chance, scored by G² (``measure="ll"``) or MI, with counts."""
        from plansok.views.frequencies import collocations

        filters = self._view_filters(filters)
        if not query.strip():
            raise PlansokError("collocations needs a query (the word whose neighbours to count)")
        result = collocations(
            self.searcher(), query, filters, window=window, min_freq=min_freq, measure=measure, top=top
        )
        if not result.occurrences and not result.message:
            result.message = self.why_empty(query, filters)
        return result

    # -- results with their totals, by document; matrices with statistics beside them -----
    def _checked_options(
        self, k: int, filters: Filters | None, options: dict[str, Any]
    ) -> tuple[SearchOptions, Filters]:
        """Search options and filters, checked as ``search`` checks them."""
        unknown = set(options) - set(SearchOptions.__dataclass_fields__)
        if unknown:
            raise PlansokError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        filters = filters or Filters()
        self._check_tags(filters.tags)
        check_filters(filters, self.documents())
        return SearchOptions(k=k, **options), filters

    def _check_tags(self, tags: Iterable[str]) -> None:
        known = set(self.codebook().ids)
        unknown = [t for t in tags if t not in known]
        if unknown:
            raise PlansokError(f"unknown tag(s) {', '.join(unknown)}; tags are: {', '.join(sorted(known))}")

    def results(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        *,
        by_document: bool = False,
        include_references: bool = False,
        **options: Any,
    ) -> Any:  # -> plansok.views.results.SearchResults
        """The hits of ``query`` with the number of passages that match in all
        (``total``, not only the ``k`` shown) and the documents they are in.
        ``by_document``: the best passage of each of the first ``k`` plans, with
        its number of hits. Reference lists and contents pages are left out,
        and counted in ``left_out``, unless ``include_references``. What counts
        as a hit: ``plansok.views.results``."""
        from plansok.views.results import left_out_text, search_results

        opts, filters = self._checked_options(k, filters, options)
        result = search_results(
            self.searcher(), query, opts, filters, by_document=by_document, include_references=include_references
        )
        if not result.total:
            dropped = left_out_text(result.left_out)
            result.message = (
                f"no passages match {query!r} but {dropped} (--include-references shows them)"
                if dropped
                else self.why_empty(query, filters)
            )
        return result

    def search_grouped(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        *,
        include_references: bool = False,
        **options: Any,
    ) -> Any:  # -> plansok.views.results.SearchResults
        """One best passage per plan for the first ``k`` plans, each with its number of hits."""
        return self.results(query, k, filters, by_document=True, include_references=include_references, **options)

    def matrix(
        self,
        queries: Iterable[str] = (),
        *,
        tags: Iterable[str] | bool = (),
        codes: Iterable[str] | bool = (),
        by: str = "municipality",
        measure: str = "count",
        filters: Filters | None = None,
        include_references: bool = False,
        stats: str | Path | None = None,
        stat_columns: Iterable[str] = (),
        **options: Any,
    ) -> Any:  # -> plansok.views.matrix.MatrixResult
        """Rows (``queries``; ``tags``; the researcher's ``codes`` from the
        collections; ``True`` for every tag or code) against columns ``by``
        municipality, document, type or year. Cells count hits as ``results``
        does (a query's row total is its ``results(...).total`` with the same
        filters); ``measure`` picks count, share (% of the column's passages)
        or rate (per 10,000 words) for tables and pictures. ``stats``: an SSB
        StatBank export (CSV or JSON-stat) joined to the municipality columns
        by kommunenummer across the reforms; ``stat_columns`` picks its series.
        The result prints as text and writes CSV, PNG, HTML or JSON
        (``result.write(path)``); ``result.records()`` gives plain rows and
        ``result.to_dataframe()`` a pandas DataFrame."""
        from plansok.views.matrix import MatrixError, RowSpec, add_statistics, build_matrix, coded_passages
        from plansok.views.statistics import read_statistics

        opts, filters = self._checked_options(10, filters, options)
        specs = [RowSpec("query", q.strip()) for q in queries if q.strip()]
        tag_ids = list(self.codebook().ids) if tags is True else list(tags or [])
        self._check_tags(tag_ids)
        specs += [RowSpec("tag", t) for t in tag_ids]
        if codes:
            coded = coded_passages(self.collections(), self.store)
            wanted = sorted(coded) if codes is True else list(codes)  # type: ignore[arg-type]
            if not coded:
                raise MatrixError(
                    f"no codes in the collections of {self.path} (code a saved passage with "
                    "plansok collect NAME --code ITEM CODE)"
                )
            for code in wanted:
                if code not in coded:
                    raise MatrixError(f"no code {code!r} in the collections; codes are: {', '.join(sorted(coded))}")
                pids, missing = coded[code]
                note = f"{missing} coded passage(s) no longer in the index" if missing else ""
                specs.append(RowSpec("code", code, pids, note))
        table = read_statistics(stats) if stats is not None else None
        result = build_matrix(
            self.searcher(),
            specs,
            by=by,
            measure=measure,
            filters=filters,
            include_references=include_references,
            opts=opts,
        )
        if table is not None:
            add_statistics(result, table, list(stat_columns))
        if not any(r.total for r in result.rows):
            reason = explain_empty(filters, self.documents())
            if reason is None:
                why = [self.why_empty(s.label, filters) for s in specs if s.kind == "query"]
                why += [f"no passage carries tag {s.label}" for s in specs if s.kind == "tag"]
                why += [f"no passage coded {s.label} passes the filters" for s in specs if s.kind == "code"]
                reason = "; ".join(why)
            result.message = f"no row has a hit: {reason}"
        return result

    # -- plan structure: units, revisions, commitments ------------------------------------
    def plan_structure(self, doc_id: str) -> Any:  # -> plansok.views.structure.PlanStructure
        """The goals (mål), sub-goals (delmål), strategies and measures (tiltak) a plan states,
        in reading order, each with its exact text, page, section and citation, and the
        responsible unit (ansvar) and deadline or period (frist) where the plan gives them."""
        from plansok.views.structure import WordClasses, plan_structure

        meta = self.document(doc_id)
        generation = self.store.get_meta("generation", "0")
        cache = self.__dict__.setdefault("_plan_structures", {})
        key = (doc_id, generation)
        if key not in cache:
            words = self.__dict__.setdefault("_unit_words", WordClasses())
            cache[key] = plan_structure(self.store, doc_id, meta, words)
        return cache[key]

    def compare_plans(
        self, old: str, new: str, *, threshold: float = 0.5, kinds: Iterable[str] | None = None
    ) -> Any:  # -> plansok.views.compare.PlanComparison
        """Units added, removed and reworded between two versions of a plan (documents ``old``
        and ``new``): units of a kind are paired by lemma overlap at or above ``threshold``;
        a pair in other words is reworded."""
        from plansok.views.compare import compare_structures
        from plansok.views.structure import UNIT_KINDS

        wanted = tuple(kinds) if kinds else UNIT_KINDS
        bad = [k for k in wanted if k not in UNIT_KINDS]
        if bad:
            raise PlansokError(f"unknown unit kind(s) {', '.join(bad)}; kinds are: {', '.join(UNIT_KINDS)}")
        if not 0 < threshold <= 1:
            raise PlansokError(f"threshold must be between 0 and 1 (a share of shared lemmas), not {threshold}")
        a, b = self.plan_structure(old), self.plan_structure(new)
        result = compare_structures(a, b, threshold=threshold, kinds=wanted, lemmas=self._unit_lemmas())
        for doc_id, st in ((old, a), (new, b)):
            if not st.units:
                logger.warning("%s: no goals, strategies or measures found; everything counts as added/removed", doc_id)
        return result

    def commitments(
        self,
        query: str = "",
        filters: Filters | None = None,
        *,
        kinds: Iterable[str] | None = None,
        require_all: bool = True,
    ) -> Any:  # -> plansok.views.compare.CommitmentReport
        """Per plan, the goals and measures that address a theme, with quotes and citations,
        and the plans that state none. The theme is ``query`` (search syntax: inflections,
        both standards, compounds, "phrases", -exclusions; every word must occur unless
        ``require_all`` is false) and/or ``filters.tags`` (a unit must carry each tag's
        codebook evidence); the other filters choose the plans."""
        from plansok.views.compare import commitments, query_matcher, tag_matcher
        from plansok.views.structure import UNIT_KINDS

        filters = self._view_filters(filters)
        wanted = tuple(kinds) if kinds else UNIT_KINDS
        bad = [k for k in wanted if k not in UNIT_KINDS]
        if bad:
            raise PlansokError(f"unknown unit kind(s) {', '.join(bad)}; kinds are: {', '.join(UNIT_KINDS)}")
        if not query.strip() and not filters.tags:
            raise PlansokError("commitments need a theme: a query (e.g. barnefattigdom) or --tag TAG")
        lemmas = self._unit_lemmas()
        matchers = []
        if query.strip():
            matchers.append(query_matcher(query, lemmas, require_all))
        if filters.tags:
            matchers.append(tag_matcher(filters.tags, self.codebook(), lemmas))
        docs = [d for d in self.documents() if filters.accepts(d)]
        structures = [self.plan_structure(d.doc_id) for d in docs]
        theme = " + ".join([*([repr(query)] if query.strip() else []), *(f"tag {t}" for t in filters.tags)])
        return commitments(
            structures,
            matchers,
            theme=theme,
            query=query,
            tags=filters.tags,
            filters=filters.__dict__,
            kinds=wanted,
        )

    def _unit_lemmas(self) -> Any:
        from plansok.views.compare import UnitLemmas

        return self.__dict__.setdefault("_unit_lemma_cache", UnitLemmas())


EXPORT_FORMATS = ("csv", "xlsx", "bibtex", "ris", "qdpx", "md", "docx", "qdc")


@dataclass
class ReviewItem:
    passage_id: str
    tag: str
    confidence: float
    text: str
    citation: str
    evidence: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_id": self.passage_id,
            "tag": self.tag,
            "confidence": round(self.confidence, 3),
            "text": self.text,
            "citation": self.citation,
            "evidence": self.evidence,
        }


@dataclass
class TrainReport:
    passages: int  # passages re-tagged
    labels: int  # labelled passages from the researcher's files
    reviewed: int  # passages with review decisions
    changes: dict[str, dict[str, int]]  # tag -> {"added": n, "removed": n}
    model: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passages": self.passages,
            "labels": self.labels,
            "reviewed": self.reviewed,
            "changes": self.changes,
            "model": self.model,
        }


@dataclass
class ExportResult:
    path: Path
    passages: int
    documents: int
    codes: int | None = None  # a codebook export: the codes written

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"written": str(self.path), "passages": self.passages, "documents": self.documents}
        if self.codes is not None:
            out["codes"] = self.codes
        return out


@dataclass
class CodesResult:
    codes: list[Any]  # plansok.collect.collections.CodeInfo, parents before children
    changed: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "codes": [c.to_dict() for c in self.codes]}


@dataclass
class CodebookCheck:
    tags: int
    terms: int
    unanalysable: list[str]  # "tag: term" with no words to match (only stop words)
    never_in_index: dict[str, list[str]]  # tag -> terms no indexed passage has
    index: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": True,
            "tags": self.tags,
            "terms": self.terms,
            "unanalysable": self.unanalysable,
            "never_in_index": self.never_in_index,
        }


def check_codebook(codebook: Any, index: Index | None = None) -> CodebookCheck:
    """``Index.check_codebook`` without an index, or against ``index``."""
    from plansok.analysis.analyzer import PART_PREFIX, Analyzer
    from plansok.tag.tagger import Tagger

    tagger = Tagger.build(codebook, Analyzer())
    unused: dict[str, list[str]] = {}
    if index is not None:
        vocab = index.searcher().ix.bm25.vocab
        for tag_id, terms in tagger.rules.term_lemmas().items():
            for text, lemmas in terms:
                if not all(lem in vocab or (PART_PREFIX + lem) in vocab for lem in lemmas):
                    unused.setdefault(tag_id, []).append(text)
    return CodebookCheck(
        tags=len(codebook.tags),
        terms=sum(len(t.terms) + len(t.weak) for t in codebook.tags),
        unanalysable=[f"{t}: {w}" for t, w in tagger.rules.unanalysable],
        never_in_index=unused,
        index=str(index.path) if index is not None else None,
    )
