"""The WSGI application behind ``plansok serve``: one HTML page and a small JSON API.

Endpoints (all JSON is UTF-8; errors are ``{"error": "..."}`` with a 4xx status):

    GET  /                     the search page (static/index.html, app.js, app.css)
    GET  /api/search           ?q=&kommune=&type=&year=&tag=&standard=&doc=&k=
    GET  /api/docs             indexed documents and the values for the filter dropdowns
    GET  /api/page             ?doc=&page=&passage=  a page's text, the chosen passage highlighted
    GET  /api/tags             the codebook's tags
    GET  /api/collections      collection names and sizes; ?name=X for one collection's items
    POST /api/collect          {"collection", "passage_id", ["codes"], ["memo"]}

The guards in ``_guard`` keep the page local: loopback clients only (unless
``allow_remote``), a Host header naming this server (DNS rebinding), and for
POSTs a JSON body and no foreign Origin (CSRF: a cross-site form cannot send
``application/json`` without a CORS preflight, which this server never grants).
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from plansok.api import Index, SharedSearcher
from plansok.errors import PlansokError
from plansok.index.store import IndexStore
from plansok.models import Passage
from plansok.query.search import Filters

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
MAX_BODY = 64 * 1024
MAX_K = 200
DEFAULT_K = 20
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


def parse_year(text: str) -> tuple[int | None, int | None] | None:
    """``2020``, ``2018-2030``, ``2018-`` or ``-2030`` as the range Filters takes."""
    text = text.strip()
    if not text:
        return None
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo) if lo.strip() else None
        b = int(hi) if hi.strip() else (None if sep else a)
    except ValueError as exc:
        raise HTTPError(400, f"year: expected YEAR or FROM-TO, got {text!r}") from exc
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

    def json_body(self) -> dict[str, Any]:
        try:
            length = int(self.header("Content-Length") or "0")
        except ValueError as exc:
            raise HTTPError(400, "Content-Length is not a number") from exc
        if length > MAX_BODY:
            raise HTTPError(413, f"request body over {MAX_BODY} bytes")
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
        self.routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "/api/search"): self.api_search,
            ("GET", "/api/docs"): self.api_docs,
            ("GET", "/api/page"): self.api_page,
            ("GET", "/api/tags"): self.api_tags,
            ("GET", "/api/collections"): self.api_collections,
            ("POST", "/api/collect"): self.api_collect,
        }

    @property
    def ix(self) -> Index:
        """This thread's ``Index``, opened on its first request."""
        ix = getattr(self._local, "ix", None)
        if ix is None:
            ix = self._local.ix = Index(IndexStore(self._main.path), shared=self._shared)
        return ix

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

    def _static(self, req: Request, start_response: StartResponse) -> list[bytes]:
        name, content_type = STATIC_FILES[req.path]
        body = (STATIC_DIR / name).read_bytes()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(_status_line(200), headers + SECURITY_HEADERS)
        return [] if req.method == "HEAD" else [body]

    # -- endpoints ------------------------------------------------------------------------
    def api_search(self, req: Request) -> dict[str, Any]:
        query = req.arg("q")
        filters = Filters(
            municipality=req.args("kommune"),
            doc_type=req.args("type"),
            year=parse_year(req.arg("year")),
            doc_ids=req.args("doc"),
            standard=req.arg("standard") or None,
            tags=req.args("tag"),
        )
        if not query and not filters.tags:
            raise HTTPError(400, "type a query, or choose a tag to list tagged passages")
        k = _int_arg(req, "k", DEFAULT_K)
        hits = self.ix.search(query, k=max(1, min(k, MAX_K)), filters=filters)
        out = []
        for hit in hits:
            d = hit.to_dict()
            d["snippet_html"] = highlight_html(hit.snippet, hit.highlights)
            out.append(d)
        result = {"query": query, "filters": _filters_dict(filters), "count": len(out), "hits": out}
        if not out:
            # Why nothing matched (a filter that leaves no document, stop words only ...).
            result["message"] = self.ix.why_empty(query, filters)
        return result

    def api_docs(self, req: Request) -> dict[str, Any]:
        docs = self.ix.documents()
        municipalities = sorted({(d.municipality, d.kommunenummer) for d in docs if d.municipality})
        years = [y for d in docs for y in (d.year_from, d.year_to) if y]
        return {
            "documents": [d.to_dict() for d in docs],
            "municipalities": [{"name": m, "kommunenummer": n} for m, n in municipalities],
            "doc_types": sorted({d.doc_type for d in docs}),
            "standards": sorted({d.standard for d in docs if d.standard}),
            "years": [min(years), max(years)] if years else None,
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
        passage = next((p for p in passages if p.passage_id == chosen), None)
        if passage is not None:
            span = locate_passage(page.text, passage, number)
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
            "html": highlight_html(page.text, [span] if span else [], "passage"),
            "passage": {
                "passage_id": passage.passage_id,
                "section": passage.section,
                "text": passage.text,
                "span": list(span) if span else None,
            }
            if passage is not None
            else None,
            "passages": [p.passage_id for p in passages],
        }

    def api_tags(self, req: Request) -> dict[str, Any]:
        tags = self.ix.codebook().tags
        return {"tags": [{"id": t.id, "kind": t.kind, "label": t.label, "description": t.description} for t in tags]}

    def api_collections(self, req: Request) -> dict[str, Any]:
        cols = self.ix.collections()
        try:
            name = req.arg("name")
            if name:
                return cols.get(name, self.ix.store).to_dict()
            return {"collections": cols.names()}
        finally:
            cols.close()

    def api_collect(self, req: Request) -> dict[str, Any]:
        body = req.json_body()
        name = body.get("collection")
        passage_id = body.get("passage_id")
        if not isinstance(name, str) or not name.strip():
            raise HTTPError(400, "collect: give a collection name")
        if not isinstance(passage_id, str) or "#" not in passage_id:
            raise HTTPError(400, "collect: give passage_id as DOC_ID#N")
        name = name.strip()
        item = self.ix.collect_passage(name, passage_id)
        cols = self.ix.collections()
        try:
            codes = body.get("codes") or []
            if codes:
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise HTTPError(400, "collect: codes must be a list of strings")
                cols.code(name, str(item), codes)
            if isinstance(body.get("memo"), str) and body["memo"]:
                cols.item_memo(name, str(item), body["memo"])
            size = next((c["passages"] for c in cols.names() if c["name"] == name), 0)
        finally:
            cols.close()
        logger.info("collected %s into %r", passage_id, name)
        return {"ok": True, "collection": name, "passage_id": passage_id, "item": item, "passages": size}


def _int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise HTTPError(400, f"{name}: expected a whole number, got {raw!r}") from exc


def _filters_dict(filters: Filters) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in filters.__dict__.items()}


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"
