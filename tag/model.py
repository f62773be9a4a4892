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
# 2: ``calib`` may have a third column, the weight of the tag's own rule score
# (format-1 models, two columns, load as before). Bump when a model file
# changes so that an older plansok would read it wrong.
MODEL_FORMAT = 2
_META_KEYS = {"format", "tags", "info", "extra_features"}


@dataclass
class TagModel:
    vocab: dict[str, int]
    idf: np.ndarray  # float32, per term
    tags: list[str]
    coef: np.ndarray  # tags x (terms + extra features), float32
    intercept: np.ndarray  # per tag
    info: dict = field(default_factory=dict)
    # Dense features after the terms (the rules' score per tag, prose or not),
    # named so a model and the code that feeds it cannot drift apart.
    extra_names: list[str] = field(default_factory=list)
    # Per tag, Platt scaling (a, b) of the logit, fitted on out-of-fold
    # predictions, and the decision threshold on the calibrated probability;
    # a third column c adds c x the tag's own rule score (``rule_calibration``).
    calib: np.ndarray | None = None
    thresholds: np.ndarray | None = None

    # -- features --------------------------------------------------------------------
    def features(self, docs: Sequence[Sequence[str]], extra: np.ndarray | None = None) -> sp.csr_matrix:
        x = tfidf(docs, self.vocab, self.idf)
        if self.extra_names:
            dense = np.zeros((len(docs), len(self.extra_names)), np.float32) if extra is None else extra
            x = sp.hstack([x, sp.csr_matrix(dense.astype(np.float32))], format="csr")
        return x

    def logits(self, docs: Sequence[Sequence[str]], extra: np.ndarray | None = None) -> np.ndarray:
        x = self.features(docs, extra)
        return np.asarray(x @ self.coef.T) + self.intercept

    def predict_proba(self, docs: Sequence[Sequence[str]], extra: np.ndarray | None = None) -> np.ndarray:
        """docs x tags probabilities, calibrated where the model was."""
        if not docs or not self.tags:
            return np.zeros((len(docs), len(self.tags)), dtype=np.float32)
        z = self.logits(docs, extra)
        if self.calib is not None:
            z = z * self.calib[:, 0] + self.calib[:, 1]
            if self.calib.shape[1] > 2 and extra is not None:
                z = z + self.calib[:, 2] * self.own_rule_scores(extra)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def own_rule_scores(self, extra: np.ndarray) -> np.ndarray:
        """docs x tags: each tag's own rule score among the extra features (0 without one)."""
        col = {n: j for j, n in enumerate(self.extra_names)}
        out = np.zeros((extra.shape[0], len(self.tags)), dtype=np.float32)
        for k, tag in enumerate(self.tags):
            j = col.get(f"rule:{tag}")
            if j is not None:
                out[:, k] = extra[:, j]
        return out

    def threshold(self, tag: str, default: float) -> float:
        if self.thresholds is None:
            return default
        return float(self.thresholds[self.tags.index(tag)])

    def top_terms(self, doc: Sequence[str], tag: str, n: int = 5) -> list[str]:
        """The words of ``doc`` that pushed it most towards ``tag``: the evidence."""
        j = self.tags.index(tag)
        x = tfidf([doc], self.vocab, self.idf)
        contrib = x.multiply(self.coef[j, : len(self.vocab)]).tocsr()
        idx = contrib.indices[np.argsort(-contrib.data)][:n]
        inv = {i: t for t, i in self.vocab.items()}
        return [inv[i].removeprefix("~") for i in idx if contrib[0, i] > 0 and not inv[i].startswith("§")]

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
            arrays = {"terms": terms, "idf": self.idf, "coef": self.coef, "intercept": self.intercept}
            if self.calib is not None and self.thresholds is not None:
                arrays |= {"calib": self.calib, "thresholds": self.thresholds}
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        meta = {
            "format": MODEL_FORMAT,
            "tags": self.tags,
            "extra_features": self.extra_names,
            "info": self.info,
            **(extra or {}),
        }
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
                {t: i for i, t in enumerate(terms)},
                z["idf"],
                list(meta["tags"]),
                z["coef"],
                z["intercept"],
                {**meta.get("info", {}), **{k: v for k, v in meta.items() if k not in _META_KEYS}},
                list(meta.get("extra_features", [])),
                z["calib"] if "calib" in z.files else None,
                z["thresholds"] if "thresholds" in z.files else None,
            )
        if model.coef.shape != (len(model.tags), len(terms) + len(model.extra_names)):
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


# ---------------------------------------------------------------- calibrated training


def fit_calibrated(
    docs: Sequence[Sequence[str]],
    extra: np.ndarray,
    extra_names: list[str],
    labels: dict[str, np.ndarray],
    groups: Sequence[str],
    *,
    c: float | dict[str, float] = 4.0,
    min_df: int = 2,
    folds: int = 5,
    by_group: bool = False,
    class_weight: str | None = "balanced",
    rule_calibration: Sequence[str] = (),
) -> TagModel:
    """One logistic regression per tag over TF-IDF terms and the extra dense
    features, with its probability calibrated and its threshold chosen on
    out-of-fold predictions, never on the passages a fold is trained on.

    ``labels[tag]`` per passage: 1 or 0, -1 for unknown (left out), or the
    share of coders who gave the tag (0.5 where two disagree). A shared label
    counts as a positive and a negative example of that passage, weighted by
    the share, so a disputed passage pulls half as hard as an agreed one.

    Folds are of single passages in a fixed shuffled order (``by_group``:
    whole documents instead). Passage folds fit the use the model is measured
    on, new passages of known kinds of plans; document folds scored the same
    on theme tags and lower on theory tags, whose passages come mostly from
    one document (the thesis). Deterministic: the same labels give the same
    model.

    ``c``: the regressions' inverse regularisation, one for all tags or one
    per tag (4 for a tag the dict does not name).

    ``rule_calibration``: tags whose calibration also weighs the tag's own
    rule score (the codebook's words, in their sense), fitted on the same
    out-of-fold predictions. For theory tags the classifier alone, without
    the theory's words, was right less often than its probability said
    (out-of-fold on plan passages, development labels, 2026-12-06: precision
    0.53 without a rule match against 0.79 with one); the second input lets
    the confidence say so.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    vocab, idf = fit_idf(docs, min_df=min_df)
    x = sp.hstack([tfidf(docs, vocab, idf), sp.csr_matrix(extra.astype(np.float32))], format="csr")
    group_ids = np.unique(np.asarray(groups), return_inverse=True)[1]
    if not by_group:  # folds of single passages, in a fixed shuffled order
        group_ids = np.random.default_rng(0).permutation(len(docs)) % folds
    n_folds = min(folds, len(set(group_ids.tolist())))
    tags, coefs, intercepts, calib, thresholds, stats = [], [], [], [], [], {}
    for tag, y_all in labels.items():
        share = np.asarray(y_all, dtype=np.float64)
        known = np.flatnonzero(share >= 0)  # passages whose label for this tag is known
        # A passage with a share of coders between 0 and 1 is both a positive
        # (weight: the share) and a negative (the rest).
        rows = np.concatenate([known[share[known] > 0], known[share[known] < 1]])
        y = np.concatenate([np.ones(int((share[known] > 0).sum()), np.int8),
                            np.zeros(int((share[known] < 1).sum()), np.int8)])  # fmt: skip
        w = np.where(y == 1, share[rows], 1.0 - share[rows])
        order = np.argsort(rows, kind="stable")  # passage order, as with hard labels
        rows, y, w = rows[order], y[order], w[order]
        soft = bool((w < 1).any())  # some passage's coders disagree
        pos = float(w[y == 1].sum())
        if pos < MIN_POSITIVES or float(w[y == 0].sum()) < MIN_POSITIVES or n_folds < 2:
            stats[tag] = {"positives": round(pos, 1) if soft else int(pos), "trained": False}
            continue
        xk, gk = x[rows], group_ids[rows]  # a passage's two rows share its fold
        k_folds = min(n_folds, len(set(gk.tolist())))

        c_tag = c.get(tag, 4.0) if isinstance(c, dict) else c

        def model(c_tag: float = c_tag) -> LogisticRegression:
            return LogisticRegression(
                C=c_tag, class_weight=class_weight, max_iter=2000, solver="liblinear", random_state=0
            )

        def fit(idx: np.ndarray, xk=xk, y=y, w=w if soft else None) -> LogisticRegression:
            return model().fit(xk[idx], y[idx], sample_weight=None if w is None else w[idx])

        oof = np.zeros(len(y), dtype=np.float64)
        for train_idx, test_idx in GroupKFold(n_splits=max(k_folds, 2)).split(xk, y, gk):
            if len(set(y[train_idx].tolist())) < 2:
                continue
            oof[test_idx] = fit(train_idx).decision_function(xk[test_idx])
        # Platt scaling of the out-of-fold logits: the probability a reader can trust.
        own_rule = f"rule:{tag}"
        rule_col = extra_names.index(own_rule) if tag in rule_calibration and own_rule in extra_names else None
        rule = extra[rows, rule_col].astype(np.float64) if rule_col is not None else np.zeros(len(y))
        inputs = np.column_stack([oof, rule]) if rule_col is not None else oof.reshape(-1, 1)
        platt = LogisticRegression(C=1e4, solver="lbfgs").fit(inputs, y, sample_weight=w if soft else None)
        a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
        r_coef = float(platt.coef_[0][1]) if rule_col is not None else 0.0
        p = 1.0 / (1.0 + np.exp(-(a * oof + b + r_coef * rule)))
        best_t, best_f1 = 0.5, -1.0
        for t in np.round(np.arange(0.2, 0.81, 0.05), 2):
            pred = p >= t
            tp = float(w[pred & (y == 1)].sum())  # expected true positives over the coders
            f1 = 2 * tp / (float(w[pred].sum()) + pos) if pred.any() or pos else 0.0
            if f1 > best_f1 + 1e-9:
                best_t, best_f1 = float(t), f1
        clf = fit(np.arange(len(y)))
        tags.append(tag)
        coefs.append(clf.coef_[0].astype(np.float32))
        intercepts.append(float(clf.intercept_[0]))
        calib.append((a, b, r_coef))
        thresholds.append(best_t)
        n_neg = float(w[y == 0].sum())
        stats[tag] = {"positives": round(pos, 1) if soft else int(pos),
                      "negatives": round(n_neg, 1) if soft else int(n_neg), "trained": True,
                      "threshold": best_t, "oof_f1": round(best_f1, 3)}  # fmt: skip
    width = len(vocab) + len(extra_names)
    calib_array = np.asarray(calib, dtype=np.float32).reshape(-1, 3)
    return TagModel(
        vocab,
        idf,
        tags,
        np.vstack(coefs) if coefs else np.zeros((0, width), dtype=np.float32),
        np.asarray(intercepts, dtype=np.float32),
        {"documents": len(docs), "terms": len(vocab), "tags": stats, "c": c, "min_df": min_df, "folds": n_folds},
        list(extra_names),
        calib_array if any(t in rule_calibration for t in tags) else calib_array[:, :2],
        np.asarray(thresholds, dtype=np.float32),
    )
