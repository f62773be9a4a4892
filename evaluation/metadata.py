"""Metadata inference measured on real download names.

The shared PDFs are named by their corpus ids (``3324_gol_samfunnsdel_2018-2030.pdf``),
which give the municipality, type and period away. A researcher's downloads are
named by the municipality's web site: ``dec50ec7-4c9a-48ad-bd00-5cf9f9ad0cd5.pdf``,
``kommuneplanens-samfunnsdel-2021-2033-egengodkjenning-2022.pdf``. So each PDF is
copied to a temporary folder under the last path component of its ``Kilde:`` URL
(URL-decoded; ``.pdf`` added where the URL names a web page), the thesis under
``thesis.pdf``, and read through ``plansok.ingest.pipeline.read_document``, the
code path of ``plansok ingest``. Each field is scored against
``data/metadata_gold.tsv``:

- municipality, kommunenummer, doc_type, standard: equal;
- period: ``(year_from, year_to)`` equal (a document with no period has its year in both);
- title: equal to one of the gold forms after normalisation: Unicode NFKC,
  case folded, every dash and punctuation mark (``–-:;,.()«»"'!?|``) a space,
  whitespace collapsed. "Helse- og velferdsplan 2017 – 2025" and "HELSE- OG
  VELFERDSPLAN 2017-2025" are the same title; "Kommuneplan" is not
  "Kommuneplan Øvre Eiker kommune Samfunnsdel 2021-2033". The gold lists the
  forms in which the document itself states its title (title page, PDF
  metadata, running header);
- author: equal after the same normalisation, on every document (a document
  without a named author must get none);
- adopted (the vedtatt date) is reported beside them; it is not a target.

Documents marked held-out in ``data/documents_split.tsv`` (and the thesis)
are reported first; the rest are in-sample: the inference was tuned on them.

Usage (until ``plansok eval`` runs it)::

    python -m plansok.evaluation.metadata [--pdf-dir DIR] [--thesis PDF] [--gold TSV] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from plansok.evaluation.qrels import default_pdf_dir, default_thesis_pdf

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
GOLD_FILE = DATA / "metadata_gold.tsv"
SPLIT_FILE = DATA / "documents_split.tsv"
FIELDS = ("municipality", "kommunenummer", "doc_type", "period", "title", "standard", "author")
EXTRA_FIELDS = ("adopted",)
THESIS_ID = "thesis"
_SOURCE_RE = re.compile(r"^\s*-\s*Kilde:\s*<?(\S+?)>?\s*$", re.MULTILINE)
_PUNCT = re.compile(r"[\s\-‐‑‒–—―:;,.()\[\]«»\"“”„'’!?|/]+")


def normalise_title(title: str) -> str:
    """Case, whitespace, dashes and punctuation ignored."""
    t = unicodedata.normalize("NFKC", title or "").casefold()
    return _PUNCT.sub(" ", t).strip()


def load_gold(path: Path = GOLD_FILE) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    header = lines[0].split("\t")
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ValueError(f"{path}: row {n} has {len(cells)} columns, the header {len(header)}")
        row = dict(zip(header, cells, strict=True))
        rows[row["doc_id"]] = row
    return rows


def load_split(path: Path = SPLIT_FILE) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip() or line.startswith("doc_id"):
            continue
        doc_id, _layout, part = line.split("\t")[:3]
        out[doc_id] = part
    return out


def download_name(url: str) -> str:
    """The name a browser gives a download: the URL's last path component,
    URL-decoded; a web page (no ``.pdf``) saved as PDF gets ``.pdf`` added."""
    path = urlparse(url).path.rstrip("/")
    name = unquote(path.rsplit("/", 1)[-1])
    return name if name.lower().endswith(".pdf") else name + ".pdf"


def download_names(plans_dir: Path) -> dict[str, str]:
    """Corpus id -> real download name, from the ``Kilde:`` line of each ``.md`` header."""
    out = {}
    for md in sorted(plans_dir.glob("*.md")):
        m = _SOURCE_RE.search(md.read_text(encoding="utf-8")[:2000])
        if not m:
            raise ValueError(f"{md}: no 'Kilde:' source URL in the header")
        out[md.stem] = download_name(m.group(1))
    names = list(out.values())
    if len(set(names)) != len(names):
        raise ValueError(f"{plans_dir}: two documents share a download name")
    return out


def _predicted(meta) -> dict[str, str]:  # meta: DocumentMeta
    return {
        "municipality": meta.municipality,
        "kommunenummer": meta.kommunenummer,
        "doc_type": meta.doc_type,
        "period": f"{meta.year_from or ''}-{meta.year_to or ''}",
        "title": meta.title,
        "standard": meta.standard,
        "author": meta.author,
        "adopted": meta.adopted,
    }


def _expected(row: dict[str, str]) -> dict[str, str]:
    return {
        "municipality": row["municipality"],
        "kommunenummer": row["kommunenummer"],
        "doc_type": row["doc_type"],
        "period": f"{row['year_from']}-{row['year_to']}",
        "title": row["title"],
        "standard": row["standard"],
        "author": row["author"],
        "adopted": row["adopted"],
    }


def field_ok(name: str, predicted: str, expected: str) -> bool:
    if name == "title":
        return normalise_title(predicted) in {normalise_title(t) for t in expected.split(" || ")}
    if name == "author":
        return normalise_title(predicted) == normalise_title(expected)
    return (predicted or "") == (expected or "")


def metadata_table(pdf_dir: Path, thesis: Path | None, gold: Path = GOLD_FILE) -> dict[str, Any]:
    """Per-field accuracy per part ("heldout" first, then "tuning"), with every
    document's predicted and expected values.

    ``{"parts": {"heldout": {"n": 7, "fields": {"title": 1.0, ...}}, ...},
    "documents": [{"doc_id", "file", "part", "predicted", "expected", "ok"}, ...]}``
    """
    from plansok.ingest.pipeline import doc_id_for, read_document

    gold_rows = load_gold(gold)
    split = load_split()
    names = download_names(pdf_dir.parent / "plans")
    docs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="plansok-metadata-") as tmp:
        work = Path(tmp)
        jobs: list[tuple[str, Path]] = []
        for doc_id, name in names.items():
            src = pdf_dir / f"{doc_id}.pdf"
            if not src.is_file():
                raise FileNotFoundError(f"{src}: the PDF of {doc_id} is missing")
            dst = work / name
            shutil.copyfile(src, dst)
            jobs.append((doc_id, dst))
        if thesis is not None:
            dst = work / "thesis.pdf"
            shutil.copyfile(thesis, dst)
            jobs.append((THESIS_ID, dst))
        for doc_id, path in jobs:
            if doc_id not in gold_rows:
                raise KeyError(f"{gold}: no gold row for {doc_id}")
            meta = read_document(path, doc_id_for(path)).meta
            predicted, expected = _predicted(meta), _expected(gold_rows[doc_id])
            ok = {f: field_ok(f, predicted[f], expected[f]) for f in (*FIELDS, *EXTRA_FIELDS)}
            part = "heldout" if doc_id == THESIS_ID else split.get(doc_id, "tuning")
            docs.append(
                {
                    "doc_id": doc_id,
                    "file": path.name,
                    "part": part,
                    "predicted": predicted,
                    "expected": expected,
                    "ok": ok,
                }
            )
    parts: dict[str, dict[str, Any]] = {}
    for part in ("heldout", "tuning"):
        rows = [d for d in docs if d["part"] == part]
        if not rows:
            continue
        parts[part] = {
            "n": len(rows),
            "fields": {f: sum(d["ok"][f] for d in rows) / len(rows) for f in (*FIELDS, *EXTRA_FIELDS)},
        }
    return {"parts": parts, "documents": docs}


def format_table(result: dict[str, Any], verbose: bool = False) -> str:
    names = {"heldout": "held-out (incl. thesis)", "tuning": "in-sample (tuning)"}
    cols = [*FIELDS, *EXTRA_FIELDS]
    head = f"{'part':26} {'n':>3} " + " ".join(f"{c[:13]:>13}" for c in cols)
    lines = ["Metadata accuracy on real download names (adopted: reported, not a target)", head, "-" * len(head)]
    for part, row in result["parts"].items():
        cells = " ".join(f"{row['fields'][c]:>13.3f}" for c in cols)
        lines.append(f"{names.get(part, part):26} {row['n']:>3} {cells}")
    wrong = [(d, f) for d in result["documents"] for f in cols if not d["ok"][f]]
    if wrong:
        lines += ["", "Wrong fields:"]
        for d, f in wrong:
            if f in EXTRA_FIELDS and not verbose:
                continue
            lines.append(
                f"  [{d['part']}] {d['file'][:48]:48} {f:13} got {d['predicted'][f]!r}, want {d['expected'][f]!r}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plansok.evaluation.metadata", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf-dir", type=Path, default=None, help="the shared corpus's pdf/ folder")
    ap.add_argument("--thesis", type=Path, default=None, help="the thesis PDF (default: the shared corpus's)")
    ap.add_argument("--gold", type=Path, default=GOLD_FILE)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--verbose", action="store_true", help="also list wrong adoption dates")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    pdf_dir = args.pdf_dir or default_pdf_dir()
    thesis = args.thesis or default_thesis_pdf()
    if not pdf_dir.is_dir():
        print(f"error: {pdf_dir}: no such folder (the shared corpus's pdf/)", file=sys.stderr)
        return 2
    try:
        result = metadata_table(pdf_dir, thesis if thesis.is_file() else None, args.gold)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_table(result, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
