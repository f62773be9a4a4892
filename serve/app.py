"""The WSGI application behind ``plansok serve``: one HTML page and a JSON API over ``plansok.api``.

Endpoints (all JSON is UTF-8; errors are ``{"error": "..."}`` with a 4xx status).
Filters everywhere are ``kommune=&type=&year=&start_year=&tag=&standard=&doc=`` as on the command line.

    GET  /                     the workspace page (static/index.html, app.js, app.css)
    GET  /api/search           ?q=&k=&group=document&refs=1  hits with the total number that match
    GET  /api/docs             indexed documents and the values for the filter dropdowns
    GET  /api/page             ?doc=&page=&passage=  a page's text, the passage and its tags' evidence marked
    GET  /api/tags             the codebook's tags
    GET  /api/kwic             ?q=&within=&width=&sort=doc|left|right&limit=  (format=csv|json: a download)
    GET  /api/frequencies      ?by=&top=
    GET  /api/keyness          ?top=&min_freq=&min_docs=  the filtered passages against the rest of the index, or
                               against the passages the ref_ filters select (ref_start_year=2014-2019 ...)
    GET  /api/collocations     ?q=&window=&measure=ll|mi&top=&min_freq=
    GET  /api/matrix           ?row=QUERY (repeated)&row_tag=&row_code=&by=&measure=&refs=1
                               &stats=ID (an upload) or stats_path=FILE (loopback clients only)
                               &stat_column= (repeated)  statistics beside the municipality columns
                               (format=csv|html|png|json: a download; else JSON with the heatmap inline)
    GET  /api/structure        ?doc=&kind=  a plan's goals, sub-goals, strategies and measures
    GET  /api/compare          ?old=&new=&threshold=&kind=  units added, removed and reworded
    GET  /api/commitments      ?q=&kind=&any=1 + filters  per plan, the units on a theme, with quotes
    GET  /api/collections      collection names and sizes; ?name=X for one collection's items
    GET  /api/codes            the researcher's codes with counts, parents before children
    GET  /api/export           ?collection=X or ?q=  &format=csv|xlsx|bibtex|ris|qdpx|md|docx|qdc  a download
    GET  /api/review           ?n=&tag=  the least certain tags, evidence marked, and the decisions so far
    POST /api/collect          {"collection", "passage_id", ["codes"], ["memo"]}
    POST /api/collection       {"collection", "memo"}  the collection's memo
    POST /api/item             {"collection", "item", ["add_codes"], ["remove_codes"], ["memo"], ["remove"]}
    POST /api/codes            {"action": "rename"|"merge"|"parent", "code", "to"}
    POST /api/review           {"passage_id", "tag", "accept"}  one decision, a label for the next training
    POST /api/statistics       {"name", "content" (base64)}  an SSB CSV or JSON-stat file for the matrix

The guards in ``_guard`` keep the page local: loopback clients only (unless
``allow_remote``), a Host header naming this server (DNS rebinding), and for
POSTs a JSON body and no foreign Origin (CSRF: a cross-site form cannot send
``application/json`` without a CORS preflight, which this server never grants).
Downloads are GETs that change nothing; every change is a POST.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
import logging
import re
import shutil
import socket
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from plansok.analysis.analyzer import tokenize
from plansok.api import EXPORT_FORMATS, Index, SharedSearcher
from plansok.errors import PlansokError
from plansok.index.store import IndexStore
from plansok.models import Hit, Passage
from plansok.query.search import Filters
from plansok.views.matrix import BY as MATRIX_BY
from plansok.views.matrix import MEASURES as MATRIX_MEASURES

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
MAX_BODY = 64 * 1024
MAX_UPLOAD = 2 * 1024 * 1024  # a statistics file; SSB's tables for every municipality are far smaller
MAX_K = 200
DEFAULT_K = 20
KWIC_LIMIT = 500  # concordance lines shown in the page; the CSV download has them all
MAX_KWIC = 5000
LOOPBACK_NAMES = ("127.0.0.1", "localhost")

# Same-origin only: the page loads nothing from elsewhere, and may not be framed.
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
]

StartResponse = Callable[..., Any]


class HTTPError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- pure helpers (unit-tested directly) ------------------------------------------------
def highlight_html(text: str, spans: Iterable[Iterable[int]], css_class: str = "") -> str:
    """``text`` as HTML with ``<mark>`` around each ``[start, end)`` span.

    Offsets are Python string indices (code points), so this is done here and not
    in the browser, where string indices count UTF-16 units. Every piece of text
    is escaped; overlapping or out-of-range spans are merged and clamped.
    """
    merged: list[list[int]] = []
    for start, end in sorted((max(0, int(s)), min(len(text), int(e))) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    open_tag = f'<mark class="{html.escape(css_class)}">' if css_class else "<mark>"
    out, pos = [], 0
    for start, end in merged:
        out.append(html.escape(text[pos:start]))
        out.append(f"{open_tag}{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _squash(text: str) -> tuple[str, list[int]]:
    """``text`` with each whitespace run as one space, and each kept character's
    index in ``text``: page text keeps the PDF's line breaks, passages do not."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if chars and chars[-1] == " ":
                continue
            ch = " "
        chars.append(ch)
        index.append(i)
    return "".join(chars), index


def locate_passage(page_text: str, passage: Passage, number: int) -> tuple[int, int] | None:
    """Where ``passage`` stands in page ``number``'s text, as ``[start, end)``.

    Whitespace is ignored. A passage running on from the previous page starts at
    the top, one running over to the next page ends at the bottom; when ingest
    changed the words (hyphenation joined), its first or last words anchor it.
    """
    page, index = _squash(page_text)
    wanted = _squash(passage.text.strip())[0]
    if not page.strip() or not wanted:
        return None
    starts_here = passage.page_start == number
    ends_here = passage.page_end == number
    pos = page.find(wanted)
    if pos >= 0 and starts_here:
        start, end = pos, pos + len(wanted)
    else:
        if starts_here:
            start = _find_anchor(page, wanted, head=True)
            if start is None:  # the opening words changed: count back from the closing words
                at = _find_anchor(page, wanted, head=False)
                if at is None:
                    return None
                start = max(0, at - len(wanted))
        else:
            start = len(page) - len(page.lstrip())
        if ends_here:
            at = _find_anchor(page, wanted, head=False, start=start)
            end = at if at is not None else min(len(page), start + len(wanted))
        else:
            end = len(page.rstrip())
    if end <= start:
        return None
    return index[start], index[end - 1] + 1


def _find_anchor(page: str, wanted: str, *, head: bool, start: int = 0) -> int | None:
    """Where ``wanted``'s opening words begin (``head``) or its closing words end in
    ``page``. Shorter anchors are tried too: only part of a passage that runs over
    a page break stands on each page."""
    for size in (60, 40, 25, 12):
        anchor = wanted[:size] if head else wanted[-size:]
        at = page.find(anchor, start)
        if at >= 0:
            return at if head else at + len(anchor)
    return None


def parse_year(text: str, name: str = "year") -> tuple[int | None, int | None] | None:
    """``2020``, ``2018-2030``, ``2018-`` or ``-2030`` as the range Filters takes."""
    text = text.strip()
    if not text:
        return None
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo) if lo.strip() else None
        b = int(hi) if hi.strip() else (None if sep else a)
    except ValueError as exc:
        raise HTTPError(400, f"{name}: expected YEAR or FROM-TO, got {text!r}") from exc
    return a, b


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


# -- requests -----------------------------------------------------------------------------
@dataclass
class Request:
    environ: dict[str, Any]
    method: str = ""
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        return cls(
            environ,
            environ.get("REQUEST_METHOD", "GET").upper(),
            environ.get("PATH_INFO", "") or "/",
            parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=False),
        )

    def header(self, name: str) -> str:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key, "") or ""
        return self.environ.get(f"HTTP_{key}", "") or ""

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1].strip() if values else default

    def args(self, name: str) -> list[str]:
        """A repeatable parameter; commas also separate values (``kommune=Gol,Hol``)."""
        return [v.strip() for raw in self.query.get(name, []) for v in raw.split(",") if v.strip()]

    def json_body(self, limit: int = MAX_BODY) -> dict[str, Any]:
        try:
            length = int(self.header("Content-Length") or "0")
        except ValueError as exc:
            raise HTTPError(400, "Content-Length is not a number") from exc
        if length > limit:
            raise HTTPError(413, f"request body over {limit} bytes")
        raw = self.environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPError(400, f"the body is not valid UTF-8 JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HTTPError(400, "the body must be a JSON object")
        return data


# -- the application ----------------------------------------------------------------------
class ServeApp:
    """The WSGI callable. Requests run in parallel without a global lock: each
    server thread has its own ``Index`` (its own SQLite connection, which sees
    one commit per read), and all share one loaded searcher that reloads in the
    background after a commit (``SharedSearcher``), so an ingest, a merge or a
    reload never holds up a search."""

    def __init__(self, index: Index, port: int, *, allow_remote: bool = False, extra_hosts: Iterable[str] = ()) -> None:
        self._main = index
        self._shared = SharedSearcher(index.path)
        self._local = threading.local()
        self.allow_remote = allow_remote
        self.port = port
        self.extra_hosts = set(extra_hosts)
        self._uploads: tempfile.TemporaryDirectory[str] | None = None  # statistics files sent from the page
        self._uploads_lock = threading.Lock()
        self.routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "/api/search"): self.api_search,
            ("GET", "/api/docs"): self.api_docs,
            ("GET", "/api/page"): self.api_page,
            ("GET", "/api/tags"): self.api_tags,
            ("GET", "/api/kwic"): self.api_kwic,
            ("GET", "/api/frequencies"): self.api_frequencies,
            ("GET", "/api/keyness"): self.api_keyness,
            ("GET", "/api/collocations"): self.api_collocations,
            ("GET", "/api/matrix"): self.api_matrix,
            ("GET", "/api/collections"): self.api_collections,
            ("GET", "/api/codes"): self.api_codes,
            ("GET", "/api/export"): self.api_export,
            ("GET", "/api/review"): self.api_review,
            ("GET", "/api/structure"): self.api_structure,
            ("GET", "/api/compare"): self.api_compare,
            ("GET", "/api/commitments"): self.api_commitments,
            ("POST", "/api/statistics"): self.api_statistics_upload,
            ("POST", "/api/collect"): self.api_collect,
            ("POST", "/api/collection"): self.api_collection_memo,
            ("POST", "/api/item"): self.api_item,
            ("POST", "/api/codes"): self.api_codes_change,
            ("POST", "/api/review"): self.api_review_decision,
        }

    def close(self) -> None:
        """Delete the statistics files uploaded while the server ran."""
        with self._uploads_lock:
            if self._uploads is not None:
                self._uploads.cleanup()
                self._uploads = None

    @property
    def ix(self) -> Index:
        """This thread's ``Index``, opened on its first request."""
        ix = getattr(self._local, "ix", None)
        if ix is None:
            ix = self._local.ix = Index(IndexStore(self._main.path), shared=self._shared)
        return ix

    @contextmanager
    def collections(self) -> Iterator[Any]:
        """The collections database, closed after the request (one connection per use)."""
        cols = self.ix.collections()
        try:
            yield cols
        finally:
            cols.close()

    # -- guards ---------------------------------------------------------------------------
    def allowed_hosts(self) -> set[str]:
        hosts = {f"{name}:{self.port}" for name in LOOPBACK_NAMES}
        hosts |= {f"{name}:{self.port}" for name in self.extra_hosts}
        if self.allow_remote:
            # Remote browsers name the machine; a rebinding attack needs a name the
            # attacker controls, so this machine's own names are safe to accept.
            hosts |= {f"{name}:{self.port}" for name in (socket.gethostname(), socket.getfqdn())}
        return {h.lower() for h in hosts}

    def _host_ok(self, host: str) -> bool:
        host = host.strip().lower()
        if host in self.allowed_hosts():
            return True
        if not self.allow_remote:
            return False
        # With --allow-remote, an IP literal is fine too (no DNS, so no rebinding).
        name, _, port = host.rpartition(":")
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return False
        return port == str(self.port)

    def _origin_ok(self, origin: str) -> bool:
        parts = urlsplit(origin)
        return parts.scheme == "http" and self._host_ok(parts.netloc)

    def _guard(self, req: Request) -> None:
        client = req.environ.get("REMOTE_ADDR", "")
        if not self.allow_remote and not is_loopback(client):
            raise HTTPError(403, f"forbidden: only this machine may use this server (client {client or '?'})")
        host = req.header("Host")
        if not self._host_ok(host):
            raise HTTPError(
                403,
                f"forbidden: Host header {host!r} is not this server; open http://127.0.0.1:{self.port}/ "
                "(requests naming another host are refused to block DNS rebinding)",
            )
        origin = req.header("Origin")
        if origin and origin != "null" and not self._origin_ok(origin):
            raise HTTPError(403, f"forbidden: cross-origin request from {origin!r}")
        if req.method == "POST":
            if origin == "null" or req.header("Sec-Fetch-Site") not in ("", "same-origin", "none"):
                raise HTTPError(403, "forbidden: cross-site POST")
            media = req.header("Content-Type").split(";", 1)[0].strip().lower()
            if media != "application/json":
                raise HTTPError(403, "forbidden: POST requests must send Content-Type: application/json")

    # -- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        req = Request.from_environ(environ)
        try:
            self._guard(req)
            if req.method in ("GET", "HEAD") and req.path in STATIC_FILES:
                return self._static(req, start_response)
            handler = self.routes.get((req.method, req.path))
            if handler is None:
                if any(path == req.path for _, path in self.routes):
                    raise HTTPError(405, f"{req.method} is not allowed on {req.path}")
                raise HTTPError(404, f"no such page: {req.path}")
            data = handler(req)
            if isinstance(data, Download):
                return self._download(start_response, data)
            return self._json(start_response, 200, data)
        except HTTPError as exc:
            if exc.status == 403:
                logger.warning("refused %s %s from %s: %s", req.method, req.path, environ.get("REMOTE_ADDR"), exc)
            return self._json(start_response, exc.status, {"error": exc.message})
        except PlansokError as exc:
            return self._json(start_response, 400, {"error": str(exc)})
        except Exception:
            # The traceback goes to the server's log, never to the client.
            logger.exception("error answering %s %s", req.method, req.path)
            return self._json(start_response, 500, {"error": "internal error; see the server's log"})

    def _json(self, start_response: StartResponse, status: int, data: Any) -> list[bytes]:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
        start_response(_status_line(status), headers + SECURITY_HEADERS)
        return [body]

    def _download(self, start_response: StartResponse, d: Download) -> list[bytes]:
        headers = [
            ("Content-Type", d.content_type),
            ("Content-Length", str(len(d.body))),
            ("Content-Disposition", content_disposition(d.filename, d.inline)),
        ]
        start_response(_status_line(200), headers + SECURITY_HEADERS)
        return [d.body]

    def _static(self, req: Request, start_response: StartResponse) -> list[bytes]:
        name, content_type = STATIC_FILES[req.path]
        body = (STATIC_DIR / name).read_bytes()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(_status_line(200), headers + SECURITY_HEADERS)
        return [] if req.method == "HEAD" else [body]

    # -- helpers ----------------------------------------------------------------------------
    def _filters(self, req: Request, prefix: str = "") -> Filters:
        """The standard filters; ``prefix="ref_"`` reads a keyness reference's."""
        return Filters(
            municipality=req.args(f"{prefix}kommune"),
            doc_type=req.args(f"{prefix}type"),
            year=parse_year(req.arg(f"{prefix}year"), f"{prefix}year"),
            start_year=parse_year(req.arg(f"{prefix}start_year"), f"{prefix}start_year"),
            doc_ids=req.args(f"{prefix}doc"),
            standard=req.arg(f"{prefix}standard") or None,
            tags=req.args(f"{prefix}tag"),
        )

    def _tag_info(self) -> dict[str, Any]:
        return {t.id: t for t in self.ix.codebook().tags}

    def _hit_dict(self, hit: Hit, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A hit as JSON for the page: its tags with label, kind and confidence,
        and its snippet as HTML with the query's words and the tags' evidence marked."""
        d = {**hit.to_dict(), **(extra or {})}
        info = self._tag_info()
        d["tags"] = [_tag_dict(t, info) for t in hit.tags]
        d["snippet_html"] = marks_html(hit.snippet, hit.highlights, evidence_marks(hit.snippet, d["tags"]))
        return d

    # -- endpoints: search and reading ------------------------------------------------------
    def api_search(self, req: Request) -> dict[str, Any]:
        query = req.arg("q")
        filters = self._filters(req)
        if not query and not filters.tags:
            raise HTTPError(400, "type a query, or choose a tag to list tagged passages")
        k = max(1, min(_int_arg(req, "k", DEFAULT_K), MAX_K))
        group = req.arg("group")
        if group not in ("", "passage", "document"):
            raise HTTPError(400, f"group: passage or document, not {group!r}")
        by_document = group == "document"
        res = self.ix.results(query, k, filters, by_document=by_document, include_references=_flag(req, "refs"))
        if by_document:
            hits = [self._hit_dict(g.hit, {"hits_in_document": g.passages}) for g in res.groups]
        else:
            hits = [self._hit_dict(h) for h in res.hits]
        out: dict[str, Any] = {
            "query": query,
            "filters": _filters_dict(filters),
            "total": res.total,  # passages that match, not only those shown
            "documents": res.documents,
            "count": len(hits),
            "by_document": by_document,
            "include_references": res.include_references,
            "left_out": res.left_out,
            "hits": hits,
        }
        if res.message:
            # Why nothing matched (a filter that leaves no document, stop words only ...).
            out["message"] = res.message
        return out

    def api_docs(self, req: Request) -> dict[str, Any]:
        docs = self.ix.documents()
        municipalities = sorted({(d.municipality, d.kommunenummer) for d in docs if d.municipality})
        years = [y for d in docs for y in (d.year_from, d.year_to) if y]
        return {
            "index": str(self.ix.path),
            "documents": [d.to_dict() for d in docs],
            "municipalities": [{"name": m, "kommunenummer": n} for m, n in municipalities],
            "doc_types": sorted({d.doc_type for d in docs}),
            "standards": sorted({d.standard for d in docs if d.standard}),
            "years": [min(years), max(years)] if years else None,
            "export_formats": list(EXPORT_FORMATS),
            "matrix_by": list(MATRIX_BY),
            "matrix_measures": list(MATRIX_MEASURES),
        }

    def api_page(self, req: Request) -> dict[str, Any]:
        doc_id = req.arg("doc")
        if not doc_id:
            raise HTTPError(400, "page: give doc=DOC_ID and page=N")
        number = _int_arg(req, "page", 1)
        try:
            doc = self.ix.document(doc_id)
            page, passages = self.ix.page(doc_id, number)
        except PlansokError as exc:
            raise HTTPError(404, str(exc)) from exc
        chosen = req.arg("passage")
        span = None
        tags: list[dict[str, Any]] = []
        passage = next((p for p in passages if p.passage_id == chosen), None)
        if passage is not None:
            span = locate_passage(page.text, passage, number)
            pid = next((pid for pid, p in self.ix.store.passages_of(doc_id) if p.passage_id == chosen), None)
            if pid is not None:
                info = self._tag_info()
                tags = [_tag_dict(t, info) for t in self.ix.store.tags_of([pid]).get(pid, [])]
        if span:
            start, end = span
            inside = page.text[start:end]
            # The passage as one mark, its tags' evidence marked inside it.
            body = (
                html.escape(page.text[:start])
                + '<mark class="passage">'
                + marks_html(inside, [], evidence_marks(inside, tags))
                + "</mark>"
                + html.escape(page.text[end:])
            )
        else:
            body = html.escape(page.text)
        return {
            "doc_id": doc_id,
            "municipality": doc.municipality,
            "title": doc.title,
            "period": doc.period,
            "standard": doc.standard,
            "page": page.number,
            "label": page.label,
            "source": page.source,
            "n_pages": doc.n_pages,
            "text": page.text,
            "html": body,
            "passage": {
                "passage_id": passage.passage_id,
                "section": passage.section,
                "text": passage.text,
                "span": list(span) if span else None,
                "tags": tags,
            }
            if passage is not None
            else None,
            "passages": [p.passage_id for p in passages],
        }

    def api_tags(self, req: Request) -> dict[str, Any]:
        tags = self.ix.codebook().tags
        return {"tags": [{"id": t.id, "kind": t.kind, "label": t.label, "description": t.description} for t in tags]}

    # -- endpoints: analysis views ----------------------------------------------------------
    def api_kwic(self, req: Request) -> dict[str, Any] | Download:
        query = req.arg("q")
        if not query:
            raise HTTPError(400, "kwic: type a word, a phrase in quotes, or words joined by OR")
        fmt = req.arg("format")
        within = _int_arg(req, "within", 0) or None
        width = max(10, min(_int_arg(req, "width", 60), 300))
        sort = req.arg("sort") or "doc"
        # A download has every line; the page shows the first ``limit``.
        limit = None if fmt else max(1, min(_int_arg(req, "limit", KWIC_LIMIT), MAX_KWIC))
        result = self.ix.kwic(query, self._filters(req), within=within, width=width, sort=sort, limit=limit)
        if fmt:
            return _written(result.write, f"kwic-{_slug(query)}", fmt, ("csv", "json"))
        return result.to_dict()

    def api_frequencies(self, req: Request) -> dict[str, Any]:
        by = req.arg("by") or None
        result = self.ix.frequencies(self._filters(req), by=by, top=max(1, min(_int_arg(req, "top", 30), 200)))
        return result.to_dict()

    def api_keyness(self, req: Request) -> dict[str, Any]:
        # ref_ filters choose the reference, as --against does on the command line.
        against = self._filters(req, "ref_") if any(key.startswith("ref_") for key in req.query) else None
        result = self.ix.keyness(
            self._filters(req),
            against,
            min_freq=max(1, _int_arg(req, "min_freq", 5)),
            top=max(1, min(_int_arg(req, "top", 30), 200)),
            min_docs=max(1, _int_arg(req, "min_docs", 1)),
        )
        return result.to_dict()

    def api_collocations(self, req: Request) -> dict[str, Any]:
        result = self.ix.collocations(
            req.arg("q"),
            self._filters(req),
            window=max(1, min(_int_arg(req, "window", 5), 20)),
            min_freq=max(1, _int_arg(req, "min_freq", 3)),
            measure=req.arg("measure") or "ll",
            top=max(1, min(_int_arg(req, "top", 30), 200)),
        )
        return result.to_dict()

    def api_matrix(self, req: Request) -> dict[str, Any] | Download:
        # Queries are not split on commas: a query is a line of its own.
        queries = [q.strip() for q in req.query.get("row", []) if q.strip()]
        tags = req.args("row_tag")
        codes = req.args("row_code")
        if not queries and not tags and not codes:
            raise HTTPError(400, "matrix: give rows: queries (one a line), tags or your codes")
        result = self.ix.matrix(
            queries,
            tags=True if tags == ["all"] else tags,
            codes=True if codes == ["all"] else codes,
            by=req.arg("by") or "municipality",
            measure=req.arg("measure") or "count",
            filters=self._filters(req),
            include_references=_flag(req, "refs"),
            stats=self._stats_file(req),
            # Not split on commas: a series label has them ("Andel barn (prosent), 2022").
            stat_columns=[c.strip() for c in req.query.get("stat_column", []) if c.strip()],
        )
        fmt = req.arg("format")
        name = f"matrix-by-{result.by}"
        if fmt == "png":
            return Download(_heatmap_png(result), "image/png", f"{name}.png", inline=_flag(req, "inline"))
        if fmt:
            return _written(result.write, name, fmt, ("csv", "html", "json"))
        out = result.to_dict()
        shown = any(r.total for r in result.rows) and result.columns
        out["heatmap"] = "data:image/png;base64," + base64.b64encode(_heatmap_png(result)).decode() if shown else None
        return out

    # -- statistics beside the matrix -------------------------------------------------------
    def _upload_dir(self) -> Path:
        with self._uploads_lock:
            if self._uploads is None:
                self._uploads = tempfile.TemporaryDirectory(prefix="plansok-statistics-")
            return Path(self._uploads.name)

    def _stats_file(self, req: Request) -> Path | None:
        """The statistics file a matrix request names: an upload's id, or (for this
        machine's own browser only) a path on this machine."""
        upload, path = req.arg("stats"), req.arg("stats_path")
        if upload and path:
            raise HTTPError(400, "matrix: give stats (an uploaded file) or stats_path (a file here), not both")
        if upload:
            if not re.fullmatch(r"[0-9a-f]{16}", upload):
                raise HTTPError(400, f"stats: not an upload id: {upload!r}")
            folder = self._upload_dir() / upload
            files = sorted(folder.iterdir()) if folder.is_dir() else []
            if not files:
                raise HTTPError(400, "stats: no such upload (the server was restarted?); send the file again")
            return files[0]
        if path:
            # A path reads a file of the server's machine: only its own user, at its own browser, may.
            if not is_loopback(req.environ.get("REMOTE_ADDR", "")):
                raise HTTPError(403, "stats_path: only a browser on the server's machine may name its files; upload it")
            file = Path(path).expanduser()
            if not file.is_file():
                raise HTTPError(400, f"stats_path: {file} is not a file on the server's machine")
            return file
        return None

    def api_statistics_upload(self, req: Request) -> dict[str, Any]:
        """Keep an uploaded SSB table for the server's lifetime and say what it holds."""
        from plansok.views.statistics import read_statistics, series_label

        body = req.json_body(limit=MAX_UPLOAD * 4 // 3 + 1024)  # base64 is a third longer
        name = _str_field(body, "name", "statistics: give the file's name")
        content = body.get("content")
        if not isinstance(content, str):
            raise HTTPError(400, "statistics: give the file's bytes as base64 in content")
        try:
            raw = base64.b64decode(content, validate=True)
        except ValueError as exc:
            raise HTTPError(400, f"statistics: content is not base64 ({exc})") from exc
        if len(raw) > MAX_UPLOAD:
            raise HTTPError(413, f"statistics: {name} is over {MAX_UPLOAD // 1024 // 1024} MiB")
        upload = hashlib.sha256(raw).hexdigest()[:16]
        folder = self._upload_dir() / upload
        folder.mkdir(exist_ok=True)
        file = folder / (_slug(Path(name).name) or "statistics")
        file.write_bytes(raw)
        try:
            table = read_statistics(file)
        except PlansokError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            shown = [series_label(s) for s in table.select()]
        except PlansokError:  # many series and no latest period: the researcher picks
            shown = []
        logger.info("statistics %s uploaded as %s (%d bytes)", name, upload, len(raw))
        return {
            "id": upload,
            "name": file.name,
            "title": table.title,
            "format": table.format,
            "municipalities": len({o.number for o in table.observations}),
            "series": [series_label(s) for s in table.series()],
            "default": shown,
        }

    # -- endpoints: plan structure, revisions, commitments -----------------------------------
    def api_structure(self, req: Request) -> dict[str, Any]:
        doc_id = req.arg("doc")
        if not doc_id:
            raise HTTPError(400, "structure: choose a document")
        st = self.ix.plan_structure(doc_id)
        kinds = req.args("kind")
        units = [u for u in st.units if not kinds or u.kind in kinds]
        return st.to_dict() | {"units": [u.to_dict() for u in units]}

    def api_compare(self, req: Request) -> dict[str, Any]:
        old, new = req.arg("old"), req.arg("new")
        if not old or not new:
            raise HTTPError(400, "compare: choose the old and the new version")
        raw = req.arg("threshold") or "0.5"
        try:
            threshold = float(raw)
        except ValueError as exc:
            raise HTTPError(400, f"threshold: expected a number between 0 and 1, got {raw!r}") from exc
        return self.ix.compare_plans(old, new, threshold=threshold, kinds=req.args("kind") or None).to_dict()

    def api_commitments(self, req: Request) -> dict[str, Any]:
        report = self.ix.commitments(
            req.arg("q"), self._filters(req), kinds=req.args("kind") or None, require_all=not _flag(req, "any")
        )
        return report.to_dict()

    # -- endpoints: collections, codes, exports ---------------------------------------------
    def api_collections(self, req: Request) -> dict[str, Any]:
        with self.collections() as cols:
            name = req.arg("name")
            if name:
                col = cols.get(name, self.ix.store).to_dict()
                info = self._tag_info()
                for item in col["items"]:
                    item["tags"] = [_tag_dict(t, info) for t in item["tags"]]
                    item["text_html"] = marks_html(item["text"], [], evidence_marks(item["text"], item["tags"]))
                return col
            return {"collections": cols.names()}

    def api_codes(self, req: Request) -> dict[str, Any]:
        return self.ix.codes().to_dict()

    def api_export(self, req: Request) -> Download:
        fmt = req.arg("format")
        if fmt not in EXPORT_FORMATS:
            raise HTTPError(400, f"export: format one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
        collection, query = req.arg("collection"), req.arg("q")
        if fmt != "qdc" and bool(collection) == bool(query):
            raise HTTPError(400, "export: give collection=NAME or q=QUERY (one of them)")
        stem = "codebook" if fmt == "qdc" else _slug(collection or f"query-{query}")
        filename = f"{stem}.{EXPORT_SUFFIX[fmt]}"
        with tempfile.TemporaryDirectory(prefix="plansok-export-") as tmp:
            result = self.ix.export(
                Path(tmp) / filename,
                fmt,
                query=query or None if fmt != "qdc" else None,
                collection=collection or None if fmt != "qdc" else None,
                k=max(1, min(_int_arg(req, "k", 50), 1000)),
                filters=self._filters(req),
            )
            body = Path(result.path).read_bytes()
        logger.info("exported %s as %s (%d bytes)", collection or query or "the codebook", fmt, len(body))
        return Download(body, DOWNLOAD_TYPES[EXPORT_SUFFIX[fmt]], filename)

    def api_collect(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        name = _str_field(body, "collection", "collect: give a collection name")
        passage_id = body.get("passage_id")
        if not isinstance(passage_id, str) or "#" not in passage_id:
            raise HTTPError(400, "collect: give passage_id as DOC_ID#N")
        item = self.ix.collect_passage(name, passage_id)
        with self.collections() as cols:
            codes = body.get("codes") or []
            if codes:
                cols.code(name, str(item), _str_list(codes, "collect: codes must be a list of strings"))
            if isinstance(body.get("memo"), str) and body["memo"]:
                cols.item_memo(name, str(item), body["memo"])
            size = next((c["passages"] for c in cols.names() if c["name"] == name), 0)
        logger.info("collected %s into %r", passage_id, name)
        return {"ok": True, "collection": name, "passage_id": passage_id, "item": item, "passages": size}

    def api_collection_memo(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        name = _str_field(body, "collection", "collection: give its name")
        memo = body.get("memo")
        if not isinstance(memo, str):
            raise HTTPError(400, "collection: memo must be text")
        with self.collections() as cols:
            cols.ensure(name)  # a memo may come before the first passage
            cols.set_memo(name, memo)
        return {"ok": True, "collection": name, "memo": memo}

    def api_item(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        name = _str_field(body, "collection", "item: give the collection")
        ref = body.get("item")
        if isinstance(ref, int):
            ref = str(ref)
        if not isinstance(ref, str) or not ref.strip():
            raise HTTPError(400, "item: give the item's number or passage id")
        add = _str_list(body.get("add_codes") or [], "item: add_codes must be a list of strings")
        drop = _str_list(body.get("remove_codes") or [], "item: remove_codes must be a list of strings")
        with self.collections() as cols:
            if body.get("remove") is True:
                cols.remove(name, [ref])
                return {"ok": True, "removed": ref, "collection": name}
            if add:
                cols.code(name, ref, add)
            if drop:
                cols.code(name, ref, drop, remove=True)
            if "memo" in body:
                if not isinstance(body["memo"], str):
                    raise HTTPError(400, "item: memo must be text")
                cols.item_memo(name, ref, body["memo"])
            item = next((i for i in cols.get(name).items if str(i.id) == ref or i.passage_id == ref), None)
            if item is None:
                raise HTTPError(400, f"{name}: no passage {ref!r} in the collection")
        return {"ok": True, "collection": name, "item": item.id, "codes": item.codes, "memo": item.memo}

    def api_codes_change(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        action = body.get("action")
        code = _str_field(body, "code", "codes: give the code")
        to = body.get("to")
        if action == "rename":
            result = self.ix.rename_code(code, _str_field(body, "to", "rename: give the new name"))
        elif action == "merge":
            result = self.ix.merge_codes(code, _str_field(body, "to", "merge: give the code to merge into"))
        elif action == "parent":
            if to is not None and not isinstance(to, str):
                raise HTTPError(400, "parent: give the parent code's name, or null for the top")
            result = self.ix.set_code_parent(code, to.strip() if to and to.strip() else None)
        else:
            raise HTTPError(400, f"codes: action rename, merge or parent, not {action!r}")
        return result.to_dict()

    # -- endpoints: the review loop ---------------------------------------------------------
    def api_review(self, req: Request) -> dict[str, Any]:
        tag = req.arg("tag") or None
        if tag is not None and tag not in self.ix.codebook().ids:
            raise HTTPError(400, f"review: unknown tag {tag!r}")
        n = max(1, min(_int_arg(req, "n", 10), 100))
        info = self._tag_info()
        items = []
        pages: dict[str, dict[str, int]] = {}  # doc_id -> passage id -> first page, to open the page
        for item in self.ix.review_queue(n, tag):
            d = item.to_dict()
            doc_id = item.passage_id.rpartition("#")[0]
            if doc_id not in pages:
                pages[doc_id] = {p.passage_id: p.page_start for _, p in self.ix.store.passages_of(doc_id)}
            d["doc_id"], d["page"] = doc_id, pages[doc_id].get(item.passage_id, 1)
            d.update(_tag_dict({"tag": item.tag, "evidence": item.evidence, "confidence": d["confidence"]}, info))
            d["text_html"] = marks_html(item.text, [], evidence_marks(item.text, [d]))
            items.append(d)
        return {"items": items, **self._decisions()}

    def api_review_decision(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        passage_id = _str_field(body, "passage_id", "review: give passage_id")
        tag = _str_field(body, "tag", "review: give the tag")
        accept = body.get("accept")
        if not isinstance(accept, bool):
            raise HTTPError(400, "review: accept must be true or false")
        self.ix.review_decision(passage_id, tag, accept)
        logger.info("review: %s %s %s", "accepted" if accept else "rejected", tag, passage_id)
        return {"ok": True, "passage_id": passage_id, "tag": tag, "accept": accept, **self._decisions()}

    def _decisions(self) -> dict[str, int]:
        """The review decisions the next training learns from: one per passage and
        tag, the latest counting where a passage was decided twice."""
        from plansok.tag.train import review_labels

        labels = review_labels(self.ix.store, self.ix.codebook())
        accepted = sum(len(lab.tags) for lab in labels)
        rejected = sum(len(lab.negatives) for lab in labels)
        return {"decisions": accepted + rejected, "accepted": accepted, "rejected": rejected}


# -- responses ------------------------------------------------------------------------------
@dataclass
class Download:
    """A file for the browser to save (or, ``inline``, to show)."""

    body: bytes
    content_type: str
    filename: str
    inline: bool = False


EXPORT_SUFFIX = {
    "csv": "csv",
    "xlsx": "xlsx",
    "bibtex": "bib",
    "ris": "ris",
    "qdpx": "qdpx",
    "md": "md",
    "docx": "docx",
    "qdc": "qdc",
}
DOWNLOAD_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "bib": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
    "qdpx": "application/zip",  # REFI-QDA projects are zip files
    "qdc": "application/xml; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}

# pyplot keeps global state; one heatmap is drawn at a time (searches never wait for it).
_PLOT_LOCK = threading.Lock()


def _heatmap_png(result: Any) -> bytes:
    with _PLOT_LOCK:
        return result.heatmap_png()


def _written(write: Callable[[Path], Path], stem: str, fmt: str, formats: tuple[str, ...]) -> Download:
    """A view written by its own ``write`` (so the page's download is the CLI's file)."""
    if fmt not in formats:
        raise HTTPError(400, f"format: one of {', '.join(formats)}, not {fmt!r}")
    with tempfile.TemporaryDirectory(prefix="plansok-view-") as tmp:
        path = write(Path(tmp) / f"{stem}.{fmt}")
        body = Path(path).read_bytes()
    return Download(body, DOWNLOAD_TYPES[fmt], f"{stem}.{fmt}")


def content_disposition(filename: str, inline: bool = False) -> str:
    """``attachment`` with an ASCII name and the UTF-8 name (RFC 6266), so æøå survive."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "plansok"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _slug(text: str) -> str:
    """A file name stem from a query or collection name, legal on Windows, macOS and Linux."""
    slug = re.sub(r"[^\w.-]+", "-", text.strip(), flags=re.UNICODE).strip("-.")
    return slug[:60] or "plansok"


# -- marks: the query's words, and the evidence of a passage's tags ---------------------
def _tag_dict(t: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """A stored tag with its codebook label and kind, and the evidence as a list."""
    tag = info.get(t["tag"])
    return {
        **t,
        "label": tag.label if tag is not None else t["tag"],
        "kind": tag.kind if tag is not None else "theme",
        "evidence": [str(e) for e in t.get("evidence") or []],
    }


def evidence_marks(text: str, tags: Iterable[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """``(start, end, tag label)`` where ``text`` has one of its tags' evidence.
    Evidence is stored as written ("folkehelsen", "låg inntekt"): a word is marked
    wherever it stands, several words only together, so the "på" of "vanskeligstilte
    på boligmarkedet" is not marked all over the passage."""
    toks = tokenize(text)
    forms = [t.form for t in toks]
    wanted: dict[str, list[tuple[list[str], str]]] = {}  # first word -> (words, label)
    for t in tags:
        label = str(t.get("label") or t["tag"])
        for e in t.get("evidence") or []:
            words = [w.form for w in tokenize(str(e))]
            if words:
                wanted.setdefault(words[0], []).append((words, label))
    out: list[tuple[int, int, str]] = []
    for i, form in enumerate(forms):
        for words, label in wanted.get(form, ()):
            if forms[i : i + len(words)] == words:
                out.append((toks[i].start, toks[i + len(words) - 1].end, label))
    return out


def marks_html(text: str, hits: Iterable[Iterable[int]], evidence: Iterable[tuple[int, int, str]]) -> str:
    """``text`` as escaped HTML: ``<mark>`` around the query's words (``hits``),
    ``<mark class="ev" title="evidence: TAG">`` around tag evidence, ``class="q ev"``
    where a word is both. Offsets count code points, as Python does."""
    n = len(text)
    is_hit = [False] * n
    ev: list[frozenset[str]] = [frozenset()] * n
    for s, e in hits:
        for i in range(max(0, int(s)), min(n, int(e))):
            is_hit[i] = True
    for s, e, label in evidence:
        for i in range(max(0, s), min(n, e)):
            ev[i] = ev[i] | {label}
    out: list[str] = []
    i = 0
    while i < n:
        j = i
        key = (is_hit[i], ev[i])
        while j < n and (is_hit[j], ev[j]) == key:
            j += 1
        chunk = html.escape(text[i:j])
        hit, labels = key
        if not hit and not labels:
            out.append(chunk)
        elif not labels:
            out.append(f"<mark>{chunk}</mark>")
        else:
            cls = "q ev" if hit else "ev"
            title = html.escape("evidence: " + ", ".join(sorted(labels)), quote=True)
            out.append(f'<mark class="{cls}" title="{title}">{chunk}</mark>')
        i = j
    return "".join(out)


def _int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise HTTPError(400, f"{name}: expected a whole number, got {raw!r}") from exc


def _flag(req: Request, name: str) -> bool:
    return req.arg(name).lower() in ("1", "true", "yes", "on")


def _str_field(body: dict[str, Any], name: str, message: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HTTPError(400, message)
    return value.strip()


def _str_list(value: Any, message: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise HTTPError(400, message)
    return [v.strip() for v in value]


def _filters_dict(filters: Filters) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in filters.__dict__.items()}


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"
