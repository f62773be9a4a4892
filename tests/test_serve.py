"""``plansok serve``: the JSON API and its guards (WSGI app called directly and over
HTTP on an ephemeral loopback port), and one real headless-Chromium session."""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from plansok.api import Index
from plansok.errors import PlansokError
from plansok.models import Passage
from plansok.serve.app import ServeApp, content_disposition, evidence_marks, highlight_html, locate_passage, marks_html
from plansok.serve.server import ThreadingWSGIServer, make_server

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
GOL = "3324_gol_samfunnsdel_2018-2030"
HOL = "3330_hol_handlingsplan_folkehelse_2021-2033"
PORT = 8765  # the port the directly-called app believes it serves on

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# No network beyond the page under test: no QUIC, no component/sync/background fetches.
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1366,860",  # a laptop screen
]


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "ix"
    with Index.open(path, create=True) as ix:
        report = ix.ingest([CORPUS / f"{GOL}.pdf", CORPUS / f"{HOL}.md"])
        assert report.ok, report.failed
    return path


@pytest.fixture(scope="module")
def app(index_dir: Path) -> Iterator[ServeApp]:
    with Index.open(index_dir) as ix:
        yield ServeApp(ix, PORT)


@pytest.fixture(scope="module")
def server(index_dir: Path) -> Iterator[ThreadingWSGIServer]:
    srv = make_server(index_dir, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def call(
    app: ServeApp,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    remote: str = "127.0.0.1",
) -> tuple[int, dict[str, str], Any]:
    """Call the WSGI app as the server would; returns status, headers and decoded JSON (or text)."""
    headers = {"Host": f"127.0.0.1:{PORT}", **(headers or {})}
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": urlencode(params or {}, doseq=True),
        "REMOTE_ADDR": remote,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(PORT),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(response_headers)

    raw = b"".join(app(environ, start_response))
    ctype = seen["headers"].get("Content-Type", "")
    data = json.loads(raw.decode("utf-8")) if ctype.startswith("application/json") else raw.decode("utf-8")
    return seen["status"], seen["headers"], data


def post_json(app: ServeApp, path: str, payload: dict[str, Any], **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    body = json.dumps(payload).encode()
    return call(app, path, method="POST", body=body, headers=headers, **kwargs)


# -- pure helpers ------------------------------------------------------------------------
def test_highlight_html_escapes_and_merges() -> None:
    text = "a<b> & «folkehelse» æøå"
    out = highlight_html(text, [[2, 3], [8, 18], [11, 14], [40, 50]])
    assert out == "a&lt;<mark>b</mark>&gt; &amp; «<mark>folkehelse</mark>» æøå"
    assert highlight_html("<x>", [], "passage") == "&lt;x&gt;"


def test_locate_passage_ignores_line_breaks_and_runs_over_pages() -> None:
    page = "Overskrift\n\nFolkehelse er eit\nvidt tema.  Neste avsnitt."
    p = Passage(GOL, 1, "Folkehelse er eit vidt tema.", 3, 3)
    start, end = locate_passage(page, p, 3)
    assert page[start:end] == "Folkehelse er eit\nvidt tema."
    over = Passage(GOL, 2, "Neste avsnitt. Det held fram på neste side.", 3, 4)
    start, end = locate_passage(page, over, 3)
    assert page[start:end] == "Neste avsnitt."


def test_marks_html_marks_query_words_and_evidence_apart() -> None:
    text = "Tiltak mot låg inntekt & barnefattigdom"
    tags = [{"tag": "barnefattigdom", "label": "Barnefattigdom", "evidence": ["låg inntekt", "barnefattigdom"]}]
    ev = evidence_marks(text, tags)
    assert [text[s:e] for s, e, _ in ev] == ["låg inntekt", "barnefattigdom"]
    out = marks_html(text, [(0, 6), (25, 39)], ev)
    assert out == (
        "<mark>Tiltak</mark> mot "
        '<mark class="ev" title="evidence: Barnefattigdom">låg inntekt</mark> &amp; '
        '<mark class="q ev" title="evidence: Barnefattigdom">barnefattigdom</mark>'
    )
    # Several words of evidence are marked only together: not every "på" of the passage.
    phrase = [{"tag": "bolig", "label": "Bolig", "evidence": ["vanskeligstilte på boligmarkedet"]}]
    text = "Fokus på vanskeligstilte på boligmarkedet, ikkje på andre."
    assert [text[s:e] for s, e, _ in evidence_marks(text, phrase)] == ["vanskeligstilte på boligmarkedet"]


def test_download_names_keep_norwegian_letters() -> None:
    header = content_disposition("bustad og låg inntekt.qdpx")
    assert header.startswith('attachment; filename="bustad_og_lag_inntekt.qdpx"')
    assert "filename*=UTF-8''bustad%20og%20l%C3%A5g%20inntekt.qdpx" in header


# -- API ---------------------------------------------------------------------------------
def test_index_page_is_local_only(app: ServeApp) -> None:
    status, headers, html = call(app, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert 'id="search-form"' in html
    for name in ("index.html", "app.js", "app.css"):
        text = (Path(__file__).resolve().parent.parent / "serve" / "static" / name).read_text(encoding="utf-8")
        # No CDN, no web fonts, no absolute URLs to fetch: nothing leaves the machine.
        assert "http://" not in text and "https://" not in text and "@import" not in text, name


def test_search_json(app: ServeApp) -> None:
    status, headers, data = call(app, "/api/search", {"q": "folkehelse", "k": 5})
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    assert 0 < data["count"] <= 5 and len(data["hits"]) == data["count"]
    hit = data["hits"][0]
    assert {"citation", "snippet", "highlights", "tags", "passage_id", "page", "doc_id", "snippet_html"} <= set(hit)
    assert "<mark>" in hit["snippet_html"]
    marked = [hit["snippet"][start:end].lower() for start, end in hit["highlights"]]
    assert any(word.startswith("folkehels") for word in marked), marked


def test_search_counts_all_matches_not_the_hits_shown(app: ServeApp, index_dir: Path) -> None:
    _, _, data = call(app, "/api/search", {"q": "folkehelse", "k": 3})
    with Index.open(index_dir) as ix:
        expected = ix.results("folkehelse", 3)
    assert data["count"] == 3 and data["total"] == expected.total > 3
    assert data["documents"] == expected.documents == 2
    _, _, grouped = call(app, "/api/search", {"q": "folkehelse", "group": "document"})
    assert grouped["by_document"] and {h["doc_id"] for h in grouped["hits"]} == {GOL, HOL}
    assert sum(h["hits_in_document"] for h in grouped["hits"]) == data["total"]
    assert grouped["total"] == data["total"]
    # Reference lists are left out by default and counted; refs=1 keeps them.
    _, _, refs = call(app, "/api/search", {"q": "folkehelse", "refs": "1"})
    assert refs["total"] == data["total"] + sum(data["left_out"].values())
    status, _, bad = call(app, "/api/search", {"q": "folkehelse", "group": "plan"})
    assert status == 400 and "group" in bad["error"]


def test_tagged_hits_carry_label_confidence_and_marked_evidence(app: ServeApp) -> None:
    _, _, data = call(app, "/api/search", {"q": "folkehelse", "k": 10})
    tagged = [h for h in data["hits"] if h["tags"]]
    assert tagged
    for hit in tagged:
        for t in hit["tags"]:
            assert {"tag", "label", "kind", "confidence", "evidence"} <= set(t) and 0 < t["confidence"] <= 1
        words = {w for t in hit["tags"] for e in t["evidence"] for w in e.lower().split()}
        if any(w in hit["snippet"].lower() for w in words):
            assert 'class="ev"' in hit["snippet_html"] or 'class="q ev"' in hit["snippet_html"]
    untagged = [h for h in data["hits"] if not h["tags"]]
    assert all("ev" not in h["snippet_html"] for h in untagged)


def test_search_filters(app: ServeApp) -> None:
    _, _, gol = call(app, "/api/search", {"q": "folkehelse", "kommune": "Gol"})
    assert gol["hits"] and all(h["citation"].startswith("Gol,") for h in gol["hits"])
    _, _, hol = call(app, "/api/search", {"q": "folkehelse", "type": "handlingsplan", "standard": "nb"})
    assert hol["hits"] and {h["doc_id"] for h in hol["hits"]} == {HOL}
    _, _, none = call(app, "/api/search", {"q": "folkehelse", "year": "1990-2000"})
    assert none["count"] == 0 and none["message"] == "no indexed document passes --year 1990-2000"
    _, _, by_number = call(app, "/api/search", {"q": "folkehelse", "kommune": "3330,3324", "year": "2025"})
    assert {h["doc_id"] for h in by_number["hits"]} == {GOL, HOL}
    _, _, tagged = call(app, "/api/search", {"tag": "helse", "kommune": "Hol", "k": 3})
    assert tagged["hits"] and all(any(t["tag"] == "helse" for t in h["tags"]) for h in tagged["hits"])


def test_bad_requests_are_json_4xx(app: ServeApp) -> None:
    for params in ({"q": ""}, {"q": "x", "year": "tjue"}, {"q": "x", "k": "many"}, {"q": "x", "tag": "nope"}):
        status, _, data = call(app, "/api/search", params)
        assert status == 400 and data["error"], params
    # Filter values that match nothing are errors with close matches, as on the command line.
    for params, needle in (
        ({"q": "x", "kommune": "Flaa"}, "Flå"),
        ({"q": "x", "type": "samfunnsdelen"}, "did you mean samfunnsdel"),
        ({"q": "x", "doc": "nonexistent"}, "no such document"),
    ):
        status, _, data = call(app, "/api/search", params)
        assert status == 400 and needle in data["error"], params
    assert call(app, "/api/page", {"doc": "no-such-doc", "page": 1})[0] == 404
    assert call(app, "/api/page", {"doc": GOL, "page": 999})[0] == 404
    assert call(app, "/nowhere")[0] == 404
    assert call(app, "/api/search", method="POST", headers={"Content-Type": "application/json"})[0] == 405
    status, _, data = post_json(app, "/api/collect", {"collection": "x", "passage_id": f"{GOL}#99999"})
    assert status == 400 and "no passage" in data["error"]
    status, _, data = call(app, "/api/collect", method="POST", body=b"{", headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON" in data["error"]


def test_docs_and_tags(app: ServeApp) -> None:
    _, _, docs = call(app, "/api/docs")
    assert {d["doc_id"] for d in docs["documents"]} == {GOL, HOL}
    assert [m["name"] for m in docs["municipalities"]] == ["Gol", "Hol"]
    assert docs["standards"] == ["nb", "nn"] and docs["years"] == [2018, 2033]
    _, _, tags = call(app, "/api/tags")
    assert {"id": "helse", "kind": "theme"}.items() <= next(t for t in tags["tags"] if t["id"] == "helse").items()


def test_page_view_highlights_the_passage(app: ServeApp) -> None:
    _, _, found = call(app, "/api/search", {"q": "folkehelse", "kommune": "Gol", "k": 1})
    hit = found["hits"][0]
    status, _, page = call(app, "/api/page", {"doc": hit["doc_id"], "page": hit["page"], "passage": hit["passage_id"]})
    assert status == 200 and page["page"] == hit["page"] and hit["passage_id"] in page["passages"]
    start, end = page["passage"]["span"]
    assert " ".join(page["text"][start:end].split()) == " ".join(hit["text"].split())
    assert page["html"].count('<mark class="passage">') == 1
    status, _, plain = call(app, "/api/page", {"doc": hit["doc_id"], "page": 1})
    assert status == 200 and plain["passage"] is None and "<mark" not in plain["html"]


def test_collect_post(app: ServeApp) -> None:
    _, _, found = call(app, "/api/search", {"q": "folkehelse", "k": 2})
    first, second = (h["passage_id"] for h in found["hits"])
    status, _, data = post_json(app, "/api/collect", {"collection": "api", "passage_id": first})
    assert status == 200 and data["ok"] and data["passages"] == 1
    # The same passage again is kept once; codes and a memo may come along.
    assert post_json(app, "/api/collect", {"collection": "api", "passage_id": first})[2]["passages"] == 1
    payload = {"collection": "api", "passage_id": second, "codes": ["helse"], "memo": "sjå kap. 8"}
    assert post_json(app, "/api/collect", payload)[2]["passages"] == 2
    _, _, cols = call(app, "/api/collections")
    assert {"name": "api", "passages": 2}.items() <= next(c for c in cols["collections"] if c["name"] == "api").items()
    _, _, col = call(app, "/api/collections", {"name": "api"})
    assert [i["passage_id"] for i in col["items"]] == [first, second]
    assert col["items"][1]["codes"] == ["helse"] and col["items"][1]["memo"] == "sjå kap. 8"
    status, _, data = post_json(app, "/api/collect", {"collection": "bad/name", "passage_id": first})
    assert status == 400 and "collection name" in data["error"]


def test_kwic_json_and_csv_download(app: ServeApp) -> None:
    status, _, data = call(app, "/api/kwic", {"q": "folkehelse", "kommune": "Hol", "limit": 5, "sort": "left"})
    assert status == 200 and data["shown"] == 5 < data["total"] and data["sort"] == "left"
    assert all(ln["doc_id"] == HOL and ln["keyword"].lower().startswith("folkehels") for ln in data["lines"])
    status, headers, text = call(app, "/api/kwic", {"q": "folkehelse", "kommune": "Hol", "format": "csv"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"].startswith('attachment; filename="kwic-folkehelse.csv"')
    rows = text.lstrip("\ufeff").splitlines()
    assert rows[1].startswith("doc_id,passage_id") and len(rows) - 2 == data["total"]  # the download has every line
    assert call(app, "/api/kwic", {"q": "folkehelse", "format": "xlsx"})[0] == 400
    assert call(app, "/api/kwic", {"q": ""})[0] == 400


def test_words_views(app: ServeApp) -> None:
    _, _, freq = call(app, "/api/frequencies", {"by": "municipality", "top": 5})
    assert [g["label"] for g in freq["groups"]] == ["Gol", "Hol"] and len(freq["groups"][0]["lemmas"]) == 5
    _, _, key = call(app, "/api/keyness", {"kommune": "Hol", "min_freq": 3})
    assert key["subset"] == "--kommune Hol" and key["keywords"]
    assert call(app, "/api/keyness", {})[0] == 400  # keyness needs a subset
    _, _, coll = call(app, "/api/collocations", {"q": "folkehelse", "window": 5, "min_freq": 2})
    assert coll["occurrences"] > 0 and coll["collocates"]


def test_matrix_json_heatmap_and_downloads(app: ServeApp) -> None:
    params = {"row": ["folkehelse", "barn, unge"], "row_tag": "helse", "by": "municipality"}
    status, _, data = call(app, "/api/matrix", params)
    assert status == 200 and [c["label"] for c in data["columns"]] == ["Gol", "Hol"]
    # A query with a comma is one row: rows are not split on commas as filters are.
    assert [(r["kind"], r["label"]) for r in data["rows"]] == [("query", "folkehelse"), ("query", "barn, unge"),
                                                                ("tag", "helse")]  # fmt: skip
    _, _, found = call(app, "/api/search", {"q": "folkehelse"})
    assert data["rows"][0]["total_count"] == found["total"]
    assert data["heatmap"].startswith("data:image/png;base64,")
    status, headers, _ = call(app, "/api/matrix", {**params, "format": "csv"})
    assert status == 200 and headers["Content-Disposition"].startswith(
        'attachment; filename="matrix-by-municipality.csv"'
    )
    status, _, data = call(app, "/api/matrix", {"by": "municipality"})
    assert status == 400 and "rows" in data["error"]
    status, _, data = call(app, "/api/matrix", {"row": "folkehelse", "measure": "lots"})
    assert status == 400


def test_matrix_png_download(app: ServeApp) -> None:
    environ_params = {"row": "folkehelse", "format": "png"}
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/matrix",
        "QUERY_STRING": urlencode(environ_params),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": f"127.0.0.1:{PORT}",
        "wsgi.input": io.BytesIO(b""),
    }
    body = b"".join(app(environ, start_response))
    assert seen["status"].startswith("200") and seen["headers"]["Content-Type"] == "image/png"
    assert body[:8] == b"\x89PNG\r\n\x1a\n"


def test_collection_coding_memos_codes_and_exports(app: ServeApp) -> None:
    _, _, found = call(app, "/api/search", {"q": "folkehelse", "k": 2})
    first, second = (h["passage_id"] for h in found["hits"])
    for pid in (first, second):
        assert post_json(app, "/api/collect", {"collection": "arbeid", "passage_id": pid})[0] == 200
    status, _, data = post_json(app, "/api/item", {"collection": "arbeid", "item": first, "add_codes": ["ansvar"]})
    assert status == 200 and data["codes"] == ["ansvar"]
    item2 = post_json(app, "/api/item", {"collection": "arbeid", "item": second, "add_codes": ["ansvar", "mål"],
                                         "memo": "eit mål utan tiltak"})[2]  # fmt: skip
    assert item2["codes"] == ["ansvar", "mål"] and item2["memo"] == "eit mål utan tiltak"
    status, _, data = post_json(app, "/api/item", {"collection": "arbeid", "item": second, "remove_codes": ["mål"]})
    assert data["codes"] == ["ansvar"]
    assert post_json(app, "/api/collection", {"collection": "arbeid", "memo": "Ansvar for folkehelse."})[0] == 200
    _, _, col = call(app, "/api/collections", {"name": "arbeid"})
    assert col["memo"] == "Ansvar for folkehelse." and [i["codes"] for i in col["items"]] == [["ansvar"], ["ansvar"]]
    assert all("text_html" in i for i in col["items"])

    _, _, codes = post_json(app, "/api/codes", {"action": "rename", "code": "ansvar", "to": "ansvar og roller"})
    assert codes["changed"] == "renamed 'ansvar' to 'ansvar og roller' (2 passages)"
    post_json(app, "/api/item", {"collection": "arbeid", "item": first, "add_codes": ["roller"]})
    _, _, codes = post_json(app, "/api/codes", {"action": "merge", "code": "roller", "to": "ansvar og roller"})
    assert [(c["name"], c["passages"]) for c in codes["codes"] if c["name"] != "helse"] == [("ansvar og roller", 2)]
    _, _, codes = post_json(app, "/api/codes", {"action": "parent", "code": "ansvar og roller", "to": "styring"})
    assert {"name": "ansvar og roller", "parent": "styring"}.items() <= next(
        c for c in codes["codes"] if c["name"] == "ansvar og roller"
    ).items()
    status, _, data = post_json(app, "/api/codes", {"action": "rename", "code": "finst ikkje", "to": "x"})
    assert status == 400 and "no code 'finst ikkje'" in data["error"]
    status, _, data = post_json(app, "/api/codes", {"action": "delete", "code": "styring"})
    assert status == 400 and "rename, merge or parent" in data["error"]

    status, headers, body = call(app, "/api/export", {"collection": "arbeid", "format": "md"})
    assert status == 200 and headers["Content-Type"].startswith("text/markdown")
    assert headers["Content-Disposition"].startswith('attachment; filename="arbeid.md"')
    assert "Ansvar for folkehelse." in body and "eit mål utan tiltak" in body and "ansvar og roller" in body
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/export", "REMOTE_ADDR": "127.0.0.1",
               "QUERY_STRING": "collection=arbeid&format=qdpx", "HTTP_HOST": f"127.0.0.1:{PORT}",
               "wsgi.input": io.BytesIO(b"")}  # fmt: skip
    raw = b"".join(app(environ, lambda status, headers: None))
    with zipfile.ZipFile(io.BytesIO(raw)) as qdpx:
        assert "eit mål utan tiltak" in qdpx.read("project.qde").decode("utf-8")
    assert call(app, "/api/export", {"q": "folkehelse", "format": "csv", "k": 3})[0] == 200
    for params in (
        {"collection": "arbeid", "format": "pdf"},
        {"format": "csv"},
        {"collection": "nope", "format": "csv"},
    ):
        assert call(app, "/api/export", params)[0] == 400, params

    status, _, data = post_json(app, "/api/item", {"collection": "arbeid", "item": first, "remove": True})
    assert status == 200 and len(call(app, "/api/collections", {"name": "arbeid"})[2]["items"]) == 1
    for payload, needle in (
        ({"collection": "arbeid", "item": "x#999", "memo": "m"}, "no passage"),
        ({"collection": "arbeid", "item": "x#999"}, "no passage"),
        ({"collection": "arbeid", "item": second, "add_codes": "ansvar"}, "list of strings"),
        ({"collection": "arbeid", "item": second, "memo": 3}, "memo must be text"),
        ({"collection": "", "memo": "m"}, "collection"),
    ):
        status, _, data = post_json(app, "/api/item", payload)
        assert status == 400 and needle in data["error"], payload


def test_review_queue_and_decisions(app: ServeApp, index_dir: Path) -> None:
    status, _, data = call(app, "/api/review", {"n": 3})
    assert status == 200 and len(data["items"]) == 3 and data["decisions"] == 0
    item = data["items"][0]
    assert {"passage_id", "tag", "label", "kind", "confidence", "citation", "evidence", "text_html", "page"} <= set(
        item
    )
    assert 'class="ev"' in item["text_html"]
    _, _, after = post_json(app, "/api/review", {"passage_id": item["passage_id"], "tag": item["tag"], "accept": False})
    assert (after["decisions"], after["accepted"], after["rejected"]) == (1, 0, 1)
    # Deciding again replaces the decision, it does not add one.
    _, _, again = post_json(app, "/api/review", {"passage_id": item["passage_id"], "tag": item["tag"], "accept": True})
    assert (again["decisions"], again["accepted"], again["rejected"]) == (1, 1, 0)
    _, _, data = call(app, "/api/review", {"n": 3})
    assert (item["passage_id"], item["tag"]) not in {(i["passage_id"], i["tag"]) for i in data["items"]}
    assert (index_dir / "labels" / "review.jsonl").is_file()
    for payload in (
        {"passage_id": item["passage_id"], "tag": item["tag"], "accept": "yes"},
        {"passage_id": item["passage_id"], "tag": "no-such-tag", "accept": True},
        {"passage_id": f"{GOL}#99999", "tag": item["tag"], "accept": True},
    ):
        assert post_json(app, "/api/review", payload)[0] == 400, payload
    assert call(app, "/api/review", {"tag": "no-such-tag"})[0] == 400


# -- guards ------------------------------------------------------------------------------
def test_foreign_host_header_is_refused(app: ServeApp) -> None:
    status, _, data = call(app, "/api/search", {"q": "folkehelse"}, headers={"Host": f"evil.example:{PORT}"})
    assert status == 403 and "Host header" in data["error"]
    assert call(app, "/", headers={"Host": "127.0.0.1:9999"})[0] == 403  # right name, wrong port
    assert call(app, "/api/docs", headers={"Host": f"localhost:{PORT}"})[0] == 200


def test_post_needs_json_and_same_origin(app: ServeApp) -> None:
    body = json.dumps({"collection": "csrf", "passage_id": f"{GOL}#1"}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", ""):
        status, _, data = call(app, "/api/collect", method="POST", body=body, headers={"Content-Type": ctype})
        assert status == 403 and "application/json" in data["error"], ctype
    status, _, data = post_json(app, "/api/collect", {"collection": "csrf"}, headers={"Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in data["error"]
    status, _, _ = post_json(app, "/api/collect", {"collection": "csrf"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    _, _, cols = call(app, "/api/collections")
    assert "csrf" not in {c["name"] for c in cols["collections"]}


def test_non_loopback_client_is_refused(app: ServeApp, index_dir: Path) -> None:
    status, _, data = call(app, "/api/search", {"q": "folkehelse"}, remote="10.0.0.5")
    assert status == 403 and "only this machine" in data["error"]
    assert call(app, "/api/docs", remote="::1")[0] == 200
    with Index.open(index_dir) as ix:
        remote_ok = ServeApp(ix, PORT, allow_remote=True)
        assert call(remote_ok, "/api/docs", remote="10.0.0.5", headers={"Host": f"10.0.0.1:{PORT}"})[0] == 200
        assert call(remote_ok, "/api/docs", remote="10.0.0.5", headers={"Host": f"evil.example:{PORT}"})[0] == 403


def test_every_change_is_a_same_origin_json_post(app: ServeApp) -> None:
    for path in ("/api/collect", "/api/collection", "/api/item", "/api/codes", "/api/review"):
        body = json.dumps({"collection": "csrf", "memo": "x"}).encode()
        status, _, data = call(app, path, method="POST", body=body, headers={"Content-Type": "text/plain"})
        assert status == 403 and "application/json" in data["error"], path
        status, _, _ = post_json(app, path, {"collection": "csrf"}, headers={"Origin": "http://evil.example"})
        assert status == 403, path
        assert call(app, path, {"collection": "csrf", "memo": "x"})[0] in (200, 405), path  # GET changes nothing
    _, _, cols = call(app, "/api/collections")
    assert "csrf" not in {c["name"] for c in cols["collections"]}


def test_busy_port_is_one_clear_error(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from plansok.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PlansokError, match=f"port {port} is in use"):
            make_server(index_dir, port=port)
        assert main(["serve", "--index", str(index_dir), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"plansok: error: port {port} is in use") and "--port 0" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_make_server_refuses_remote_host_without_flag(index_dir: Path) -> None:
    with pytest.raises(PlansokError, match="--allow-remote"):
        make_server(index_dir, host="0.0.0.0", port=0)


def test_errors_are_logged_not_sent(app: ServeApp, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.ix, "documents", boom)
    status, _, data = call(app, "/api/docs")
    assert status == 500 and "secret" not in json.dumps(data) and "Traceback" not in json.dumps(data)
    assert "secret detail" in caplog.text


def test_over_http(server: ThreadingWSGIServer) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with urllib.request.urlopen(f"{base}/api/search?q=helse&kommune=Gol&k=3", timeout=10) as response:
        data = json.loads(response.read().decode("utf-8"))
    assert data["hits"] and all(h["doc_id"] == GOL for h in data["hits"])
    request = urllib.request.Request(f"{base}/api/docs", headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 403 and "Host header" in json.loads(err.value.read())["error"]


# -- a real browser ----------------------------------------------------------------------
def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    if not CHROMEDRIVER.is_file() and not shutil.which("chromedriver"):
        return f"{CHROMEDRIVER} not found (apt-get install chromium-driver)"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    reason = _browser_missing()
    if reason:
        pytest.skip(f"browser test: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chrome-profile'}"]:
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager is never asked to download anything.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_search_collect_and_read(browser: Any, server: ThreadingWSGIServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    base = f"http://127.0.0.1:{server.server_address[1]}"
    wait = WebDriverWait(browser, 10)

    def search_done(seq: int) -> None:
        wait.until(lambda d: int(d.find_element(By.ID, "results").get_attribute("data-seq")) > seq)

    browser.get(f"{base}/")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    box = browser.find_element(By.ID, "q")
    box.send_keys("folkehelse", Keys.ENTER)
    search_done(0)
    marks = browser.find_elements(By.CSS_SELECTOR, "#results .snippet mark")
    assert any(m.is_displayed() and m.text.lower().startswith("folkehels") for m in marks)
    assert {h.get_attribute("data-doc") for h in browser.find_elements(By.CSS_SELECTOR, "#results .hit")} == {GOL, HOL}

    Select(browser.find_element(By.ID, "kommune")).select_by_value("Gol")
    browser.find_element(By.ID, "q").send_keys(Keys.ENTER)
    search_done(1)
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert hits and all(h.find_element(By.CSS_SELECTOR, ".cite").text.startswith("Gol,") for h in hits)
    assert "kommune=Gol" in browser.current_url  # the search can be bookmarked

    browser.find_element(By.ID, "collection").send_keys("test")
    hits[0].find_element(By.CSS_SELECTOR, "button.add").click()
    wait.until(lambda d: "Added" in hits[0].find_element(By.CSS_SELECTOR, "button.add").text)
    with urllib.request.urlopen(f"{base}/api/collections", timeout=10) as response:
        cols = json.loads(response.read().decode("utf-8"))["collections"]
    assert next(c for c in cols if c["name"] == "test")["passages"] == 1
    wait.until(ec.text_to_be_present_in_element((By.ID, "collection-status"), "1 passage"))

    first_text = hits[0].find_element(By.CSS_SELECTOR, ".snippet").text
    hits[0].find_element(By.CSS_SELECTOR, ".snippet").click()  # anywhere on the hit opens its page
    wait.until(lambda d: d.find_element(By.ID, "page-view").get_attribute("data-state") == "done")
    passage = browser.find_element(By.CSS_SELECTOR, "#page-text mark.passage")
    assert passage.is_displayed()
    assert " ".join(first_text.strip("…").split()[:5]) in " ".join(passage.text.split())
    assert "Page " in browser.find_element(By.ID, "page-meta").text

    # Nothing leaves the machine: every resource the page loaded came from this server.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(f"{base}/") for url in loaded), loaded
    # Readable on a laptop screen: nothing wider than the window.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
