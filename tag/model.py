"""A linear text classifier per tag (scikit-learn), so tags also fire on
passages that use none of the codebook's words.

Features are TF-IDF weights of the passage's index terms (lemmas, compound
parts, stems); each tag gets a logistic regression with balanced class
weights. The model is saved as plain arrays (``model.npz`` + ``model.json``),
not a pickle: it loads without running code and survives library upgrades.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from plansok.errors import PlansokError

logger = logging.getLogger(__name__)

MIN_POSITIVES = 5
MODEL_NPZ = "model.npz"
MODEL_JSON = "model.json"
MODEL_FORMAT = 1  # bump with a named migration in index/migrations.py


@dataclass
class TagModel:
    vocab: dict[str, int]
    idf: np.ndarray  # float32, per term
    tags: list[str]
    coef: np.ndarray  # tags x terms, float32
    intercept: np.ndarray  # per tag
    info: dict = field(default_factory=dict)

    # -- features --------------------------------------------------------------------
    def features(self, docs: Sequence[Sequence[str]]) -> sp.csr_matrix:
        return tfidf(docs, self.vocab, self.idf)

    def predict_proba(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        """docs x tags probabilities."""
        if not docs or not self.tags:
            return np.zeros((len(docs), len(self.tags)), dtype=np.float32)
        x = self.features(docs)
        logits = np.asarray(x @ self.coef.T) + self.intercept
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def top_terms(self, doc: Sequence[str], tag: str, n: int = 5) -> list[str]:
        """The terms of ``doc`` that pushed it most towards ``tag``: the evidence."""
        j = self.tags.index(tag)
        x = self.features([doc])
        contrib = x.multiply(self.coef[j]).tocsr()
        idx = contrib.indices[np.argsort(-contrib.data)][:n]
        inv = {i: t for t, i in self.vocab.items()}
        return [inv[i] for i in idx if contrib[0, i] > 0]

    # -- training -----------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        docs: Sequence[Sequence[str]],
        labels: dict[str, np.ndarray],
        weights: np.ndarray | None = None,
        *,
        c: float = 4.0,
        min_df: int = 2,
    ) -> TagModel:
        """Train one logistic regression per tag; ``labels[tag]`` holds 1
        (positive), 0 (negative) or -1 (unknown: left out) per document."""
        from sklearn.linear_model import LogisticRegression

        vocab, idf = fit_idf(docs, min_df=min_df)
        x = tfidf(docs, vocab, idf)
        tags, coefs, intercepts, stats = [], [], [], {}
        for tag, y in labels.items():
            known = y >= 0
            pos = int((y == 1).sum())
            if pos < MIN_POSITIVES or int((y == 0).sum()) < MIN_POSITIVES:
                stats[tag] = {"positives": pos, "trained": False}
                continue
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
            clf.fit(x[known], y[known], sample_weight=None if weights is None else weights[known])
            tags.append(tag)
            coefs.append(clf.coef_[0].astype(np.float32))
            intercepts.append(float(clf.intercept_[0]))
            stats[tag] = {"positives": pos, "negatives": int((y == 0).sum()), "trained": True}
        coef = np.vstack(coefs) if coefs else np.zeros((0, len(vocab)), dtype=np.float32)
        info = {"documents": len(docs), "terms": len(vocab), "tags": stats, "c": c, "min_df": min_df}
        return cls(vocab, idf, tags, coef, np.asarray(intercepts, dtype=np.float32), info)

    # -- persistence --------------------------------------------------------------------
    def save(self, folder: Path, extra: dict | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        terms = np.asarray(sorted(self.vocab, key=self.vocab.__getitem__), dtype=str)
        tmp = folder / (MODEL_NPZ + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, terms=terms, idf=self.idf, coef=self.coef, intercept=self.intercept)
            fh.flush()
            os.fsync(fh.fileno())
        meta = {"format": MODEL_FORMAT, "tags": self.tags, "info": self.info, **(extra or {})}
        tmp_json = folder / (MODEL_JSON + ".tmp")
        tmp_json.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        # The JSON names the tags the arrays hold, so it is replaced last.
        os.replace(tmp, folder / MODEL_NPZ)
        os.replace(tmp_json, folder / MODEL_JSON)

    @classmethod
    def load(cls, folder: Path) -> TagModel | None:
        npz, meta_path = folder / MODEL_NPZ, folder / MODEL_JSON
        if not npz.exists() or not meta_path.exists():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if int(meta.get("format", 1)) > MODEL_FORMAT:
            # Tagging with rules alone instead would change every tag without a word.
            raise PlansokError(
                f"{meta_path}: tag model format {meta['format']} was written by a newer plansok "
                f"(this one reads up to {MODEL_FORMAT}); upgrade plansok, or retrain with `plansok tag --train`"
            )
        with np.load(npz, allow_pickle=False) as z:
            terms = z["terms"].tolist()
            model = cls(
                {t: i for i, t in enumerate(terms)}, z["idf"], list(meta["tags"]), z["coef"], z["intercept"], meta
            )
        if model.coef.shape != (len(model.tags), len(terms)):
            logger.warning("%s: model arrays do not match its tags; ignoring the model", folder)
            return None
        return model


def fit_idf(docs: Sequence[Sequence[str]], min_df: int = 2) -> tuple[dict[str, int], np.ndarray]:
    df: dict[str, int] = {}
    for d in docs:
        for t in set(d):
            df[t] = df.get(t, 0) + 1
    terms = sorted(t for t, n in df.items() if n >= min_df)
    vocab = {t: i for i, t in enumerate(terms)}
    n = len(docs)
    # scikit-learn's smooth idf, so the features match TfidfVectorizer's.
    idf = np.log((1 + n) / (1 + np.array([df[t] for t in terms], dtype=np.float64))) + 1
    return vocab, idf.astype(np.float32)


def tfidf(docs: Sequence[Sequence[str]], vocab: dict[str, int], idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf x idf, each row L2-normalised."""
    indptr, indices, data = [0], [], []
    for d in docs:
        counts: dict[int, int] = {}
        for t in d:
            j = vocab.get(t)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        vals = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * idf[cols]
        norm = float(np.sqrt((vals**2).sum())) or 1.0
        indices.extend(cols.tolist())
        data.extend((vals / norm).tolist())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
        shape=(len(docs), len(vocab)),
    )
