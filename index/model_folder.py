"""Where an index's tag model lives, and how training and undo swap it so that
no crash leaves the index's tags made by one model while another sits in
``tagger/`` (issue 10). It is part of the index layer: the folders belong to
the index, and opening and writing it settle them.

    <index>/tagger/            the model the index's tags were made with (absent: none of the index's own)
    <index>/tagger.next/       a training's new model, or the one an undo puts back, until the swap is done
    <index>/tagger.previous/   the model the last training replaced: what ``plansok tag --undo`` puts back

The commit point is SQLite. The transaction that rewrites every passage's tags
(``IndexStore.replace_tags``) also records which model made them
(``meta.tag_model``) and which one an undo puts back
(``meta.tag_model_previous``), each as

    sha256:<hex>   a model of the index's own, by the digest of its model.npz and model.json
    shipped        no model of the index's own: the shipped model where it fits the codebook
    none           no classifier: the codebook's rules alone (after a codebook change)
    ""             (previous only) nothing to undo

The folders are made to match the record only after that commit (``settle``).
A folder is known by its digest, not its name, so whatever a kill left behind,
``settle`` moves the folder holding the recorded model to ``tagger/`` and the
one holding the previous model to ``tagger.previous/``, and deletes any other.
It runs when an index is opened (unless a writer holds the lock: that writer
settles itself) and before every write. Until it has run, ``Tagger.for_index``
finds the recorded model in whichever folder holds it.

An index written before the record has neither key: its folders are what they
say (``tagger/``, else the shipped model; ``tagger.previous/``, or its
``SHIPPED`` mark), and its first retag records them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plansok.index.store import fsync_dir

logger = logging.getLogger(__name__)

MODEL_DIR = "tagger"
NEXT_DIR = "tagger.next"
PREVIOUS_DIR = "tagger.previous"
SLOTS = (MODEL_DIR, NEXT_DIR, PREVIOUS_DIR)  # where a recorded model is looked for, in this order
SHIPPED_MARK = "SHIPPED"  # written in tagger.previous/ before the record: "undo goes back to the shipped model"
CURRENT_KEY = "tag_model"
PREVIOUS_KEY = "tag_model_previous"
SHIPPED = "shipped"
NO_MODEL = "none"
_FILES = ("model.npz", "model.json")  # tag/model.py's MODEL_NPZ and MODEL_JSON (not imported: it loads scipy)


def is_own(record: str) -> bool:
    """Whether a record names a model of the index's own (a folder)."""
    return record.startswith("sha256:")


def digest(folder: Path) -> str | None:
    """``sha256:<hex>`` of the model in ``folder`` (its arrays and its JSON);
    None when either file is missing (a folder half-written or half-deleted)."""
    h = hashlib.sha256()
    for name in _FILES:
        try:
            with open(folder / name, "rb") as fh:
                h.update(f"{name}\0{os.fstat(fh.fileno()).st_size}\0".encode())
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except (FileNotFoundError, NotADirectoryError):
            return None
    return "sha256:" + h.hexdigest()


def recorded(store: Any) -> tuple[str, str]:  # store: IndexStore
    """(the model the index's tags were made with, the one an undo puts back)."""
    current = store.get_meta(CURRENT_KEY)
    if current is None:
        current = digest(store.path / MODEL_DIR) or SHIPPED
    previous = store.get_meta(PREVIOUS_KEY)
    if previous is None:
        folder = store.path / PREVIOUS_DIR
        previous = SHIPPED if (folder / SHIPPED_MARK).exists() else (digest(folder) or "")
    return current, previous


def adopt(store: Any) -> None:
    """Record what an index without a record has (``recorded``), before a
    training or undo moves folders: from then on a kill leaves states
    ``settle`` can tell apart. Call with the writer lock held."""
    if store.get_meta(CURRENT_KEY) is None:
        current, previous = recorded(store)
        with store.transaction():
            store.set_meta(CURRENT_KEY, current)
            store.set_meta(PREVIOUS_KEY, previous)


def find(store: Any, record: str) -> Path | None:
    """The folder holding the model ``record`` names, wherever a kill left it."""
    if not is_own(record):
        return None
    for slot in SLOTS:
        if digest(store.path / slot) == record:
            return store.path / slot
    return None


def needs_settling(store: Any) -> bool:
    """Whether the folders may disagree with the record: checked on every open,
    so it looks only at which folders exist (every state a killed training or
    undo leaves after its commit shows here; ``settle`` compares digests)."""
    current = store.get_meta(CURRENT_KEY)
    if current is None:
        return False
    previous = store.get_meta(PREVIOUS_KEY) or ""
    exists = {slot: (store.path / slot).exists() for slot in SLOTS}
    return exists[NEXT_DIR] or exists[MODEL_DIR] != is_own(current) or exists[PREVIOUS_DIR] != is_own(previous)


def settle_on_open(store: Any) -> None:
    """``settle`` if the folders may disagree and no writer is at work (a
    writer settles after its own commit; a reader meanwhile finds the model by
    its digest). A folder this process may not write is left as it is."""
    if not needs_settling(store):
        return
    try:
        with store.write_lock(wait=False) as locked:
            if locked:
                settle(store)
    except OSError as exc:
        logger.warning("%s: the tag model folders do not match the index's record and cannot be fixed here (%s)",
                       store.path, exc)  # fmt: skip


def settle(store: Any) -> None:
    """Make the folders match the record: the recorded model in ``tagger/``, the
    previous one in ``tagger.previous/``, nothing else. Every step is one rename
    or one deletion and the next call starts from what is on disk, so a kill
    in here is finished by the next call. Call with the writer lock held."""
    if store.get_meta(CURRENT_KEY) is None:
        return  # never recorded: the folders are the record
    current, previous = recorded(store)
    wanted = {slot: record for slot, record in ((MODEL_DIR, current), (PREVIOUS_DIR, previous)) if is_own(record)}
    held = {slot: digest(store.path / slot) for slot in SLOTS if (store.path / slot).exists()}
    if is_own(current) and current not in held.values():
        # Not a state a kill leaves: someone moved or edited the files. Leave them; tagging names the problem.
        logger.error("%s: no tag model folder holds the model the index's tags were made with (%s)",
                     store.path, current)  # fmt: skip
        return
    changed = False
    kept: set[str] = set()
    for slot in SLOTS:  # first the folders nothing names, and second copies
        if slot not in held:
            continue
        if held[slot] in wanted.values() and held[slot] not in kept:
            kept.add(held[slot])  # type: ignore[arg-type]
            continue
        logger.info("%s: removing %s (a model the index's tags no longer name)", store.path, slot)
        remove(store.path / slot)
        del held[slot]
        changed = True
    for _ in range(6):  # at most two folders in three places: a swap takes three moves
        todo = [(slot, record) for slot, record in wanted.items() if held.get(slot) != record]
        if not todo:
            break
        slot, record = todo[0]
        if slot in held:  # the place holds the other wanted model: move that out of the way first
            free = next(s for s in SLOTS if s not in held and s != slot)
            rename(store.path / slot, store.path / free)
            held[free] = held.pop(slot)
        else:
            source = next((s for s, d in held.items() if d == record), None)
            if source is None:
                logger.warning("%s: the model an undo would put back (%s) is gone", store.path, record)
                del wanted[slot]
                continue
            rename(store.path / source, store.path / slot)
            held[slot] = held.pop(source)
        changed = True
    if changed:
        fsync_dir(store.path)


def write_next(store: Any, model: Any, codebook_digest: str) -> str:  # model: TagModel
    """Save ``model`` in ``tagger.next/``, on disk before anything refers to
    it; returns its record. Call after ``settle`` with the writer lock held:
    a ``tagger.next/`` left then is a killed training's, named by no record."""
    folder = store.path / NEXT_DIR
    if folder.exists():
        remove(folder)
    # The time makes every training's files, and so its record, its own: a
    # training that learns the same numbers as the one before it still has a
    # folder of its own for an undo to put back.
    model.save(folder, {"codebook": codebook_digest, "saved": datetime.now(UTC).isoformat(timespec="microseconds")})
    for name in _FILES:
        with open(folder / name, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)
    fsync_dir(store.path)
    record = digest(folder)
    if record is None:
        raise OSError(f"{folder}: the model just saved is incomplete")
    return record


def rename(source: Path, target: Path) -> None:
    os.rename(source, target)


def remove(folder: Path) -> None:
    shutil.rmtree(folder)
