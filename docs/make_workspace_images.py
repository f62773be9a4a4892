"""Make the README's screenshots of the web page (docs/img/workspace_*.png) from the sample corpus.

    .venv/bin/python docs/make_workspace_images.py [--index DIR]

Without --index, corpus/ is ingested into a temporary index first (a minute
or two). The page is served on a free loopback port and photographed in
headless Chromium (selenium, /usr/bin/chromium and /usr/bin/chromedriver, as
the browser tests use them) at a laptop's 1366 x 860.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from plansok.api import Index
from plansok.serve.server import make_server

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1366,860", "--hide-scrollbars"]  # fmt: skip
MATRIX_QUERIES = ["barnefattigdom", "sosialhjelp", "bostøtte OR startlån", '"tidlig innsats"']
STATS = ROOT / "tests" / "data" / "ssb" / "12944_vedvarende_lavinntekt_wide.csv"
STRUCTURE_DOC = "3303_kongsberg_boligsosial_plan_2023-2030"


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def make(index_dir: Path, profile: Path) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    OUT.mkdir(parents=True, exist_ok=True)
    srv = make_server(index_dir, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    driver = browser(profile)
    wait = WebDriverWait(driver, 60)

    def ready(url: str) -> None:
        driver.get(url)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")

    def state(css: str, value: str = "done") -> None:
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute("data-state") == value)

    written = []
    try:
        # Search by document: the total that match, each plan's best passage with its number of
        # hits, tags with confidence and their evidence marked; a plan's page beside.
        ready(f"{base}/?tab=search&q=sosialhjelp&group=document")
        state("#results")
        driver.find_element(By.CSS_SELECTOR, "#results .hit[data-doc^='3303_kongsberg'] .snippet").click()
        state("#page-view")
        driver.execute_script("window.scrollTo(0, 0)")
        path = OUT / "workspace_search.png"
        driver.save_screenshot(str(path))
        written.append(path)

        # Matrix: queries by municipality, the table and the heatmap (a taller window holds all).
        driver.set_window_size(1366, 1280)
        ready(f"{base}/?tab=matrix")
        driver.find_element(By.ID, "matrix-queries").send_keys("\n".join(MATRIX_QUERIES))
        driver.find_element(By.CSS_SELECTOR, "#matrix-measure option[value=rate]").click()
        driver.find_element(By.ID, "matrix-run").click()
        state("#matrix-out")
        path = OUT / "workspace_matrix.png"
        driver.save_screenshot(str(path))
        written.append(path)

        # Statistics beside the matrix: an SSB table (the test file's invented figures, marked
        # "testtall" in its title) uploaded in the form, its latest period under each municipality.
        driver.find_element(By.ID, "matrix-stats-file").send_keys(str(STATS))
        state("#matrix-stats-info")
        driver.find_element(By.ID, "matrix-run").click()
        state("#matrix-out")
        driver.execute_script("document.querySelector('#matrix-table').scrollIntoView()")
        path = OUT / "workspace_matrix_statistics.png"
        driver.save_screenshot(str(path))
        written.append(path)

        # Plan structure: a boligsosial plan's goals, sub-goals and measures, with ansvar and frist.
        driver.set_window_size(1366, 960)
        ready(f"{base}/?tab=structure")
        driver.find_element(By.CSS_SELECTOR, f"#structure-doc option[value='{STRUCTURE_DOC}']").click()
        driver.find_element(By.ID, "structure-run").click()
        state("#structure-out")
        path = OUT / "workspace_structure.png"
        driver.save_screenshot(str(path))
        written.append(path)
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of corpus/ (default: ingest it into a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="plansok-shots-") as tmp:
        index_dir = args.index
        if index_dir is None:
            index_dir = Path(tmp) / "index"
            with Index.open(index_dir, create=True) as ix:
                report = ix.ingest([ROOT / "corpus"])
                if not report.ok:
                    raise SystemExit(f"ingest failed: {report.failed}")
        for path in make(index_dir, Path(tmp) / "chrome-profile"):
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
