from plansok.query import dedup
from plansok.query.dedup import fold, fold_signatures, shingles

BASE = (
    "Kommunen skal arbeide for å redusere barnefattigdom gjennom tidlig innsats, "
    "gode fritidstilbud for alle barn og et tett samarbeid mellom skole, helsestasjon og NAV."
)


def test_near_duplicates_fold_into_the_first() -> None:
    copy = BASE.replace("gode fritidstilbud", "gode og rimelige fritidstilbud")
    other = "Kommunen har 12 kommunale utleieboliger, og behovet for flere boliger er stort."
    assert fold([BASE, other, copy]) == [0, 1, 0]


def test_different_texts_are_kept_apart() -> None:
    a = "Livskvalitet handler om trivsel, helse og deltakelse i samfunnet for alle innbyggere."
    b = "Sosialhjelp er en økonomisk ytelse fra NAV til personer som ikke kan forsørge seg selv."
    assert fold([a, b, BASE]) == [0, 1, 2]


def _edited(text: str, every: int, mark: str) -> str:
    """``text`` with every ``every``-th word changed, as a later plan edits a copied paragraph."""
    return " ".join(w + mark if i % every == 0 else w for i, w in enumerate(text.split()))


def test_a_page_of_lightly_edited_copies_folds_as_pair_by_pair_comparison_would() -> None:
    # Many hits of one query are the same paragraph edited in different plans: most
    # are too far apart to fold, a few are copies. The all-pairs table must decide
    # exactly as comparing each candidate's shingle sets does.
    long_text = " ".join([BASE] * 3)
    texts = [long_text]
    for n in range(1, 40):
        texts.append(_edited(long_text, 3 + n % 5, str(n)))
        if n % 7 == 0:
            texts.append(long_text.replace("tidlig innsats", "tidleg innsats"))
    texts.append("Kommunen har 12 kommunale utleieboliger.")
    sigs = [shingles(t) for t in texts]
    owners = fold_signatures(sigs)
    assert owners == _fold_by_sets(sigs)
    # Word-for-word copies fold under the first text; the most edited ones stand alone.
    assert all(owners[i] == 0 for i, t in enumerate(texts) if "tidleg" in t)
    assert all(owners[i] == i for i, t in enumerate(texts) if t.split()[0].endswith(("1", "2")) and len(t) > 100)


def _fold_by_sets(sigs: list[frozenset[int]]) -> list[int]:
    saved = dedup.TABLE_MAX
    dedup.TABLE_MAX = 0
    try:
        return fold_signatures(sigs)
    finally:
        dedup.TABLE_MAX = saved
