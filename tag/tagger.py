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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from plansok.analysis.analyzer import Analyzer
from plansok.analysis.prose import is_prose
from plansok.errors import PlansokError
from plansok.index.model_folder import MODEL_DIR, NO_MODEL, find, is_own, recorded
from plansok.tag.codebook import Codebook
from plansok.tag.features import extra_features, forms_of, section_terms, words_and_terms
from plansok.tag.model import TagModel
from plansok.tag.rules import RuleTagger, Word

logger = logging.getLogger(__name__)

MODEL_THRESHOLD = 0.5
# A rule match below STRONG_FACTOR x threshold counts only when the classifier
# gives the tag at least CONFIRM_THRESHOLD: one passing mention of "skole" does
# not make a passage about education.
STRONG_FACTOR = 2.0
CONFIRM_THRESHOLD = 0.3


@dataclass
class PassageTag:
    tag: str
    confidence: float
    source: str  # "rule", "model" or "rule+model"
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"confidence": round(self.confidence, 3)}


def model_folder(store, record: str) -> Path | None:  # store: IndexStore
    """The folder of the model ``record`` names (None: none of the index's
    own), or an error naming what to run when no folder holds it."""
    folder = find(store, record)
    if is_own(record) and folder is None:
        raise PlansokError(
            f"{store.path / MODEL_DIR}: not the tag model the index's tags were made with ({record}), and no "
            f"other folder beside it holds that one (moved or edited by hand?); `plansok tag --train` makes a "
            f"new model and tags every passage with it"
        )
    return folder


@dataclass
class Tagger:
    codebook: Codebook
    rules: RuleTagger
    model: TagModel | None = None
    model_threshold: float = MODEL_THRESHOLD
    analyzer: Analyzer | None = None
    confirm_threshold: float = CONFIRM_THRESHOLD
    # The model as the index records it (tag/model_folder.py): ``sha256:...``,
    # ``shipped`` or ``none``; None for a model saved nowhere yet.
    model_id: str | None = None

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

    def analyse_texts(self, texts: Sequence[str], standard: str = "nb") -> tuple[list[list[Word]], list[list[str]]]:
        """Raw texts' words (for the rules) and index terms (for the
        classifier), as an index would store them."""
        analyzer = self.analyzer or Analyzer()
        words, terms = [], []
        for text in texts:
            w, t = words_and_terms(text, standard, forms_of(analyzer.analyze(text, standard), standard))
            words.append(w)
            terms.append(t)
        return words, terms

    def tag_texts(
        self, texts: Sequence[str], standard: str = "nb", sections: Sequence[str] | None = None
    ) -> list[list[PassageTag]]:
        """Tag raw texts (analysed here) as they would be tagged in an index."""
        words, terms = self.analyse_texts(texts, standard)
        return self.tag(words, texts, terms, sections)

    @classmethod
    def for_index(cls, store, analyzer: Analyzer) -> Tagger:  # store: IndexStore
        """The index's tagger: its codebook and the model its tags were made with."""
        return cls.for_record(store, recorded(store)[0], analyzer)

    @classmethod
    def for_record(cls, store, record: str, analyzer: Analyzer) -> Tagger:  # store: IndexStore
        """The index's codebook with the model ``record`` names, found by its
        digest in whichever folder a killed training or undo left it."""
        codebook_text = store.get_meta("codebook")
        folder = model_folder(store, record)
        tagger = cls.from_config(codebook_text, folder, analyzer, shipped=record != NO_MODEL)
        tagger.model_id = record
        return tagger

    @classmethod
    def from_config(
        cls, codebook_text: str | None, model_dir: Path | None, analyzer: Analyzer, *, shipped: bool = True
    ) -> Tagger:
        """A codebook's text (None: the shipped one) and a model folder (None:
        none of the index's own): what a worker process needs to tag exactly as
        the index does. Without a model the shipped one tags, where it fits the
        codebook, unless ``shipped`` is False (the rules alone)."""
        codebook = Codebook.from_text(codebook_text, "the index's codebook") if codebook_text else Codebook.default()
        model = TagModel.load(model_dir) if model_dir is not None else None
        if model is None and shipped:
            # A fresh index tags with the shipped model from its first ingest;
            # a codebook of the researcher's own has no shipped model.
            from plansok.tag.build import shipped_model

            default = shipped_model()
            if default is not None and default.info.get("codebook") == codebook.digest:
                model = default
        if model is not None and model.info.get("codebook") not in (None, codebook.digest):
            logger.warning("the tag model was trained with another codebook; retrain with `plansok tag --train`")
        return cls.build(codebook, analyzer, model)

    def tag(
        self,
        words: Sequence[Sequence[Word]],
        texts: Sequence[str],
        terms: Sequence[Sequence[str]],
        sections: Sequence[str] | None = None,
    ) -> list[list[PassageTag]]:
        """Tags for each passage (its words for the rules, its index terms and
        section path for the classifier).

        With a calibrated model (the shipped one, or one trained on labelled
        passages) the classifier decides every tag it has learnt, at the tag's
        threshold, and its probability is the confidence; the rules' scores
        are among its features and their matches are the evidence shown. Tags
        without a learnt model are decided by the rules."""
        model = self.model
        probs = None
        if model is not None and model.tags:
            sections = sections if sections is not None else [""] * len(texts)
            docs = [[*t, *section_terms(sec)] for t, sec in zip(terms, sections)]
            extra = extra_features(self.rules, words, texts, model.extra_names) if model.extra_names else None
            probs = model.predict_proba(docs, extra)
        calibrated = model is not None and model.thresholds is not None
        out = []
        for i, (ws, text) in enumerate(zip(words, texts)):
            hits = self.rules.tag(ws, text)
            fired = self.rules.fired(hits)
            tags: dict[str, PassageTag] = {}
            p_of = (
                {t: float(probs[i, j]) for j, t in enumerate(model.tags)}
                if probs is not None and model is not None
                else {}
            )
            if calibrated and model is not None:
                for tag_id, p in p_of.items():
                    if p >= model.threshold(tag_id, 0.5):
                        hit = hits.get(tag_id)
                        evidence = hit.evidence if hit and hit.evidence else model.top_terms(terms[i], tag_id)
                        tags[tag_id] = PassageTag(tag_id, p, "rule+model" if hit else "model", evidence)
                for tag_id, hit in fired.items():
                    if tag_id not in p_of:  # no model for this tag: the rules decide
                        tags[tag_id] = PassageTag(tag_id, hit.confidence(), "rule", hit.evidence)
            else:
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
                        tags[tag_id] = PassageTag(tag_id, p, "model", model.top_terms(terms[i], tag_id))  # type: ignore[union-attr]
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
    # Tags known to be absent. A complete label (a labels file) says every
    # other tag is absent; a review decision speaks for its one tag only.
    negatives: set[str] = field(default_factory=set)
    complete: bool = True


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
