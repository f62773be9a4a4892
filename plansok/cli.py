"""The ``plansok`` command. A thin layer over :mod:`plansok.api`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plansok import __version__
from plansok.errors import PlansokError
from plansok.models import DOC_TYPES

logger = logging.getLogger("plansok")

SERVE_HELP = (
    "a local web page (http://127.0.0.1:8765) to work in: search with filters and totals, results by document, "
    "tags with their evidence, concordance, word frequencies and keyness, matrices with heatmaps, collections "
    "with codes, memos and exports, and accept/reject buttons for the least certain tags; nothing leaves the machine."
)

EPILOG = """\
examples:
  plansok ingest corpus/                       ingest every PDF/TXT/MD/HTML/DOCX in corpus/
  plansok query barnefattigdom                 ranked passages with citations
  plansok query "sosialhjelp" --kommune Gol --type samfunnsdel --year 2018-2030
  plansok query '"tidlig innsats" -skole'      a phrase, excluding a word
  plansok query "bolig OR bustad" --json       alternatives; JSON for scripts
  plansok docs                                 what is indexed
  plansok show 3324_gol_samfunnsdel_2018-2030 --page 14
  plansok query --tag barnefattigdom           passages tagged with a theme (or a theory: --tag npm)
  plansok tag new_plans/ --out report/         tag a batch, write CSV/JSON tables and report.html
  plansok query barnefattigdom --by-document   the best passage of each plan, with its number of hits
  plansok matrix --query barnefattigdom --query sosialhjelp --png m.png   hits by municipality, a heatmap

The index lives in ./plansok-index unless --index DIR or $PLANSOK_INDEX says otherwise.
"""


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        metavar="DIR",
        type=Path,
        default=None,
        help="index directory (default: $PLANSOK_INDEX or ./plansok-index)",
    )


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON (see README, 'JSON output')")


def _batch_args(p: argparse.ArgumentParser) -> None:
    """Options of the commands that ingest a batch (ingest, tag)."""
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="read and analyse in N processes (default 1)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address (tcp://host:8786), or 'local' for a local cluster "
        "of --workers processes; see README, 'Cluster'",
    )
    p.add_argument("--ocr", action="store_true", help="read pages without a text layer with Tesseract (Norwegian)")
    p.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="give up on a document after S seconds (default 300)"
    )
    p.add_argument(
        "--prefer",
        choices=["pdf", "docx", "html", "text"],
        default=None,
        help="which file to index when one document comes in several formats with the same name "
        "(plan.pdf and plan.md are both document 'plan'): pdf, docx, html or text (.md, .txt); the "
        "others are skipped with a warning naming both files. Without it, a document already indexed "
        "keeps its format and a new one is read from the PDF (its pages are the published ones a reader "
        "checks a citation against); with it, an indexed document is replaced by the preferred format. "
        "(Copies with the same content under other names are always indexed once.)",
    )


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kommune",
        action="append",
        default=[],
        metavar="NAME",
        help="municipality name or number (repeatable)",
    )
    p.add_argument(
        "--type",
        action="append",
        default=[],
        dest="doc_type",
        metavar="TYPE",
        help="document type (repeatable): " + ", ".join(DOC_TYPES),
    )
    p.add_argument("--year", metavar="FROM-TO", help="plan period overlapping these years, e.g. 2018-2030 or 2020")
    p.add_argument(
        "--start-year",
        metavar="FROM-TO",
        help="plan period starting in these years (a plan of 2018-2030 starts in 2018), e.g. 2020-2024: "
        "each plan has one start, so subsets by start year never overlap as --year's do",
    )
    p.add_argument("--doc", action="append", default=[], metavar="ID", help="only this document (repeatable)")
    p.add_argument("--standard", choices=["nb", "nn"], help="only bokmål or nynorsk documents")
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only passages with this theory or theme tag (repeatable: all must apply); "
        "without a query, the tagged passages, most confident first (see `plansok codebook show`)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plansok",
        description="Search and analyse Norwegian municipal plans (bokmål and nynorsk): ingest PDFs, "
        "index passages with BM25, and find what plans say with exact citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"plansok {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        help="add PDF, text, Markdown, HTML or DOCX files (or folders) to the index",
        description="Extract, clean, split and index documents. Unchanged files are skipped "
        "(content hash); a changed file replaces its earlier version. A file that cannot be read "
        "is reported with the reason and the batch goes on; the exit status is 1 if any failed.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    p.add_argument(
        "--manifest",
        type=Path,
        metavar="CSV",
        help="CSV with columns file (or doc_id) and any of municipality, kommunenummer, title, "
        "doc_type, year_from, year_to, standard, source_url, author, adopted (vedtatt date); "
        "its values override inferred metadata",
    )
    _batch_args(p)
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "query",
        help="search passages",
        description="Ranked passages with citation and highlighted snippet. Words match inflected "
        "forms, the other written standard (tjenester/tenester) and compounds (fattigdom finds "
        'barnefattigdom, ranked below the whole word). Syntax: "a phrase", -exclude, a OR b, and '
        '"a b"~N for proximity: the words in any order, in one sentence, spread over at most N words more '
        'than the quotes hold ("fattigdom barn"~3 finds "barn vokser opp i fattigdom").',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok query '\"fattigdom barn\"~3'                 the words near each other, in any order\n"
        '  plansok query \'"fattigdom barn"~3 -"barn og unge"\'  near, without passages holding the phrase',
    )
    p.add_argument(
        "query",
        nargs="*",
        default=[],
        help="the query: one or more words, e.g. bostøtte startlån, or '\"tidlig innsats\" -skole' in quotes "
        "(after -- when the first word starts with -)",
    )
    p.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    _filter_args(p)
    p.add_argument(
        "--all", action="store_true", help="require every word or phrase (default: more matches rank higher)"
    )
    p.add_argument(
        "--expand",
        action="store_true",
        help="add words typical of the first hits (pseudo-relevance feedback): more recall, less precision",
    )
    p.add_argument("--no-fold", action="store_true", help="show near-duplicate passages separately")
    p.add_argument("--full", action="store_true", help="print whole passages, not snippets")
    p.add_argument(
        "--by-document",
        action="store_true",
        help="one line per plan: its best passage and how many of its passages match (-k plans)",
    )
    p.add_argument(
        "--include-references",
        action="store_true",
        help="keep reference lists and contents pages among the hits (left out by default, and counted)",
    )
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser("docs", help="list indexed documents with their metadata")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser("show", help="print a page of a document with its passages marked")
    p.add_argument("doc_id", metavar="DOC")
    p.add_argument("--page", type=int, required=True, metavar="N", help="physical page number (1-based)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "tag",
        help="tag a batch of plans and write reports; train the tagger; re-tag",
        description="Every passage gets theory and theme tags (codebook rules and a trained classifier) "
        "when it is ingested. `plansok tag PATH... --out DIR` ingests and tags a batch and writes tables "
        "(CSV, JSON) and an HTML report for it; --train learns the classifier from the index and your "
        "labelled passages; --codebook switches codebook; --retag tags everything again.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok tag new_plans/ --out report/           ingest, tag, write report/report.html\n"
        "  plansok tag new_plans/ --out report/ --dry-run  the same, leaving the index as it was\n"
        "  plansok tag --train my_labels.jsonl            learn from labelled passages, then re-tag\n"
        "  plansok tag --review 30                        accept or reject the 30 least certain tags\n"
        "  plansok tag --undo                             put back the model before the last --train\n"
        "  plansok tag --codebook my_codebook.toml        tag everything with another codebook\n"
        'labels: JSONL lines {"text": ..., "tags": [...]} or CSV with columns text,tags (tags separated by ;)',
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders to ingest and tag")
    p.add_argument("--out", type=Path, metavar="DIR", help="where to write the batch's reports")
    p.add_argument("--dry-run", action="store_true", help="tag and report without adding the batch to the index")
    p.add_argument(
        "--train",
        nargs="*",
        type=Path,
        metavar="LABELS",
        help="train the classifier on the shipped labelled passages plus yours (LABELS files and your "
        "--review decisions) and re-tag; prints how many passages gained and lost each tag. Every index "
        "starts with the shipped model, so training on no new labels changes nothing",
    )
    p.add_argument("--undo", action="store_true", help="put back the model the last --train replaced, and re-tag")
    p.add_argument(
        "--review",
        nargs="?",
        const=20,
        type=int,
        metavar="N",
        help="review the N least certain tags (default 20) one by one: accept, reject or skip; each decision "
        "is saved as a label for the next --train",
    )
    p.add_argument("--codebook", type=Path, metavar="FILE", help="use this codebook (TOML) from now on and re-tag")
    p.add_argument("--retag", action="store_true", help="tag every passage again")
    _batch_args(p)
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "codebook",
        help="show or check the codebook of theory and theme tags",
        description="`plansok codebook show` lists the tags; `plansok codebook check [--codebook FILE]` "
        "validates a codebook and lists its terms that never occur in the index.",
    )
    p.add_argument("action", choices=["show", "check"])
    p.add_argument("--codebook", type=Path, metavar="FILE", help="a codebook TOML (default: the index's)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "collect",
        help="save hits of a query in a named collection; code them and write memos",
        description="A collection is a chain of evidence: passages with the query that found them, your own "
        "codes and memos, and their citations. It lives beside the index and survives re-indexing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        '  plansok collect fattigdom "barnefattigdom" --ranks 1,2,5     save hits 1, 2 and 5\n'
        "  plansok collect fattigdom --add thesis#108                   save one passage by id\n"
        '  plansok collect fattigdom --code 3 "strukturell forklaring"   give item 3 a code of your own\n'
        '  plansok collect fattigdom --item-memo 3 "kommunen ser det som et NAV-ansvar"\n'
        '  plansok collect fattigdom --memo "Planene omtaler barnefattigdom som statlig ansvar"\n'
        "  plansok collect fattigdom --remove 2\n"
        "Items are named by their number in `plansok show-collection NAME` or by passage id.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("query", nargs="?", default="", help="run this query and save its hits")
    p.add_argument("-k", type=int, default=10, help="hits to save when --ranks is not given (default 10)")
    p.add_argument("--ranks", metavar="LIST", help="which hits to save, e.g. 1,3-5")
    _filter_args(p)
    p.add_argument("--add", action="append", default=[], metavar="PASSAGE", help="save a passage by id (doc#n)")
    p.add_argument("--remove", action="append", default=[], metavar="ITEM", help="take an item out")
    p.add_argument("--code", nargs=2, action="append", default=[], metavar=("ITEM", "CODE"), help="add your own code")
    p.add_argument("--uncode", nargs=2, action="append", default=[], metavar=("ITEM", "CODE"), help="remove a code")
    p.add_argument(
        "--item-memo", nargs=2, action="append", default=[], metavar=("ITEM", "TEXT"), help="memo on an item"
    )
    p.add_argument("--memo", metavar="TEXT", help="the collection's memo (your finding)")
    p.add_argument("--delete", action="store_true", help="delete the whole collection")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser("collections", help="list collections")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "show-collection",
        help="print a collection as a chain of evidence: memo, codes, quote, citation",
        description="Each passage is checked against the index: current, moved (same words elsewhere), "
        "changed (its place now holds other words) or vanished (its document was removed).",
    )
    p.add_argument("name", metavar="NAME")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "export",
        help="export a collection or query results: REFI-QDA (.qdpx, .qdc), CSV, XLSX, BibTeX, RIS, Markdown, DOCX",
        description="qdpx: a REFI-QDA project for NVivo, ATLAS.ti, MAXQDA and QualCoder (sources, codes from "
        "the codebook and your own, codings at exact character positions, memos, one case per document with "
        "municipality, kommunenummer, type, period and standard). md/docx: the chain of evidence, readable: "
        "memo, queries, codes, each quote with its citation. csv/xlsx: one row per passage with citation, "
        "text, tags, codes and memo, and the query and date. bibtex/ris: references for the documents. "
        "qdc: the codebook (theory and theme tags, your codes and their hierarchy) as REFI-QDA; needs no "
        "--collection or --query. terms-jsonl: every passage of the index (or of the documents --doc, "
        "--kommune etc. select) as one JSON line with its analysed terms (space-separated, repeated by "
        "frequency), page, section and tags, for a distributed search engine to index with a whitespace "
        "analyzer; needs no --collection or --query.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok export --collection fattigdom --format qdpx --out fattigdom.qdpx\n"
        "  plansok export --collection fattigdom --format docx --out fattigdom.docx   # or md\n"
        '  plansok export --query "barnefattigdom" --kommune Gol --format md --out gol.md\n'
        "  plansok export --format qdc --out kodebok.qdc\n"
        "  plansok export --format terms-jsonl --out passages.jsonl",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--collection", metavar="NAME", help="export this collection")
    src.add_argument("--query", metavar="QUERY", help="export the hits of this query")
    p.add_argument(
        "--format",
        required=True,
        choices=["qdpx", "csv", "xlsx", "bibtex", "ris", "md", "docx", "qdc", "terms-jsonl"],
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE")
    p.add_argument("-k", type=int, default=50, help="hits to export with --query (default 50)")
    _filter_args(p)
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "codes",
        help="your codes across collections, with counts; rename, merge, parent codes",
        description="Lists the codes you gave passages in all collections (plansok collect NAME --code ITEM "
        "CODE), each with its passages per collection, as a tree of parent and child codes. A rename or merge "
        "changes every collection at once and keeps every coding; the hierarchy goes into the .qdpx and .qdc "
        "exports.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok codes                                        list codes, counts, hierarchy\n"
        '  plansok codes --rename "statleg ansvar" "statlig ansvar"\n'
        '  plansok codes --merge "NAV-ansvar" "statlig ansvar"   recode NAV-ansvar as statlig ansvar\n'
        '  plansok codes --parent "statlig ansvar" "ansvar"      put a code under a (new) parent code\n'
        '  plansok codes --unparent "statlig ansvar"             back to the top',
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename a code in every collection")
    act.add_argument("--merge", nargs=2, metavar=("CODE", "INTO"), help="recode CODE as INTO and drop CODE")
    act.add_argument("--parent", nargs=2, metavar=("CHILD", "PARENT"), help="make PARENT the parent of CHILD")
    act.add_argument("--unparent", metavar="CHILD", help="put CHILD at the top of the tree")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "kwic",
        help="concordance: every occurrence of a word or phrase with its context and citation",
        description="One line per occurrence: left context, the keyword, right context, and the citation of "
        "the page it stands on. Words match as `plansok query` matches them: inflections, the other written "
        "standard (barnefattigdomen, tenester) and compounds (fattigdom finds barnefattigdommen); each line "
        "says how (word, compound, stem, phrase, near).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok kwic barnefattigdom                       every occurrence, in document order\n"
        "  plansok kwic barnefattigdom --within 3            also 'fattigdom blant barn', 'barn i fattigdom'\n"
        "  plansok kwic '\"fattigdom blant barn\"'             a phrase\n"
        "  plansok kwic '\"fattigdom barn\"' --within 3        its words up to 3 words apart, in any order\n"
        "  plansok kwic '\"fattigdom barn\"~3'                 near, as plansok query matches it (any order)\n"
        "  plansok kwic tenester --kommune Gol --sort right  sorted by the words after the keyword\n"
        "  plansok kwic sosialhjelp --out kwic.csv           all lines as CSV (or .json)",
    )
    p.add_argument(
        "query", nargs="+", help='a word, a phrase in quotes, "a b"~N (near), words joined by OR; -word excludes'
    )
    _filter_args(p)
    p.add_argument(
        "--within",
        type=int,
        metavar="N",
        help="a phrase's words (and a compound query word's parts standing as words of their own) "
        "may stand up to N words apart, in any order, within one sentence",
    )
    p.add_argument("--width", type=int, default=50, metavar="CHARS", help="context on each side (default 50)")
    p.add_argument(
        "--sort",
        choices=["doc", "left", "right"],
        default="doc",
        help="doc: document order (default); left/right: by the words before/after the keyword",
    )
    p.add_argument(
        "-n",
        "--limit",
        type=int,
        metavar="N",
        help="at most N lines (default 200 printed, all with --out; 0: all)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write the lines as CSV or JSON (by the suffix)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "freq",
        help="lemma frequencies of content words, overall or by document, municipality, type or year",
        description="Counts content words by lemma: nynorsk and bokmål folded to bokmål lemmas "
        "(tenestene and tjenestene are both tjeneste), stop words, numbers and one-letter words left out, "
        "a compound counted as itself. Rates are per 10,000 content words of the group.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok freq --top 20                         the 20 commonest lemmas of the index\n"
        "  plansok freq --by municipality --top 10       per municipality\n"
        "  plansok freq --type samfunnsdel --by year --out freq.csv\n"
        "  plansok freq --by municipality --png freq.png a heatmap of the top lemmas' rates",
    )
    _filter_args(p)
    p.add_argument(
        "--by",
        choices=["document", "municipality", "type", "year"],
        help="one table per group (year: the first year of the plan period)",
    )
    p.add_argument("--top", type=int, default=20, metavar="N", help="lemmas per group (default 20; 0: all)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the table as CSV or JSON (by the suffix)")
    p.add_argument("--png", type=Path, metavar="FILE", help="draw the top lemmas (a heatmap with --by)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "keyness",
        help="lemmas typical of a subset (the filters) against the rest or another subset (--against)",
        description="Compares lemma counts of the passages the filters select with the rest of the index, "
        "or with the passages selected by the filters after --against. Score: log-likelihood G² "
        "(Dunning) with its p-value; effect size: the log ratio log2 of the ratio of rates (+1: twice as "
        "frequent in the subset). See README, 'Concordance, frequencies, keyness, collocations'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok keyness --kommune Gol                   Gol's plans against all other documents\n"
        "  plansok keyness --standard nn --negative        nynorsk plans, words over- and under-used\n"
        "  plansok keyness --type samfunnsdel --start-year 2020-2024 --against --type samfunnsdel "
        "--start-year 2014-2019\n"
        "                                                  plans starting 2020-2024 against those starting "
        "2014-2019\n"
        "  plansok keyness --kommune Gol --png gol.png     a bar chart\n"
        "--against must come last: every option after it selects the reference. --year selects plans whose "
        "period overlaps the years (a plan of 2018-2030 is in 2014-2019 and in 2020-2024 alike); "
        "--start-year puts each plan on one side.",
    )
    _filter_args(p)
    p.add_argument("--min-freq", type=int, default=5, metavar="N", help="a lemma must occur N times (default 5)")
    p.add_argument(
        "--min-docs",
        type=int,
        default=1,
        metavar="N",
        help="... in at least N documents of its side (default 1; 2 or more keeps one plan's place names out)",
    )
    p.add_argument("--top", type=int, default=25, metavar="N", help="keywords to show (default 25; 0: all)")
    p.add_argument("--sort", choices=["ll", "ratio"], default="ll", help="by G² (default) or by log ratio")
    p.add_argument("--max-p", type=float, metavar="P", help="only keywords with p <= P (e.g. 0.001)")
    p.add_argument("--negative", action="store_true", help="also print the lemmas less frequent in the subset")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the keywords as CSV or JSON (by the suffix)")
    p.add_argument("--png", type=Path, metavar="FILE", help="draw the keywords as a bar chart")
    _index_arg(p)
    _json_arg(p)
    p.add_argument(
        "--against",
        nargs=argparse.REMAINDER,
        metavar="FILTER",
        help="compare with the passages these filters select (--kommune, --type, --year, --start-year, --doc, "
        "--standard, --tag) instead of the rest of the index; must come last",
    )

    p = sub.add_parser(
        "collocations",
        help="lemmas found near a word more often than chance (log-likelihood or MI)",
        description="Counts the content words within --window content words on either side of each "
        "occurrence of the query (found as `plansok kwic` finds them) and compares each lemma's count "
        "there with its count in the selection: G² (default) or mutual information, with counts.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok collocations bolig                       neighbours of bolig/bustad\n"
        "  plansok collocations barnefattigdom --min-freq 2 --window 8\n"
        "  plansok collocations tiltak --standard nn --measure mi --out tiltak.csv",
    )
    p.add_argument("query", nargs="+", help="the word (or phrase in quotes) whose neighbours to count")
    _filter_args(p)
    p.add_argument("--window", type=int, default=5, metavar="N", help="content words each side (default 5)")
    p.add_argument("--min-freq", type=int, default=3, metavar="N", help="seen together N times (default 3)")
    p.add_argument("--measure", choices=["ll", "mi"], default="ll", help="sort by G² (default) or MI")
    p.add_argument("--top", type=int, default=25, metavar="N", help="collocates to show (default 25; 0: all)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the table as CSV or JSON (by the suffix)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "matrix",
        help="hits of queries, tags or your codes by municipality, document, type or year; SSB figures beside them",
        description="A table of counts: a row per query (--query, repeatable), tag (--tags) or code of yours "
        "(--codes, from your collections), a column per municipality, document, document type or year (--by). "
        "A cell counts hits as `plansok query` does: passages the row matches under the filters, each passage "
        "once (copies in other plans in their own column), reference lists and contents pages left out unless "
        "--include-references; so a query's row total is the total `plansok query` prints. --measure share "
        "gives hits as a percentage of the column's passages, rate hits per 10,000 words. --stats puts an SSB "
        "StatBank table (CSV or JSON-stat, exported from ssb.no/statbank) beside the municipality columns, "
        "joined by kommunenummer across the 2020 and 2024 reforms.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok matrix --query barnefattigdom --query sosialhjelp            hits by municipality\n"
        "  plansok matrix --query bolig --by year --measure rate --type samfunnsdel\n"
        "  plansok matrix --tags --by document --measure share --png tags.png   every tag, a heatmap\n"
        "  plansok matrix --codes --out codes.csv                              your codes from collections\n"
        "  plansok matrix --query barnefattigdom --measure rate --stats 08764.csv --stat-column 2022 --html m.html\n"
        "statistics: export a table from https://www.ssb.no/statbank/table/NNNNN (e.g. 08764, 12944) as CSV "
        "(semicolon-separated) or JSON-stat; see README, 'Statistics beside the text'.",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        dest="queries",
        metavar="QUERY",
        help='a row for this query (repeatable), in query syntax: "a phrase", -exclude, a OR b',
    )
    p.add_argument("--tags", nargs="*", metavar="TAG", help="a row per tag (without names: every codebook tag)")
    p.add_argument("--codes", nargs="*", metavar="CODE", help="a row per code of yours (without names: every code)")
    p.add_argument(
        "--by", choices=["municipality", "document", "type", "year"], default="municipality", help="the columns"
    )
    p.add_argument(
        "--measure",
        choices=["count", "share", "rate"],
        default="count",
        help="count: hits; share: %% of the column's passages; rate: per 10,000 words (default count)",
    )
    _filter_args(p)
    p.add_argument("--include-references", action="store_true", help="count reference lists and contents pages too")
    p.add_argument("--stats", type=Path, metavar="FILE", help="an SSB StatBank export (CSV or JSON-stat)")
    p.add_argument(
        "--stat-column",
        action="append",
        default=[],
        metavar="TEXT",
        help="the series of --stats to show, by a year or variable label (repeatable; default: the latest)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="write the matrix as CSV (or JSON, by the suffix)")
    p.add_argument("--png", type=Path, metavar="FILE", help="write a heatmap PNG")
    p.add_argument("--html", type=Path, metavar="FILE", help="write an HTML page (table and heatmap)")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "structure",
        help="the goals (mål), delmål, strategies and measures (tiltak) of a plan, with ansvar and frist",
        description="Reads a plan's pages for the units it is built of: goals (mål, hovudmål), sub-goals "
        "(delmål), strategies (strategi/strategiar) and measures (tiltak), in bokmål and nynorsk, from "
        'labelled lists ("Mål 1.", "Strategi:", "Tiltak •"), numbered goals, goal headings and '
        "Mål | Tiltak | Ansvar | Frist tables; with the responsible unit (ansvar) and deadline or period "
        "(frist) where the plan states them. Each unit is quoted exactly, with page, section and citation. "
        "A unit stated twice (summary table and chapter) is listed once, at its first page.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok structure 3330_hol_handlingsplan_folkehelse_2021-2033\n"
        "  plansok structure 3324_gol_samfunnsdel_2018-2030 --kind mål\n"
        "  plansok structure 3326_hemsedal_samfunnsdel_2019-2030 --json > hemsedal_units.json\n"
        "See README, 'Plan structure', for how well it finds units (measured on hand-labelled plans).",
    )
    p.add_argument("doc_id", metavar="DOC", help="a document id (see `plansok docs`)")
    p.add_argument(
        "--kind", action="append", default=[], choices=["mål", "delmål", "strategi", "tiltak"], help="only these kinds"
    )
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "compare",
        help="goals and measures added, removed and reworded between two versions of a plan",
        description="Pairs the units of two documents kind by kind (mål with mål, tiltak with tiltak) by the "
        "lemmas they share, bokmål and nynorsk alike, in the pairing with the most overlap; a pair at or above "
        "--threshold (share of shared content lemmas, Dice) is the same unit: unchanged if its words are the "
        "same, reworded if not. Units left over were added (only in NEW) or removed (only in OLD).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok compare gol_samfunnsdel_2018 gol_samfunnsdel_2022\n"
        "  plansok compare OLD NEW --kind mål --threshold 0.6\n"
        "  plansok compare OLD NEW --json | jq '.changes[] | select(.change==\"added\")'",
    )
    p.add_argument("old", metavar="OLD", help="the earlier version's document id")
    p.add_argument("new", metavar="NEW", help="the later version's document id")
    p.add_argument(
        "--kind", action="append", default=[], choices=["mål", "delmål", "strategi", "tiltak"], help="only these kinds"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="X",
        help="lemma overlap (0-1) at which two units are one unit reworded (default 0.5)",
    )
    p.add_argument("--unchanged", action="store_true", help="list the unchanged units too")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser(
        "commitments",
        help="which plans state goals and measures on a theme (a query or --tag), with quotes; which state none",
        description="For every plan the filters select, the goals, delmål, strategies and measures whose own "
        "words address the theme, quoted with citation, ansvar and frist; then the plans that state units but "
        "none on the theme, and those where no unit was found. The theme is a query in search syntax "
        "(inflections, both written standards and compounds match: barnefattigdom finds "
        '"fattigdom blant barn"; "a phrase", -exclude, a OR b; every word must occur unless --any) '
        "and/or --tag TAG (the codebook's rules for the tag must find evidence in the unit).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  plansok commitments barnefattigdom\n"
        "  plansok commitments 'fattigdom OR lavinntekt' --kind tiltak --type handlingsplan\n"
        "  plansok commitments --tag bolig --kommune Kongsberg --json\n"
        "  plansok commitments frivillig --standard nn",
    )
    p.add_argument("query", nargs="*", default=[], help="the theme as a query (optional with --tag)")
    _filter_args(p)
    p.add_argument(
        "--kind", action="append", default=[], choices=["mål", "delmål", "strategi", "tiltak"], help="only these kinds"
    )
    p.add_argument("--any", action="store_true", help="a unit needs only one of the query's words, not all")
    p.add_argument("--png", type=Path, metavar="FILE", help="draw the units per plan as a bar chart")
    _index_arg(p)
    _json_arg(p)

    p = sub.add_parser("remove", help="remove documents from the index")
    p.add_argument("doc_ids", nargs="+", metavar="DOC")
    _index_arg(p)
    _json_arg(p)

    # eval and bench parse their own arguments (see main); listed here for --help.
    sub.add_parser(
        "eval",
        help="score plansok beside rank_bm25, bm25s and tantivy on judged queries "
        "(nDCG@10, recall, MRR); `plansok eval --help` for options",
        add_help=False,
    )
    sub.add_parser("serve", help=SERVE_HELP + " `plansok serve --help` for options", add_help=False)
    sub.add_parser(
        "eval-tags",
        help="precision, recall and F1 of the tagger (rules, classifier, both) on the hand-labelled gold set; "
        "`plansok eval-tags --help` for options",
        add_help=False,
    )
    sub.add_parser(
        "bench",
        help="measure ingest, indexing and query speed and memory beside rank_bm25, bm25s "
        "and tantivy; `plansok bench --help` for options",
        add_help=False,
    )
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("pdfminer", "bm25s"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _open(args: argparse.Namespace, create: bool = False) -> Any:
    from plansok.api import Index

    return Index.open(args.index, create=create)


def _parse_year(text: str | None, flag: str = "--year") -> tuple[int | None, int | None] | None:
    if not text:
        return None
    lo, _, hi = text.partition("-")
    try:
        a = int(lo) if lo.strip() else None
        b = int(hi) if hi.strip() else (a if not _ else None)
    except ValueError as exc:
        raise PlansokError(f"{flag}: expected YEAR or FROM-TO, got {text!r}") from exc
    return a, b


def _emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


@contextlib.contextmanager
def _dask_client(args: argparse.Namespace):
    """A Dask client for --scheduler (None without it); a local cluster is shut down after."""
    if not getattr(args, "scheduler", None):
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency
        raise PlansokError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from exc
    if args.scheduler == "local":
        with (
            LocalCluster(n_workers=max(args.workers, 1), threads_per_worker=1, processes=True) as cluster,
            Client(cluster) as client,
        ):
            logger.warning("Dask dashboard: %s", client.dashboard_link)
            yield client
    else:
        try:
            client = Client(args.scheduler, timeout=30)
        except OSError as exc:
            raise PlansokError(f"--scheduler {args.scheduler}: cannot connect ({exc})") from exc
        with client:
            yield client


def _ingest_kwargs(args: argparse.Namespace, client) -> dict:
    return {
        "ocr": args.ocr,
        "workers": args.workers,
        "timeout": args.timeout,
        "dask_client": client,
        "prefer": args.prefer,
    }


def cmd_ingest(args: argparse.Namespace) -> int:
    ix = _open(args, create=True)
    show_bar = not args.no_progress and not args.json and sys.stderr.isatty()
    with _dask_client(args) as client:
        report = ix.ingest(args.paths, manifest=args.manifest, progress=show_bar, **_ingest_kwargs(args, client))
    if args.json:
        _emit_json(report.to_dict())
    else:
        for path, reason in report.failed:
            print(f"FAILED  {path}: {reason}", file=sys.stderr)
        print(
            f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.failed)} failed"
            + (f", {len(report.skipped)} skipped (copies or other formats; see the warnings)" if report.skipped else "")
            + f"; {report.pages} pages, {report.passages} passages "
            f"in {report.seconds:.1f} s -> {ix.path}"
        )
    return 0 if report.ok else 1


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def hl(self, s: str) -> str:
        return f"\033[1;33m{s}\033[0m" if self.enabled else f"**{s}**"

    def dim(self, s: str) -> str:
        return f"\033[2m{s}\033[0m" if self.enabled else s

    def bold(self, s: str) -> str:
        return f"\033[1m{s}\033[0m" if self.enabled else s


def _highlighted(text: str, spans: Sequence[Sequence[int]], style: _Style) -> str:
    out, pos = [], 0
    for s, e in spans:
        if s < pos:
            continue
        out.append(text[pos:s])
        out.append(style.hl(text[s:e]))
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _filters(args: argparse.Namespace):  # -> Filters
    from plansok.query.search import Filters

    return Filters(
        municipality=args.kommune,
        doc_type=args.doc_type,
        year=_parse_year(args.year),
        start_year=_parse_year(getattr(args, "start_year", None), "--start-year"),
        doc_ids=args.doc,
        standard=args.standard,
        tags=args.tag,
    )


def cmd_query(args: argparse.Namespace) -> int:
    # Several unquoted words on the command line are one query.
    args.query = " ".join(args.query) if isinstance(args.query, list) else args.query

    ix = _open(args)
    filters = _filters(args)
    if not args.query.strip() and not args.tag:
        raise PlansokError("give a query, or --tag TAG to list tagged passages")
    result = ix.results(
        args.query,
        k=args.k,
        filters=filters,
        by_document=args.by_document,
        include_references=args.include_references,
        require_all=args.all,
        expand=args.expand,
        fold_duplicates=not args.no_fold,
        snippet_words=10_000 if args.full else 45,
    )
    # Nothing matched: exit 1 like grep, with the reason (on stderr, or in the JSON).
    if args.json:
        _emit_json(result.to_dict())
        return 1 if result.message else 0
    if result.message:
        print(result.message, file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    width = 100
    print(style.dim(result.summary()) + "\n")
    hits = [g.hit for g in result.groups] if args.by_document else result.hits
    in_plan = {g.hit.doc.doc_id: g.passages for g in result.groups}
    for h in hits:
        n = in_plan.get(h.doc.doc_id)
        where = f"  {n} {'hit' if n == 1 else 'hits'} in this plan" if n is not None else ""
        print(f"{h.rank:>2}. {style.bold(h.citation)}  {style.dim(f'[{h.score:.2f}]{where}')}")
        body = _highlighted(h.snippet, h.highlights, style)
        print(textwrap.indent(textwrap.fill(body, width=width, break_long_words=False, break_on_hyphens=False), "    "))
        for i, a in enumerate(h.also_in[:5]):
            # Which document, not just which municipality: one municipality has many plans.
            print(style.dim(f"    {'also in:' if i == 0 else '        '} {_also_where(a)}"))
        if len(h.also_in) > 5:
            print(style.dim(f"             and {len(h.also_in) - 5} more (--json lists them all)"))
        if h.tags:
            tags = ", ".join(f"{t['tag']} {t['confidence']:.2f}" for t in h.tags)
            print(style.dim(f"    tags: {tags}"))
        print(style.dim(f"    {h.doc.doc_id} · {h.passage.passage_id}"))
        print()
    return 0


def _also_where(a: dict[str, Any]) -> str:
    """A folded copy's place: municipality, title (period), page, and its document id."""
    title = a.get("title") or a["doc_id"]
    period = a.get("period") or ""
    if period and period not in title:
        title += f" ({period})"
    place = ", ".join(x for x in (a.get("municipality") or "", title, f"s. {a['page']}") if x)
    return f"{place}  [{a['doc_id']}]"


def cmd_docs(args: argparse.Namespace) -> int:
    ix = _open(args)
    docs = ix.documents()
    if args.json:
        _emit_json([d.to_dict() for d in docs])
        return 0
    print(f"{'doc_id':44} {'kommune':14} {'type':13} {'period':10} {'std':3} {'pages':>5}  title")
    for d in docs:
        print(
            f"{d.doc_id[:44]:44} {d.municipality[:14]:14} {d.doc_type[:13]:13} {d.period:10} "
            f"{d.standard:3} {d.n_pages:>5}  {d.title}"
        )
    print(f"{len(docs)} documents in {ix.path}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ix = _open(args)
    page, passages = ix.page(args.doc_id, args.page)
    if args.json:
        _emit_json(
            {
                "doc_id": args.doc_id,
                "page": page.number,
                "label": page.label,
                "source": page.source,
                "text": page.text,
                "passages": [p.to_dict() | {"passage_id": p.passage_id} for p in passages],
            }
        )
        return 0
    doc = ix.document(args.doc_id)
    label = f" (printed {page.label})" if page.label and page.label != str(page.number) else ""
    print(f"{doc.municipality}: {doc.title}, page {page.number}{label}\n")
    for p in passages:
        span = f"pages {p.page_start}-{p.page_end}" if p.page_end != p.page_start else f"page {p.page_start}"
        print(f"[{p.passage_id}] {span}  § {p.section or '-'}")
        print(textwrap.indent(textwrap.fill(p.text, width=100), "    "))
        print()
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    ix = _open(args)
    removed = ix.remove(args.doc_ids)
    missing = [d for d in args.doc_ids if d not in removed]
    if args.json:
        _emit_json({"removed": removed, "not_found": missing})
    else:
        for d in missing:
            print(f"not in index: {d}", file=sys.stderr)
        print(f"removed {len(removed)} document(s)")
    return 0 if not missing else 1


def cmd_tag(args: argparse.Namespace) -> int:
    ix = _open(args, create=bool(args.paths))
    out: dict[str, Any] = {}
    if args.codebook is not None:
        n = ix.set_codebook(args.codebook)
        out["retagged"] = n
        if not args.json:
            print(f"codebook {args.codebook}: {n} passages tagged")
    if args.review is not None:
        out["reviewed"] = _review(ix, args.review, args.json)
    if args.train is not None or args.undo:
        report = ix.undo_training() if args.undo else ix.train_tagger(args.train)
        out["undone" if args.undo else "trained"] = report.to_dict()
        if not args.json:
            what = (
                "previous model restored"
                if args.undo
                else (
                    f"trained on the shipped labels + {report.labels} labelled and {report.reviewed} reviewed passages"
                )
            )
            print(f"{what}; {report.passages} passages re-tagged")
            if not report.changes:
                print("no tag changed")
            for tag, ch in report.changes.items():
                print(f"  {tag:<26} +{ch['added']:<5} -{ch['removed']}")
    if args.retag and args.codebook is None and args.train is None and not args.undo:
        out["retagged"] = ix.retag()
    if args.paths:
        if args.out is None:
            raise PlansokError("tag PATH... needs --out DIR for the reports")
        show_bar = not args.no_progress and not args.json and sys.stderr.isatty()
        with _dask_client(args) as client:
            report, written = ix.tag_batch(
                args.paths, args.out, dry_run=args.dry_run, progress=show_bar, **_ingest_kwargs(args, client)
            )
        out["ingest"] = report.to_dict()
        out["written"] = [str(p) for p in written]
        for path, reason in report.failed:
            print(f"FAILED  {path}: {reason}", file=sys.stderr)
        if not args.json:
            print(f"{len(report.added) + len(report.updated) + len(report.unchanged)} documents tagged"
                  f"{' (dry run)' if args.dry_run else ''}; reports in {args.out}: "
                  + ", ".join(Path(p).name for p in written))  # fmt: skip
    elif args.out is not None:
        raise PlansokError("--out goes with PATH... (the batch to tag)")
    if not out:
        raise PlansokError("nothing to do: give PATH... --out DIR, --train, --undo, --review, --codebook or --retag")
    if args.json:
        _emit_json(out)
    return 1 if out.get("ingest", {}).get("failed") else 0


def _review(ix: Any, n: int, as_json: bool) -> list[dict[str, Any]]:
    """The least certain tags, one at a time: y accepts, n rejects, s skips, q stops."""
    items = ix.review_queue(n)
    decided = []
    if as_json:  # a script gets the queue; decisions go through ix.review_decision
        return [i.to_dict() for i in items]
    if not items:
        print("no tags to review")
    for k, item in enumerate(items, start=1):
        print(f"\n[{k}/{len(items)}] {item.tag} ({item.confidence:.2f})  {item.citation}")
        print(textwrap.indent(textwrap.fill(item.text, width=96), "   "))
        if item.evidence:
            print(f"   evidence: {', '.join(item.evidence)}")
        while True:
            answer = input("   is this passage about the tag? [y]es/[n]o/[s]kip/[q]uit: ").strip().lower()[:1]
            if answer in ("y", "n", "s", "q"):
                break
        if answer == "q":
            break
        if answer == "s":
            continue
        count = ix.review_decision(item.passage_id, item.tag, answer == "y")
        decided.append({"passage_id": item.passage_id, "tag": item.tag, "accept": answer == "y"})
        print(f"   saved ({count} review decisions in all; `plansok tag --train` learns from them)")
    return decided


def cmd_codebook(args: argparse.Namespace) -> int:
    from plansok.tag.codebook import Codebook

    if args.codebook is not None:
        codebook = Codebook.load(args.codebook)
    else:
        from plansok.api import default_index_path

        has_index = ((args.index or default_index_path()) / "plansok.sqlite").exists()
        codebook = _open(args).codebook() if has_index else Codebook.default()
    if args.action == "show":
        if args.json:
            _emit_json([t.__dict__ for t in codebook.tags])
            return 0
        print(f"{codebook.name} (version {codebook.version}): {len(codebook.tags)} tags")
        for kind in ("theory", "theme"):
            print(f"\n{kind} tags:")
            for t in codebook.by_kind(kind):
                print(f"  {t.id:<26} {t.label}")
        return 0
    return _codebook_check(args, codebook)


def _codebook_check(args: argparse.Namespace, codebook: Any) -> int:
    from plansok.api import check_codebook, default_index_path

    index_path = args.index or default_index_path()
    ix = _open(args) if (index_path / "plansok.sqlite").exists() else None
    result = check_codebook(codebook, ix)
    if args.json:
        _emit_json(result.to_dict())
        return 0
    print(f"codebook OK: {result.tags} tags, {result.terms} terms")
    for line in result.unanalysable:
        print(f"  no words to match (only stop words?): {line}")
    if result.never_in_index:
        print(f"terms that never occur in {index_path}:")
        for tag_id, texts in result.never_in_index.items():
            print(f"  {tag_id}: {', '.join(texts)}")
    return 0


def _ranks(text: str | None) -> list[int] | None:
    if not text:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError as exc:
        raise PlansokError(f"--ranks: expected numbers like 1,3-5, got {text!r}") from exc
    return out


def cmd_collect(args: argparse.Namespace) -> int:
    ix = _open(args)
    cols = ix.collections()
    if args.delete:
        cols.delete(args.name)
        print(f"deleted collection {args.name}")
        return 0
    cols.ensure(args.name)
    done: dict[str, Any] = {}
    if args.query:
        hits = ix.collect(args.name, args.query, k=args.k, ranks=_ranks(args.ranks), filters=_filters(args))
        done["saved"] = [h.passage.passage_id for h in hits]
    for pid in args.add:
        ix.collect_passage(args.name, pid)
        done.setdefault("added", []).append(pid)
    for ref, code in args.code:
        cols.code(args.name, ref, [code])
    for ref, code in args.uncode:
        cols.code(args.name, ref, [code], remove=True)
    for ref, memo in args.item_memo:
        cols.item_memo(args.name, ref, memo)
    if args.memo is not None:
        cols.set_memo(args.name, args.memo)
    if args.remove:
        done["removed"] = cols.remove(args.name, args.remove)
    col = cols.get(args.name)
    if args.json:
        _emit_json(done | {"collection": args.name, "passages": len(col.items)})
    else:
        print(
            f"{args.name}: {len(col.items)} passages" + (f" (+{len(done['saved'])} saved)" if "saved" in done else "")
        )
    return 0


def cmd_collections(args: argparse.Namespace) -> int:
    rows = _open(args).collections().names()
    if args.json:
        _emit_json(rows)
        return 0
    for r in rows:
        print(f"{r['name']:<30} {r['passages']:>5} passages  updated {r['updated']}  {r['memo'][:60]}")
    if not rows:
        print('no collections yet (plansok collect NAME "query")')
    return 0


def cmd_show_collection(args: argparse.Namespace) -> int:
    ix = _open(args)
    col = ix.collections().get(args.name, ix.store)
    if args.json:
        _emit_json(col.to_dict())
        return 0
    print(f"# {col.name}")
    if col.memo:
        print(f"\nmemo: {col.memo}")
    for q in col.queries:
        print(f"query: {q['query']}  ({q['run_at']})")
    for item in col.items:
        flag = "" if item.status == "current" else f"  [{item.status.upper()}]"
        print(f"\n{item.id}. {item.citation}{flag}")
        if item.codes:
            print(f"   codes: {', '.join(item.codes)}")
        if item.tags:
            print(f"   tags: {', '.join(t['tag'] for t in item.tags)}")
        if item.memo:
            print(f"   memo: {item.memo}")
        print(textwrap.indent(textwrap.fill("«" + item.text + "»", width=96), "   "))
        if item.now:
            print(f"   now: {item.now.get('passage_id')} page {item.now.get('page')}")
        print(f"   {item.passage_id}" + (f" · found by: {item.query}" if item.query else ""))
    return 0


def cmd_codes(args: argparse.Namespace) -> int:
    ix = _open(args)
    if args.rename:
        result = ix.rename_code(*args.rename)
    elif args.merge:
        result = ix.merge_codes(*args.merge)
    elif args.parent:
        result = ix.set_code_parent(*args.parent)
    elif args.unparent:
        result = ix.set_code_parent(args.unparent, None)
    else:
        result = ix.codes()
    if args.json:
        _emit_json(result.to_dict())
        return 0
    if result.changed:
        print(result.changed)
    if not result.codes:
        print("no codes yet (code a passage with: plansok collect NAME --code ITEM CODE)")
        return 0
    width = max(len("  " * c.depth + c.name) for c in result.codes)
    for c in result.codes:
        where = ", ".join(f"{name} {n}" for name, n in c.collections.items())
        print(f"{'  ' * c.depth + c.name:<{width}}  {c.passages:>4}" + (f"  ({where})" if where else ""))
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    ix = _open(args)
    if not (args.queries or args.tags is not None or args.codes is not None):
        raise PlansokError("give rows: --query QUERY (repeatable), --tags [TAG ...] or --codes [CODE ...]")
    result = ix.matrix(
        args.queries,
        tags=True if args.tags == [] else (args.tags or ()),
        codes=True if args.codes == [] else (args.codes or ()),
        by=args.by,
        measure=args.measure,
        filters=_filters(args),
        include_references=args.include_references,
        stats=args.stats,
        stat_columns=args.stat_column,
    )
    written = [str(result.write(p)) for p in (args.out, args.png, args.html) if p is not None]
    if args.json:
        _emit_json({**result.to_dict(), "written": written})
    else:
        print(result.text())
        for path in written:
            print(f"wrote {path}")
        if result.message:
            print(result.message, file=sys.stderr)
    return 1 if result.message else 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "terms-jsonl":
        if args.collection or args.query:
            raise PlansokError(
                "--format terms-jsonl exports whole documents: select them with --doc or --kommune, "
                "not --collection or --query"
            )
        ix = _open(args)
        result = ix.export_terms(args.out, _filters(args))
        if args.json:
            _emit_json(result.to_dict())
        else:
            print(f"wrote {result.path}: the terms of {result.passages} passages from {result.documents} documents")
        return 0
    if args.format != "qdc" and not (args.collection or args.query):
        raise PlansokError(f"--format {args.format} exports a collection or a query: give --collection or --query")
    ix = _open(args)
    if args.format == "qdc":
        result = ix.export_codebook_qdc(args.out)
        if args.json:
            _emit_json(result.to_dict())
        else:
            print(f"wrote {result.path}: {result.codes} codes (tags and your codes)")
        return 0
    result = ix.export(
        args.out,
        args.format,
        query=None if args.collection else args.query,
        collection=args.collection,
        k=args.k,
        filters=None if args.collection else _filters(args),
    )
    if args.json:
        _emit_json(result.to_dict())
    else:
        print(f"wrote {result.path}: {result.passages} passages from {result.documents} documents")
    return 0


def _fit(text: str, width: int, left: bool) -> str:
    """``text`` cut to ``width`` characters at the end away from the keyword, padded to align."""
    if len(text) > width:
        text = "…" + text[-(width - 1) :] if left else text[: width - 1] + "…"
    return text.rjust(width) if left else text.ljust(width)


def cmd_kwic(args: argparse.Namespace) -> int:
    ix = _open(args)
    query = " ".join(args.query)
    limit = args.limit if args.limit is not None else (0 if args.out else 200)
    result = ix.kwic(query, _filters(args), within=args.within, width=args.width, sort=args.sort, limit=limit or None)
    if args.out and result.lines:
        result.write(args.out)
    if args.json:
        _emit_json(result.to_dict())
        return 0 if result.total else 1
    if not result.total:
        print(result.message, file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    kw_width = min(30, max(len(ln.keyword) for ln in result.lines))
    for ln in result.lines:
        keyword = ln.keyword.ljust(kw_width)
        print(
            f"{_fit(ln.left, args.width, True)}  {style.hl(keyword) if style.enabled else keyword}  "
            f"{_fit(ln.right, args.width, False)}  {style.dim(ln.short_citation)}"
        )
    shown = f"; showing {len(result.lines)} (--limit 0 for all)" if len(result.lines) < result.total else ""
    print(
        f"\n{result.total} occurrence(s) in {result.passages} passage(s) of {result.documents} document(s){shown}",
        file=sys.stderr,
    )
    if args.out:
        print(f"wrote {len(result.lines)} lines to {args.out}", file=sys.stderr)
    return 0


def cmd_freq(args: argparse.Namespace) -> int:
    ix = _open(args)
    result = ix.frequencies(_filters(args), by=args.by, top=args.top)
    if result.groups:
        if args.out:
            result.write(args.out)
        if args.png:
            result.png(args.png)
    if args.json:
        _emit_json(result.to_dict())
        return 0 if result.groups else 1
    if not result.groups:
        print(result.message, file=sys.stderr)
        return 1
    for g in result.groups:
        print(f"{g.label}  ({g.words} content words, {g.documents} document{'s' if g.documents != 1 else ''})")
        print(f"  {'':>3} {'lemma':<24} {'count':>7} {'per 10k':>8} {'docs':>5}")
        for i, x in enumerate(g.lemmas, start=1):
            print(f"  {i:>3} {x.lemma:<24} {x.count:>7} {x.per_10k:>8.1f} {x.documents:>5}")
        print()
    for path in (args.out, args.png):
        if path:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _against(args: argparse.Namespace):  # -> Filters | None
    if args.against is None:
        return None
    if not args.against:
        raise PlansokError("--against needs filters after it, e.g. --against --type samfunnsdel --year 2014-2019")
    sp = argparse.ArgumentParser(prog="plansok keyness --against", add_help=False)
    _filter_args(sp)
    try:
        ref, extra = sp.parse_known_args(args.against)
    except SystemExit as exc:  # argparse has printed what was wrong with the value
        raise PlansokError("--against: bad filter (see above)") from exc
    if extra:
        raise PlansokError(
            f"--against takes only filters (--kommune, --type, --year, --start-year, --doc, --standard, --tag), not "
            f"{' '.join(extra)}; put other options before --against"
        )
    return _filters(ref)


def cmd_keyness(args: argparse.Namespace) -> int:
    from plansok.query.filters import EmptySelection

    ix = _open(args)
    try:
        result = ix.keyness(
            _filters(args),
            _against(args),
            min_freq=args.min_freq,
            top=args.top,
            sort=args.sort,
            max_p=args.max_p,
            min_docs=args.min_docs,
        )
    except EmptySelection as exc:  # valid filters that select nothing: nothing found, like grep
        if args.json:
            _emit_json({"message": str(exc)})
        else:
            print(str(exc), file=sys.stderr)
        return 1
    if result.keywords or result.negative:
        if args.out:
            result.write(args.out)
        if args.png:
            result.png(args.png)
    if args.json:
        _emit_json(result.to_dict())
        return 1 if result.message else 0
    if result.message:
        print(result.message, file=sys.stderr)
        return 1
    subset, ref = result.describe()
    print(
        f"keyness of {subset} ({len(result.documents)} document(s), {result.words} content words)\n"
        f"against {ref} ({len(result.documents_ref)} document(s), {result.words_ref} content words)"
        + (f"; {result.overlap} passages in both count in the subset only" if result.overlap else "")
    )
    sections = [("more frequent in the subset", result.keywords)]
    if args.negative:
        sections.append(("less frequent in the subset", result.negative))
    for title, rows in sections:
        print(f"\n{title}:")
        print(f"  {'':>3} {'lemma':<24} {'G²':>8} {'p':>8} {'log2 r':>7} {'n':>6} {'per 10k':>8} {'n ref':>6} "
              f"{'per 10k':>8} {'docs':>5}")  # fmt: skip
        for i, k in enumerate(rows, start=1):
            print(f"  {i:>3} {k.lemma:<24} {k.g2:>8.1f} {k.p:>8.1e} {k.log_ratio:>+7.2f} {k.count:>6} "
                  f"{k.per_10k:>8.1f} {k.count_ref:>6} {k.per_10k_ref:>8.1f} {k.documents:>5}")  # fmt: skip
        if not rows:
            print(f"  none with at least {result.min_freq} occurrences (--min-freq)")
    for path in (args.out, args.png):
        if path:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_collocations(args: argparse.Namespace) -> int:
    ix = _open(args)
    query = " ".join(args.query)
    result = ix.collocations(
        query, _filters(args), window=args.window, min_freq=args.min_freq, measure=args.measure, top=args.top
    )
    if args.out and result.collocates:
        result.write(args.out)
    if args.json:
        _emit_json(result.to_dict())
        return 0 if result.collocates else 1
    if not result.collocates:
        print(result.message, file=sys.stderr)
        return 1
    print(
        f"collocations of {query!r}: {result.occurrences} occurrences, {result.window_words} content words "
        f"within {result.window} on either side, of {result.words} in the selection"
    )
    print(f"  {'':>3} {'lemma':<24} {'together':>8} {'left':>5} {'right':>5} {'count':>6} {'expected':>8} "
          f"{'G²':>8} {'MI':>6}")  # fmt: skip
    for i, x in enumerate(result.collocates, start=1):
        print(f"  {i:>3} {x.lemma:<24} {x.together:>8} {x.left:>5} {x.right:>5} {x.count:>6} {x.expected:>8.2f} "
              f"{x.g2:>8.1f} {x.mi:>6.2f}")  # fmt: skip
    if args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _unit_line(u: Any, style: _Style, width: int = 100) -> list[str]:
    """A unit as a few lines: kind and number, its words, then ansvar, frist and the passage id."""
    label = f"{u.kind}{' ' + u.number if u.number else ''}"
    body = textwrap.wrap(u.text, width=width - 16) or [""]
    lines = [f"  {label:<12} {body[0]}"] + [f"  {'':<12} {b}" for b in body[1:]]
    extra = [f"ansvar: {u.ansvar}"] if u.ansvar else []
    extra += [f"frist: {u.frist}"] if u.frist else []
    if extra:
        lines.append(style.dim(f"  {'':<12} [{'; '.join(extra)}]"))
    return lines


def cmd_structure(args: argparse.Namespace) -> int:
    ix = _open(args)
    st = ix.plan_structure(args.doc_id)
    units = [u for u in st.units if not args.kind or u.kind in args.kind]
    if args.json:
        _emit_json(st.to_dict() | {"units": [u.to_dict() for u in units]})
        return 0 if units else 1
    doc = st.doc
    if not units:
        print(f"no {'/'.join(args.kind) or 'goals, strategies or measures'} found in {doc.doc_id}", file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    counts = ", ".join(f"{n} {k}" for k, n in st.counts().items() if n and (not args.kind or k in args.kind))
    title = f"{doc.title} ({doc.period})" if doc.period and doc.period not in doc.title else doc.title
    print(style.bold(f"{doc.municipality}, {title}: {counts}"))
    place = None
    for u in units:
        here = (u.page, u.section)
        if here != place:
            print(style.dim(f"\ns. {u.page}" + (f"  § {u.section}" if u.section else "")))
            place = here
        for line in _unit_line(u, style):
            print(line)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    ix = _open(args)
    result = ix.compare_plans(args.old, args.new, threshold=args.threshold, kinds=args.kind or None)
    if args.json:
        _emit_json(result.to_dict())
        return 0 if result.changes else 1
    if not result.changes:
        print(f"no goals, strategies or measures found in {args.old} or {args.new}", file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    print(style.bold(f"{result.old.municipality}: {result.old.doc_id} -> {result.new.doc_id}"))
    for kind, c in result.counts().items():
        print(f"  {kind}: {c['added']} added, {c['removed']} removed, {c['reworded']} reworded, "
              f"{c['unchanged']} unchanged")  # fmt: skip
    for ch in result.changes:
        if ch.change == "unchanged" and not args.unchanged:
            continue
        if ch.change == "added":
            print(f"\n+ {ch.kind} (new, s. {ch.new.page}): {ch.new.text}")
            print(style.dim(f"    {ch.new.citation}"))
        elif ch.change == "removed":
            print(f"\n- {ch.kind} (old, s. {ch.old.page}): {ch.old.text}")
            print(style.dim(f"    {ch.old.citation}"))
        else:
            mark = "~" if ch.change == "reworded" else "="
            print(f"\n{mark} {ch.kind} (s. {ch.old.page} -> s. {ch.new.page}, overlap {ch.similarity:.2f})")
            print(f"    old: {ch.old.text}")
            if ch.change == "reworded":
                print(f"    new: {ch.new.text}")
    return 0


def cmd_commitments(args: argparse.Namespace) -> int:
    ix = _open(args)
    query = " ".join(args.query)
    report = ix.commitments(query, _filters(args), kinds=args.kind or None, require_all=not args.any)
    if args.png:
        report.write_png(args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    if args.json:
        _emit_json(report.to_dict())
        return 0 if report.plans else 1
    if not report.plans:
        print(report.message, file=sys.stderr)
        return 1
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    n = sum(len(p.commitments) for p in report.plans)
    summary = f"{n} unit(s) in {len(report.plans)} plan(s); {len(report.without)} plan(s) state none"
    print(style.bold(f"{report.theme}: {summary}; {len(report.no_units)} without units found"))
    for plan in report.plans:
        d = plan.doc
        found = [c.unit.kind for c in plan.commitments]
        kinds = ", ".join(f"{found.count(k)} {k}" for k in report.kinds if k in found)
        period = f" ({d.period})" if d.period and d.period not in d.title else ""
        print(style.bold(f"\n{d.municipality}, {d.title}{period}: {kinds}"))
        for c in plan.commitments:
            for line in _unit_line(c.unit, style):
                print(line)
            print(style.dim(f"  {'':<12} {c.unit.citation}"))
    if report.without:
        print(style.bold("\nstate goals or measures, none on the theme:"))
        for p in report.without:
            print(f"  {p.doc.municipality}, {p.doc.title} ({p.units} units)  [{p.doc.doc_id}]")
    if report.no_units:
        print(style.bold("\nno goals or measures found (read them yourself):"))
        for d in report.no_units:
            print(f"  {d.municipality}, {d.title}  [{d.doc_id}]")
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "query": cmd_query,
    "docs": cmd_docs,
    "show": cmd_show,
    "remove": cmd_remove,
    "tag": cmd_tag,
    "collect": cmd_collect,
    "collections": cmd_collections,
    "show-collection": cmd_show_collection,
    "export": cmd_export,
    "matrix": cmd_matrix,
    "kwic": cmd_kwic,
    "freq": cmd_freq,
    "keyness": cmd_keyness,
    "collocations": cmd_collocations,
    "codes": cmd_codes,
    "codebook": cmd_codebook,
    "structure": cmd_structure,
    "compare": cmd_compare,
    "commitments": cmd_commitments,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The evaluation and the benchmark are programs of their own with their own
    # options; importing them up front would slow every `plansok query`.
    if argv and argv[0] == "serve":
        from plansok.serve import add_arguments as serve_arguments
        from plansok.serve import run_from_args

        sp = argparse.ArgumentParser(prog="plansok serve", description=SERVE_HELP)
        serve_arguments(sp)
        sargs = sp.parse_args(argv[1:])
        _setup_logging(0, False)
        try:
            return int(run_from_args(sargs) or 0)
        except PlansokError as exc:
            print(f"plansok: error: {exc}", file=sys.stderr)
            return 2
    if argv and argv[0] in ("eval", "eval-tags", "bench"):
        if argv[0] == "eval":
            from plansok.evaluation.run import main as sub_main
        elif argv[0] == "eval-tags":
            from plansok.evaluation.tags import main as sub_main
        else:
            from plansok.bench.run import main as sub_main
        try:
            return int(sub_main(argv[1:]) or 0)
        except PlansokError as exc:
            # e.g. `eval --no-ingest` on an index that lacks a judged document
            print(f"plansok {argv[0]}: error: {exc}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except PlansokError as exc:
        print(f"plansok: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
