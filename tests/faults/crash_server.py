"""A warm writer process for the merge and retag kill tests (tests/test_crash_merge_retag.py).

Like ``ingest_server.py`` (whose warm analyser and fork-per-command design it
reuses), but a command is any of the writes a user starts, and the kill can be
placed at a named point inside a merge or a retag:

    {"op": "ingest", "index": DIR, "batches": [[PATH, ...], ...]}   one `Index.ingest` call per batch
    {"op": "tag", "index": DIR, "argv": [ARG, ...]}          `plansok tag ARG... --index DIR`
    {"op": "retag", "index": DIR, "codebook": PATH}          what `plansok tag --codebook PATH` does,
                                                             with the tagger built once in the server
                                                             (compiling the codebook's rules analyses
                                                             every term: most of the command's time)
    {"op": "warm", "paths": [PATH, ...]}                     the server itself analyses the files
                                                             (into a throwaway index), so every later
                                                             child finds their words analysed

with optional ``"marker": FILE``, ``"deadline": S`` and ``"kill"``:

    {"at": POINT}                   the child kills itself (SIGKILL) on reaching POINT
    {"marker": LINE, "then": S}     the server kills it S seconds after LINE is in the marker file
    {"after": S}                    the server kills it S seconds after the fork

The child appends to the marker file (appends survive SIGKILL): ``B merge`` /
``E merge`` around `IndexStore.merge_segments`, ``B retag`` / ``E retag`` around
`IndexStore.replace_tags` (the retag's one write), each followed by ``D merge S``
or ``D retag S`` (its duration in seconds), and ``P <point>`` for each point it
passes. The points, in the order a merge or a retag reaches them:

    merge:start            the commit that triggered the merge is done; nothing merged yet
    merge:member:N         before the N-th member of the merged segment file is written
                           (the members before it flushed to the temporary file)
    merge:written          the merged file is complete and fsynced, not yet renamed into place
    merge:renamed          renamed into place, not yet referenced by any commit
    merge:in-transaction   inside the merge's SQLite transaction, before COMMIT
    merge:committed        committed; the merged inputs' files not yet deleted
    merge:unlinked         the first input file deleted, the others not
    retag:start            every passage read and tagged; nothing written
    retag:begun            the write transaction is open
    retag:deleted          the old tags deleted (uncommitted)
    retag:inserted         the new tags inserted (uncommitted)
    retag:before-commit    the codebook recorded; COMMIT is next
    retag:committed        committed; the process has not returned yet

A training or an undo (``tag --train`` / ``tag --undo``, tests/test_crash_train.py)
rewrites every tag with the retag's transaction (the points above) and moves
the model folders (``tag/model_folder.py``) around it:

    train:model-written    the new model complete and fsynced in tagger.next/, nothing committed
    rename:A->B            the folder A renamed to B (``model_folder.rename``)
    remove:A               the folder A deleted (``model_folder.remove``)

``"fit": "quick"`` makes a training fit one plain regression per tag on the
researcher's labelled passages alone (``TagModel.train``, a fraction of a
second) instead of the calibrated fit on the 2,121 shipped passages too (about
40 s): everything a training writes, and every point above, is the command's own.

The hooks wrap the store's methods in the child only (as ``ingest_server``'s
markers do): production code has no test branches.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# First: it keeps the numeric libraries single-threaded (a forked child must not
# inherit half-owned threads) before they load.
import ingest_server

from plansok.analysis.analyzer import Analyzer
from plansok.api import Index
from plansok.cli import main as cli_main
from plansok.index import model_folder
from plansok.index import segment_format as segment_mod
from plansok.index import store as store_mod
from plansok.tag import build as build_mod
from plansok.tag.codebook import Codebook
from plansok.tag.tagger import Tagger
from plansok.tag.train import retag


class _KillingConnection:
    """A SQLite connection that passes the retag's statements through and
    reaches a point after each step of its transaction."""

    def __init__(self, db: Any, hit: Callable[[str], None]) -> None:
        self._db = db
        self._hit = hit

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            self._hit("retag:before-commit")
        cur = self._db.execute(sql, *args)
        if sql.startswith("BEGIN"):
            self._hit("retag:begun")
        elif sql.startswith("DELETE FROM tags"):
            self._hit("retag:deleted")
        elif sql == "COMMIT":
            self._hit("retag:committed")
        return cur

    def executemany(self, sql: str, rows: Any) -> Any:
        cur = self._db.executemany(sql, rows)
        if sql.startswith("INSERT INTO tags"):
            self._hit("retag:inserted")
        return cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _install_hooks(marker: str | None, kill_at: str | None) -> None:
    """Wrap the store's merge and retag steps with markers and the kill point."""
    fd = os.open(marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if marker else None
    state = {"merge": False, "members": 0, "removing": False, "unlinked": 0}

    def note(line: str) -> None:
        if fd is not None:
            os.write(fd, (line + "\n").encode())

    def hit(point: str) -> None:
        note("P " + point)
        if point == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    cls = store_mod.IndexStore
    merge, write_seg = cls.merge_segments, cls._write_segment_file
    drop_dead, remove_orphans, replace_tags = cls._drop_dead_segments, cls._remove_orphan_files, cls.replace_tags
    add_stream, add_bytes = segment_mod._NpzWriter.add_stream, segment_mod._NpzWriter.add_bytes
    os_replace, path_unlink = os.replace, pathlib.Path.unlink

    def merge_segments(self: Any, everything: bool = False) -> None:
        note("B merge")
        t0 = time.monotonic()
        state["merge"] = True
        hit("merge:start")
        merge(self, everything)
        state["merge"] = False
        note("E merge")
        note(f"D merge {time.monotonic() - t0:.6f}")

    def member(self: Any) -> None:
        if state["merge"]:
            state["members"] += 1
            self.fh.flush()  # what a kill leaves on disk: the members so far
            hit(f"merge:member:{state['members']}")

    def npz_add_stream(self: Any, *args: Any, **kwargs: Any) -> None:
        member(self)
        add_stream(self, *args, **kwargs)

    def npz_add_bytes(self: Any, *args: Any, **kwargs: Any) -> None:
        member(self)
        add_bytes(self, *args, **kwargs)

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if state["merge"] and str(dst).endswith("-m.npz"):
            hit("merge:written")
        os_replace(src, dst, *args, **kwargs)

    def write_segment_file(self: Any, seg: Any) -> None:
        write_seg(self, seg)
        if state["merge"]:
            hit("merge:renamed")

    def drop_dead_segments(self: Any) -> None:
        drop_dead(self)
        if state["merge"]:
            hit("merge:in-transaction")

    def remove_orphan_files(self: Any) -> None:
        if state["merge"]:
            hit("merge:committed")
            state["removing"] = True
        try:
            remove_orphans(self)
        finally:
            state["removing"] = False

    def unlink(self: pathlib.Path, *args: Any, **kwargs: Any) -> None:
        path_unlink(self, *args, **kwargs)
        if state["removing"]:
            state["unlinked"] += 1
            if state["unlinked"] == 1:
                hit("merge:unlinked")

    def retag_replace_tags(self: Any, rows: Any, codebook_text: str, *args: Any) -> None:
        note("B retag")
        t0 = time.monotonic()
        hit("retag:start")
        real = self.db
        self.db = _KillingConnection(real, hit)
        try:
            replace_tags(self, rows, codebook_text, *args)
        finally:
            self.db = real
        note("E retag")
        note(f"D retag {time.monotonic() - t0:.6f}")

    cls.merge_segments = merge_segments  # type: ignore[method-assign]
    cls._write_segment_file = write_segment_file  # type: ignore[method-assign]
    cls._drop_dead_segments = drop_dead_segments  # type: ignore[method-assign]
    cls._remove_orphan_files = remove_orphan_files  # type: ignore[method-assign]
    cls.replace_tags = retag_replace_tags  # type: ignore[method-assign]
    segment_mod._NpzWriter.add_stream = npz_add_stream  # type: ignore[method-assign]
    segment_mod._NpzWriter.add_bytes = npz_add_bytes  # type: ignore[method-assign]
    os.replace = replace  # type: ignore[assignment]
    pathlib.Path.unlink = unlink  # type: ignore[method-assign]
    _install_folder_hooks(hit)


def _install_folder_hooks(hit: Callable[[str], None]) -> None:
    """The points of a training's and an undo's model folders."""
    write_next, rename, remove = model_folder.write_next, model_folder.rename, model_folder.remove

    def folder_write_next(*args: Any) -> str:
        record = write_next(*args)
        hit("train:model-written")
        return record

    def folder_rename(source: Path, target: Path) -> None:
        rename(source, target)
        hit(f"rename:{source.name}->{target.name}")

    def folder_remove(folder: Path) -> None:
        remove(folder)
        hit(f"remove:{folder.name}")

    model_folder.write_next = folder_write_next  # type: ignore[assignment]
    model_folder.rename = folder_rename  # type: ignore[assignment]
    model_folder.remove = folder_remove  # type: ignore[assignment]


def _quick_fit(examples: Any, codebook: Any, analyzer: Any = None) -> Any:
    """``train_model`` for ``"fit": "quick"`` (the module docstring): the
    researcher's passages, analysed as training analyses them, one plain
    regression per tag that has enough of them."""
    import numpy as np

    from plansok.tag.features import forms_of, section_terms, words_and_terms
    from plansok.tag.model import TagModel

    own = [e for e in examples if e.source == "researcher"]
    docs = []
    for e in own:
        _, terms = words_and_terms(e.text, e.standard, forms_of(analyzer.analyze(e.text, e.standard), e.standard))
        docs.append([*terms, *section_terms(e.section)])
    labels = {
        t: np.asarray([1 if t in e.tags else 0 if e.complete or t in e.negatives else -1 for e in own], np.int8)
        for t in codebook.ids
    }
    model = TagModel.train(docs, labels)
    model.info |= {"codebook": codebook.digest, "labelled": len(own)}
    return model


def _child(cmd: dict[str, Any], analyser: Any, taggers: dict[str, Any], result_path: str) -> None:
    code = 0
    # stdout is the protocol's channel: the CLI's own output goes nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        _install_hooks(cmd.get("marker"), (cmd.get("kill") or {}).get("at"))
        if cmd.get("fit") == "quick":
            build_mod.train_model = _quick_fit  # type: ignore[assignment]
        out: dict[str, Any] = {}
        if cmd["op"] == "ingest":
            ix = Index.open(cmd["index"], create=True)
            ix._analyser = analyser
            out["reports"] = [ix.ingest(b, tag=cmd.get("tag", True)).to_dict() for b in cmd["batches"]]
            ix.close()
        elif cmd["op"] == "retag":
            ix = Index.open(cmd["index"])
            out["passages"] = retag(ix.store, taggers[cmd["codebook"]])
            ix.close()
        elif cmd["op"] == "tag":
            out["exit"] = cli_main(["tag", *cmd["argv"], "--index", cmd["index"]])
        else:
            raise ValueError(f"unknown op {cmd['op']!r}")
    except BaseException:  # the test wants to see any traceback, not a silent death
        out = {"error": traceback.format_exc()}
        code = 1
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=True)
    os._exit(code)


def _run(cmd: dict[str, Any], analyser: Any, taggers: dict[str, Any]) -> dict[str, Any]:
    fd, result_path = tempfile.mkstemp(prefix="plansok-crash-", suffix=".json")
    os.close(fd)
    os.unlink(result_path)
    marker = cmd.get("marker")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(cmd, analyser, taggers, result_path)
    kill = cmd.get("kill") or {}
    deadline = t0 + float(cmd.get("deadline", 120))
    kill_at: float | None = t0 + float(kill["after"]) if "after" in kill else None
    seen_at: float | None = None
    killed = hung = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if kill_at is None and "marker" in kill and marker and os.path.exists(marker):
            with open(marker, encoding="utf-8") as fh:
                if kill["marker"] in fh.read().splitlines():
                    seen_at = now
                    kill_at = now + float(kill["then"])
        killed = kill_at is not None and now >= kill_at
        hung = not killed and now >= deadline
        if killed or hung:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.0005)
    signalled = os.WIFSIGNALED(status)
    answer: dict[str, Any] = {
        "killed": signalled and os.WTERMSIG(status) == signal.SIGKILL and not hung,
        "hung": hung,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "elapsed": round(time.monotonic() - t0, 4),
        "marker_seen": None if seen_at is None else round(seen_at - t0, 4),
    }
    return ingest_server.with_child_output(answer, marker, result_path)


def main() -> int:
    t0 = time.monotonic()
    analyser = ingest_server._warm_analyser()
    taggers: dict[str, Any] = {}
    print(json.dumps({"ready": True, "warmup_s": round(time.monotonic() - t0, 3)}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["op"] == "warm":
            t1 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="plansok-warm-") as tmp:
                ix = Index.open(Path(tmp) / "index", create=True)
                ix._analyser = analyser
                report = ix.ingest(cmd["paths"]).to_dict()
                ix.close()
            print(json.dumps({"warm": report, "elapsed": round(time.monotonic() - t1, 4)}), flush=True)
            continue
        if cmd["op"] == "retag" and cmd["codebook"] not in taggers:
            # As Index.set_codebook builds it: the codebook's rules, no model.
            taggers[cmd["codebook"]] = Tagger.build(Codebook.load(cmd["codebook"]), Analyzer())
        if cmd.get("marker") and os.path.exists(cmd["marker"]):
            os.unlink(cmd["marker"])
        print(json.dumps(_run(cmd, analyser, taggers), ensure_ascii=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
