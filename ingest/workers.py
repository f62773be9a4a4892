"""Reading and analysing documents in parallel: local worker processes, or a
Dask cluster. Workers do everything but writing (extraction, cleaning,
passages, Norwegian analysis, tagging) and hand back plain data; the index is
written by the one process that holds its lock, in input order, so a parallel
run gives the same index as a serial one.

Every document gets a deadline. A worker that overruns it (a PDF that makes
a parser loop) is killed and replaced, and the document is reported as failed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from plansok.errors import IngestError
from plansok.models import AnalysedDoc

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0  # seconds per document; a 500-page plan takes well under a minute


@dataclass(frozen=True)
class Job:
    path: str
    doc_id: str
    manifest_row: dict | None = None
    ocr: bool = False


@dataclass(frozen=True)
class TagConfig:
    """What a worker needs to tag like the index does (plain data, picklable)."""

    codebook: str | None  # the index's codebook TOML, None for the shipped one
    model_dir: str | None  # the folder of the model the index's tags were made with, None: none of its own
    shipped: bool = True  # without a model of its own, whether the shipped one tags (False: the rules alone)


@dataclass
class Outcome:
    job: Job
    doc: AnalysedDoc | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # the reason, when the document failed
    pages: int = 0


# One analyser per worker process, made on its first document: loading spaCy
# and the dictionaries costs seconds, a document milliseconds.
_STATE: dict[str, object] = {}


def _worker_analyser(tag: TagConfig | None):  # -> (DocumentAnalyser, Tagger | None)
    from plansok.ingest.pipeline import DocumentAnalyser

    analyser = _STATE.get("analyser")
    if analyser is None:
        analyser = _STATE["analyser"] = DocumentAnalyser()
    tagger = None
    if tag is not None:
        if _STATE.get("tag_config") != tag:
            from plansok.tag.tagger import Tagger

            model_dir = Path(tag.model_dir) if tag.model_dir else None
            _STATE["tagger"] = Tagger.from_config(tag.codebook, model_dir, analyser.analyzer, shipped=tag.shipped)  # type: ignore[attr-defined]
            _STATE["tag_config"] = tag
        tagger = _STATE["tagger"]
    return analyser, tagger


def process(job: Job, tag: TagConfig | None, analyser=None, tagger=None) -> Outcome:
    """Read, analyse and tag one document. Never raises: a failure is an Outcome."""
    from plansok.ingest.pipeline import read_document

    if analyser is None:
        analyser, tagger = _worker_analyser(tag)
    path = Path(job.path)
    try:
        doc = read_document(path, job.doc_id, job.manifest_row, ocr=job.ocr)
        analysed = analyser.analyse(doc, tagger)
        if not analysed.passages:
            raise IngestError(path, "no passages: the document has no body text")
        return Outcome(job, analysed, doc.warnings, None, len(doc.pages))
    except IngestError as exc:
        return Outcome(job, error=exc.reason)
    except OSError as exc:
        return Outcome(job, error=f"cannot read ({exc.strerror or exc})")
    except Exception as exc:  # a reader's bug must not end the batch
        logger.debug("unexpected error on %s", path, exc_info=True)
        return Outcome(job, error=f"unexpected error ({exc.__class__.__name__}: {exc})")


# ---------------------------------------------------------------- in this process


class _Timeout(BaseException):
    """A BaseException, so the catch-all in :func:`process` lets it through."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """SIGALRM-based deadline; only where signals work (the main thread)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(_sig: int, _frame: object) -> None:
        raise _Timeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_serial(jobs: Sequence[Job], analyser, tagger, timeout: float) -> Iterator[Outcome]:
    for job in jobs:
        try:
            with _deadline(timeout):
                outcome = process(job, None, analyser, tagger)
        except _Timeout:
            outcome = Outcome(job, error=f"took longer than {timeout:g} s; skipped (--timeout)")
        yield outcome


# ---------------------------------------------------------------- local processes


def _worker_main(conn: Connection, tag: TagConfig | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # Load spaCy, the dictionaries and the tagger before saying ready, so a
    # document's deadline counts its own work, not the worker's start-up.
    analyser, _tagger = _worker_analyser(tag)
    analyser.nlp("nb")
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(process(job, tag))


@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    job: int | None = None  # index of the job it is on
    started: float = 0.0
    ready: bool = False


def run_local(jobs: Sequence[Job], tag: TagConfig | None, workers: int, timeout: float) -> Iterator[Outcome]:
    """Run ``jobs`` on ``workers`` processes; outcomes come back in job order."""
    ctx = mp.get_context("spawn")  # fork would copy a parent's open SQLite handles and threads

    def start() -> _Worker:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child, tag), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    pool = [start() for _ in range(min(workers, len(jobs)) or 1)]
    results: dict[int, Outcome] = {}
    next_job, next_out = 0, 0
    try:
        while next_out < len(jobs):
            for w in pool:
                if w.ready and w.job is None and next_job < len(jobs):
                    w.conn.send(jobs[next_job])
                    w.job, w.started = next_job, time.monotonic()
                    next_job += 1
            waiting = [w.conn for w in pool if w.job is not None or not w.ready]
            ready = wait(waiting, timeout=1.0)
            now = time.monotonic()
            for i, w in enumerate(pool):
                if not w.ready:
                    if w.conn in ready:
                        try:
                            w.ready = w.conn.recv() == "ready"
                        except (EOFError, OSError):
                            raise IngestError("worker", "a worker process could not start") from None
                    elif not w.proc.is_alive():
                        raise IngestError("worker", f"a worker process exited while starting ({w.proc.exitcode})")
                    continue
                if w.job is None:
                    continue
                if w.conn in ready:
                    try:
                        results[w.job] = w.conn.recv()
                    except (EOFError, OSError):
                        results[w.job] = Outcome(jobs[w.job], error="the worker process died reading this file")
                        pool[i] = _replace(w, start)
                        continue
                    w.job = None
                elif now - w.started > timeout or not w.proc.is_alive():
                    why = f"took longer than {timeout:g} s; skipped (--timeout)" if w.proc.is_alive() else (
                        "the worker process died reading this file")  # fmt: skip
                    results[w.job] = Outcome(jobs[w.job], error=why)
                    pool[i] = _replace(w, start)
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
    finally:
        for w in pool:
            with contextlib.suppress(OSError, BrokenPipeError):
                w.conn.send(None)
        for w in pool:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()


def _replace(w: _Worker, start) -> _Worker:
    w.proc.kill()
    w.proc.join(timeout=5)
    w.conn.close()
    return start()


# ---------------------------------------------------------------- Dask


def run_dask(jobs: Sequence[Job], tag: TagConfig | None, client) -> Iterator[Outcome]:  # client: distributed.Client
    """Run ``jobs`` on a Dask cluster; outcomes come back in job order. Each
    worker keeps its analyser between documents, as local workers do."""
    futures = [
        client.submit(process, job, tag, pure=False, key=f"plansok-{i}-{job.doc_id}") for i, job in enumerate(jobs)
    ]
    for job, fut in zip(jobs, futures):
        try:
            yield fut.result()
        except Exception as exc:  # a worker lost with the task
            yield Outcome(job, error=f"failed on the cluster ({exc.__class__.__name__}: {exc})")
