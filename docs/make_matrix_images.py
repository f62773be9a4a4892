"""Make the README's matrix pictures (docs/img/matrix_*.png) from the sample corpus.

    .venv/bin/python docs/make_matrix_images.py [--index DIR]

Without --index, corpus/ is ingested into a temporary index first (a minute
or two). The statistics beside the municipalities come from the test file
tests/data/ssb/12944_vedvarende_lavinntekt_wide.csv, whose figures are
invented (its title says "testtall"); export the real table from StatBank
to see real ones (README, "Statistics beside the text").
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from plansok.api import Index

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
STATS = ROOT / "tests" / "data" / "ssb" / "12944_vedvarende_lavinntekt_wide.csv"
QUERIES = ["barnefattigdom", "sosialhjelp", "bostøtte OR startlån", '"tidlig innsats"']


def make(ix: Index) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    by_municipality = ix.matrix(QUERIES, by="municipality", measure="rate", stats=STATS)
    by_document = ix.matrix(tags=True, by="document", measure="share")
    return [
        by_municipality.write(OUT / "matrix_municipality.png"),
        by_document.write(OUT / "matrix_tags_by_document.png"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of corpus/ (default: ingest it into a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.index:
        written = make(Index.open(args.index))
    else:
        with tempfile.TemporaryDirectory(prefix="plansok-images-") as tmp:
            ix = Index.open(Path(tmp) / "index", create=True)
            report = ix.ingest([ROOT / "corpus"])
            if not report.ok:
                raise SystemExit(f"ingest failed: {report.failed}")
            written = make(ix)
            ix.close()
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
