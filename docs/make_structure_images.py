"""Make the README's plan-structure picture (docs/img/commitments_*.png) from the sample corpus.

    .venv/bin/python docs/make_structure_images.py [--index DIR]

Without --index, corpus/ is ingested into a temporary index first (a minute or two).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from plansok.api import Index

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
THEMES = {"commitments_bolig.png": "bolig OR bustad"}


def make(ix: Index) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    return [ix.commitments(query).write_png(OUT / name) for name, query in THEMES.items()]


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
