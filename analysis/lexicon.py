"""Norwegian word knowledge: from a word form to bokmål lemmas and compound parts.

The lexicon is Apertium's nynorsk–bokmål pair (analysers for both written
standards built on Norsk ordbank, and the nn→nb bilingual dictionary; see
:mod:`plansok.analysis.apertium`). What the analysers cannot tell apart is
decided by word frequency (wordfreq's Norwegian list): of the readings of
"planer" (plan, plane, planere) only the frequent one is kept, while both
readings of nynorsk "låg" (ligge, lav) are.

Nothing here depends on which documents are indexed: a word is analysed the
same way in a query and in any document of its written standard.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from plansok.analysis.apertium import Apertium, Reading, Unit
from plansok.analysis.frequencies import WordFrequencies
from plansok.lang import no as lang

logger = logging.getLogger(__name__)

# A reading is kept when its frequency is at least this share of the best one's.
KEEP_SHARE = 0.2
MAX_READINGS = 2
MIN_MODIFIER = 3
MIN_HEAD = 4
MIN_SPLIT = 7  # shorter lexicalised words are not split further
MAX_WORD = 64
PIECE_CACHE_MAX = 1_000_000  # entries; a national corpus meets more pieces than memory should hold
FREQ_FLOOR = 1e-9
# Parts of speech that carry no topic; a content reading wins over them.
FUNCTION_POS = frozenset(
    ["pr", "cnjcoo", "cnjsub", "cnjadv", "det", "prn", "ij", "preadv", "sent", "cm", "lpar", "rpar"]
)
CONTENT_POS = frozenset(["n", "adj", "vblex", "vbmod", "adv", "np", "abbr", "acr", "num"])
STANDARDS = ("nb", "nn")


@dataclass(frozen=True)
class WordAnalysis:
    """What a word form contributes to the index: its whole-word lemmas
    (bokmål, compounds joined) and the lemmas of its compound parts."""

    whole: tuple[str, ...]
    parts: tuple[str, ...] = ()
    known: bool = True  # the analysers knew the form (or its compound parts)
    compound: bool = False  # analysed as a compound the dictionary does not list

    @property
    def lemma(self) -> str:
        return self.whole[0] if self.whole else ""


@dataclass
class Lexicon:
    """Lemmas, nn→nb mapping, stop words and compounds. Load once, share freely.

    ``standard`` is "nb" or "nn" for document text (that standard's analyser
    first, the other for words it does not know), or "auto" for queries (both
    analysers; readings of either standard compete by frequency).
    """

    _cache: dict[tuple[str, str], WordAnalysis] = field(default_factory=dict, repr=False)
    _nb_of: dict[Unit, str] = field(default_factory=dict, repr=False)
    _split_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # Readings of compound pieces (hus, fattigdommen): every passage's unknown
    # words are cut into the same few thousand pieces, and asking the analyser
    # again for each passage made ingest several times slower.
    _piece_cache: dict[tuple[str, str], list[tuple[str, Reading]]] = field(default_factory=dict, repr=False)

    @cached_property
    def apertium(self) -> Apertium:
        return Apertium()

    @cached_property
    def version(self) -> str:
        """Versions of the resources the terms depend on, recorded in the index."""
        from importlib.metadata import version

        return f"{self.apertium.version};wordfreq={version('wordfreq')}"

    @cached_property
    def stop_words(self) -> frozenset[str]:
        return lang.stop_words()

    @cached_property
    def _frequencies(self) -> WordFrequencies:
        return WordFrequencies("nb")

    def frequency(self, word: str) -> float:
        return self._frequencies.get(word)

    @cached_property
    def _stemmer(self) -> object:
        import Stemmer

        return Stemmer.Stemmer("norwegian")

    def stem(self, lemma: str) -> str:
        """Snowball's Norwegian stem (what Lucene's norwegian analyzer uses)."""
        if not lemma.isalpha():
            return lemma
        return self._stemmer.stemWord(lemma)  # type: ignore[attr-defined]

    # -- analysis ------------------------------------------------------------------
    def word(self, form: str, standard: str = "nb") -> WordAnalysis:
        hit = self._cache.get((form, standard))
        if hit is None:
            self.prepare([form], standard)
            hit = self._cache[(form, standard)]
        return hit

    def prepare(self, forms: Iterable[str], standard: str = "nb") -> None:
        """Analyse every form not yet analysed, in one batch per analyser."""
        todo = [f for f in dict.fromkeys(forms) if (f, standard) not in self._cache]
        if not todo:
            return
        plain = [f for f in todo if _analysable(f)]
        for f in todo:
            if not _analysable(f):
                self._cache[(f, standard)] = WordAnalysis((f,), (), known=False)
        if not plain:
            return
        chosen = self._chosen(plain, standard)
        unknown = [f for f in plain if f not in chosen]
        # Lexicalised words are split in one batch for all forms (barnefattigdom -> barn, fattigdom).
        lexicalised = [w for _, kept, _ in chosen.values() for w, p in kept if not p]
        splits = self._lexicalised_splits(lexicalised)
        for f, (whole, kept, compound) in chosen.items():
            parts: list[str] = []
            for w, p in kept:
                for x in p or splits.get(w, ()):
                    if x not in parts and x not in whole:
                        parts.append(x)
            self._cache[(f, standard)] = WordAnalysis(whole, tuple(parts), compound=compound)
        if unknown:
            splits = self._split_many(unknown, standard)
            for f in unknown:
                split = splits.get(f)
                if split:
                    # An unlisted compound: its modifier as written, its head lemmatised
                    # (navkontoret -> navkontor, nav, kontor).
                    whole, parts = split
                    self._cache[(f, standard)] = WordAnalysis((whole,), parts, known=True, compound=True)
                else:
                    self._cache[(f, standard)] = WordAnalysis((f,), (), known=False)

    def listed_lemmas(self, forms: Iterable[str], standard: str = "nb") -> dict[str, str]:
        """The lemma of each form the dictionary lists as one word (not a
        compound built on the fly); forms it does not list are left out.

        The same answer ``word(form)`` gives through ``known and not
        compound``, without splitting the forms the dictionary does not know:
        a check of every pair of neighbouring words ("livs kvalitet") would
        otherwise cut thousands of non-words into compound pieces.
        """
        out: dict[str, str] = {}
        todo: list[str] = []
        for f in dict.fromkeys(forms):
            hit = self._cache.get((f, standard))
            if hit is not None:
                if hit.known and not hit.compound and hit.whole:
                    out[f] = hit.lemma
            elif _analysable(f):
                todo.append(f)
        for f, (whole, _kept, compound) in self._chosen(todo, standard).items():
            if not compound and whole:
                out[f] = whole[0]
        return out

    def _chosen(
        self, forms: list[str], standard: str
    ) -> dict[str, tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]], bool]]:
        """``_choose`` for each form the analysers have readings of (in one
        batch per analyser); forms without readings are left out."""
        if not forms:
            return {}
        readings = self._readings(forms, standard)
        self._map_to_bokmaal(readings)
        return {f: self._choose(f, readings[f]) for f in forms if readings[f]}

    def _readings(self, forms: list[str], standard: str) -> dict[str, list[tuple[str, Reading]]]:
        """(standard, reading) pairs per form.

        A word the dictionary lists beats a compound the analyser builds on the
        fly, whichever standard lists it: the bokmål analyser reads nynorsk
        "innbyggjarar" as inn+bygg+ja+rar, the nynorsk one knows the word."""
        out: dict[str, list[tuple[str, Reading]]] = {f: [] for f in forms}
        if standard == "auto":
            for std in STANDARDS:
                for f, rs in self.apertium.analyse(forms, std).items():
                    out[f].extend((std, r) for r in rs)
        else:
            other = "nb" if standard == "nn" else "nn"
            first = self.apertium.analyse(forms, standard)
            unsure = [f for f, rs in first.items() if all(r.is_compound for r in rs)]
            second = self.apertium.analyse(unsure, other) if unsure else {}
            for f in forms:
                out[f] = [(standard, r) for r in first.get(f, [])] + [(other, r) for r in second.get(f, [])]
        for f, rs in out.items():
            lexical = [(s, r) for s, r in rs if not r.is_compound]
            if lexical:
                out[f] = lexical
            elif rs:
                # Of on-the-fly compounds, those without two-letter "parts" (ja, rar).
                solid = [(s, r) for s, r in rs if all(len(u.lemma) >= 3 for u in r.units)]
                out[f] = solid or rs
        return out

    def _map_to_bokmaal(self, readings: dict[str, list[tuple[str, Reading]]]) -> None:
        units = [u for rs in readings.values() for std, r in rs if std == "nn" for u in r.units]
        todo = [u for u in dict.fromkeys(units) if u not in self._nb_of]
        if todo:
            mapped = self.apertium.to_bokmaal(todo)
            for u in todo:
                self._nb_of[u] = self._pick_translation(u.lemma, mapped.get(u, (u.lemma,)))

    def _pick_translation(self, nn_lemma: str, alternatives: tuple[str, ...]) -> str:
        """The bokmål word bokmål writers use most: nynorsk *tiltak* stays
        *tiltak* (not *foranstalting*), *vurdere* stays *vurdere* (not
        *betenke*). Among words frequency cannot tell apart (compounds it has
        not seen), one that differs from the nynorsk spelling is the bokmål
        norm: *låginntektsfamilie* -> *lavinntektsfamilie*."""
        return max(alternatives, key=lambda a: (self._freq(a), a != nn_lemma))

    def _nb(self, std: str, u: Unit) -> str:
        return self._nb_of.get(u, u.lemma) if std == "nn" else u.lemma

    def _choose(
        self, form: str, readings: list[tuple[str, Reading]]
    ) -> tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]], bool]:
        """The likely readings of a form: content words before function words,
        then by frequency of their bokmål lemmas. Returns the whole-word lemmas,
        each kept reading with its compound parts (none for a listed word), and
        whether the best reading is an on-the-fly compound."""
        cands: dict[str, tuple[float, tuple[str, ...], bool]] = {}
        std_of: dict[str, str] = {}
        content = [(s, r) for s, r in readings if r.head.pos not in FUNCTION_POS]
        for std, r in content or readings:
            nb_units = [self._nb(std, u) for u in r.units]
            whole = _join_compound(form, [u.lemma for u in r.units], nb_units)
            if r.is_compound:
                score = _geomean([self._freq(x) for x in nb_units])
                # folke|helse|oversikt also holds folkehelse and helseoversikt.
                inner = _inner_joins(form, [u.lemma for u in r.units], nb_units)
                # A verb inside a compound (utleie as the verb, …korte for …kortet) only when no noun reading fits.
                score *= 0.1 ** sum(1 for u in r.units if u.pos.startswith("vb"))
                parts = tuple(dict.fromkeys([*nb_units, *inner]))
            else:
                score = max(self._freq(whole), FREQ_FLOOR)
                parts = ()
            # Proper nouns are kept apart only when nothing else fits ("Gol" vs "gol").
            if r.head.pos == "np" and len(readings) > 1:
                score *= 0.5
            prev = cands.get(whole)
            if prev is None or score > prev[0]:
                cands[whole] = (score, parts, r.is_compound)
                std_of[whole] = std
        ranked = sorted(cands.items(), key=lambda kv: -kv[1][0])
        best = ranked[0][1][0]
        kept = [(w, p) for w, (s, p, _) in ranked if s >= KEEP_SHARE * best][:MAX_READINGS]
        # Each standard's best reading stays, so a query word meets documents of
        # either standard (bokmål text may list "bustad" as a word of its own).
        for std in STANDARDS:
            mine = [(w, p) for w, (_s, p, _c) in ranked if std_of[w] == std]
            if mine and mine[0][0] not in [w for w, _ in kept]:
                kept.append(mine[0])
        return tuple(w for w, _ in kept), kept, ranked[0][1][2]

    def _freq(self, word: str) -> float:
        return max(self.frequency(word), FREQ_FLOOR)

    # -- compounds -----------------------------------------------------------------
    def _lexicalised_splits(self, lemmas: list[str]) -> dict[str, tuple[str, ...]]:
        """Parts of compounds the dictionary lists as one word (barnefattigdom ->
        barn, fattigdom), so a query for a part finds them; remembered, since the
        same lemmas come back in every batch."""
        todo = [w for w in dict.fromkeys(lemmas) if w not in self._split_cache]
        if todo:
            found = self._split_many(todo, "nb")
            for w in todo:
                self._split_cache[w] = found[w][1] if w in found else ()
        return {w: self._split_cache[w] for w in lemmas}

    def _split_many(self, words: list[str], standard: str) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Split words into a known modifier (with an optional linking s or e)
        and a known head, both analysed by Apertium; of the candidate cuts the
        one with the highest geometric mean of the parts' frequencies wins
        (Koehn and Knight 2003), so kommune|styre beats kommunes|tyre."""
        cands: dict[str, list[tuple[str, str]]] = {}
        pieces: set[str] = set()
        for w in words:
            if not (MIN_SPLIT <= len(w) <= MAX_WORD and w.isalpha()):
                continue
            for cut in range(MIN_MODIFIER, len(w) - MIN_HEAD + 1):
                left, head = w[:cut], w[cut:]
                if head in lang.NOT_HEADS:
                    continue
                for link in lang.LINKERS:
                    if link and not left.endswith(link):
                        continue
                    mod = left[: len(left) - len(link)] if link else left
                    if len(mod) < MIN_MODIFIER or mod in lang.NOT_MODIFIERS:
                        continue
                    cands.setdefault(w, []).append((mod, head))
                    pieces.update((mod, head))
        if not cands:
            return {}
        std = "auto" if standard == "auto" else standard
        mods, heads = self._known_bases(sorted(pieces), std)
        out: dict[str, tuple[str, tuple[str, ...]]] = {}
        for w, cs in cands.items():
            best: tuple[float, str, str, str] | None = None
            for mod, head in cs:
                if head not in heads or mod not in mods:
                    continue
                score = _geomean([self._freq(mods[mod]), self._freq(heads[head])])
                if best is None or score > best[0]:
                    best = (score, w[: len(w) - len(head)] + heads[head], mods[mod], heads[head])
            if best:
                out[w] = (best[1], tuple(dict.fromkeys(best[2:])))
        return out

    def _known_bases(self, pieces: list[str], standard: str) -> tuple[dict[str, str], dict[str, str]]:
        """(modifiers, heads): the pieces that can stand in a compound, as
        bokmål lemmas. A modifier must be a base form (hus, not the verb
        form of huse; not bos for bo); a head may be inflected
        (…fattigdommen). Neither may itself be an unlisted compound."""
        todo = [p for p in pieces if (p, standard) not in self._piece_cache]
        if todo:
            if len(self._piece_cache) > PIECE_CACHE_MAX:
                self._piece_cache.clear()
            fresh = self._readings(todo, standard)
            self._map_to_bokmaal(fresh)
            self._piece_cache.update({(p, standard): rs for p, rs in fresh.items()})
        readings = {p: self._piece_cache[(p, standard)] for p in pieces}
        mods: dict[str, str] = {}
        heads: dict[str, str] = {}
        for p in pieces:
            if p in self.stop_words:
                continue
            best_head: tuple[float, str] | None = None
            for std, r in readings[p]:
                u = r.head
                if r.is_compound or u.pos not in CONTENT_POS or u.pos == "np":
                    continue
                nb = self._nb(std, u)
                if u.lemma == p and (p not in mods or u.pos == "n"):
                    mods[p] = nb
                # Nouns first, then frequency.
                key = (1.0 if u.pos == "n" else 0.0) + self._freq(nb)
                if best_head is None or key > best_head[0]:
                    best_head = (key, nb)
            if best_head:
                heads[p] = best_head[1]
        return mods, heads


def _analysable(form: str) -> bool:
    return 2 <= len(form) <= MAX_WORD and any(c.isalpha() for c in form) and form.isalnum()


def _geomean(xs: list[float]) -> float:
    p = 1.0
    for x in xs:
        p *= max(x, FREQ_FLOOR)
    return p ** (1.0 / len(xs)) if xs else 0.0


def _inner_joins(form: str, src: list[str], nb: list[str]) -> list[str]:
    """The sub-compounds of a compound of three or more parts, as bokmål words."""
    if len(src) < 3:
        return []
    segs = _segments(form, src, nb)
    if segs is None:
        return []
    out = []
    for i in range(len(segs) - 1):
        for j in range(i + 2, len(segs) + 1):
            if (i, j) == (0, len(segs)):
                continue
            last = nb[j - 1]  # the sub-compound's head, without its linker
            out.append("".join(segs[i : j - 1]) + last)
    return out


def _segments(form: str, src: list[str], nb: list[str]) -> list[str] | None:
    """Each modifier in bokmål with the form's linker after it, then the head's bokmål lemma."""
    out: list[str] = []
    pos = 0
    for i in range(len(src) - 1):
        lemma = src[i]
        if form.startswith(lemma, pos):
            pos += len(lemma)
            mod = nb[i]
        elif lemma.endswith("e") and form.startswith(lemma[:-1], pos):
            # A modifier that drops its final e (skole|fritid, bygd|e…)
            pos += len(lemma) - 1
            mod = nb[i][:-1] if nb[i].endswith("e") else nb[i]
        else:
            return None
        nxt = src[i + 1][:2]
        link = ""
        for cand in lang.LINKERS:
            if cand and form.startswith(cand, pos) and not form.startswith(nxt, pos):
                link = cand
                pos += len(cand)
                break
        out.append(mod + link)
    out.append(nb[-1])
    return out


def _join_compound(form: str, src: list[str], nb: list[str]) -> str:
    """The bokmål whole word of a (possibly) compound reading, with the form's
    own linking letters: nn sosialhjelps|mottakarar -> sosialhjelpsmottaker,
    bustad|politikk -> boligpolitikk."""
    if len(src) == 1:
        return nb[0]
    segs = _segments(form, src, nb)
    return "".join(segs) if segs is not None else "".join(nb)
