"""Norwegian word knowledge: lemmas for bokmål and nynorsk, nn->nb mapping,
stop words and compound splitting.

Everything here is pure Python over simplemma's dictionaries and the lists in
``data/``, so the query path can use it without importing spaCy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

logger = logging.getLogger(__name__)

# Linking elements between the parts of a compound: sosialhjelp-s-mottaker,
# barn-e-fattigdom, and none at all: folkehelse-oversikt.
LINKERS = ("s", "e", "")
MIN_MODIFIER = 3
MIN_HEAD = 4
MIN_COMPOUND = 7
MIN_RESPLIT = 9
# Splitting tries every cut of a word: beyond this length it is not a word.
MAX_WORD = 64
# Derivational prefixes that look like words but do not make compounds
# ("samfunn" is not sam+funn, "overordnet" not over+ordnet).
NOT_MODIFIERS = frozenset(
    [
        "sam",
        "for",
        "mot",
        "inn",
        "ned",
        "opp",
        "over",
        "under",
        "ut",
        "gjen",
        "mis",
        "van",
        "bi",
        "an",
        "be",
        "er",
        "til",
        "fra",
        "av",
        "med",
        "ved",
        "etter",
        "utan",
        "uten",
        "fore",
        "føre",
        "hel",
        "all",
        "sær",
        "også",
    ]
)


# Derivational endings that are also words: berede|skap, aldr|ende are not compounds.
NOT_HEADS = frozenset(
    [
        "skap",
        "ende",
        "ande",
        "else",
        "ning",
        "ring",
        "ering",
        "heit",
        "het",
        "dom",
        "lig",
        "isk",
        "ere",
        "ing",
        "tilling",
    ]
)


def _read_list(name: str) -> list[str]:
    text = resources.files("plansok.analysis").joinpath("data", name).read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _read_pairs(name: str) -> list[tuple[str, str]]:
    pairs = []
    for line in _read_list(name):
        cols = line.split("#", 1)[0].split("\t")
        if len(cols) >= 2 and cols[0].strip() and cols[1].strip():
            pairs.append((cols[0].strip().lower(), cols[1].strip().lower()))
    return pairs


@dataclass
class Lexicon:
    """Lemmas, standard mapping, stop words and compounds. Load once, share freely.

    Loading simplemma's dictionaries costs about half a second, so nothing is
    read until first use.
    """

    _lemma_cache: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _split_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    # -- resources -----------------------------------------------------------------
    @cached_property
    def _factory(self) -> object:
        from simplemma.strategies.dictionaries import DefaultDictionaryFactory

        return DefaultDictionaryFactory()

    @cached_property
    def _dicts(self) -> dict[str, object]:
        f = self._factory
        return {"nb": f.get_dictionary("nb"), "nn": f.get_dictionary("nn")}  # type: ignore[attr-defined]

    @cached_property
    def _simplemma(self) -> object:
        # simplemma's rules for unknown words, over the dictionaries loaded above
        # (its module-level lemmatize() would load them a second time).
        from simplemma import Lemmatizer
        from simplemma.strategies.default import DefaultStrategy

        return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=self._factory))

    @cached_property
    def nb_lemmas(self) -> frozenset[str]:
        return frozenset(v.lower() for v in self._dicts["nb"].values())  # type: ignore[attr-defined]

    @cached_property
    def nn_lemmas(self) -> frozenset[str]:
        return frozenset(v.lower() for v in self._dicts["nn"].values())  # type: ignore[attr-defined]

    @cached_property
    def stop_words(self) -> frozenset[str]:
        return frozenset(_read_list("stopwords_nb.txt")) | frozenset(_read_list("stopwords_nn.txt"))

    @cached_property
    def nn_to_nb(self) -> dict[str, str]:
        return dict(_read_pairs("nn_nb.tsv"))

    @cached_property
    def nn_rules(self) -> list[tuple[str, str]]:
        # Longest suffix first so "teneste" wins over "e".
        return sorted(_read_pairs("nn_nb_rules.tsv"), key=lambda p: -len(p[0]))

    @cached_property
    def _stemmer(self) -> object:
        import Stemmer

        return Stemmer.Stemmer("norwegian")

    def stem(self, lemma: str) -> str:
        """Snowball's Norwegian stem (what Lucene's norwegian analyzer uses)."""
        if not lemma.isalpha():
            return lemma
        return self._stemmer.stemWord(lemma)  # type: ignore[attr-defined]

    def is_known(self, word: str) -> bool:
        """A word form or lemma found in either standard's dictionary."""
        d = self._dicts
        return (
            word in d["nb"]  # type: ignore[operator]
            or word in d["nn"]  # type: ignore[operator]
            or word in self.nb_lemmas
            or word in self.nn_lemmas
        )

    def is_lemma(self, word: str) -> bool:
        return word in self.nb_lemmas or word in self.nn_lemmas

    # -- lemmas --------------------------------------------------------------------
    def lemma(self, form: str, standard: str = "nb") -> str:
        """The bokmål-normalised lemma of a lower-case word form.

        Dictionaries before guesses: the written standard's own dictionary,
        then the other one, then a compound whose head is a known form
        ("lavinntektsfamiliene" -> lavinntekts + familie), and only then
        simplemma's suffix rules, which invent stems for words they do not
        know ("lavinntekt" -> "lavinntekk").
        """
        key = (form, standard)
        hit = self._lemma_cache.get(key)
        if hit is not None:
            return hit
        if len(form) < 2 or len(form) > MAX_WORD or not any(c.isalpha() for c in form):
            lemma = form  # the longest Norwegian words are far shorter; garbage stays as it is
        elif form in self.overrides:
            lemma = self.overrides[form]
        elif form in self.nn_to_nb and form not in self._dicts["nb"]:  # type: ignore[operator]
            # A nynorsk base form the table knows (samfunnstryggleik), even
            # where simplemma's nynorsk dictionary does not.
            lemma = self.nn_to_nb[form]
        else:
            lemma, from_nn = self._dictionary_lemma(form, standard)
            if lemma is None:
                lemma, from_nn = self._head_lemma(form, standard)
            if lemma is None:
                langs = ("nn", "nb") if standard == "nn" else ("nb", "nn")
                guess = self._simplemma.lemmatize(form, lang=langs)  # type: ignore[attr-defined]
                lemma, from_nn = guess.lower(), standard == "nn"
            # The nynorsk table also holds words that mean something else in
            # bokmål (skule, bu), so bokmål text only uses it for nynorsk lemmas.
            if from_nn or lemma not in self.nb_lemmas:
                lemma = self.to_bokmaal(lemma)
        self._lemma_cache[key] = lemma
        return lemma

    def _dictionary_lemma(self, form: str, standard: str) -> tuple[str | None, bool]:
        if form in self.overrides:
            return self.overrides[form], False
        order = ("nn", "nb") if standard == "nn" else ("nb", "nn")
        for lang in order:
            lemma = self._dicts[lang].get(form)  # type: ignore[attr-defined]
            if lemma is not None:
                return lemma.lower(), lang == "nn"
        return None, False

    def _head_lemma(self, form: str, standard: str) -> tuple[str | None, bool]:
        """Lemmatise an unknown compound through its head: of the cuts whose
        head is a known form after a valid modifier, the most frequent head
        wins (fritids|kortet, not fritid|skortet), the longer one on a tie."""
        best: tuple[float, int, str, bool] | None = None
        for cut in range(MIN_MODIFIER, len(form) - MIN_HEAD + 1):
            head, modifier = form[cut:], form[:cut]
            if head in self.stop_words:
                continue
            head_lemma, from_nn = self._dictionary_lemma(head, standard)
            if head_lemma is None or head_lemma in self.stop_words:
                continue
            if self._modifier(modifier, head) is None:
                continue
            # Frequencies are bokmål: judge a nynorsk head by its bokmål lemma.
            key = (self.frequency(self.to_bokmaal(head_lemma)) or self.frequency(head), len(head))
            if best is None or key > best[:2]:
                best = (*key, modifier + head_lemma, from_nn)
        return (best[2], best[3]) if best else (None, False)

    @cached_property
    def _frequencies(self) -> dict[str, float]:
        # wordfreq's Norwegian (bokmål) word frequencies; nynorsk words it does
        # not list count as rare, which only matters between rival splits.
        from wordfreq import get_frequency_dict

        return get_frequency_dict("nb")

    def frequency(self, word: str) -> float:
        return self._frequencies.get(word, 0.0)

    def _modifier(self, left: str, head: str) -> str | None:
        """The modifier in ``left`` (its linking s/e removed), if it is one: a
        lemma, or itself a compound (lavinntekt|s|familie)."""
        for linker in LINKERS:
            if linker and not left.endswith(linker):
                continue
            modifier = left[: len(left) - len(linker)] if linker else left
            if len(modifier) < MIN_MODIFIER or modifier in NOT_MODIFIERS or modifier in self.stop_words:
                continue
            if self.is_lemma(modifier) or (len(modifier) >= MIN_COMPOUND and self._binary_split(modifier) is not None):
                return modifier
        return None

    @cached_property
    def overrides(self) -> dict[str, str]:
        return dict(_read_pairs("lemma_overrides.tsv"))

    def to_bokmaal(self, lemma: str) -> str:
        """Map a nynorsk lemma to its bokmål counterpart, so that "tenester" finds
        "tjenester". Rules only apply when they produce a real bokmål lemma."""
        mapped = self.nn_to_nb.get(lemma)
        if mapped:
            return mapped
        if lemma in self.nb_lemmas or lemma not in self.nn_lemmas:
            return lemma
        for nn_suffix, nb_suffix in self.nn_rules:
            if lemma.endswith(nn_suffix):
                candidate = lemma[: len(lemma) - len(nn_suffix)] + nb_suffix
                if candidate in self.nb_lemmas:
                    return candidate
        # A nynorsk compound whose head the table knows: samfunnstryggleik.
        parts = self.split(lemma)
        if len(parts) >= 2:
            head = parts[1]
            mapped_head = self.nn_to_nb.get(head)
            if mapped_head and lemma.endswith(head):
                return lemma[: -len(head)] + mapped_head
        return lemma

    # -- compounds -----------------------------------------------------------------
    def split(self, word: str) -> tuple[str, ...]:
        """Parts of a compound, outermost split first, e.g.
        sosialhjelpsmottaker -> (sosialhjelp, mottaker, sosial, hjelp).

        The split takes the longest head that is a lemma after a modifier that
        is a lemma (or a compound of lemmas), with an optional linking s or e.
        """
        hit = self._split_cache.get(word)
        if hit is not None:
            return hit
        parts: list[str] = []
        best = self._binary_split(word) if MIN_COMPOUND <= len(word) <= MAX_WORD and word.isalpha() else None
        if best:
            modifier, head = best
            parts = [modifier, head]
            # Short parts are split no further: mottaker is not mott|aker.
            for sub in (modifier, head):
                if len(sub) < MIN_RESPLIT:
                    continue
                for p in self.split(sub):
                    if p not in parts:
                        parts.append(p)
        result = tuple(parts)
        self._split_cache[word] = result
        return result

    def _binary_split(self, word: str) -> tuple[str, str] | None:
        """The most likely (modifier, head) split: both parts lemmas (the
        modifier may itself be a compound), chosen by the geometric mean of
        the parts' frequencies (Koehn and Knight 2003), so kommune|styre beats
        kommunes|tyre and markeds|tenkning beats marked|stenkning."""
        best: tuple[float, int, str, str] | None = None
        for cut in range(MIN_MODIFIER, len(word) - MIN_HEAD + 1):
            head = word[cut:]
            if head in NOT_HEADS or head in self.stop_words or not self.is_lemma(head):
                continue
            left = word[:cut]
            # A three-letter modifier with no linker is too often a false
            # split of a simple word (bos|ting for bosetting).
            if len(left) == MIN_MODIFIER and len(head) < 6:
                continue
            modifier = self._modifier(left, head)
            if modifier is None:
                continue
            f_mod = self.frequency(self.to_bokmaal(modifier)) or self.frequency(left)
            score = (f_mod * self.frequency(self.to_bokmaal(head))) ** 0.5
            key = (score, len(head))
            if best is None or key > best[:2]:
                best = (*key, modifier, head)
        return (best[2], best[3]) if best else None

    def warm(self, words: Iterable[str] = ()) -> None:
        """Load the dictionaries now (e.g. before a timed run or in a worker)."""
        _ = self.nb_lemmas, self.nn_lemmas, self.stop_words, self.nn_to_nb, self.nn_rules, self.overrides
        _ = self._frequencies
        for w in words:
            self.lemma(w)
