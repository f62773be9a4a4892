"""The plan-structure tab and statistics beside the matrix, in headless Chromium.

A small index (Gol's samfunnsdel, a PDF in nynorsk; Hol's folkehelse
handlingsplan, text in bokmål) behind one server and one browser. The
researcher opens a plan's goals and measures, reads one on its page, finds who
commits to a theme, and puts SSB figures beside a matrix, by uploading an
export and by naming a file on the machine. Screenshots go to
``$PLANSOK_SCREENSHOTS`` when set, else to a temporary folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plansok.api import Index
from plansok.serve.server import ThreadingWSGIServer, make_server

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SSB = Path(__file__).resolve().parent / "data" / "ssb"
GOL = "3324_gol_samfunnsdel_2018-2030"
HOL = "3330_hol_handlingsplan_folkehelse_2021-2033"

pytest.importorskip("selenium", reason="browser tests need selenium (pip install selenium)")
from test_workspace_browser import CHROMEDRIVER, CHROMIUM  # noqa: E402

if not CHROMIUM.is_file() or not CHROMEDRIVER.is_file():
    pytest.skip("browser tests need /usr/bin/chromium and /usr/bin/chromedriver", allow_module_level=True)

import test_workspace_browser as _workspace  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from test_workspace_browser import done, open_page, seq, shot, wait  # noqa: E402

# The other browser module's fixtures (one browser with a download folder, screenshots), for this module's server.
browser, base, downloads, shots = _workspace.browser, _workspace.base, _workspace.downloads, _workspace.shots


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadingWSGIServer]:
    path = tmp_path_factory.mktemp("views") / "ix"
    with Index.open(path, create=True) as ix:
        report = ix.ingest([CORPUS / f"{GOL}.pdf", CORPUS / f"{HOL}.md"])
        assert report.ok, report.failed
    srv = make_server(path, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def units(browser: Any) -> list[dict[str, str]]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#structure-out li.unit')].map(li => ({kind: li.dataset.kind,"
        "text: li.querySelector('.unit-text').textContent, cite: li.querySelector('.unit-cite a').textContent,"
        "passage: li.dataset.passage || ''}))"
    )


def test_structure_tab_lists_a_plans_goals_with_citations(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base, "?tab=structure")
    Select(browser.find_element(By.ID, "structure-doc")).select_by_value(HOL)
    before = seq(browser, "#structure-out")
    browser.find_element(By.ID, "structure-run").click()
    done(browser, "#structure-out", before)
    shown = units(browser)
    # Hol's handlingsplan states one goal (s. 7) with its strategies and measures under it.
    goal = next(u for u in shown if u["kind"] == "mål")
    assert goal["text"] == "Hol kommune skal ha «en aktiv befolkning med høy livskvalitet»"
    assert goal["cite"].startswith("Hol, Handlingsplan for folkehelse 2021-2033") and ", s. 7," in goal["cite"]
    assert {"strategi", "tiltak"} <= {u["kind"] for u in shown}
    status = browser.find_element(By.ID, "structure-status").text
    assert status.startswith("Hol, Handlingsplan for folkehelse") and "1 mål" in status
    shot(browser, shots, "structure")

    # The citation opens the page with the unit's passage marked.
    link = browser.find_element(By.CSS_SELECTOR, "#structure-out li.unit[data-kind='mål'] .unit-cite a")
    link.click()
    wait(browser).until(lambda d: d.find_element(By.ID, "page-view").get_attribute("data-state") == "done")
    assert browser.find_element(By.ID, "page-meta").text.startswith("Page 7 of")
    marked = browser.find_element(By.CSS_SELECTOR, "#page-text mark.passage").text
    assert "aktiv befolkning med høy livskvalitet" in marked
    browser.find_element(By.ID, "page-close").click()

    # Only the measures.
    Select(browser.find_element(By.ID, "structure-kind")).select_by_value("tiltak")
    before = seq(browser, "#structure-out")
    browser.find_element(By.ID, "structure-run").click()
    done(browser, "#structure-out", before)
    assert {u["kind"] for u in units(browser)} == {"tiltak"}


def test_commitments_and_comparison_in_the_structure_tab(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base, "?tab=structure")
    browser.find_element(By.CSS_SELECTOR, "input[name=structure-mode][value=commitments]").click()
    browser.find_element(By.ID, "q").send_keys("fysisk aktivitet")
    before = seq(browser, "#structure-out")
    browser.find_element(By.ID, "structure-run").click()
    done(browser, "#structure-out", before)
    plans = browser.find_elements(By.CSS_SELECTOR, "#structure-out section.plan-commitments")
    assert plans, browser.find_element(By.ID, "structure-status").text
    assert all(p.get_attribute("data-doc") in (GOL, HOL) for p in plans)
    quotes = [u["text"].lower() for u in units(browser)]
    assert quotes and all("aktiv" in q for q in quotes), quotes  # each unit on the theme, quoted
    assert "fysisk aktivitet" in browser.find_element(By.ID, "structure-status").text
    shot(browser, shots, "commitments")

    # Two plans compared (here two municipalities' plans: all of one's units are "removed").
    browser.find_element(By.CSS_SELECTOR, "input[name=structure-mode][value=compare]").click()
    Select(browser.find_element(By.ID, "compare-old")).select_by_value(HOL)
    Select(browser.find_element(By.ID, "compare-new")).select_by_value(GOL)
    Select(browser.find_element(By.ID, "structure-kind")).select_by_value("mål")
    before = seq(browser, "#structure-out")
    browser.find_element(By.ID, "structure-run").click()
    done(browser, "#structure-out", before)
    removed = browser.find_elements(By.CSS_SELECTOR, "#structure-out li[data-change=removed] .unit-text")
    assert "Hol kommune skal ha «en aktiv befolkning med høy livskvalitet»" in [r.text for r in removed]
    assert "removed" in browser.find_element(By.ID, "structure-status").text


def stat_cells(browser: Any) -> list[dict[str, str]]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#matrix-table tr[data-kind=statistic]')].map(tr => ({"
        "row: tr.dataset.row, cells: [...tr.querySelectorAll('td.stat')].map(td => [td.dataset.column,"
        "td.textContent, td.title])}))"
    )


def test_statistics_beside_the_matrix(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base, "?tab=matrix")
    browser.find_element(By.ID, "matrix-queries").send_keys("folkehelse")
    # An upload: the wide CSV as StatBank's page saves it (UTF-8, a column per period).
    browser.find_element(By.ID, "matrix-stats-file").send_keys(str(SSB / "12944_vedvarende_lavinntekt_wide.csv"))
    wait(browser).until(lambda d: d.find_element(By.ID, "matrix-stats-info").get_attribute("data-state") == "done")
    info = browser.find_element(By.ID, "matrix-stats-info").text
    assert info.startswith("12944: Personer i husholdninger med vedvarende lavinntekt") and "5 series" in info
    chosen = [o.text for o in Select(browser.find_element(By.ID, "matrix-stat-column")).all_selected_options]
    assert chosen == ["0-17 år, 2021-2023"]  # the latest period by default
    before = seq(browser, "#matrix-out")
    browser.find_element(By.ID, "matrix-run").click()
    done(browser, "#matrix-out", before)
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#matrix-table thead th")]
    assert heads[1:] == ["Gol", "Hol", "all"]
    (row,) = stat_cells(browser)
    assert row["row"] == "0-17 år, 2021-2023"
    cells = {column: (text, title) for column, text, title in row["cells"]}
    assert cells["3324"][0] == "7.1" and cells["3324"][1].startswith("K-3324 Gol")  # Gol's figure in Gol's column
    assert cells["3330"] == ("–", "Hol: not in the table")
    shot(browser, shots, "matrix_statistics")

    # A path on this machine: SSB's API CSV (ISO-8859-1, long), two series picked by year.
    browser.find_element(By.ID, "matrix-stats-path").send_keys(str(SSB / "08764_lavinntekt_barn_latin1.csv"))
    before = seq(browser, "#matrix-out")
    browser.find_element(By.ID, "matrix-run").click()
    done(browser, "#matrix-out", before)
    rows = {r["row"]: {c: t for c, t, _ in r["cells"]} for r in stat_cells(browser)}
    assert rows == {
        "Andel barn (prosent), 2019": {"3324": "7.5", "3330": "–"},
        "Andel barn (prosent), 2022": {"3324": "8", "3330": "–"},
    }
    # A file that is not there: the error names it.
    path = browser.find_element(By.ID, "matrix-stats-path")
    path.clear()
    path.send_keys("/no/such/08764.csv")
    browser.find_element(By.ID, "matrix-run").click()
    wait(browser).until(lambda d: "/no/such/08764.csv" in d.find_element(By.ID, "matrix-status").text)
