"""Tags for passages: the codebook's rules and the classifier, combined.

A tag fires when the rules find strong evidence (twice the tag's threshold),
when they find some and the classifier agrees (probability >= 0.3), or when
the classifier alone is sure (>= 0.5). Without a trained classifier the rules
decide alone. Confidence is the rules' ``1 - 0.5^score``, the classifier's
probability, or both combined as independent evidence. The evidence is the words that triggered the rules, or
the terms that pushed the classifier.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from plansok.analysis.analyzer import Analyzer
from plansok.errors import PlansokError
from plansok.tag.codebook import Codebook
from plansok.tag.model import TagModel
from plansok.tag.prose import is_prose
from plansok.tag.rules import RuleHit, RuleTagger, Word

logger = logging.getLogger(__name__)

MODEL_DIR = "tagger"
MODEL_THRESHOLD = 0.5
# A rule match below STRONG_FACTOR x threshold counts only when the classifier
# gives the tag at least CONFIRM_THRESHOLD: one passing mention of "skole" does
# not make a passage about education.
STRONG_FACTOR = 2.0
CONFIRM_THRESHOLD = 0.3
# Rule matches this far above a tag's threshold are precise enough to teach
# the classifier; weaker ones are left out of its training rather than
# counted as negatives.
TRAIN_RULE_FACTOR = 2.0
HAND_WEIGHT = 5.0


@dataclass
class PassageTag:
    tag: str
    confidence: float
    source: str  # "rule", "model" or "rule+model"
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"confidence": round(self.confidence, 3)}


@dataclass
class Tagger:
    codebook: Codebook
    rules: RuleTagger
    model: TagModel | None = None
    model_threshold: float = MODEL_THRESHOLD
    analyzer: Analyzer | None = None
    confirm_threshold: float = CONFIRM_THRESHOLD

    @property
    def _theories(self) -> set[str]:
        return {t.id for t in self.codebook.tags if t.kind == "theory"}

    @property
    def strong(self) -> dict[str, float]:
        """Rule scores that need no confirmation from the classifier. Theory
        terms are specific vocabulary ("resultatenhetsmodellen",
        "legitimitet"), so one match is enough; most theme words ("skole",
        "helse") are everywhere, so such a theme needs more, or the
        classifier's agreement (the codebook's ``confirm``)."""
        return {t.id: (STRONG_FACTOR if t.needs_confirmation else 1.0) * t.threshold for t in self.codebook.tags}

    @classmethod
    def build(cls, codebook: Codebook, analyzer: Analyzer, model: TagModel | None = None) -> Tagger:
        def analyse(text: str) -> list[Word]:
            return [Word.from_token_terms(tt) for tt in analyzer.analyze(text, "nb")]

        return cls(codebook, RuleTagger(codebook, analyse), model, analyzer=analyzer)

    def tag_texts(self, texts: Sequence[str], standard: str = "nb") -> list[list[PassageTag]]:
        """Tag raw texts (analysed here): for passages that are not in an index."""
        analyzer = self.analyzer or Analyzer()
        words, terms = [], []
        for text in texts:
            analysed = analyzer.analyze(text, standard)
            words.append([Word.from_token_terms(tt) for tt in analysed])
            terms.append([t for tt in analysed for t in tt.terms()])
        return self.tag(words, texts, terms)

    @classmethod
    def for_index(cls, store, analyzer: Analyzer) -> Tagger:  # store: IndexStore
        return cls.from_config(store.get_meta("codebook"), store.path / MODEL_DIR, analyzer)

    @classmethod
    def from_config(cls, codebook_text: str | None, model_dir: Path, analyzer: Analyzer) -> Tagger:
        """A codebook's text (None: the shipped one) and a model folder: what a
        worker process needs to tag exactly as the index does."""
        codebook = Codebook.from_text(codebook_text, "the index's codebook") if codebook_text else Codebook.default()
        model = TagModel.load(model_dir)
        if model is not None and model.info.get("codebook") not in (None, codebook.digest):
            logger.warning("the tag model was trained with another codebook; retrain with `plansok tag --train`")
        return cls.build(codebook, analyzer, model)

    def tag(
        self, words: Sequence[Sequence[Word]], texts: Sequence[str], terms: Sequence[Sequence[str]]
    ) -> list[list[PassageTag]]:
        """Tags for each passage (its words for the rules, its index terms for the classifier)."""
        probs = self.model.predict_proba(terms) if self.model is not None else None
        out = []
        for i, (ws, text) in enumerate(zip(words, texts)):
            hits = self.rules.tag(ws, text)
            fired = self.rules.fired(hits)
            tags: dict[str, PassageTag] = {}
            p_of = (
                {t: float(probs[i, j]) for j, t in enumerate(self.model.tags)}
                if probs is not None and self.model is not None
                else {}
            )
            for tag_id, hit in fired.items():
                p = p_of.get(tag_id)
                if p is None:  # no classifier for this tag: the rules decide
                    tags[tag_id] = PassageTag(tag_id, hit.confidence(), "rule", hit.evidence)
                elif hit.score >= self.strong[tag_id] or p >= self.confirm_threshold:
                    # The rules propose; a lone mention needs the classifier's
                    # agreement that the passage is about the tag.
                    conf = 1 - (1 - hit.confidence()) * (1 - p)
                    tags[tag_id] = PassageTag(tag_id, conf, "rule+model", hit.evidence)
            for tag_id, p in p_of.items():
                if tag_id not in tags and tag_id not in fired and p >= self.model_threshold:
                    tags[tag_id] = PassageTag(tag_id, p, "model", self.model.top_terms(terms[i], tag_id))
            if not is_prose(text):
                # A theory lives in an argument: a table, a reference list or a
                # list of titles holds its words but not its language.
                tags = {t: v for t, v in tags.items() if t not in self._theories}
            order = {t: k for k, t in enumerate(self.codebook.ids)}
            out.append(sorted(tags.values(), key=lambda t: order.get(t.tag, 99)))
        return out


# ---------------------------------------------------------------- labelled passages


@dataclass
class Labelled:
    text: str
    tags: set[str]


def load_labels(path: Path | str, codebook: Codebook) -> list[Labelled]:
    """Researcher-labelled passages: JSONL with ``text`` and ``tags`` (or
    ``themes`` + ``theories``), or CSV with columns ``text`` and ``tags``
    (tags separated by ``;`` or ``,``)."""
    import csv

    path = Path(path)
    rows: list[dict] = []
    try:
        if path.suffix.lower() in (".jsonl", ".json"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise PlansokError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        else:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise PlansokError(f"{path}: cannot read labels ({exc.strerror or exc})") from exc
    known = set(codebook.ids)
    out = []
    for n, row in enumerate(rows, start=1):
        text = (row.get("text") or "").strip()
        if not text:
            raise PlansokError(f"{path}: row {n} has no text")
        raw = row.get("tags")
        if raw is None:
            raw = [*row.get("themes", []), *row.get("theories", [])]
        tags = set(re.split(r"[;,]\s*", raw.strip())) - {""} if isinstance(raw, str) else set(raw)
        unknown = tags - known
        if unknown:
            raise PlansokError(f"{path}: row {n}: unknown tag(s) {', '.join(sorted(unknown))}")
        out.append(Labelled(text, tags))
    return out


def normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def training_labels(
    tagger: Tagger,
    words: Sequence[Sequence[Word]],
    texts: Sequence[str],
    sections: Sequence[str],
    labelled: Iterable[Labelled] = (),
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per tag, 1/0/-1 (positive, negative, left out) for each passage, from
    three sources: rule matches well above threshold, headings that match a
    tag's ``sections`` (the thesis defines each theory in a section of its
    own), and passages a researcher labelled (which override the others and
    weigh ``HAND_WEIGHT`` times as much: they are the reliable ones).
    Returns the labels and a weight per passage."""
    codebook = tagger.codebook
    n = len(texts)
    labels = {t.id: np.zeros(n, dtype=np.int8) for t in codebook.tags}
    section_res = {t.id: [re.compile(p) for p in t.sections] for t in codebook.tags}
    for i, (ws, text, section) in enumerate(zip(words, texts, sections)):
        hits: dict[str, RuleHit] = tagger.rules.tag(ws, text)
        heading = section.rsplit(" > ", 1)[-1]
        for t in codebook.tags:
            hit = hits.get(t.id)
            if (hit is not None and hit.score >= TRAIN_RULE_FACTOR * t.threshold) or (
                heading and any(r.search(heading) for r in section_res[t.id])
            ):
                labels[t.id][i] = 1
            elif hit is not None:
                labels[t.id][i] = -1
    weights = np.ones(n, dtype=np.float32)
    by_text = {normalise(lab.text): lab.tags for lab in labelled}
    for i, text in enumerate(texts):
        tags = by_text.get(normalise(text))
        if tags is not None:
            weights[i] = HAND_WEIGHT
            for t in codebook.tags:
                labels[t.id][i] = 1 if t.id in tags else 0
    return labels, weights
