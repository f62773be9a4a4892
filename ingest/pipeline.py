"""Ingest a batch of files into an index: read, clean, infer metadata, split
into passages, analyse, write. One bad file never stops the batch, and what
is already indexed stays as it was."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plansok.analysis import ANALYSIS_VERSION
from plansok.analysis.prose import left_out_kind
from plansok.errors import IngestError, PlansokError
from plansok.index.store import IndexedSource, IndexStore
from plansok.ingest.formats import read_docx, read_html, read_text
from plansok.ingest.metadata import apply_manifest, display_path, infer_metadata
from plansok.ingest.passages import split_passages
from plansok.ingest.workers import DEFAULT_TIMEOUT
from plansok.models import AnalysedDoc, Document, Page

logger = logging.getLogger(__name__)

SUFFIXES = {".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx"}
# The formats one document can come in, in the default order of preference
# when several share a stem (plan.pdf and plan.md): the PDF is what was
# published, and its physical pages are the pages a reader checks a citation
# against. ``--prefer`` moves one format to the front.
FORMATS = ("pdf", "docx", "html", "text")
FORMAT_OF = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".md": "text",
    ".markdown": "text",
    ".txt": "text",
}
SUFFIX_ORDER = (".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt")
DEFAULT_PREFER = "pdf"
# Two files count as one text only when there is enough text to be sure, and
# no page was left unread: scanned pages skipped without OCR could differ.
MIN_TEXT_FOR_HASH = 1000
# Documents are committed in groups: a crash loses at most one group's work,
# and each group becomes one postings segment.
COMMIT_EVERY = 16


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # Files not indexed because their document already is: {"path", "doc_id"
    # (the id the file would have had), "kept" (the document that holds the
    # content), "kept_path", "reason": "same content" | "other format"}.
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
    passages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def skip(self, path: Path | str, doc_id: str, kept: str, kept_path: str, reason: str, warning: str) -> None:
        self.skipped.append(
            {"path": display_path(path), "doc_id": doc_id, "kept": kept, "kept_path": kept_path, "reason": reason}
        )
        logger.warning("%s", warning)
        self.warnings.append(warning)

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": self.skipped,
            "warnings": self.warnings,
            "pages": self.pages,
            "passages": self.passages,
            "seconds": round(self.seconds, 3),
        }


def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest (directories searched recursively), and the paths that
    could not be used, with the reason."""
    files: list[Path] = []
    bad: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if _wanted_in_folder(f)))
        elif p.is_file():
            if p.suffix.lower() in SUFFIXES:
                files.append(p)
            else:
                bad.append(
                    (
                        str(p),
                        f"unsupported file type {p.suffix or '(none)'} (use {', '.join(sorted(SUFFIXES))})",
                    )
                )
        else:
            bad.append((str(p), "no such file or directory"))
    return files, bad


def _wanted_in_folder(f: Path) -> bool:
    """Files a folder contributes: supported types, not hidden, and not the
    folder's own README (name it explicitly to ingest it)."""
    return (
        f.is_file()
        and f.suffix.lower() in SUFFIXES
        and not f.name.startswith(".")
        and not f.stem.lower().startswith("readme")
    )


def doc_id_for(path: Path) -> str:
    """The file name without extension; the id a researcher sees and filters on."""
    return re.sub(r"\s+", "_", Path(display_path(path)).stem.strip())


def lexicon_version() -> str:
    """The lexicon resources' versions (Apertium data, lttoolbox, wordfreq), recorded in the index."""
    from plansok.analysis.lexicon import Lexicon

    return Lexicon().version


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path: Path, manifest_row: dict[str, str] | None = None, content: str | None = None) -> str:
    """The content hash that decides whether a file changed; manifest values
    count too, so correcting a municipality in the manifest re-ingests, and so
    does the analysis version, so a newer plansok re-analyses old documents.
    ``content`` is the file's SHA-256 when it is already known."""
    digest = f"{content or sha256_of(path)}@{ANALYSIS_VERSION}"
    if manifest_row:
        extra = json.dumps(manifest_row, sort_keys=True, ensure_ascii=False).encode()
        digest += "+" + hashlib.sha256(extra).hexdigest()[:16]
    return digest


def read_pages(path: Path, ocr: bool = False) -> tuple[list[Page], dict[str, str]]:
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise IngestError(path, "empty file (0 bytes)")
    if suffix == ".pdf":
        from plansok.ingest.pdf import extract_pdf

        return extract_pdf(path, ocr=True) if ocr else extract_pdf(path)
    if suffix in (".html", ".htm"):
        return read_html(path)
    if suffix == ".docx":
        return read_docx(path)
    return read_text(path)


def read_document(
    path: Path, doc_id: str, manifest_row: dict[str, str] | None = None, *, ocr: bool = False
) -> Document:
    """Read one file into cleaned pages and metadata. Raises IngestError."""
    try:
        pages, stated = read_pages(path, ocr)
    except IngestError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        raise IngestError(path, f"unreadable ({exc.__class__.__name__}: {exc})") from exc
    warnings = []
    scans = [p.number for p in pages if p.source == "scan"]
    if pages and all(p.source in ("scan", "empty") or not p.text.strip() for p in pages):
        if not scans:
            raise IngestError(path, f"no text on any of its {len(pages)} page(s), and nothing on them to OCR")
        why = "even with OCR" if ocr else "(a scan? add --ocr to read it with Tesseract)"
        raise IngestError(path, f"no text on any of its {len(pages)} page(s) {why}")
    if scans:
        if ocr:
            warnings.append(f"{path}: no text found on scanned page(s) {_ranges(scans)}, even with OCR")
        else:
            warnings.append(
                f"{path}: page(s) {_ranges(scans)} are scanned (an image, and no text layer for its body); "
                "skipped: add --ocr to read them"
            )
    ocr_pages = [p.number for p in pages if p.source == "ocr"]
    if ocr_pages:
        warnings.append(f"{path}: page(s) {_ranges(ocr_pages)} read by OCR; check quotes against the PDF")
    meta = infer_metadata(path, pages, stated, doc_id)
    if manifest_row:
        apply_manifest(meta, manifest_row)
    meta.sha256 = fingerprint(path, manifest_row)
    text_hash = text_sha256(pages)
    if text_hash:
        meta.extra["text_sha256"] = text_hash
    return Document(meta=meta, pages=pages, warnings=warnings)


def text_sha256(pages: Sequence[Page]) -> str:
    """A hash of a document's extracted pages (numbers and text), so the same
    PDF saved again by another tool, or downloaded twice with a new file ID,
    is recognised (and named in a warning) although its bytes differ. "" when
    the text is too short to be sure, or when scanned pages were skipped
    (their content is unknown)."""
    if any(p.source == "scan" for p in pages) or sum(len(p.text.strip()) for p in pages) < MIN_TEXT_FOR_HASH:
        return ""
    h = hashlib.sha256()
    for p in pages:
        h.update(f"\f{p.number}\n{p.text.strip()}".encode())
    return h.hexdigest()


def _ranges(numbers: Sequence[int]) -> str:
    out = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


class DocumentAnalyser:
    """Passages and index terms for documents, via the spaCy pipelines (one per
    written standard, sharing one lexicon). Built lazily: spaCy is slow to import."""

    def __init__(self) -> None:
        self._nlp: dict[str, object] = {}
        self._analyzer = None
        self._tagger = None
        self._tagger_key: tuple[str | None, str] | None = None

    def nlp(self, standard: str):  # -> spacy.Language
        if standard not in self._nlp:
            from plansok.analysis.pipeline import make_nlp

            self._nlp[standard] = make_nlp(standard, self.analyzer)
        return self._nlp[standard]

    @property
    def analyzer(self):  # -> Analyzer, shared by the spaCy pipelines and the tagger
        if self._analyzer is None:
            from plansok.analysis.analyzer import Analyzer

            self._analyzer = Analyzer()
        return self._analyzer

    def analyse(self, doc: Document, tagger=None) -> AnalysedDoc:  # tagger: plansok.tag.tagger.Tagger
        from plansok.analysis.analyzer import encode_terms, form_key
        from plansok.analysis.pipeline import doc_terms
        from plansok.tag.rules import Word

        passages = split_passages(doc.meta.doc_id, doc.pages)
        std = doc.meta.standard
        terms: list[list[str]] = []
        lengths: list[int] = []
        forms: dict[str, str] = {}
        words: list[list[Word]] = []
        for sdoc in self.nlp(std).pipe((p.text for p in passages), batch_size=128):
            t, n = doc_terms(sdoc)
            terms.append(t)
            lengths.append(n)
            analysed = sdoc._.plansok or []
            words.append([Word.from_token_terms(tt) for tt in analysed])
            for i, tt in enumerate(analysed):
                key = form_key(std, tt.token.form)
                if key not in forms:
                    forms[key] = encode_terms(tt.whole, tt.parts)
                if tt.joined and i + 1 < len(analysed):
                    pair = f"{tt.token.form} {analysed[i + 1].token.form}"
                    forms[form_key(std, pair)] = tt.joined
        tags = []
        if tagger is not None:
            from plansok.tag.features import words_and_terms

            # Tagged from the word forms the index stores, as a re-tag reads them
            # back, so a passage's tags do not depend on when it was tagged.
            decoded = {k: v.split(" ") if v else [] for k, v in forms.items() if " " not in k}
            pairs = [words_and_terms(p.text, std, decoded) for p in passages]
            texts, sections = [p.text for p in passages], [p.section for p in passages]
            tag_words, tag_terms = [w for w, _ in pairs], [t for _, t in pairs]
            for passage_tags in tagger.tag(tag_words, texts, tag_terms, sections):
                tags.append([(t.tag, t.confidence, t.source, t.evidence) for t in passage_tags])
        kinds = [left_out_kind(p.text) for p in passages]  # what results leave out, decided here, not per query
        return AnalysedDoc(doc.meta, doc.pages, passages, terms, lengths, forms, tags, kinds)


def ingest(
    store: IndexStore,
    paths: Iterable[Path | str],
    *,
    manifest: dict[str, dict[str, str]] | None = None,
    progress: bool = True,
    analyser: DocumentAnalyser | None = None,
    tag: bool = True,
    ocr: bool = False,
    workers: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    dask_client=None,
    prefer: str | None = None,
) -> IngestReport:
    """Ingest files into ``store``. Unchanged files (same content hash) are
    skipped; a changed file replaces its document; failures are reported, not
    raised. ``workers`` > 1 reads and analyses in that many processes, a
    ``dask_client`` on a Dask cluster; the index is written here either way.

    Content is indexed once: a file with the same bytes as another file of the
    batch or an indexed document is skipped with a warning naming both (one
    with other bytes but the same text on every page is indexed, and named in
    a warning). Files with the same stem in another format (plan.pdf,
    plan.md) are one document, and the others are skipped with a warning:
    ``prefer`` (one of :data:`FORMATS`) says which format is indexed, and
    replaces an indexed document from another format; without it an indexed
    document keeps its format and a new one is read from the first of
    :data:`FORMATS` (the PDF). When the chosen file fails, the next format is
    read instead."""
    from plansok.ingest.workers import Job, run_dask, run_local, run_serial

    if prefer is not None and prefer not in FORMATS:
        raise PlansokError(f"prefer={prefer!r}: choose one of {', '.join(FORMATS)}")
    t0 = time.perf_counter()
    report = IngestReport()
    files, bad = expand_paths(paths)
    report.failed.extend(bad)
    with store.write_lock():
        store.collect_garbage()  # segment files a killed writer left behind
        if tag:
            from plansok.tag.train import retag_if_shipped_model_changed

            retag_if_shipped_model_changed(store)
        batch = _Batch(store, report, manifest or {}, ocr, prefer, Job)
        jobs = batch.plan(files)
        tag_config = _tag_config(store) if tag else None
        if dask_client is None and workers <= 1:
            analyser = analyser or DocumentAnalyser()
            tagger = _tagger(store, analyser) if tag else None

        def run(jobs: list) -> Iterable:
            if dask_client is not None:
                return run_dask(jobs, tag_config, dask_client)
            if workers > 1:
                return run_local(jobs, tag_config, workers, timeout)
            return run_serial(jobs, analyser, tagger, timeout)

        batch.start(jobs)
        while True:
            if jobs:
                batch.write(_progress(run(jobs), progress, len(jobs)))
            jobs = batch.fallbacks()  # the next format of documents whose chosen file failed
            if not jobs:
                break
        batch.finish()
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class _File:
    path: Path
    doc_id: str
    content: str  # SHA-256 of its bytes

    @property
    def shown(self) -> str:
        return display_path(self.path)


# What became of a file that stands for others (its byte-identical copies, its
# document's other formats), so they can be reported like it: ("indexed",
# doc_id, path) when its content is in the index under doc_id, ("skipped",
# doc_id, path) when its document is indexed from another format, ("failed",
# reason, "").
Fate = tuple[str, str, str]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def format_rank(path: Path | str, prefer: str = DEFAULT_PREFER) -> tuple[int, int, int]:
    """Sort key of a file among the formats of one document: lowest is indexed."""
    suffix = _suffix(path)
    fmt = FORMAT_OF.get(suffix, "")
    order = FORMATS.index(fmt) if fmt in FORMATS else len(FORMATS)
    return (fmt != prefer, order, SUFFIX_ORDER.index(suffix) if suffix in SUFFIX_ORDER else len(SUFFIX_ORDER))


def _suffix(path: Path | str) -> str:
    return Path(path).suffix.lower()


class _Batch:
    """One ingest batch: which files are read, and writing what they give.

    Files are read once per content and once per document: a byte-identical
    copy waits for what becomes of the file read in its place, and so does a
    second format of a document read from its first (which is read instead
    if the first fails). Nothing indexed is removed here except by being
    replaced with a new version of the same document."""

    def __init__(self, store: IndexStore, report: IngestReport, manifest, ocr: bool, prefer: str | None, job_cls):
        self.store = store
        self.report = report
        self.manifest: dict[str, dict[str, str]] = manifest
        self.ocr = ocr
        self.prefer = prefer
        self.job_cls = job_cls
        self.indexed = store.document_sources()
        self.fate: dict[str, Fate] = {}
        self.copies: dict[str, list[_File]] = {}  # file read -> its byte-identical copies
        self.alternatives: dict[str, list[_File]] = {}  # file read -> its document's other formats, best first
        self.files: dict[str, _File] = {}
        self.texts: dict[str, IndexedSource] = {}
        self.pending: list[AnalysedDoc] = []
        self.lexicon = ""

    # -- choosing ------------------------------------------------------------------
    def plan(self, files: Sequence[Path]) -> list:
        """The files that need reading, in input order."""
        report, indexed = self.report, self.indexed
        batch: list[_File] = []
        named: set[Path] = set()
        for path in files:
            if path.resolve() in named:  # named twice (a folder and a file in it): one file
                continue
            named.add(path.resolve())
            try:
                batch.append(_File(path, doc_id_for(path), sha256_of(path)))
            except OSError as exc:
                report.failed.append((display_path(path), f"cannot read ({exc.strerror or exc})"))
        self.files = {f.shown: f for f in batch}
        order = {id(f): i for i, f in enumerate(batch)}

        # 1. The same bytes under several names: one file is read. The one
        # whose id already holds this content is kept (a re-ingest changes
        # nothing), else one whose id is indexed (it is updated, not left stale
        # beside a new copy), else the first given. Empty files are no
        # content: each fails on its own.
        by_content: dict[str, list[_File]] = {}
        for f in batch:
            by_content.setdefault(f.content if f.content != EMPTY_SHA256 else f.shown, []).append(f)
        unique: list[_File] = []
        for group in by_content.values():
            keeper = min(
                group,
                key=lambda g: (
                    not (g.doc_id in indexed and indexed[g.doc_id].content == g.content),
                    g.doc_id not in indexed,
                    order[id(g)],
                ),
            )
            if len(group) > 1:
                self.copies[keeper.shown] = [f for f in group if f is not keeper]
            unique.append(keeper)
        unique.sort(key=lambda f: order[id(f)])

        # 2. One id from several files: another format of the same document is
        # a choice (``prefer``; without it the format already indexed, else the
        # default order), and the others wait in case it fails; two different
        # files in the same format cannot both be that document: an error.
        by_id: dict[str, list[_File]] = {}
        for f in unique:
            by_id.setdefault(f.doc_id, []).append(f)
        chosen: list[_File] = []
        for group in by_id.values():
            ranked = sorted(group, key=self._rank)
            winner, others = ranked[0], []
            for f in ranked[1:]:
                if _suffix(f.path) == _suffix(winner.path):
                    reason = f"document id {f.doc_id!r} is already used by {winner.shown} in this batch (rename one)"
                    self._fail(f, reason)
                else:
                    others.append(f)
            if others:
                self.alternatives[winner.shown] = others
            chosen.append(winner)
        chosen.sort(key=lambda f: order[id(f)])
        return self._against_index(chosen)

    def _rank(self, f: _File) -> tuple[bool, tuple[int, int, int]]:
        old = self.indexed.get(f.doc_id)
        keeps_indexed = self.prefer is None and old is not None and _suffix(old.path) == _suffix(f.path)
        return (not keeps_indexed, format_rank(f.path, self.prefer or DEFAULT_PREFER))

    def _against_index(self, chosen: Sequence[_File], replaced: set[str] | None = None) -> list:
        """3. A document indexed from another format stays so unless ``prefer``
        asks for this file's format; otherwise a file is unchanged, an update,
        a copy of another indexed document, or new."""
        report, indexed, prefer = self.report, self.indexed, self.prefer
        todo: list[_File] = []
        replacing: dict[str, str] = {}  # doc_id -> warning, given once the file is sure to be read
        for f in chosen:
            old = indexed.get(f.doc_id)
            if old is not None and old.fingerprint == fingerprint(f.path, self.manifest.get(f.doc_id), f.content):
                report.unchanged.append(f.doc_id)
                self.fate[f.shown] = ("indexed", f.doc_id, f.shown)
                continue
            if old is not None and old.path and _suffix(old.path) != _suffix(f.path):
                if prefer is None or format_rank(old.path, prefer) <= format_rank(f.path, prefer):
                    self.fate[f.shown] = ("skipped", old.doc_id, old.path)
                    report.skip(
                        f.path,
                        f.doc_id,
                        old.doc_id,
                        old.path,
                        "other format",
                        _other_format(f.shown, old.path, f.doc_id, prefer, indexed=True),
                    )
                    continue
                replacing[f.doc_id] = (
                    f"{f.shown}: replaces {old.path} as document {f.doc_id!r} (the same name in another format; "
                    f"--prefer {prefer})"
                )
            todo.append(f)
        # Documents whose content this batch replaces no longer hold it: a copy
        # of their old content is new, not a duplicate.
        if replaced is None:
            replaced = {f.doc_id for f in todo if f.doc_id in indexed and indexed[f.doc_id].content != f.content}
        holders = {s.content: s for s in indexed.values() if s.doc_id not in replaced}
        jobs = []
        for f in todo:
            held = holders.get(f.content)
            if held is not None and held.doc_id != f.doc_id:
                self.fate[f.shown] = ("indexed", held.doc_id, held.path)
                report.skip(
                    f.path,
                    f.doc_id,
                    held.doc_id,
                    held.path,
                    "same content",
                    f"{f.shown}: the same content as {held.path or held.doc_id}, already indexed as "
                    f"{held.doc_id!r} (identical bytes); not indexed again"
                    + _kept_note(f.doc_id, indexed)
                    + _moved_note(held),
                )
                continue
            if f.doc_id in replacing:
                self._warn(replacing[f.doc_id])
            jobs.append(self.job_cls(str(f.path), f.doc_id, self.manifest.get(f.doc_id), self.ocr))
        return jobs

    # -- writing -------------------------------------------------------------------
    def start(self, jobs: Sequence) -> None:
        # Texts already held, by hash; documents this batch rewrites are left
        # out, since their old text is about to go.
        rewritten = {j.doc_id for j in jobs}
        self.texts = {s.text_sha256: s for s in self.indexed.values() if s.text_sha256 and s.doc_id not in rewritten}

    def write(self, outcomes: Iterable) -> None:
        report = self.report
        self.lexicon = self.lexicon or lexicon_version()
        for out in outcomes:
            shown = display_path(out.job.path)
            if out.error is not None:
                logger.error("%s: %s", shown, out.error)
                report.failed.append((shown, out.error))
                self.fate[shown] = ("failed", out.error, "")
                continue
            text_hash = out.doc.meta.extra.get("text_sha256", "")
            held = self.texts.get(text_hash) if text_hash else None
            if held is not None and held.doc_id != out.job.doc_id:
                # Other bytes, the same text: saved again, downloaded twice, or
                # damaged outside its text (flipped bytes in an image read the
                # same). Which file to keep is the researcher's call, not the
                # input order's, so both are indexed and the warning says how.
                self._warn(
                    f"{shown}: the same text, page for page, as {held.path or held.doc_id} (indexed as "
                    f"{held.doc_id!r}), though the files differ (saved again, downloaded twice, or damaged?); "
                    f"both are indexed, so their words count twice: if they are one document, drop one with "
                    f"plansok remove {out.job.doc_id}"
                )
            elif text_hash:
                self.texts[text_hash] = IndexedSource(out.job.doc_id, out.doc.meta.sha256, shown, text_hash)
            self.fate[shown] = ("indexed", out.job.doc_id, shown)
            for w in out.warnings:
                logger.warning("%s", w)
            report.warnings.extend(out.warnings)
            (report.updated if out.job.doc_id in self.indexed else report.added).append(out.job.doc_id)
            report.pages += out.pages
            report.passages += len(out.doc.passages)
            self.pending.append(out.doc)
            if len(self.pending) >= COMMIT_EVERY:
                self.store.add_documents(self.pending, ANALYSIS_VERSION, self.lexicon)
                self.pending = []
        self.store.add_documents(self.pending, ANALYSIS_VERSION, self.lexicon)
        self.pending = []

    def fallbacks(self) -> list:
        """Jobs for the next format of each document whose chosen file failed;
        the other formats of the rest are reported as skipped."""
        chosen: list[_File] = []
        for winner, others in list(self.alternatives.items()):
            kind, a, b = self.fate.get(winner, ("failed", "not read", ""))
            if kind == "failed":
                nxt, rest = others[0], others[1:]
                self._warn(f"{nxt.shown}: read in place of {winner}, another format of the same document, which failed")
                if rest:
                    self.alternatives[nxt.shown] = rest
                chosen.append(nxt)
            else:
                # Name the file the document is indexed from: the one chosen
                # here, or (when that was skipped too) the indexed one.
                source, indexed = (b, True) if kind == "skipped" else (winner, not self._rank(self.files[winner])[0])
                for f in others:
                    self.fate[f.shown] = ("skipped", a, b)
                    self.report.skip(
                        f.path,
                        f.doc_id,
                        a,
                        b,
                        "other format",
                        _other_format(f.shown, source, f.doc_id, self.prefer, indexed=indexed),
                    )
            del self.alternatives[winner]
        # The documents are the ones the first round was to rewrite, so their
        # old content counts as replaced, as it did then.
        return self._against_index(chosen, replaced={f.doc_id for f in chosen}) if chosen else []

    def finish(self) -> None:
        """Report the byte-identical copies of each file read in their place:
        skipped where its content is indexed, failed (with its reason) where it failed."""
        for keeper, files in self.copies.items():
            kind, a, b = self.fate.get(keeper, ("failed", "not read", ""))
            for f in files:
                if kind == "failed":
                    self._fail(f, f"{a} (the same bytes as {keeper})")
                elif f.doc_id == a:
                    self.report.skip(
                        f.path, f.doc_id, a, b, "same content", f"{f.shown}: the same file as {keeper}; read once"
                    )
                elif kind == "indexed":
                    self.report.skip(
                        f.path,
                        f.doc_id,
                        a,
                        b,
                        "same content",
                        f"{f.shown}: the same content as {keeper} (identical bytes); indexed once, as {a!r}, "
                        "and this copy is skipped" + _kept_note(f.doc_id, self.indexed),
                    )
                else:
                    self.report.skip(
                        f.path,
                        f.doc_id,
                        a,
                        b,
                        "same content",
                        f"{f.shown}: the same content as {keeper} (identical bytes), which is skipped too: "
                        f"document {a!r} is indexed from {b}",
                    )

    def _fail(self, f: _File, reason: str) -> None:
        logger.error("%s: %s", f.shown, reason)
        self.report.failed.append((f.shown, reason))
        self.fate[f.shown] = ("failed", reason, "")

    def _warn(self, warning: str) -> None:
        logger.warning("%s", warning)
        self.report.warnings.append(warning)


def _other_format(loser: str, winner: str, doc_id: str, prefer: str | None, indexed: bool) -> str:
    """The warning for a file skipped because its document is taken in another
    format: both files, why that one, and the option that chooses this one."""
    fmt = FORMAT_OF.get(_suffix(loser), "text")
    fmt_winner = FORMAT_OF.get(_suffix(winner), "text")
    if prefer is not None:
        why = f"--prefer {prefer}" if fmt_winner == prefer else f"{fmt_winner} comes before {fmt}"
    elif indexed:
        why = "an indexed document keeps its format unless --prefer says otherwise"
    else:
        why = f"{fmt_winner} comes before {fmt} by default"
    choose = (
        f"to index {Path(loser).name} instead, ingest it with --prefer {fmt}"
        if fmt != fmt_winner
        else "rename one of them to index both"
    )
    held = f"is indexed from {winner}" if indexed else f"is read from {Path(winner).name}"
    return (
        f"{loser}: another format of {winner} (same name, so one document, {doc_id!r}); the document {held} "
        f"({why}) and this file is skipped; {choose}"
    )


def _kept_note(doc_id: str, indexed: dict[str, IndexedSource]) -> str:
    """For a changed file that now duplicates another document: its own earlier
    version stays indexed, and the researcher is told how to drop it."""
    if doc_id not in indexed:
        return ""
    return f"; the index keeps the earlier version of {doc_id!r} (drop it with: plansok remove {doc_id})"


def _moved_note(held: IndexedSource) -> str:
    """For a copy of a document whose own file is gone (moved, renamed or
    deleted): the index keeps the content under its first id, and says how to
    file it under the copy's name instead."""
    if not held.path or Path(held.path).exists():
        return ""
    return (
        f"; {held.path} is not found (moved or deleted?), but its content stays indexed as {held.doc_id!r}: "
        f"to file it under this name instead, plansok remove {held.doc_id} and ingest again"
    )


def _tag_config(store: IndexStore):  # -> TagConfig
    """What worker processes need to tag with the model the index's tags were
    made with (as ``Tagger.for_index`` finds it), not whatever ``tagger/`` holds."""
    from plansok.index.model_folder import NO_MODEL, recorded
    from plansok.ingest.workers import TagConfig
    from plansok.tag.tagger import model_folder

    record = recorded(store)[0]
    folder = model_folder(store, record)
    return TagConfig(store.get_meta("codebook"), str(folder) if folder else None, shipped=record != NO_MODEL)


def _tagger(store: IndexStore, analyser: DocumentAnalyser):  # -> Tagger
    """The index's tagger (its codebook and trained model), kept on the analyser."""
    from plansok.tag.tagger import Tagger

    key = (store.get_meta("codebook"), store.model_stamp())
    if getattr(analyser, "_tagger_key", None) != key:
        analyser._tagger = Tagger.for_index(store, analyser.analyzer)
        analyser._tagger_key = key
    return analyser._tagger


def _progress(items: Iterable, enabled: bool, total: int) -> Iterable:
    if not enabled or total < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="ingest", unit="file", leave=False, dynamic_ncols=True)
