"""Training the classifier from an index, and re-tagging every passage.

Both read passages back from the index: their words and terms come from the
stored word forms, so neither needs spaCy or the dictionaries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plansok.analysis.analyzer import Analyzer, form_key, tokenize
from plansok.index.store import IndexStore
from plansok.models import Passage
from plansok.tag.model import TagModel
from plansok.tag.rules import Word
from plansok.tag.tagger import HAND_WEIGHT, MODEL_DIR, Labelled, Tagger, normalise, training_labels

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
        words, terms = [], []
        for tok in tokenize(p.text):
            t = forms.get(form_key(std, tok.form), [])
            words.append(Word.from_terms(tok.form, t))
            terms.extend(t)
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
    """Train the classifier on the index's passages (and the researcher's
    labelled ones), save it in ``<index>/tagger`` and return it."""
    data = read_passages(store, exclude)
    texts = [p.text for p in data.passages]
    sections = [p.section for p in data.passages]
    labels, weights = training_labels(tagger, data.words, texts, sections, labelled)
    # Labelled passages that are not in the index still teach the model.
    known = {normalise(t) for t in texts}
    extra = [lab for lab in labelled if normalise(lab.text) not in known]
    if extra:
        import numpy as np

        analyzer = tagger.analyzer or Analyzer()
        for lab in extra:
            data.terms.append(analyzer.terms(lab.text))
        for tag_id, y in labels.items():
            labels[tag_id] = np.concatenate([y, [1 if tag_id in lab.tags else 0 for lab in extra]]).astype(np.int8)
        weights = np.concatenate([weights, np.full(len(extra), HAND_WEIGHT, dtype=np.float32)])
    model = TagModel.train(data.terms, labels, weights)
    model.info["codebook"] = tagger.codebook.digest
    model.info["labelled"] = len(labelled)
    if save:
        model.save(store.path / MODEL_DIR, {"codebook": tagger.codebook.digest})
    logger.info("trained tags %s on %d passages", ", ".join(model.tags), len(data.terms))
    return model


def retag(store: IndexStore, tagger: Tagger) -> int:
    """Tag every passage again with ``tagger`` (after training, or with a new
    codebook); the index's tags are swapped in one transaction."""
    # Under the writer lock from the first read to the swap: an ingest committed
    # in between would otherwise have its passages' tags deleted and not rewritten.
    with store.write_lock():
        data = read_passages(store)
        rows = []
        results = tagger.tag(data.words, [p.text for p in data.passages], data.terms)
        for pid, tags in zip(data.pids, results):
            rows.extend((pid, t.tag, t.confidence, t.source, t.evidence) for t in tags)
        store.replace_tags(rows, tagger.codebook.text)
    return len(data.pids)
