"""Index integrity: a hit's document and its text always agree, whatever
happened to the index since the reader loaded it (issue 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plansok.api import Index

HEMSEDAL = "3326_hemsedal_samfunnsdel_2019-2030"
AAL = "3328_aal_kommuneplan_2015-2027_tekstdel"
GOL = "3324_gol_samfunnsdel_2018-2030"


@pytest.fixture
def plans(shared: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "plans"
    folder.mkdir()
    for stem in (HEMSEDAL, AAL, GOL):
        shutil.copy(shared / "corpus" / "plans" / f"{stem}.md", folder / f"{stem}.md")
    return folder


def _agree(ix: Index, hits) -> None:
    for h in hits:
        assert h.passage.doc_id == h.doc.doc_id, (h.passage.doc_id, h.doc.doc_id)
        # The quoted text is the passage the cited document holds at that place.
        stored = dict(ix.store.passages_of(h.doc.doc_id))
        assert h.passage.text in {p.text for p in stored.values()}


def test_remove_then_ingest_never_cites_the_removed_plan_with_the_new_plans_text(plans: Path, tmp_path: Path) -> None:
    writer = Index.open(tmp_path / "ix", create=True)
    writer.ingest([plans / f"{GOL}.md"], tag=False)
    writer.ingest([plans / f"{HEMSEDAL}.md"], tag=False)  # the newest rows: MAX(pid) is Hemsedal's
    reader = Index.open(tmp_path / "ix")
    stale = reader.searcher()  # loaded now, used after the index changed
    before = stale.search("kommunen", None)
    assert any(h.doc.doc_id == HEMSEDAL for h in before)

    writer.remove([HEMSEDAL])
    writer.ingest([plans / f"{AAL}.md"], tag=False)

    # A searcher loaded before the change may miss the removed plan's passages,
    # but must never pair Hemsedal's rows with the text that now lives elsewhere.
    hits = stale.search("kommunen", None)
    _agree(writer, hits)
    assert all(h.doc.doc_id != HEMSEDAL for h in hits)
    # A fresh search sees the new plan, and ids handed out once are not handed out again.
    fresh = reader.search("kommunen", k=50)
    assert {h.doc.doc_id for h in fresh} == {GOL, AAL}
    _agree(writer, fresh)
    old_pids = set(stale.ix.pids.tolist())
    new_pids = {pid for pid, _ in writer.store.passages_of(AAL)}
    assert not old_pids & new_pids


def test_an_ingest_committed_during_a_retag_keeps_its_tags(
    plans: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from plansok.tag.tagger import Tagger

    first = Index.open(tmp_path / "ix", create=True)
    first.ingest([plans / f"{GOL}.md"])
    second = Index.open(tmp_path / "ix")
    ingested = threading.Event()
    real_tag = Tagger.tag

    def slow_tag(self, *args, **kwargs):
        # The retag has read the passages; give a concurrent ingest the chance to commit now.
        if threading.current_thread().name == "retag":
            ingested.wait(timeout=3)
        return real_tag(self, *args, **kwargs)

    monkeypatch.setattr(Tagger, "tag", slow_tag)
    retag = threading.Thread(target=first.retag, name="retag")
    retag.start()

    def ingest() -> None:
        second.ingest([plans / f"{AAL}.md"])
        ingested.set()

    writer = threading.Thread(target=ingest, name="ingest")
    writer.start()
    retag.join(60)
    writer.join(60)
    check = Index.open(tmp_path / "ix")
    pids = [pid for pid, _ in check.store.passages_of(AAL)]
    assert pids, "the ingest committed"
    assert check.store.tags_of(pids), "the ingested plan's tags survived the retag"


def test_serve_answers_searches_while_an_ingest_a_merge_and_a_reload_run(
    plans: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload after a commit (seconds at a million passages) or a merge must
    not hold up other researchers' searches: they are answered from the
    commit their searcher loaded."""
    import json
    import threading
    import time
    import urllib.request

    from plansok.index.searcher import LoadedIndex
    from plansok.serve.server import make_server

    with Index.open(tmp_path / "ix", create=True) as ix:
        ix.ingest([plans / f"{GOL}.md"], tag=False)
    server = make_server(tmp_path / "ix", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/search?q=kommunen"

    def search() -> tuple[float, int, list]:
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as r:
            body = json.loads(r.read())
        return time.perf_counter() - start, r.status, body["hits"]

    assert search()[1] == 200  # the first load
    real_load = LoadedIndex.load.__func__

    def slow_load(cls, store, *a, **kw):
        time.sleep(3)  # what a reload costs on a large index
        return real_load(cls, store, *a, **kw)

    monkeypatch.setattr(LoadedIndex, "load", classmethod(slow_load))
    writer = Index.open(tmp_path / "ix")
    done = threading.Event()

    def write() -> None:
        writer.ingest([plans / f"{HEMSEDAL}.md"], tag=False)
        writer.ingest([plans / f"{AAL}.md"], tag=False)
        writer.store.merge_segments()
        done.set()

    threading.Thread(target=write).start()
    timings = []
    while not done.is_set() or len(timings) < 5:
        took, status, hits = search()
        assert status == 200 and hits
        for h in hits:
            assert h["doc_id"] in {GOL, HEMSEDAL, AAL}
        timings.append(took)
    # Every search is answered at once from a loaded snapshot while reloads run behind.
    assert max(timings) < 1.5, timings
    deadline = time.time() + 30
    while {h["doc_id"] for h in search()[2]} == {GOL} and time.time() < deadline:
        time.sleep(0.2)
    assert {h["doc_id"] for h in search()[2]} - {GOL}, "the reloaded snapshot serves the new plans"
    server.shutdown()
    server.server_close()
