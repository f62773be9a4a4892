"""A warm ingest process for the fault tests (tests/test_faults.py).

Loading spaCy, the dictionaries and the tagger takes about two seconds; a
crash test that kills fifteen ingests would spend most of its time starting
Python. This server loads everything once, then forks one child per ingest
command. The child opens the index itself (no SQLite handle crosses the fork)
and is an ordinary `Index.ingest` run; the server, its parent, sends it
SIGKILL when the command asks for it, so no PID can be reused between the
kill and the wait.

Protocol: one JSON command per line on stdin, one JSON answer per line on
stdout. The first line on stdout is {"ready": true, ...}.

    {"index": DIR, "batches": [[PATH, ...], ...], "max_segments": N | null,
     "marker": FILE | null, "kill": {"after": S} | {"marker": N, "prefix": P, "then": S} | null,
     "deadline": S}

Each batch is one `Index.ingest` call (per-file ingests commit after every
file, a batch once). ``max_segments`` lowers the merge threshold so merges, a
second kind of write, happen often enough to be killed. ``marker`` names a file
the child appends a line to when a write phase begins and ends (``B add``,
``S add`` once the segment file is renamed into place, ``E add``, ``B merge``,
``E merge``): appends survive SIGKILL, so the test can tell whether a kill
landed mid-write. ``kill.after`` kills S seconds after the fork; ``kill.marker``
kills S seconds after the N-th marker line starting with ``kill.prefix`` ("B " a
write began, "S " its segment file is in place but not yet committed). ``deadline`` kills a child that
takes longer and reports it as hung.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

# Threads in the parent would be copied into a forked child half-owned; keep
# the numeric libraries single-threaded.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from plansok.api import Index  # noqa: E402
from plansok.index import store as store_mod  # noqa: E402

WARMUP_DOC = Path(__file__).resolve().parents[2] / "corpus" / "3330_hol_handlingsplan_folkehelse_2021-2033.md"


def _warm_analyser() -> Any:
    """An analyser with spaCy, the dictionaries and the default tagger loaded."""
    with tempfile.TemporaryDirectory(prefix="plansok-warm-") as tmp:
        ix = Index.open(Path(tmp) / "index", create=True)
        ix.ingest([WARMUP_DOC])
        analyser = ix._analyser  # reused by every child: the reason this server exists
        ix.close()
    return analyser


def _install_markers(marker: str) -> None:
    """Wrap the store's write phases so each appends a line to ``marker``."""
    fd = os.open(marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    cls = store_mod.IndexStore
    add, merge, write_seg = cls.add_documents, cls.merge_segments, cls._write_segment_file

    def add_documents(self: Any, docs: Any, *args: Any) -> None:
        if not docs:
            return add(self, docs, *args)
        note("B add")
        add(self, docs, *args)
        note("E add")

    def merge_segments(self: Any) -> None:
        note("B merge")
        merge(self)
        note("E merge")

    def write_segment_file(self: Any, seg: Any) -> None:
        write_seg(self, seg)
        note("S " + ("merge" if seg.name.endswith("-m") else "add"))

    cls.add_documents = add_documents  # type: ignore[method-assign]
    cls.merge_segments = merge_segments  # type: ignore[method-assign]
    cls._write_segment_file = write_segment_file  # type: ignore[method-assign]


def _child(cmd: dict[str, Any], analyser: Any, result_path: str) -> None:
    code = 0
    try:
        if cmd.get("max_segments"):
            store_mod.MAX_SEGMENTS = int(cmd["max_segments"])
        if cmd.get("marker"):
            _install_markers(cmd["marker"])
        ix = Index.open(cmd["index"], create=True)
        ix._analyser = analyser
        reports = [ix.ingest(batch).to_dict() for batch in cmd["batches"]]
        ix.close()
        out: dict[str, Any] = {"reports": reports}
    except BaseException:  # the test wants to see any traceback, not a silent death
        out = {"error": traceback.format_exc()}
        code = 1
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, ensure_ascii=True)
    sys.stdout.flush()
    os._exit(code)


def _count(marker: str | None, prefix: str) -> int:
    if not marker or not os.path.exists(marker):
        return 0
    with open(marker, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.startswith(prefix))


def _run(cmd: dict[str, Any], analyser: Any) -> dict[str, Any]:
    fd, result_path = tempfile.mkstemp(prefix="plansok-child-", suffix=".json")
    os.close(fd)
    os.unlink(result_path)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(cmd, analyser, result_path)
    kill = cmd.get("kill") or {}
    deadline = t0 + float(cmd.get("deadline", 120))
    kill_at: float | None = t0 + float(kill["after"]) if "after" in kill else None
    killed = hung = False
    status = None
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        now = time.monotonic()
        if kill_at is None and "marker" in kill and _count(cmd.get("marker"), kill["prefix"]) >= int(kill["marker"]):
            kill_at = now + float(kill["then"])
        killed = kill_at is not None and now >= kill_at
        hung = not killed and now >= deadline
        if killed or hung:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.0005)
    elapsed = time.monotonic() - t0
    answer: dict[str, Any] = {
        "pid": pid,
        "killed": killed and os.WIFSIGNALED(status),
        "hung": hung,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "elapsed": round(elapsed, 4),
    }
    return with_child_output(answer, cmd.get("marker"), result_path)


def with_child_output(answer: dict[str, Any], marker: str | None, result_path: str) -> dict[str, Any]:
    """The answer with the markers the child passed (``markers``) and what it
    wrote before it ended, if it got that far (the result file, then removed)."""
    answer["markers"] = []
    if marker and os.path.exists(marker):
        with open(marker, encoding="utf-8") as fh:
            answer["markers"] = fh.read().splitlines()
    if os.path.exists(result_path):
        with open(result_path, encoding="utf-8") as fh:
            answer.update(json.load(fh))
        os.unlink(result_path)
    return answer


def main() -> int:
    t0 = time.monotonic()
    analyser = _warm_analyser()
    print(json.dumps({"ready": True, "warmup_s": round(time.monotonic() - t0, 3)}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd.get("marker") and os.path.exists(cmd["marker"]):
            os.unlink(cmd["marker"])
        print(json.dumps(_run(cmd, analyser), ensure_ascii=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
