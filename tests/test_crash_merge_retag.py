"""SIGKILL during a segment merge and during a retag (issue 10).

``tests/test_faults.py`` kills ingests; these tests kill the two other writes
that rewrite what is already indexed:

- a **merge**: the eighth commit of one size tier makes the writer merge the
  eight segments into one (``plan_merge``, default settings). A kill anywhere
  in it must leave the index as it was after the commit: every document with
  all its passages exactly once, the same search results (passage ids, scores,
  citations). Re-running the killed ingest (which has nothing left to write)
  finishes the merge and removes the files the kill left; so does the next write.
- a **retag** (``plansok tag --codebook FILE`` after the researcher edits the
  codebook): ``tag.train.retag`` reads and tags every passage under the writer
  lock, then ``IndexStore.replace_tags`` swaps every tag and the recorded
  codebook in one SQLite transaction. So the protocol promises, for the whole
  index at once: the old tags with the old codebook, or the new tags with the
  new codebook; never a passage without its tags, never a mix. A re-run
  finishes the retag.

Kills are placed at named points inside the writes (the child kills itself
there; see ``tests/faults/crash_server.py``), and at random moments. Random
choices come from ``PLANSOK_FAULT_SEED``; ``PLANSOK_SLOW=1`` runs many more kills.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faults.client import CrashServer

from plansok.api import Index
from plansok.index.store import MAX_SEGMENTS, MERGE_FACTOR, plan_merge

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "tag" / "data" / "codebook.toml"
SLOW = os.environ.get("PLANSOK_SLOW") == "1"
SEED = int(os.environ.get("PLANSOK_FAULT_SEED", "20261205"))
# A real plan cut into pieces of its source pages: MERGE_FACTOR one-page
# documents of one size tier (so the eighth commit triggers a tier merge at
# default settings), then three pages as the document written after the crash.
PLAN = REPO / "corpus" / "3330_hol_handlingsplan_folkehelse_2021-2033.md"
QUERIES = ["kommune", "barn og unge", "folkehelse", "fysisk aktivitet", '"psykisk helse"', "bolig OR frivillig"]

MERGE_POINTS = [
    "merge:start",
    "merge:member:1",
    "merge:member:5",
    "merge:member:10",
    "merge:member:15",
    "merge:member:20",
    "merge:written",
    "merge:renamed",
    "merge:in-transaction",
    "merge:committed",
    "merge:unlinked",
]
RETAG_POINTS = [
    "retag:start",
    "retag:begun",
    "retag:deleted",
    "retag:inserted",
    "retag:before-commit",
    "retag:committed",
]

slow_only = pytest.mark.skipif(not SLOW, reason="long variant: set PLANSOK_SLOW=1")

# ---------------------------------------------------------------- the writer server


class MergeServer(CrashServer):
    """The crash server, with ingests of several batches in one process."""

    def __init__(self, log: Path) -> None:
        super().__init__(log, deadline=120, wait=180)

    def ingest(self, index: Path, batches: list[list[Path]], **cmd: Any) -> dict[str, Any]:
        """One `Index.ingest` per batch, in one process."""
        res = self.run("ingest", index, batches=[[str(p) for p in b] for b in batches], **cmd)
        assert not res["hung"] and not res.get("error"), res
        return res


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MergeServer]:
    srv = MergeServer(tmp_path_factory.mktemp("crash-server") / "server.log")
    yield srv
    srv.close()


# ---------------------------------------------------------------- what the index holds


def plan_pieces(plan: Path, folder: Path, pieces: list[tuple[int, int]]) -> list[Path]:
    """Documents made of the plan's header and its source pages ``first..last`` (one per pair)."""
    text = plan.read_text(encoding="utf-8")
    start = text.index("<!-- side")
    header = text[:start]
    pages = {int(m.group(1)): m.group(0) for m in re.finditer(r"<!-- side (\d+) -->.*?(?=<!-- side |\Z)", text, re.S)}
    out = []
    for first, last in pieces:
        path = folder / f"{plan.stem}_s{first:02d}-{last:02d}.md"
        path.write_text(header + "".join(pages[n] for n in range(first, last + 1)), encoding="utf-8")
        out.append(path)
    return out


def results(ix: Index) -> dict[str, list[tuple[str, float, str]]]:
    """What a researcher sees: per query, the hits' passage ids, scores and citations."""
    return {q: [(h.passage.passage_id, h.score, h.citation) for h in ix.search(q, k=20)] for q in QUERIES}


def passages(ix: Index) -> dict[str, list[tuple[int, int, str]]]:
    """Per document, its passages (ordinal, page, text) as stored."""
    return {
        d.doc_id: [(p.ordinal, p.page_start, p.text) for _, p in ix.store.passages_of(d.doc_id)] for d in ix.documents()
    }


def tag_rows(ix: Index) -> list[tuple[Any, ...]]:
    return sorted(ix.store.db.execute("SELECT pid, tag, confidence, source, evidence FROM tags").fetchall())


def segment_state(ix: Index) -> tuple[list[int], set[str], set[str]]:
    """(rows per live segment in commit order, referenced files missing, files nothing references)."""
    rows = ix.store.db.execute("SELECT name, n_rows FROM segments ORDER BY created, name").fetchall()
    referenced = {f"{n}.npz" for n, _ in rows}
    on_disk = {f.name for f in (ix.path / "segments").iterdir()}
    return [n for _, n in rows], referenced - on_disk, on_disk - referenced


def check_whole(ix: Index, ref: dict[str, Any], where: str) -> None:
    """``ix`` holds ``ref``'s documents, each with all its passages exactly once
    in the table and in the postings, and search gives ``ref``'s results. (One
    open Index serves a chain of checks: it reloads on every commit, and its
    query analysis, a fraction of a second to start, stays warm.)"""
    got = passages(ix)
    assert set(got) == set(ref["passages"]), f"{where}: documents {sorted(set(got) ^ set(ref['passages']))}"
    for doc, rows in got.items():
        assert rows == ref["passages"][doc], f"{where}: {doc}: {len(rows)} passages vs {len(ref['passages'][doc])}"
    db_pids = sorted(r[0] for r in ix.store.db.execute("SELECT pid FROM passages"))
    loaded = sorted(np.asarray(ix.searcher().ix.pids).tolist())
    assert loaded == db_pids, f"{where}: postings rows {len(loaded)} vs passages {len(db_pids)} (or duplicated)"
    assert set(ix.store.document_segments().values()) <= set(ix.store.segment_names()), (
        f"{where}: documents in segments no commit lists"
    )
    assert results(ix) == ref["results"], f"{where}: search results differ from before the kill"
    _, missing, _ = segment_state(ix)
    assert not missing, f"{where}: segment files referenced but missing: {missing}"


def reference(path: Path) -> dict[str, Any]:
    with Index.open(path) as ix:
        return {"passages": passages(ix), "results": results(ix), "tags": tag_rows(ix)}


def segments_of(path: Path) -> list[int]:
    with Index.open(path) as ix:
        return segment_state(ix)[0]


# ---------------------------------------------------------------- 1. kills during a merge


@pytest.fixture(scope="module")
def merge_setup(server: MergeServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An index of seven commits of one tier; the eighth document (its ingest
    merges); the state before and after the merge; the next document and the
    state after writing it."""
    tmp = tmp_path_factory.mktemp("merge")
    docs = tmp / "docs"
    docs.mkdir()
    pieces = plan_pieces(PLAN, docs, [(n, n) for n in range(2, 2 + MERGE_FACTOR)])
    (nxt,) = plan_pieces(PLAN, docs, [(2 + MERGE_FACTOR, 4 + MERGE_FACTOR)])
    # Each kill re-analyses the eighth document: with its words analysed in the
    # server, the children skip that (a second each).
    assert server.run("warm", tmp, paths=[str(p) for p in [*pieces, nxt]])["warm"]["added"]
    base = tmp / "base"
    res = server.ingest(base, [[p] for p in pieces[:-1]])
    assert [r["added"] for r in res["reports"]] == [[p.stem] for p in pieces[:-1]], res
    sizes = segments_of(base)
    assert len(sizes) == MERGE_FACTOR - 1 and not plan_merge(sizes, MAX_SEGMENTS), f"merged already: {sizes}"
    # The state the merge starts from: the eighth commit done, nothing merged.
    before = tmp / "before"
    shutil.copytree(base, before)
    res = server.ingest(before, [[pieces[-1]]], kill={"at": "merge:start"})
    assert res["killed"], f"the eighth commit did not start a merge: {res}"
    sizes = segments_of(before)
    assert len(sizes) == MERGE_FACTOR and plan_merge(sizes, MAX_SEGMENTS), sizes
    # A clean run: the merge's duration, how many members its file has, and its result.
    clean = tmp / "clean"
    shutil.copytree(base, clean)
    res = server.ingest(clean, [[pieces[-1]], [nxt]], marker=str(tmp / "marker.log"))
    members = sum(1 for m in res["markers"] if m.startswith("P merge:member:"))
    seconds = [float(m.split()[-1]) for m in res["markers"] if m.startswith("D merge ")]
    assert len(seconds) == 1, f"the clean run merged {len(seconds)} times: {res['markers']}"
    with Index.open(clean) as ix:
        sizes, _, orphans = segment_state(ix)
    assert len(sizes) == 2 and not orphans, (sizes, orphans)
    return {
        "base": base,
        "doc": pieces[-1],
        "next": nxt,
        "members": members,
        "seconds": seconds[0],
        "base_state": reference(base),
        "before": reference(before),
        "following": reference(clean),
        "clean": clean,
    }


def test_a_merge_leaves_search_results_unchanged(merge_setup: dict[str, Any], tmp_path: Path) -> None:
    """What the kill test compares with: merging changes no passage, no score, no citation."""
    index = tmp_path / "index"
    shutil.copytree(merge_setup["base"], index)
    with Index.open(index) as ix:
        ix.store.merge_segments(everything=True)
        assert len(segment_state(ix)[0]) == 1
    merged = reference(index)
    before = merge_setup["base_state"]
    assert merged["passages"] == before["passages"]
    assert merged["results"] == before["results"]
    assert sum(map(len, before["results"].values())) >= 20, "the queries find little in these plans"


def merge_kills(
    server: MergeServer, setup: dict[str, Any], tmp: Path, kills: list[dict[str, Any]], next_every: int
) -> Counter:
    """Kill the merging ingest as each of ``kills`` says; check the index after
    the kill and after re-running the same ingest, and (every ``next_every``-th
    kill) after writing the next document."""
    stats: Counter = Counter()
    marker = str(tmp / "marker.log")
    for i, kill in enumerate(kills):
        index = tmp / f"kill{i}"
        shutil.copytree(setup["base"], index)
        res = server.ingest(index, [[setup["doc"]]], kill=kill, marker=marker)
        where = f"seed {SEED}, kill {kill}, markers {res['markers'][-3:]}"
        if "at" in kill:
            assert res["killed"], f"{where}: the point was never reached ({res})"
        if not res["killed"]:
            stats["runs finished before the kill"] += 1
        else:
            stats["kills"] += 1
            stats["kills inside the merge"] += "B merge" in res["markers"] and "E merge" not in res["markers"]
        with Index.open(index) as ix:
            if "B merge" in res["markers"]:
                check_whole(ix, setup["before"], where)
            else:  # killed before its commit: the index as it was, which the re-run completes
                stats["kills before the commit"] += 1
                check_whole(ix, setup["base_state"], where)
            stats["kills leaving files nothing references"] += bool(segment_state(ix)[2])
            # The researcher runs the same ingest again: it finishes the merge and cleans up.
            server.ingest(index, [[setup["doc"]]])
            check_whole(ix, setup["before"], f"{where}, re-run")
            sizes, _, orphans = segment_state(ix)
            assert not orphans, f"{where}: the re-run left files nothing references: {orphans}"
            assert not plan_merge(sizes, MAX_SEGMENTS), f"{where}: the re-run left the merge undone: {sizes}"
            if i % next_every == 0:  # and writes the next document: as if nothing had happened
                server.ingest(index, [[setup["next"]]])
                check_whole(ix, setup["following"], f"{where}, next write")
                sizes, _, orphans = segment_state(ix)
                assert not orphans and not plan_merge(sizes, MAX_SEGMENTS), f"{where}: next write: {sizes}, {orphans}"
                stats["next writes"] += 1
        shutil.rmtree(index)
    return stats


def merge_kill_plan(setup: dict[str, Any], rng: random.Random, points: list[str], n_random: int) -> list[dict]:
    """The named points (a member number past the file's last member is dropped),
    then ``n_random`` kills somewhere in the merge or just after it."""
    kills: list[dict[str, Any]] = [
        {"at": p} for p in points if not p.startswith("merge:member:") or int(p.rsplit(":", 1)[1]) <= setup["members"]
    ]
    kills += [{"marker": "B merge", "then": rng.uniform(0, 1.2 * setup["seconds"])} for _ in range(n_random)]
    return kills


# The default run: the file half-written, whole but not renamed, renamed but
# uncommitted, inside the transaction, committed with the inputs not yet deleted.
FAST_MERGE_POINTS = ["merge:member:5", "merge:written", "merge:renamed", "merge:in-transaction", "merge:unlinked"]


@pytest.mark.parametrize(
    "points, n_random",
    [
        pytest.param(FAST_MERGE_POINTS, 2, id="7-kills"),
        pytest.param(MERGE_POINTS, 50, id="many", marks=[pytest.mark.slow, slow_only]),
    ],
)
def test_sigkill_during_a_merge_loses_nothing_and_a_rerun_finishes_it(
    server: MergeServer, merge_setup: dict[str, Any], tmp_path: Path, points: list[str], n_random: int
) -> None:
    rng = random.Random(SEED + n_random)
    kills = merge_kill_plan(merge_setup, rng, points, n_random)
    stats = merge_kills(server, merge_setup, tmp_path, kills, next_every=3 if n_random < 10 else 1)
    print(f"merge kills (seed {SEED}, {merge_setup['members']} file members, merge {merge_setup['seconds']:.3f} s): "
          f"{dict(stats)}")  # fmt: skip
    assert stats["kills inside the merge"] >= len(points), dict(stats)


# ---------------------------------------------------------------- 2. kills during a retag


def edited_codebook(folder: Path) -> Path:
    """The shipped codebook as a researcher might edit it: its last tag dropped.
    Any edit makes it a codebook of the researcher's own, so the shipped model
    (trained on the shipped codebook) no longer applies and many tags change."""
    text = CODEBOOK.read_text(encoding="utf-8")
    cut = text.rindex("\n[[tag]]")
    path = folder / "codebook.toml"
    path.write_text(text[:cut] + "\n", encoding="utf-8")
    return path


def tag_state(ix: Index) -> dict[str, Any]:
    """The tags a researcher sees: every tag row, the recorded codebook, and per query the hits' tags."""
    hit_tags = {
        q: [(h.passage.passage_id, sorted(t["tag"] for t in h.tags)) for h in ix.search(q, k=20)] for q in QUERIES
    }
    return {"rows": tag_rows(ix), "codebook": ix.store.get_meta("codebook"), "hit_tags": hit_tags}


@pytest.fixture(scope="module")
def retag_setup(server: MergeServer, merge_setup: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The merge test's index (tagged at ingest with the shipped codebook and
    model), an edited codebook, and the index's tags before and after the
    retag a clean `plansok tag --codebook FILE` makes."""
    tmp = tmp_path_factory.mktemp("retag")
    codebook = edited_codebook(tmp)
    base = tmp / "base"
    shutil.copytree(merge_setup["clean"], base)
    clean = tmp / "clean"
    shutil.copytree(base, clean)
    res = server.run("tag", clean, argv=["--codebook", str(codebook)], marker=str(tmp / "marker.log"))
    assert res.get("exit") == 0 and not res.get("error"), res
    seconds = [float(m.split()[-1]) for m in res["markers"] if m.startswith("D retag ")]
    # The server's own tagger for the codebook (the kills reuse it) must tag as the command does.
    warm = tmp / "warm"
    shutil.copytree(base, warm)
    res_warm = server.run("retag", warm, codebook=str(codebook))  # builds it, then times a retag with it
    res_warm = server.run("retag", warm, codebook=str(codebook))
    assert not res_warm.get("error") and not res_warm["killed"], res_warm
    with Index.open(base) as ix:
        old = tag_state(ix)
    with Index.open(clean) as ix:
        new = tag_state(ix)
    with Index.open(warm) as ix:
        assert tag_state(ix) == new, "the server's tagger tags otherwise than `plansok tag --codebook`"
    assert old["rows"] and new["rows"], "no tags to lose"
    assert old["rows"] != new["rows"] and old["codebook"] != new["codebook"], "the edited codebook changes nothing"
    return {
        "base": base,
        "codebook": codebook,
        "old": old,
        "new": new,
        "index": merge_setup["following"],
        "seconds": res["elapsed"],  # the command's (the first kill's range)
        "retag_seconds": res_warm["elapsed"],  # with the server's tagger (the other kills' range)
        "write_seconds": seconds[0],
    }


def which_tags(ix: Index, setup: dict[str, Any], where: str) -> str:
    """Which state the tags are in ("old" or "new"): the index's tags and codebook must be one whole state."""
    state = tag_state(ix)
    for name in ("old", "new"):
        if state["rows"] == setup[name]["rows"]:
            assert state["codebook"] == setup[name]["codebook"], f"{where}: the {name} tags under the other codebook"
            assert state["hit_tags"] == setup[name]["hit_tags"], f"{where}: hits do not show the {name} tags"
            return name
    tagged = {r[0] for r in state["rows"]}
    lost = {r[0] for r in setup["old"]["rows"]} & {r[0] for r in setup["new"]["rows"]} - tagged
    raise AssertionError(
        f"{where}: {len(state['rows'])} tag rows, neither the old {len(setup['old']['rows'])} nor the new "
        f"{len(setup['new']['rows'])}; {len(lost)} passages tagged before and after have none"
    )


def retag_kills(server: MergeServer, setup: dict[str, Any], tmp: Path, kills: list[dict[str, Any]]) -> Counter:
    """Kill the retag of `plansok tag --codebook FILE` as each of ``kills``
    says; check the index after the kill and after the researcher runs the
    command again. The first kill and re-run are the command itself; the rest
    reuse the server's tagger for the same codebook (the tags must come out the
    same, which the checks compare row by row)."""
    stats: Counter = Counter()
    marker = str(tmp / "marker.log")
    argv = ["--codebook", str(setup["codebook"])]
    for i, kill in enumerate(kills):
        index = tmp / f"kill{i}"
        shutil.copytree(setup["base"], index)
        if i == 0:
            res = server.run("tag", index, argv=argv, kill=kill, marker=marker)
        else:
            res = server.run("retag", index, codebook=str(setup["codebook"]), kill=kill, marker=marker)
        where = f"seed {SEED}, kill {kill}, markers {res['markers'][-3:]}"
        assert not res["hung"] and not res.get("error"), f"{where}: {res}"
        if "at" in kill:
            assert res["killed"], f"{where}: the point was never reached ({res})"
        stats["kills" if res["killed"] else "runs finished before the kill"] += 1
        stats["kills inside the tag write"] += "B retag" in res["markers"] and "E retag" not in res["markers"]
        with Index.open(index) as ix:
            state = which_tags(ix, setup, where)
            stats[f"kills leaving the {state} tags"] += 1
            check_whole(ix, setup["index"], where)
            if i == 0:
                res = server.run("tag", index, argv=argv)
                assert res.get("exit") == 0, f"{where}, re-run: {res}"
            else:
                res = server.run("retag", index, codebook=str(setup["codebook"]))
            assert not res.get("error") and not res["killed"], f"{where}, re-run: {res}"
            assert which_tags(ix, setup, f"{where}, re-run") == "new", f"{where}: the re-run did not finish the retag"
            check_whole(ix, setup["index"], f"{where}, re-run")
        shutil.rmtree(index)
    return stats


@pytest.mark.parametrize(
    "points, n_random",
    [
        pytest.param(RETAG_POINTS[1:], 2, id="7-kills"),
        pytest.param(RETAG_POINTS, 40, id="many", marks=[pytest.mark.slow, slow_only]),
    ],
)
def test_sigkill_during_a_retag_leaves_all_old_or_all_new_tags(
    server: MergeServer, retag_setup: dict[str, Any], tmp_path: Path, points: list[str], n_random: int
) -> None:
    rng = random.Random(SEED + n_random)
    kills: list[dict[str, Any]] = [{"at": p} for p in points]
    for j in range(n_random):  # alternately anywhere in the command, and in (or just after) its write
        if j % 2 == 0:
            kills.append({"after": rng.uniform(0.01, retag_setup["retag_seconds"])})
        else:
            kills.append({"marker": "B retag", "then": rng.uniform(0, 1.5 * retag_setup["write_seconds"])})
    stats = retag_kills(server, retag_setup, tmp_path, kills)
    setup = retag_setup
    print(f"retag kills (seed {SEED}, command {setup['seconds']:.2f} s, write {setup['write_seconds']:.3f} s, "
          f"{len(setup['old']['rows'])} -> {len(setup['new']['rows'])} tags): {dict(stats)}")  # fmt: skip
    assert stats["kills inside the tag write"] >= len(points) - 1, dict(stats)  # all but the one after COMMIT
    assert stats["kills leaving the old tags"] and stats["kills leaving the new tags"], dict(stats)
