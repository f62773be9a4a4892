"""The JSON behind the Plan structure tab and statistics beside the matrix,
called as the server calls the app: what the page shows comes from the same
API calls as the CLI's, and a statistics file is read only as the guards allow."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_serve as _serve
from test_serve import GOL, HOL, PORT, call, post_json

from plansok.api import Index
from plansok.serve.app import ServeApp

SSB = Path(__file__).resolve().parent / "data" / "ssb"
WIDE = SSB / "12944_vedvarende_lavinntekt_wide.csv"

index_dir = _serve.index_dir  # Gol's samfunnsdel and Hol's folkehelse handlingsplan, ingested once


@pytest.fixture(scope="module")
def app(index_dir: Path) -> Iterator[ServeApp]:
    with Index.open(index_dir) as ix:
        served = ServeApp(ix, PORT)
        yield served
        served.close()


def upload(app: ServeApp, path: Path, name: str | None = None, **kwargs: object) -> tuple[int, dict, object]:
    content = base64.b64encode(path.read_bytes()).decode()
    return post_json(app, "/api/statistics", {"name": name or path.name, "content": content}, **kwargs)


def test_structure_compare_and_commitments_are_the_apis(app: ServeApp) -> None:
    status, _, data = call(app, "/api/structure", {"doc": HOL, "kind": "mål"})
    assert status == 200
    assert data == app.ix.plan_structure(HOL).to_dict() | {"units": data["units"]}
    assert [u["text"] for u in data["units"]] == ["Hol kommune skal ha «en aktiv befolkning med høy livskvalitet»"]
    assert data["units"][0]["page"] == 7 and data["units"][0]["passage_id"].startswith(f"{HOL}#")

    status, _, data = call(app, "/api/compare", {"old": HOL, "new": GOL, "kind": "mål"})
    assert status == 200 and data["counts"]["mål"]["removed"] >= 1
    assert call(app, "/api/compare", {"old": HOL, "new": GOL, "threshold": "half"})[0] == 400
    assert call(app, "/api/compare", {"old": HOL, "new": GOL, "threshold": "2"})[0] == 400
    status, _, data = call(app, "/api/compare", {"old": HOL, "new": GOL, "kind": "goal"})
    assert status == 400 and "unknown unit kind" in data["error"]

    status, _, data = call(app, "/api/commitments", {"q": "fysisk aktivitet", "kommune": "Hol"})
    assert status == 200 and [p["doc_id"] for p in data["plans"]] == [HOL]
    assert all(c["citation"].startswith("Hol, ") for p in data["plans"] for c in p["commitments"])
    assert call(app, "/api/commitments", {})[0] == 400  # a theme is needed
    assert call(app, "/api/structure", {"doc": "no-such-plan"})[0] == 400


def test_statistics_upload_joins_the_matrix(app: ServeApp) -> None:
    status, _, info = upload(app, WIDE)
    assert status == 200, info
    assert info["title"].startswith("12944:") and info["municipalities"] == 5
    assert info["default"] == ["0-17 år, 2021-2023"] and len(info["series"]) == 5
    status, _, data = call(app, "/api/matrix", {"row": "folkehelse", "stats": info["id"]})
    assert status == 200, data
    (stat,) = data["statistics"]
    gol = [c["kommunenummer"] for c in data["columns"]].index("3324")
    assert stat["values"][gol]["value"] == 7.1 and stat["values"][gol]["source"] == "K-3324 Gol"
    # A series by its label (commas and all), and the CSV download carries it too.
    status, _, data = call(
        app, "/api/matrix", {"row": "folkehelse", "stats": info["id"], "stat_column": "0-17 år, 2019-2021"}
    )
    assert [s["label"] for s in data["statistics"]] == ["0-17 år, 2019-2021"]
    status, _, text = call(app, "/api/matrix", {"row": "folkehelse", "stats": info["id"], "format": "csv"})
    assert status == 200 and "7.1" in text and "2021-2023" in text

    status, _, data = call(app, "/api/matrix", {"row": "folkehelse", "stats": info["id"], "by": "document"})
    assert status == 400 and "by municipality" in data["error"]


def test_statistics_errors_and_guards(app: ServeApp, tmp_path: Path) -> None:
    bad = tmp_path / "kommuner.csv"
    bad.write_text('"kommune";"verdi"\n"Drammen";12,1\n', encoding="utf-8")
    status, _, data = upload(app, bad)
    assert status == 400 and "kommuner.csv" in data["error"] and "no region column" in data["error"]
    status, _, data = post_json(app, "/api/statistics", {"name": "x.csv", "content": "not base64!"})
    assert status == 400 and "base64" in data["error"]
    assert call(app, "/api/matrix", {"row": "folkehelse", "stats": "0123456789abcdef"})[0] == 400
    assert call(app, "/api/matrix", {"row": "folkehelse", "stats": "../../etc"})[0] == 400
    # An upload is a POST like every change: JSON only, from the page itself.
    body = base64.b64encode(WIDE.read_bytes())
    status, _, _ = call(app, "/api/statistics", method="POST", body=body, headers={"Content-Type": "text/csv"})
    assert status == 403
    status, _, _ = upload(app, WIDE, headers={"Origin": "http://evil.example"})
    assert status == 403

    # A path names a file of the server's machine: this machine's browser may, others may not.
    status, _, data = call(app, "/api/matrix", {"row": "folkehelse", "stats_path": str(WIDE)})
    assert status == 200 and data["statistics"][0]["path"] == str(WIDE)
    status, _, data = call(app, "/api/matrix", {"row": "folkehelse", "stats_path": str(tmp_path / "none.csv")})
    assert status == 400 and "none.csv" in data["error"]
    remote = ServeApp(app.ix, PORT, allow_remote=True)
    status, _, data = call(remote, "/api/matrix", {"row": "folkehelse", "stats_path": str(WIDE)}, remote="192.0.2.7")
    assert status == 403 and "upload" in data["error"]
    status, _, data = call(remote, "/api/matrix", {"row": "folkehelse", "stats": "x", "stats_path": str(WIDE)})
    assert status == 400 and "not both" in data["error"]
    remote.close()


def test_uploads_are_deleted_when_the_server_closes(index_dir: Path) -> None:
    with Index.open(index_dir) as ix:
        served = ServeApp(ix, PORT)
        status, _, _ = upload(served, WIDE)
        assert status == 200
        folder = served._upload_dir()
        assert any(folder.iterdir())
        served.close()
        assert not folder.exists()
