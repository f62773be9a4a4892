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
from plansok.errors import IngestError
from plansok.index.store import AnalysedDoc, IndexStore
from plansok.ingest.formats import read_docx, read_html, read_text
from plansok.ingest.metadata import apply_manifest, display_path, infer_metadata
from plansok.ingest.passages import split_passages
from plansok.ingest.workers import DEFAULT_TIMEOUT
from plansok.models import Document, Page

logger = logging.getLogger(__name__)

SUFFIXES = {".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx"}
# Documents are committed in groups: a crash loses at most one group's work,
# and each group becomes one postings segment.
COMMIT_EVERY = 16


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
    passages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
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


def fingerprint(path: Path, manifest_row: dict[str, str] | None = None) -> str:
    """The content hash that decides whether a file changed; manifest values
    count too, so correcting a municipality in the manifest re-ingests, and so
    does the analysis version, so a newer plansok re-analyses old documents."""
    digest = f"{sha256_of(path)}@{ANALYSIS_VERSION}"
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
    return Document(meta=meta, pages=pages, warnings=warnings)


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
        from plansok.analysis.pipeline import doc_terms
        from plansok.query.terms import encode_terms, form_key
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
            for passage_tags in tagger.tag(words, [p.text for p in passages], terms):
                tags.append([(t.tag, t.confidence, t.source, t.evidence) for t in passage_tags])
        return AnalysedDoc(doc.meta, doc.pages, passages, terms, lengths, forms, tags)


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
) -> IngestReport:
    """Ingest files into ``store``. Unchanged files (same content hash) are
    skipped; a changed file replaces its document; failures are reported, not
    raised. ``workers`` > 1 reads and analyses in that many processes, a
    ``dask_client`` on a Dask cluster; the index is written here either way."""
    from plansok.ingest.workers import Job, TagConfig, run_dask, run_local, run_serial

    t0 = time.perf_counter()
    report = IngestReport()
    files, bad = expand_paths(paths)
    report.failed.extend(bad)
    manifest = manifest or {}
    with store.write_lock():
        store.collect_garbage()  # segment files a killed writer left behind
        known = store.document_hashes()
        jobs = _jobs(files, known, manifest, report, ocr, Job)
        tag_config = TagConfig(store.get_meta("codebook"), str(store.path / "tagger")) if tag else None
        if dask_client is not None:
            outcomes = run_dask(jobs, tag_config, dask_client)
        elif workers > 1:
            outcomes = run_local(jobs, tag_config, workers, timeout)
        else:
            analyser = analyser or DocumentAnalyser()
            tagger = _tagger(store, analyser) if tag else None
            outcomes = run_serial(jobs, analyser, tagger, timeout)
        pending: list[AnalysedDoc] = []
        lexicon = lexicon_version()
        for out in _progress(outcomes, progress, len(jobs)):
            if out.error is not None:
                shown = display_path(out.job.path)
                logger.error("%s: %s", shown, out.error)
                report.failed.append((shown, out.error))
                continue
            for w in out.warnings:
                logger.warning("%s", w)
            report.warnings.extend(out.warnings)
            (report.updated if out.job.doc_id in known else report.added).append(out.job.doc_id)
            report.pages += out.pages
            report.passages += len(out.doc.passages)
            pending.append(out.doc)
            if len(pending) >= COMMIT_EVERY:
                store.add_documents(pending, ANALYSIS_VERSION, lexicon)
                pending = []
        store.add_documents(pending, ANALYSIS_VERSION, lexicon)
    report.seconds = time.perf_counter() - t0
    return report


def _jobs(files, known, manifest, report: IngestReport, ocr: bool, job_cls) -> list:
    """The files that need reading: unique ids, changed or new."""
    jobs = []
    seen: dict[str, Path] = {}
    for path in files:
        doc_id = doc_id_for(path)
        if doc_id in seen:
            report.failed.append(
                (
                    display_path(path),
                    f"document id {doc_id!r} is already used by {display_path(seen[doc_id])} in this batch",
                )
            )
            continue
        seen[doc_id] = path
        try:
            if known.get(doc_id) == fingerprint(path, manifest.get(doc_id)):
                report.unchanged.append(doc_id)
                continue
        except OSError as exc:
            report.failed.append((display_path(path), f"cannot read ({exc.strerror or exc})"))
            continue
        jobs.append(job_cls(str(path), doc_id, manifest.get(doc_id), ocr))
    return jobs


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
