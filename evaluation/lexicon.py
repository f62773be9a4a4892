"""Score lexicon candidates on the hand-written gold list of word forms
(``data/lexicon_gold.tsv``: written from knowledge of both standards without
looking at any candidate's output).

    python -m plansok.evaluation.lexicon

Per candidate: the bokmål lemma is right (first term; any term), the nynorsk
word meets its bokmål twin (nn rows whose bokmål lemma differs), and the
compound parts found (gold parts among the candidate's terms).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from .qrels import DATA_DIR

Analysis = tuple[list[str], list[str]]  # (whole-word lemmas, parts)


def load_gold(path: Path = DATA_DIR / "lexicon_gold.tsv") -> list[dict[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        c = line.split("\t")
        c += [""] * (7 - len(c))
        rows.append(dict(zip(("form", "standard", "lemma", "nb_lemma", "parts", "pos", "kind"), c)))
    return rows


def plansok_candidate() -> Callable[[str, str], Analysis]:
    from plansok.analysis.analyzer import STEM_PREFIX, Analyzer

    an = Analyzer()

    def run(form: str, std: str) -> Analysis:
        whole, parts, _ = an.analyze_form(form, std)
        return [w for w in whole if not w.startswith(STEM_PREFIX)], list(parts)

    return run


def simplemma_candidate() -> Callable[[str, str], Analysis]:
    import simplemma

    def run(form: str, std: str) -> Analysis:
        langs = (std, "nb" if std == "nn" else "nn")
        return [simplemma.lemmatize(form, lang=langs).lower()], []

    return run


def snowball_candidate() -> Callable[[str, str], Analysis]:
    import Stemmer

    st = Stemmer.Stemmer("norwegian")

    def run(form: str, std: str) -> Analysis:
        return [st.stemWord(form)], []

    return run


CANDIDATES = {
    "plansok (Apertium nno-nob + wordfreq)": plansok_candidate,
    "simplemma 1.x (nb, nn dictionaries)": simplemma_candidate,
    "Snowball Norwegian stem": snowball_candidate,
}


def score(run: Callable[[str, str], Analysis], gold: list[dict[str, str]]) -> dict[str, float]:
    n = first = anyl = nn_n = nn_ok = parts_n = parts_ok = 0
    for g in gold:
        if g["pos"] in ("abbr", "propn"):
            continue
        whole, parts = run(g["form"], g["standard"])
        target = g["nb_lemma"]
        n += 1
        first += bool(whole) and whole[0] == target
        anyl += target in whole
        if g["standard"] == "nn" and g["nb_lemma"] != g["lemma"]:
            nn_n += 1
            nn_ok += target in whole
        gold_parts = [p for p in g["parts"].split("+") if p]
        if len(gold_parts) >= 2:
            parts_n += len(gold_parts)
            have = set(parts) | set(whole)
            parts_ok += sum(p in have for p in gold_parts)
    return {
        "forms": n,
        "lemma@1": first / n,
        "lemma any": anyl / n,
        "nn→nb": nn_ok / max(nn_n, 1),
        "nn→nb forms": nn_n,
        "parts": parts_ok / max(parts_n, 1),
    }


def main() -> int:
    gold = load_gold()
    print(f"{'candidate':40} {'forms':>5} {'lemma@1':>8} {'lemma any':>9} {'nn→nb':>6} {'parts':>6}")
    for name, make in CANDIDATES.items():
        s = score(make(), gold)
        print(
            f"{name:40} {s['forms']:5d} {s['lemma@1']:8.3f} {s['lemma any']:9.3f} {s['nn→nb']:6.3f} {s['parts']:6.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
