from plansok.query.dedup import fold

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
