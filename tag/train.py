"""Training the classifier (the shipped labels plus the researcher's), undoing
a training, the review decisions, and re-tagging every passage.

Re-tagging reads passages back from the index: their words and terms come from
the stored word forms, so it needs neither spaCy nor the dictionaries.

A training or an undo is one commit: the new model is written to
``tagger.next/`` first, the transaction that rewrites every passage's tags
records which model made them, and only then are the folders swapped
(``tag/model_folder.py``, which also finishes a swap a kill interrupted).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from plansok.analysis.analyzer import form_key, tokenize
from plansok.errors import PlansokError
from plansok.index import model_folder as folders
from plansok.index.store import IndexStore
from plansok.models import Passage
from plansok.tag.build import shipped_model_id
from plansok.tag.features import words_and_terms
from plansok.tag.model import TagModel
from plansok.tag.rules import Word
from plansok.tag.tagger import Labelled, Tagger, normalise

logger = logging.getLogger(__name__)


@dataclass
class IndexedPassages:
    pids: list[int]
    passages: list[Passage]
    words: list[list[Word]]
    terms: list[list[str]]


def read_passages(store: IndexStore, exclude: Iterable[str] = ()) -> IndexedPassages:
    """Every passage with its words and index terms, leaving out those whose
    text (normalised) is in ``exclude`` (a gold set kept for evaluation)."""
    skip = {normalise(t) for t in exclude}
    rows = [(pid, p, std) for pid, p, std in store.all_passages() if normalise(p.text) not in skip]
    keys = {form_key(std, t.form) for _, p, std in rows for t in tokenize(p.text)}
    forms = store.forms(list(keys))
    out = IndexedPassages([], [], [], [])
    for pid, p, std in rows:
        words, terms = words_and_terms(p.text, std, forms)
        out.pids.append(pid)
        out.passages.append(p)
        out.words.append(words)
        out.terms.append(terms)
    return out


def train(
    store: IndexStore,
    tagger: Tagger,
    labelled: Sequence[Labelled] = (),
    exclude: Iterable[str] = (),
    *,
    save: bool = True,
) -> TagModel:
    """Train the classifier on the shipped labelled passages plus the
    researcher's (``labelled``, and the review decisions saved beside the
    index) and return it; with ``save``, make it the index's model and tag
    every passage with it (``install``). Training on no new labels gives the
    shipped model back, so it changes no tag. Passages whose text is in
    ``exclude`` (a gold set kept for evaluation) are left out."""
    from plansok.tag.build import Example, shipped_examples, train_model

    skip = {normalise(t) for t in exclude}
    examples = [e for e in shipped_examples(tagger.codebook) if normalise(e.text) not in skip]
    own = [*labelled, *review_labels(store, tagger.codebook)]
    examples += [Example(lab.text, set(lab.tags), negatives=set(lab.negatives), complete=lab.complete,
                         source="researcher") for lab in own if normalise(lab.text) not in skip]  # fmt: skip
    model = train_model(examples, tagger.codebook, tagger.analyzer)
    model.info["researcher_labels"] = len(own)
    logger.info("trained tags %s on %d passages (%d the researcher's)", ", ".join(model.tags), len(examples), len(own))
    if save:
        install(store, tagger, model)
    return model


def install(store: IndexStore, tagger: Tagger, model: TagModel) -> int:
    """Make ``model`` the index's model and tag every passage with it; the
    model it replaces is kept for ``undo_training``. Returns the number of
    passages tagged."""
    with store.write_lock():
        folders.adopt(store)
        folders.settle(store)  # a tagger.next/ left now is a killed training's: written over below
        record = folders.write_next(store, model, tagger.codebook.digest)
        return retag(store, replace(tagger, model=model, model_id=record))


def undo_training(store: IndexStore, analyzer) -> tuple[Tagger, int] | None:  # analyzer: Analyzer
    """Put back the model the last training replaced and tag every passage
    with it: the tagger and the number of passages, or None if there is
    nothing to undo."""
    with store.write_lock():
        folders.adopt(store)
        folders.settle(store)
        _, previous = folders.recorded(store)
        if not previous:
            return None
        folder = folders.find(store, previous)
        if folders.is_own(previous):
            if folder is None:
                raise PlansokError(f"{store.path}: the model the last training replaced is gone; nothing to undo")
            # In tagger.next/ until the swap is done, so a kill anywhere in it
            # leaves a folder that shows the swap unfinished (``needs_settling``).
            folders.rename(folder, store.path / folders.NEXT_DIR)
        tagger = Tagger.for_record(store, previous, analyzer)
        return tagger, retag(store, tagger, previous="")


REVIEW_FILE = "labels/review.jsonl"


def review_labels(store: IndexStore, codebook) -> list[Labelled]:  # codebook: Codebook
    """The researcher's accept/reject decisions (``plansok tag --review``, the
    web page), each a label of one tag on one passage; a later decision on the
    same passage and tag replaces an earlier one."""
    path = store.path / REVIEW_FILE
    if not path.is_file():
        return []
    decisions: dict[tuple[str, str], tuple[str, bool]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("tag") in codebook.ids:
                decisions[(normalise(row["text"]), row["tag"])] = (row["text"], bool(row["accept"]))
    by_text: dict[str, Labelled] = {}
    for (key, tag), (text, accept) in decisions.items():
        lab = by_text.setdefault(key, Labelled(text, set(), negatives=set(), complete=False))
        (lab.tags if accept else lab.negatives).add(tag)
    return list(by_text.values())


def record_review(store: IndexStore, text: str, tag: str, accept: bool, passage_id: str = "") -> int:
    """Append one decision to the index's review labels; returns how many there are."""
    path = store.path / REVIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"passage_id": passage_id, "tag": tag, "accept": accept, "text": text}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def tag_changes(before: dict[int, set[str]], after: dict[int, set[str]]) -> dict[str, dict[str, int]]:
    """Per tag, the passages that gained it and lost it."""
    out: dict[str, dict[str, int]] = {}
    for pid in set(before) | set(after):
        b, a = before.get(pid, set()), after.get(pid, set())
        for t in a - b:
            out.setdefault(t, {"added": 0, "removed": 0})["added"] += 1
        for t in b - a:
            out.setdefault(t, {"added": 0, "removed": 0})["removed"] += 1
    return dict(sorted(out.items()))


def model_record(tagger: Tagger) -> str:
    """How the index records the model ``tagger`` tags with."""
    if tagger.model_id is not None:
        return tagger.model_id
    if tagger.model is None:
        return folders.NO_MODEL
    raise ValueError("a tag model saved nowhere cannot be the index's: save it with `install`")


# The shipped model that made the index's tags, when they come from it: a newer
# plansok ships another, and the index's old passages must not keep the old one's tags.
SHIPPED_KEY = "tag_shipped_model"


def retag_if_shipped_model_changed(store: IndexStore) -> int:
    """Before an ingest tags anything: if the index's tags come from the
    shipped model and this plansok ships another one (an upgrade), tag every
    passage again with it, so that old and new passages are tagged alike.
    Returns the passages re-tagged (0: nothing to do)."""
    with store.write_lock():
        if folders.recorded(store)[0] != folders.SHIPPED:
            return 0
        now = shipped_model_id()
        if store.get_meta(SHIPPED_KEY) == now:
            return 0
        if not store.db.execute("SELECT 1 FROM passages LIMIT 1").fetchone():
            with store.transaction():
                store.set_meta(SHIPPED_KEY, now)  # a new index: its first tags will be this model's
            return 0
        before = store.get_meta(SHIPPED_KEY)
        from plansok.analysis.analyzer import Analyzer

        n = retag(store, Tagger.for_index(store, Analyzer()))
        logger.warning(
            "%s: the index was tagged by %s; re-tagged its %d passages with the model this plansok ships",
            store.path, "another plansok's shipped model" if before else "a shipped model it did not record", n,
        )  # fmt: skip
        return n


def retag(store: IndexStore, tagger: Tagger, *, previous: str | None = None) -> int:
    """Tag every passage again with ``tagger`` (after training, or with a new
    codebook); the index's tags are swapped in one transaction, which records
    the model that made them and the one an undo puts back (``previous``;
    by default the model before, if ``tagger``'s is another)."""
    # Under the writer lock from the first read to the swap: an ingest committed
    # in between would otherwise have its passages' tags deleted and not rewritten.
    with store.write_lock():
        current, before = folders.recorded(store)
        record = model_record(tagger)
        if previous is None:
            previous = before if record == current else current
        data = read_passages(store)
        rows = []
        results = tagger.tag(
            data.words, [p.text for p in data.passages], data.terms, [p.section for p in data.passages]
        )
        for pid, tags in zip(data.pids, results):
            rows.extend((pid, t.tag, t.confidence, t.source, t.evidence) for t in tags)
        meta = {folders.CURRENT_KEY: record, folders.PREVIOUS_KEY: previous}
        if record == folders.SHIPPED:
            meta[SHIPPED_KEY] = shipped_model_id()
        store.replace_tags(rows, tagger.codebook.text, meta)
        folders.settle(store)  # only now the folders: tagger/ the model that made these tags
    return len(data.pids)
