"""The web page as a workspace, driven in headless Chromium as a researcher would:
totals and results by document, tags with their evidence in view, a concordance
(aligned, cited, sorted, downloaded), a matrix whose cells are the searches'
totals, collections coded and memoed and exported, and the review buttons.

One small index (three sample plans: Gol in nynorsk, Hol and Flesberg in
bokmål), one server and one browser serve the whole module. Screenshots go to
``$PLANSOK_SCREENSHOTS`` when set (to look at them), else to a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from plansok.api import Index
from plansok.serve.server import ThreadingWSGIServer, make_server

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
PLANS = [
    "3324_gol_samfunnsdel_2018-2030.pdf",
    "3330_hol_handlingsplan_folkehelse_2021-2033.md",
    "3334_flesberg_boligsosial_strategi_2022-2026.pdf",
]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

selenium = pytest.importorskip("selenium", reason="browser tests need selenium (pip install selenium)")
if not CHROMIUM.is_file() or not CHROMEDRIVER.is_file():
    pytest.skip("browser tests need /usr/bin/chromium and /usr/bin/chromedriver", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from test_serve import CHROME_FLAGS  # noqa: E402


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadingWSGIServer]:
    path = tmp_path_factory.mktemp("workspace") / "ix"
    with Index.open(path, create=True) as ix:
        report = ix.ingest([CORPUS / p for p in PLANS])
        assert report.ok, report.failed
    srv = make_server(path, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("PLANSOK_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROME_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"]:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    # An explicit driver path: Selenium Manager is never asked to download anything.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def base(server: ThreadingWSGIServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def get_json(base: str, path: str, **params: Any) -> Any:
    with urllib.request.urlopen(f"{base}{path}?{urlencode(params, doseq=True)}", timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))


def wait(browser: Any, seconds: float = 20) -> WebDriverWait:
    return WebDriverWait(browser, seconds)


def open_page(browser: Any, base: str, query: str = "") -> None:
    browser.get(f"{base}/{query}")
    wait(browser).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")


def done(browser: Any, css: str, before: int) -> None:
    """Wait until the element's request count passed ``before`` and it is done."""
    wait(browser).until(
        lambda d: (
            int(d.find_element(By.CSS_SELECTOR, css).get_attribute("data-seq") or 0) > before
            and d.find_element(By.CSS_SELECTOR, css).get_attribute("data-state") == "done"
        )
    )


def seq(browser: Any, css: str) -> int:
    return int(browser.find_element(By.CSS_SELECTOR, css).get_attribute("data-seq") or 0)


def downloaded(folder: Path, name: str, timeout: float = 20) -> Path:
    path = folder / name
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and not (folder / f"{name}.crdownload").exists() and path.stat().st_size:
            return path
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded; the folder has {sorted(p.name for p in folder.iterdir())}")


def kwic_rows(browser: Any) -> list[dict[str, Any]]:
    """The concordance as shown, read in one call (a call per cell would take seconds)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('#kwic-table tbody tr')].map(tr => ({"
        "passage: tr.dataset.passage, kw: tr.querySelector('td.kw').textContent,"
        "right: tr.querySelector('td.right').textContent,"
        "x: tr.querySelector('td.kw').getBoundingClientRect().left}))"
    )


def shot(browser: Any, folder: Path, name: str) -> None:
    # No stray "null" or "undefined" where something was missing (a new user's first complaint).
    words = set(re.findall(r"\w+", browser.find_element(By.TAG_NAME, "body").text))
    assert not words & {"null", "undefined", "NaN"}, name
    path = folder / f"{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- search: the total, results by document, no stray "null" -------------------------------
def test_search_shows_total_and_groups_by_document(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base)
    before = seq(browser, "#results")
    browser.find_element(By.ID, "q").send_keys("folkehelse", Keys.ENTER)
    done(browser, "#results", before)
    api = get_json(base, "/api/search", q="folkehelse", k=20)
    status = browser.find_element(By.ID, "status").text
    # The status counts the passages that match, not the 20 shown.
    assert api["total"] > 20
    assert status.startswith(f"{api['total']} passages match in {api['documents']} documents"), status
    assert "20 shown" in status
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert len(hits) == 20
    # A hit without tags shows nothing where the tags would be (it used to show "null").
    assert not re.search(r"\bnull\b", browser.find_element(By.ID, "results").text)
    untagged = [h for h in hits if not h.find_elements(By.CSS_SELECTOR, ".chip")]
    for hit in untagged:
        assert "null" not in hit.text
    shot(browser, shots, "search")

    before = seq(browser, "#results")
    browser.find_element(By.CSS_SELECTOR, "input[name=group][value=document]").click()
    done(browser, "#results", before)
    groups = browser.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert len(groups) == api["documents"] == 3
    assert len({g.get_attribute("data-doc") for g in groups}) == 3
    per_plan = [int(g.find_element(By.CSS_SELECTOR, ".in-doc").text.split()[0]) for g in groups]
    assert sum(per_plan) == api["total"]  # every matching passage is in one plan's count
    assert "the best passage of 3 plans shown" in browser.find_element(By.ID, "status").text

    # "N hits in this plan" lists that plan's passages, and says how many match there.
    doc = groups[1].get_attribute("data-doc")
    before = seq(browser, "#results")
    groups[1].find_element(By.CSS_SELECTOR, ".in-doc").click()
    done(browser, "#results", before)
    assert browser.find_element(By.ID, "status").text.startswith(f"{per_plan[1]} passage")
    assert {h.get_attribute("data-doc") for h in browser.find_elements(By.CSS_SELECTOR, "#results .hit")} == {doc}
    assert Select(browser.find_element(By.ID, "doc")).first_selected_option.get_attribute("value") == doc


# -- evidence in view ------------------------------------------------------------------------
def test_tags_show_confidence_and_evidence_in_the_snippet(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base, "?tab=search&tag=barnefattigdom&k=10")
    done(browser, "#results", 0)
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert hits, browser.find_element(By.ID, "status").text
    for hit in hits:
        chip = hit.find_element(By.CSS_SELECTOR, ".chip[data-tag=barnefattigdom]")
        confidence = float(chip.find_element(By.CSS_SELECTOR, ".conf").text)
        assert 0 < confidence <= 1
        label = chip.text.rsplit(" ", 1)[0]
        evidence = chip.get_attribute("title").split("evidence: ", 1)[1].split(", ")
        marks = [m for m in hit.find_elements(By.CSS_SELECTOR, ".snippet mark.ev") if label in m.get_attribute("title")]
        # The snippet of a tag search is cut around the evidence, and the evidence is marked.
        assert marks, (label, evidence)
        assert all(m.is_displayed() and any(m.text.lower() in e for e in evidence) for m in marks), evidence
        assert label in hit.find_element(By.CSS_SELECTOR, ".evidence").text

    # Opening the page keeps the evidence in view: marked inside the highlighted passage.
    hits[0].find_element(By.CSS_SELECTOR, ".snippet").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "page-view").get_attribute("data-state") == "done")
    inside = browser.find_elements(By.CSS_SELECTOR, "#page-text mark.passage mark.ev")
    assert inside and all(m.is_displayed() or m.text for m in inside)
    assert browser.find_elements(By.CSS_SELECTOR, "#page-tags .chip[data-tag=barnefattigdom]")
    shot(browser, shots, "evidence")


# -- concordance -----------------------------------------------------------------------------
def test_kwic_aligned_cited_sorted_and_downloaded(browser: Any, base: str, downloads: Path, shots: Path) -> None:
    open_page(browser, base, "?tab=kwic")
    before = seq(browser, "#kwic-table")
    browser.find_element(By.ID, "q").send_keys("bolig", Keys.ENTER)
    done(browser, "#kwic-table", before)
    api = get_json(base, "/api/kwic", q="bolig")
    rows = kwic_rows(browser)
    assert len(rows) == api["shown"] == api["total"] > 20
    assert f"{api['total']} occurrences" in browser.find_element(By.ID, "kwic-status").text
    # Aligned: every keyword cell starts at the same x, whatever the length of its left context.
    assert max(r["x"] for r in rows) - min(r["x"] for r in rows) < 1
    # bolig in bokmål, bustad in nynorsk (Gol), also inside compounds (einebustad, boligpolitikk)
    assert all("bolig" in r["kw"].lower() or "bustad" in r["kw"].lower() for r in rows), rows
    assert [(r["passage"], r["kw"]) for r in rows] == [(ln["passage_id"], ln["keyword"]) for ln in api["lines"]]

    # The cited page holds the line: its keyword and the words before it.
    line = api["lines"][5]
    browser.find_elements(By.CSS_SELECTOR, "#kwic-table td.where a")[5].click()
    wait(browser).until(lambda d: d.find_element(By.ID, "page-view").get_attribute("data-state") == "done")
    page_text = " ".join(browser.find_element(By.ID, "page-text").text.split())
    assert f"Page {line['page']} of" in browser.find_element(By.ID, "page-meta").text
    assert line["keyword"] in page_text
    assert " ".join(line["left"].split()[-3:]) in page_text
    browser.find_element(By.ID, "page-close").click()

    # Sorted by the right context as the API sorts it (Norwegian order, æ ø å after z).
    before = seq(browser, "#kwic-table")
    Select(browser.find_element(By.ID, "kwic-sort")).select_by_value("right")
    done(browser, "#kwic-table", before)
    by_right = get_json(base, "/api/kwic", q="bolig", sort="right")
    shown = [(r["passage"], r["right"]) for r in kwic_rows(browser)]
    assert shown == [(ln["passage_id"], ln["right"]) for ln in by_right["lines"]]
    assert shown != [(ln["passage_id"], ln["right"]) for ln in api["lines"]]
    shot(browser, shots, "kwic")

    browser.find_element(By.ID, "kwic-csv").click()
    csv_file = downloaded(downloads, "kwic-bolig.csv")
    text = csv_file.read_text(encoding="utf-8-sig").splitlines()
    assert text[0].startswith("# query: bolig") and text[1].startswith("doc_id,passage_id")
    assert len(text) - 2 == api["total"]


# -- matrix ----------------------------------------------------------------------------------
def test_matrix_cells_are_the_searches_totals(browser: Any, base: str, downloads: Path, shots: Path) -> None:
    open_page(browser, base, "?tab=matrix")
    browser.find_element(By.ID, "matrix-queries").send_keys("folkehelse\nbolig OR bustad")
    browser.find_element(By.CSS_SELECTOR, "#matrix-tags input[value=helse]").click()
    before = seq(browser, "#matrix-out")
    browser.find_element(By.ID, "matrix-run").click()
    done(browser, "#matrix-out", before)
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#matrix-table thead th")]
    assert heads[1:] == ["Gol", "Hol", "Flesberg", "all"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#matrix-table tbody tr[data-kind]")
    assert [r.get_attribute("data-row") for r in rows] == ["folkehelse", "bolig OR bustad", "helse"]
    for row, (query, tag) in zip(rows, [("folkehelse", ""), ("bolig OR bustad", ""), ("", "helse")]):
        cells = [int(td.get_attribute("data-count")) for td in row.find_elements(By.CSS_SELECTOR, "td.cell")]
        for kommune, count in zip(["Gol", "Hol", "Flesberg"], cells):
            params = {"q": query, "kommune": kommune, "k": 1} | ({"tag": tag} if tag else {})
            assert get_json(base, "/api/search", **params)["total"] == count, (query, tag, kommune)
        assert int(row.find_element(By.CSS_SELECTOR, "td.total").text) == sum(cells)
    heatmap = browser.find_element(By.ID, "matrix-heatmap")
    assert heatmap.is_displayed()
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 300", heatmap)
    shot(browser, shots, "matrix")

    # A cell opens its passages in Search, and the search counts what the cell says.
    cell = rows[0].find_elements(By.CSS_SELECTOR, "td.cell")[1]
    count = int(cell.get_attribute("data-count"))
    before = seq(browser, "#results")
    cell.click()
    done(browser, "#results", before)
    assert browser.find_element(By.ID, "tab-search").get_attribute("aria-selected") == "true"
    assert browser.find_element(By.ID, "status").text.startswith(f"{count} passages match in 1 document")
    assert {h.get_attribute("data-doc") for h in browser.find_elements(By.CSS_SELECTOR, "#results .hit")} == {
        "3330_hol_handlingsplan_folkehelse_2021-2033"
    }

    browser.find_element(By.ID, "tab-matrix").click()
    browser.find_element(By.CSS_SELECTOR, "#matrix-downloads a[data-format=csv]").click()
    csv_text = downloaded(downloads, "matrix-by-municipality.csv").read_text(encoding="utf-8-sig")
    assert "folkehelse" in csv_text and "Flesberg" in csv_text


# -- collections: add, code, memo, rename and merge codes, export -------------------------------
def test_collection_coding_memos_and_exports(browser: Any, base: str, downloads: Path, shots: Path) -> None:
    open_page(browser, base, "?tab=search")
    name_box = browser.find_element(By.ID, "collection")
    name_box.clear()
    name_box.send_keys("barn og bolig")
    before = seq(browser, "#results")
    browser.find_element(By.ID, "q").send_keys("barnefattigdom OR bustadsosial OR vanskeligstilte", Keys.ENTER)
    done(browser, "#results", before)
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert len(hits) >= 2
    chosen = [h.get_attribute("data-passage") for h in hits[:2]]
    for hit in hits[:2]:
        hit.find_element(By.CSS_SELECTOR, "button.add").click()
        wait(browser).until(lambda d, h=hit: "Added" in h.find_element(By.CSS_SELECTOR, "button.add").text)

    browser.find_element(By.ID, "tab-collections").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "collection-view").get_attribute("data-state") == "done")
    items = browser.find_elements(By.CSS_SELECTOR, "#collection-view .item")
    assert [i.get_attribute("data-passage") for i in items] == chosen

    def code(item: Any, name: str) -> None:
        box = item.find_element(By.CSS_SELECTOR, ".code-input")
        box.send_keys(name, Keys.ENTER)
        wait(browser).until(lambda d: item.find_elements(By.CSS_SELECTOR, f".chip.code[data-code='{name}']"))

    code(items[0], "tiltak")
    code(items[1], "tiltak")
    code(items[1], "utsette grupper")
    memo = items[0].find_element(By.CSS_SELECTOR, ".item-memo")
    memo.send_keys("Gol nemner barnefattigdom som utfordring, utan tiltak.")
    items[0].find_element(By.CSS_SELECTOR, ".memo-save").click()
    wait(browser).until(lambda d: items[0].find_element(By.CSS_SELECTOR, ".saved").text == "saved")
    browser.find_element(By.ID, "collection-memo").send_keys("Korleis planane skriv om barn i låginntektshushald.")
    browser.find_element(By.ID, "collection-memo-save").click()
    wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#collection-view > .row .saved").text == "saved")
    col = get_json(base, "/api/collections", name="barn og bolig")
    assert col["memo"] == "Korleis planane skriv om barn i låginntektshushald."
    assert [i["codes"] for i in col["items"]] == [["tiltak"], ["tiltak", "utsette grupper"]]
    assert col["items"][0]["memo"] == "Gol nemner barnefattigdom som utfordring, utan tiltak."
    shot(browser, shots, "collection")

    # Rename a code, then merge another into it, from the code browser.
    def change(code_name: str, action: str, target: str) -> None:
        row = browser.find_element(By.CSS_SELECTOR, f"#code-list li[data-code='{code_name}']")
        row.find_element(By.TAG_NAME, "button").click()
        Select(browser.find_element(By.ID, "code-action")).select_by_value(action)
        browser.find_element(By.ID, "code-target").send_keys(target, Keys.ENTER)
        wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#code-list li[data-code='{target}']"))
        wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"#code-list li[data-code='{code_name}']"))

    change("tiltak", "rename", "kommunale tiltak")
    assert "renamed 'tiltak' to 'kommunale tiltak' (2 passages)" in browser.find_element(By.ID, "code-status").text
    change("utsette grupper", "merge", "kommunale tiltak")
    codes = get_json(base, "/api/codes")["codes"]
    assert [(c["name"], c["passages"]) for c in codes] == [("kommunale tiltak", 2)]
    wait(browser).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#code-list li[data-code='kommunale tiltak'] .muted").text == "2"
    )

    # Exports come back as files, with the codes and memos in them.
    view = browser.find_element(By.ID, "collection-view")
    view.find_element(By.CSS_SELECTOR, "a[data-format=qdpx]").click()
    with zipfile.ZipFile(downloaded(downloads, "barn-og-bolig.qdpx")) as qdpx:
        project = qdpx.read("project.qde").decode("utf-8")
    assert "kommunale tiltak" in project and "Gol nemner barnefattigdom" in project
    view.find_element(By.CSS_SELECTOR, "a[data-format=md]").click()
    evidence = downloaded(downloads, "barn-og-bolig.md").read_text(encoding="utf-8")
    assert "Korleis planane skriv om barn" in evidence and "kommunale tiltak" in evidence
    for fmt, suffix, magic in [("docx", "docx", b"PK"), ("xlsx", "xlsx", b"PK"), ("ris", "ris", b"TY  -")]:
        view.find_element(By.CSS_SELECTOR, f"a[data-format={fmt}]").click()
        assert downloaded(downloads, f"barn-og-bolig.{suffix}").read_bytes().startswith(magic), fmt

    # The code is a matrix row now.
    browser.find_element(By.ID, "tab-matrix").click()
    box = wait(browser).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#matrix-codes input[value='kommunale tiltak']")
    )
    box.click()
    browser.find_element(By.ID, "matrix-queries").clear()
    before = seq(browser, "#matrix-out")
    browser.find_element(By.ID, "matrix-run").click()
    done(browser, "#matrix-out", before)
    row = browser.find_element(By.CSS_SELECTOR, "#matrix-table tr[data-kind=code]")
    assert row.find_element(By.CSS_SELECTOR, "td.total").text == "2"


# -- the review loop -------------------------------------------------------------------------
def test_review_accept_reject_skip(browser: Any, base: str, shots: Path) -> None:
    open_page(browser, base, "?tab=review")
    card = browser.find_element(By.ID, "review-card")
    wait(browser).until(lambda d: card.get_attribute("data-state") == "done" and card.is_displayed())
    count = browser.find_element(By.ID, "review-count")
    assert count.get_attribute("data-decisions") == "0"
    first = (card.get_attribute("data-passage"), card.get_attribute("data-tag"))
    # The passage is shown with its evidence marked, and its confidence.
    evidence = card.find_element(By.CSS_SELECTOR, ".evidence").text.split("— ", 1)[1].split(", ")
    marks = [m.text.lower() for m in card.find_elements(By.CSS_SELECTOR, ".quote mark.ev")]
    assert marks and all(any(m in e for e in evidence) for m in marks)
    assert re.search(r"confidence 0\.\d\d", card.text)
    shot(browser, shots, "review")

    card.find_element(By.CSS_SELECTOR, "button.accept").click()
    wait(browser).until(lambda d: count.get_attribute("data-decisions") == "1")
    wait(browser).until(lambda d: card.get_attribute("data-state") == "done")
    second = (card.get_attribute("data-passage"), card.get_attribute("data-tag"))
    assert second != first
    browser.find_element(By.TAG_NAME, "body").send_keys("r")  # the keyboard works too
    wait(browser).until(lambda d: count.get_attribute("data-decisions") == "2")
    wait(browser).until(lambda d: card.get_attribute("data-state") == "done")
    third = (card.get_attribute("data-passage"), card.get_attribute("data-tag"))
    card.find_element(By.CSS_SELECTOR, "button.skip").click()
    wait(browser).until(lambda d: (card.get_attribute("data-passage"), card.get_attribute("data-tag")) != third)
    assert count.get_attribute("data-decisions") == "2"  # a skip is no decision
    assert "1 accepted, 1 rejected" in count.text

    # Both decisions are labels the next training reads; decided items leave the queue.
    data = get_json(base, "/api/review", n=20)
    assert (data["decisions"], data["accepted"], data["rejected"]) == (2, 1, 1)
    queued = {(i["passage_id"], i["tag"]) for i in data["items"]}
    assert first not in queued and second not in queued

    # Nothing leaves the machine: every resource the page loaded came from this server.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(f"{base}/") or url.startswith("data:") for url in loaded), loaded
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
