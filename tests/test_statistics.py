"""Statistics beside the text: SSB StatBank exports (CSV, JSON-stat 2.0) read
as SSB writes them, and joined to today's municipalities across the reforms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plansok.views.statistics import StatisticsError, join, read_statistics

DATA = Path(__file__).resolve().parent / "data" / "ssb"
LONG_LATIN1 = DATA / "08764_lavinntekt_barn_latin1.csv"
WIDE_UTF8 = DATA / "12944_vedvarende_lavinntekt_wide.csv"
JSONSTAT = DATA / "12944_vedvarende_lavinntekt.json"


def test_a_long_latin1_csv_reads_figures_names_and_missing_values() -> None:
    assert b"B\xe6rum" in LONG_LATIN1.read_bytes()  # the file really is ISO-8859-1
    t = read_statistics(LONG_LATIN1)
    assert t.title.startswith("08764: Barn under 18 år")
    assert t.dimensions == ["statistikkvariabel", "år"]  # the quoted years are a dimension, not figures
    assert t.series() == [("Andel barn (prosent)", "2019"), ("Andel barn (prosent)", "2022")]
    by = {(o.code, o.series[1]): o for o in t.observations}
    assert by["3324", "2019"].value == 7.5  # decimal comma
    assert by["3024", "2022"].label == "Bærum (2020-2023)"
    assert by["3326", "2019"].value == 0.0  # SSB's "-" is zero
    flaa = by["3320", "2019"]
    assert flaa.label == "Flå" and flaa.value is None and "(..)" in flaa.status  # missing, never 0
    assert by["3320", "2022"].value is None and "confidential" in by["3320", "2022"].status
    # The country, the county and an unspecified municipality are not municipalities.
    assert set(t.skipped) == {"0 Hele landet", "33 Buskerud", "3399 Uoppgitt komm. Buskerud"}


def test_a_wide_utf8_csv_with_title_and_footnote_picks_the_latest_period() -> None:
    t = read_statistics(WIDE_UTF8)
    assert t.title.startswith("12944: Personer i husholdninger med vedvarende lavinntekt")
    assert t.notes == ["Tallene er oppfunnet til tester; oppsettet følger Statistikkbankens CSV."]
    assert len(t.series()) == 5 and t.dimensions == ["alder", "period"]
    assert t.select() == [("0-17 år", "2021-2023")]  # five series: the latest by default
    assert t.select(["2018-2020"]) == [("0-17 år", "2018-2020")]
    with pytest.raises(StatisticsError, match=r"no series matches --stat-column '2030'.*2017-2019"):
        t.select(["2030"])
    hemsedal = [o for o in t.observations if o.code == "K-3326"]
    assert [o.value for o in hemsedal[:2]] == [None, None] and hemsedal[2].value == 5.0


def test_jsonstat2_reads_codes_labels_and_status() -> None:
    t = read_statistics(JSONSTAT)
    assert t.format == "json-stat" and t.dimensions == ["alder", "statistikkvariabel", "treårsperiode"]
    assert t.series() == [
        ("0-17 år", "Andel personer (prosent)", "2020-2022"),
        ("0-17 år", "Andel personer (prosent)", "2021-2023"),
    ]
    by = {(o.code, o.series[-1]): o for o in t.observations}
    assert by["K-3301", "2021-2023"].value == 15.6 and by["K-3301", "2021-2023"].summed_to_today
    assert by["0602", "2021-2023"].value is None and "(..)" in by["0602", "2021-2023"].status
    assert by["3320", "2020-2022"].value is None and "confidential" in by["3320", "2020-2022"].status
    assert "0 Hele landet" in t.skipped


def test_jsonstat_sparse_values_and_the_older_api_format(tmp_path: Path) -> None:
    data = json.loads(JSONSTAT.read_text(encoding="utf-8"))
    # JSON-stat allows values as {position: value}; SSB's API writes a list, others a dict.
    data["value"] = {str(i): v for i, v in enumerate(data["value"]) if v is not None}
    sparse = tmp_path / "sparse.json"
    sparse.write_text(json.dumps(data), encoding="utf-8")
    t = read_statistics(sparse)
    assert {(o.code, o.value) for o in t.observations if o.series[-1] == "2020-2022"} >= {("3324", 6.8)}
    # JSON-stat 1.x, as the API's "json-stat" format wraps it.
    old = {
        "dataset": {
            "label": "test",
            "dimension": {
                "id": data["id"],
                "size": data["size"],
                "role": data["role"],
                **data["dimension"],
            },
            "value": json.loads(JSONSTAT.read_text(encoding="utf-8"))["value"],
        }
    }
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(old), encoding="utf-8")
    assert [o.value for o in read_statistics(v1).observations if o.code == "K-3301"] == [15.2, 15.6]


def test_the_join_follows_the_reforms_and_says_so() -> None:
    t = read_statistics(LONG_LATIN1)
    y2019, y2022 = t.series()
    # 2019: only the old Drammen (0602) has a figure; it stands in today's Drammen
    # with a note that 0602 was merged with Nedre Eiker and Svelvik.
    v = join(t, y2019, "3301")
    assert v is not None and v.value == 17.2 and v.source == "0602 Drammen (-2019)"
    assert "0625 Nedre Eiker" in v.note and "0711 Svelvik" in v.note and "alone" in v.note
    # 2022: the 2020-2023 number of the same Drammen, a renumbering.
    v = join(t, y2022, "3301")
    assert v is not None and v.value == 16.1 and v.source.startswith("3005 Drammen")
    assert "3005 was the number of Drammen" in v.note
    # Bærum: 3024 (2020-2023) is 3201 today.
    v = join(t, y2022, "3201")
    assert v is not None and v.value == 6.8 and "3024" in v.note
    # A municipality's own number needs no note; one the table lacks has no figure.
    v = join(t, y2022, "3324")
    assert v is not None and v.value == 8.0 and v.note == ""
    assert join(t, y2022, "5021") is None
    # An old number in the matrix's column still finds the figure under today's number.
    j = read_statistics(JSONSTAT)
    latest = j.series()[-1]
    v = join(j, latest, "3301")
    assert v is not None and v.value == 15.6 and v.source == "K-3301 Drammen" and v.note == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b'"kommune";"verdi"\n"Drammen";12,1\n"Gol";3\n', "no region column"),
        (b'"region";"statistikkvariabel"\n"3301 Drammen";"Andel"\n', "no column of figures"),
        (b'{"version": "2.0", "class": "dataset", "id": ["Tid"], "size": [1]}', "not a JSON-stat dataset"),
        (b'{"version": "2.0", "class": "collection", "link": {}}', "class 'collection'"),
        (b"{not json", "not valid JSON"),
        (b'"region";"2022"\n"0 Hele landet";1,0\n', "no municipality figures"),
    ],
)
def test_unreadable_files_are_errors_that_name_the_file_and_the_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(content)
    with pytest.raises(StatisticsError, match=message) as err:
        read_statistics(path)
    assert str(path) in str(err.value)
