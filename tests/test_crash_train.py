"""SIGKILL during `plansok tag --train` and `plansok tag --undo` (issue 10:
no broken index after a kill).

A training writes its new model to ``tagger.next/``, rewrites every passage's
tags in one SQLite transaction that also records which model made them, and
only then swaps the folders (``index/model_folder.py``); an undo does the same
with the model it puts back. Killed anywhere, the index must afterwards (once
opened, which finishes a swap the kill interrupted):

- hold the tags of one model for every passage: all the tags from before the
  command, or all from after it;
- have on disk, in ``tagger/`` (or, without one, the shipped model), the model
  those tags came from: tagging the passages again with it gives the stored tags;
- tag a new document ingested next with that same model;
- finish the command when it is run again, and, once a training is done, give
  the tags from before it back exactly on ``tag --undo``.

Kills are placed at named points inside the commands (``tests/faults/crash_server.py``:
the child kills itself there). The commands are the CLI's own; a training fits
its model quickly (``"fit": "quick"``: the researcher's passages alone) because
the full fit takes about 40 s and writes nothing. ``PLANSOK_SLOW=1`` adds every
point, trainings from the shipped model and undos back to it, kills at random
moments, and two kills of trainings with the full fit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.client import CrashServer

from plansok.analysis.analyzer import Analyzer
from plansok.api import Index
from plansok.errors import PlansokError
from plansok.tag.build import shipped_model
from plansok.tag.codebook import Codebook
from plansok.tag.model import TagModel
from plansok.tag.tagger import Tagger
from plansok.tag.train import read_passages

SLOW = os.environ.get("PLANSOK_SLOW") == "1"
SEED = int(os.environ.get("PLANSOK_FAULT_SEED", "20261205"))
# Short real excerpts (source pages) of two plans make the index; a third
# plan's excerpt is the document ingested after a kill.
EXCERPTS = {
    "hole": ("3310_hole_samfunnsdel_2018-2030", 7, 15),
    "nore": ("3338_nore-og-uvdal_samfunnsdel_tett_paa_folk", 9, 18),
}
FOLLOWING = ("3322_nesbyen_planstrategi_2024-2027", 3, 3)

# What each command passes, in order; the default run kills at the ones marked.
TRAIN_POINTS = [
    "train:model-written",  # the new model whole in tagger.next/, nothing committed
    "retag:deleted",  # inside the tag transaction
    "retag:before-commit",
    "retag:committed",  # committed, no folder moved
    "remove:tagger.previous",  # the swap: the model before the replaced one deleted,
    "rename:tagger->tagger.previous",  # the replaced model moved aside, the new one not yet in place
    "rename:tagger.next->tagger",
]
FAST_TRAIN_POINTS = ["train:model-written", "retag:before-commit", "retag:committed", "rename:tagger->tagger.previous"]
UNDO_POINTS = [
    "rename:tagger.previous->tagger.next",  # the model to put back set apart, nothing committed
    "retag:deleted",
    "retag:before-commit",
    "retag:committed",
    "remove:tagger",  # the swap: the undone model deleted, the one put back not yet in place
    "rename:tagger.next->tagger",
]
FAST_UNDO_POINTS = ["retag:before-commit", "retag:committed", "remove:tagger"]
# From the shipped model (no folder to move aside) and back to it (no folder to put back).
FIRST_TRAIN_POINTS = ["train:model-written", "retag:before-commit", "retag:committed", "rename:tagger.next->tagger"]
UNDO_TO_SHIPPED_POINTS = ["retag:before-commit", "retag:committed", "remove:tagger"]

slow_only = pytest.mark.skipif(not SLOW, reason="long variant: set PLANSOK_SLOW=1")


class TrainServer(CrashServer):
    """The crash server, with trainings' longer deadline; every answer must be a clean one."""

    def __init__(self, log: Path) -> None:
        super().__init__(log, deadline=300, wait=400)

    def run(self, op: str, index: Path, **cmd: Any) -> dict[str, Any]:
        res = super().run(op, index, **cmd)
        assert not res.get("hung") and not res.get("error"), res
        return res

    def tag(self, index: Path, *argv: str, **cmd: Any) -> dict[str, Any]:
        """`plansok tag ARGV... --index INDEX`; a training fits quickly unless ``fit`` says otherwise."""
        if argv[0] == "--train":
            cmd.setdefault("fit", "quick")
        return self.run("tag", index, argv=list(argv), **cmd)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainServer]:
    srv = TrainServer(tmp_path_factory.mktemp("crash-server") / "server.log")
    yield srv
    srv.close()


def excerpt(corpus: Path, folder: Path, name: str, plan: str, first: int, last: int) -> Path:
    """A plain-text document of the plan's source pages ``first..last``."""
    text = (corpus / "plans" / f"{plan}.md").read_text(encoding="utf-8")
    pages = {int(m.group(1)): m.group(2) for m in re.finditer(r"<!-- side (\d+) -->(.*?)(?=<!-- side |\Z)", text, re.S)}
    path = folder / f"{name}.txt"
    path.write_text("\n\n".join(pages[n].strip() for n in range(first, last + 1)) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- what the index holds


def tag_rows(ix: Index) -> list[tuple[Any, ...]]:
    return sorted(ix.store.db.execute("SELECT pid, tag, confidence, source, evidence FROM tags").fetchall())


@pytest.fixture(scope="module")
def rules() -> Tagger:
    """The shipped codebook's rules, compiled once; each check adds the model on disk."""
    return Tagger.build(Codebook.default(), Analyzer())


def disk_model(index: Path) -> TagModel | None:
    """The model a user finds in the index folder: ``tagger/``, else the shipped one."""
    return TagModel.load(index / "tagger") if (index / "tagger").exists() else shipped_model()


def check_model_on_disk(ix: Index, rules: Tagger, where: str) -> None:
    """The model on disk made every stored tag: tagging every passage again
    with it gives the stored rows; no swap is left half-done."""
    leftover = sorted(p.name for p in ix.path.glob("tagger.next*"))
    assert not leftover, f"{where}: {leftover} left after opening"
    tagger = dataclasses.replace(rules, model=disk_model(ix.path))
    data = read_passages(ix.store)
    texts, sections = [p.text for p in data.passages], [p.section for p in data.passages]
    again = sorted(
        (pid, t.tag, t.confidence, t.source, json.dumps(t.evidence, ensure_ascii=False))
        for pid, tags in zip(data.pids, tagger.tag(data.words, texts, data.terms, sections))
        for t in tags
    )
    stored = tag_rows(ix)
    if again != stored:
        differ = sorted({r[0] for r in set(again) ^ set(stored)})
        raise AssertionError(
            f"{where}: the model in {ix.path / 'tagger'} tags {len(differ)} passages otherwise than the index "
            f"({len(again)} rows vs {len(stored)} stored; passages {differ[:8]})"
        )


def which(ix: Index, states: dict[str, list[tuple[Any, ...]]], where: str) -> str:
    """Which of ``states`` the tags of the original passages are in (one whole state, never a mix)."""
    pids = {r[0] for rows in states.values() for r in rows}
    rows = [r for r in tag_rows(ix) if r[0] in pids]
    for name, expected in states.items():
        if rows == expected:
            return name
    sizes = {name: len(expected) for name, expected in states.items()}
    raise AssertionError(f"{where}: {len(rows)} tag rows, none of the states {sizes}")


# ---------------------------------------------------------------- the states


@pytest.fixture(scope="module")
def setup(server: TrainServer, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An index of two plan excerpts (state 0: the shipped model), trained on
    three label files in turn (states 1, 2, 3), each state's tag rows, and the
    document ingested after a kill."""
    tmp = tmp_path_factory.mktemp("train")
    docs = tmp / "docs"
    docs.mkdir()
    paths = [excerpt(corpus, docs, name, *spec) for name, spec in EXCERPTS.items()]
    following = excerpt(corpus, tmp, "nesbyen", *FOLLOWING)
    server.run("warm", tmp, paths=[str(p) for p in [*paths, following]])  # the children find the words analysed
    states = {0: tmp / "s0"}
    res = server.run("ingest", states[0], batches=[[str(p) for p in paths]])
    assert res["reports"][0]["added"] == ["hole", "nore"], res
    with Index.open(states[0]) as ix:
        passages = {d: [p.text for _, p in ix.store.passages_of(d)] for d in ("hole", "nore")}
    assert min(map(len, passages.values())) >= 8, {d: len(t) for d, t in passages.items()}
    # Three researchers' label files: each a tag on one excerpt's passages, none on the other's.
    labels = {}
    for n, (tag, on, off) in enumerate([("fritid", "hole", "nore"), ("bolig", "nore", "hole"),
                                        ("samarbeid", "hole", "nore")], start=1):  # fmt: skip
        rows = [{"text": t, "tags": [tag]} for t in passages[on][n - 1 : n + 5]]
        rows += [{"text": t, "tags": []} for t in passages[off][:6]]
        labels[n] = tmp / f"labels{n}.jsonl"
        labels[n].write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    for n in (1, 2, 3):
        states[n] = tmp / f"s{n}"
        shutil.copytree(states[n - 1], states[n])
        res = server.tag(states[n], "--train", str(labels[n]))
        assert res.get("exit") == 0, res
    rows = {}
    for n, path in states.items():
        with Index.open(path) as ix:
            rows[n] = tag_rows(ix)
    assert all(rows[n] != rows[n - 1] for n in (1, 2, 3)), "a training changed no tag"
    return {"states": states, "rows": rows, "labels": labels, "following": following, "tmp": tmp}


def test_train_and_undo_without_a_kill(setup: dict[str, Any], rules: Tagger) -> None:
    """What the kill tests compare with: each state's model on disk made its
    tags, and an undo gives the tags from before the training back exactly."""
    for n, path in setup["states"].items():
        with Index.open(path) as ix:
            check_model_on_disk(ix, rules, f"state {n}")
    assert not (setup["states"][0] / "tagger").exists()
    assert (setup["states"][2] / "tagger.previous").is_dir()


def test_a_model_changed_by_hand_is_named_not_used(setup: dict[str, Any], rules: Tagger, tmp_path: Path) -> None:
    """A ``tagger/`` that is not the model the tags were made with (and not a
    swap a kill left) is an error that says what to run, not a silent mix."""
    index = tmp_path / "index"
    shutil.copytree(setup["states"][2], index)
    shutil.rmtree(index / "tagger")
    shutil.copytree(setup["states"][3] / "tagger", index / "tagger")
    with Index.open(index) as ix:
        with pytest.raises(PlansokError, match=r"not the tag model the index's tags were made with.*tag --train"):
            Tagger.for_index(ix.store, rules.analyzer)
        assert tag_rows(ix) == setup["rows"][2]


# ---------------------------------------------------------------- kills


def kill_and_check(
    server: TrainServer,
    setup: dict[str, Any],
    rules: Tagger,
    tmp: Path,
    kills: list[dict[str, Any]],
    start: int,
    argv: list[str],
    end: int,
    fit: str = "quick",
) -> Counter:
    """Copy state ``start``, run ``tag ARGV`` (which makes state ``end``) with
    each kill, and check the index after opening it, after ingesting the next
    document, after re-running the command if the kill left the tags from
    before it, and (a training) after undoing it."""
    rows = setup["rows"]
    states = {"before": rows[start], "after": rows[end]}
    stats: Counter = Counter()
    marker = str(tmp / "marker.log")
    for i, kill in enumerate(kills):
        index = tmp / f"kill{i}"
        shutil.copytree(setup["states"][start], index)
        res = server.tag(index, *argv, kill=kill, marker=marker, fit=fit)
        where = f"seed {SEED}, tag {argv[0]}, kill {kill}, markers {res['markers'][-3:]}"
        if "at" in kill:
            assert res["killed"], f"{where}: the point was never reached ({res})"
        stats["kills" if res["killed"] else "runs finished before the kill"] += 1
        with Index.open(index) as ix:
            state = which(ix, states, where)
            stats[f"kills leaving the tags from {state}"] += 1
            check_model_on_disk(ix, rules, where)
            # The next document is tagged by the same model as the others.
            res = server.run("ingest", index, batches=[[str(setup["following"])]])
            assert res["reports"][0]["added"] == ["nesbyen"], f"{where}: {res}"
            assert which(ix, states, f"{where}, next ingest") == state
            check_model_on_disk(ix, rules, f"{where}, next ingest")
            if state == "before":  # the researcher runs the command again: it finishes
                assert server.tag(index, *argv, fit=fit).get("exit") == 0, where
                assert which(ix, states, f"{where}, re-run") == "after", f"{where}: the re-run did not finish"
                check_model_on_disk(ix, rules, f"{where}, re-run")
            if argv[0] == "--train":  # and undoes it: the tags from before, exactly
                assert server.tag(index, "--undo").get("exit") == 0, where
                assert which(ix, states, f"{where}, undo") == "before", f"{where}: undo gave other tags"
                check_model_on_disk(ix, rules, f"{where}, undo")
        shutil.rmtree(index)
    return stats


def random_kills(rng: random.Random, n: int, seconds: float) -> list[dict[str, Any]]:
    """Kills anywhere in the command, and just after its tag write begins."""
    return [
        {"after": rng.uniform(0.05, seconds)} if j % 2 == 0 else {"marker": "B retag", "then": rng.uniform(0, 0.2)}
        for j in range(n)
    ]


@pytest.mark.parametrize(
    "points, n_random",
    [
        pytest.param(FAST_TRAIN_POINTS, 0, id="4-kills"),
        pytest.param(TRAIN_POINTS, 12, id="many", marks=[pytest.mark.slow, slow_only]),
    ],
)
def test_sigkill_during_a_training(
    server: TrainServer, setup: dict[str, Any], rules: Tagger, tmp_path: Path, points: list[str], n_random: int
) -> None:
    kills: list[dict[str, Any]] = [{"at": p} for p in points]
    kills += random_kills(random.Random(SEED + n_random), n_random, 3.0)
    stats = kill_and_check(server, setup, rules, tmp_path, kills, 2, ["--train", str(setup["labels"][3])], 3)
    print(f"training kills (seed {SEED}): {dict(stats)}")
    assert stats["kills leaving the tags from before"] and stats["kills leaving the tags from after"], dict(stats)


@pytest.mark.parametrize(
    "points, n_random",
    [
        pytest.param(FAST_UNDO_POINTS, 0, id="3-kills"),
        pytest.param(UNDO_POINTS, 12, id="many", marks=[pytest.mark.slow, slow_only]),
    ],
)
def test_sigkill_during_an_undo(
    server: TrainServer, setup: dict[str, Any], rules: Tagger, tmp_path: Path, points: list[str], n_random: int
) -> None:
    kills: list[dict[str, Any]] = [{"at": p} for p in points]
    kills += random_kills(random.Random(SEED + n_random), n_random, 2.0)
    stats = kill_and_check(server, setup, rules, tmp_path, kills, 2, ["--undo"], 1)
    print(f"undo kills (seed {SEED}): {dict(stats)}")
    assert stats["kills leaving the tags from before"] and stats["kills leaving the tags from after"], dict(stats)


@slow_only
@pytest.mark.slow
def test_sigkill_from_and_back_to_the_shipped_model(
    server: TrainServer, setup: dict[str, Any], rules: Tagger, tmp_path: Path
) -> None:
    """The first training (nothing to move aside) and the undo back to the
    shipped model (nothing to put back: ``tagger/`` is deleted)."""
    first = kill_and_check(server, setup, rules, tmp_path / "first", [{"at": p} for p in FIRST_TRAIN_POINTS], 0,
                           ["--train", str(setup["labels"][1])], 1)  # fmt: skip
    back = kill_and_check(server, setup, rules, tmp_path / "back", [{"at": p} for p in UNDO_TO_SHIPPED_POINTS], 1,
                          ["--undo"], 0)  # fmt: skip
    print(f"first training: {dict(first)}; undo to the shipped model: {dict(back)}")
    for stats in (first, back):
        assert stats["kills leaving the tags from before"] and stats["kills leaving the tags from after"]


@slow_only
@pytest.mark.slow
def test_sigkill_during_a_training_with_the_full_fit(
    server: TrainServer, setup: dict[str, Any], rules: Tagger, tmp_path: Path
) -> None:
    """The command exactly as a researcher runs it: the calibrated fit on the
    shipped passages plus the labels (its own "after" state, from a clean run)."""
    start = tmp_path / "start"
    shutil.copytree(setup["states"][2], start)
    clean = tmp_path / "clean"
    shutil.copytree(start, clean)
    assert server.tag(clean, "--train", str(setup["labels"][3]), fit="full").get("exit") == 0
    with Index.open(clean) as ix:
        after = tag_rows(ix)
        check_model_on_disk(ix, rules, "full fit")
    own = dict(setup, states={**setup["states"], 9: start}, rows={**setup["rows"], 9: setup["rows"][2], 10: after})
    kills = [{"at": "retag:before-commit"}, {"at": "rename:tagger->tagger.previous"}]
    stats = kill_and_check(server, own, rules, tmp_path, kills, 9, ["--train", str(setup["labels"][3])], 10, "full")
    print(f"full-fit training kills: {dict(stats)}")
    assert stats["kills"] == len(kills), dict(stats)
