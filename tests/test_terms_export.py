"""The terms export (``Index.export_terms``, ``plansok export --format
terms-jsonl``): what a distributed search engine would index is exactly
what plansok ranks, passage by passage, and nothing removed comes back."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from conftest import index_of_plans

from plansok.api import Filters, Index
from plansok.cli import main
from plansok.errors import PlansokError
from plansok.index import terms_export
from plansok.index.store import IndexStore
from plansok.models import AnalysedDoc, DocumentMeta, Page, Passage

WORDS = [f"ord{i}" for i in range(300)] + ["barnefattigdom", "~fattigdom", "^bolig", "æøå", "etter hvert"]


def _doc(doc_id: str, rng: random.Random, n: int) -> AnalysedDoc:
    passages, terms, lengths = [], [], []
    for i in range(n):
        words = [WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)] for _ in range(rng.randint(1, 40))]
        passages.append(Passage(doc_id, i, " ".join(words), 1 + i // 4, 1 + i // 4, f"{i // 4} Kapittel"))
        terms.append(words)
        lengths.append(len(words))
    pages = [Page(p, "") for p in range(1, 2 + n // 4)]
    return AnalysedDoc(DocumentMeta(doc_id=doc_id, sha256=f"{doc_id}@test"), pages, passages, terms, lengths, {})


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_live_passage_is_exported_once_with_its_terms_and_frequencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks and chunks, so a segment is inverted in several passes.
    monkeypatch.setattr(terms_export, "BLOCK_POSTINGS", 300)
    monkeypatch.setattr(terms_export, "MERGE_CHUNK", 500)
    rng = random.Random(20261205)
    docs = {f"d{i}": _doc(f"d{i}", rng, rng.randint(5, 60)) for i in range(9)}
    store = IndexStore(tmp_path / "ix", create=True)
    names = list(docs)
    for a in range(0, len(names), 3):
        store.add_documents([docs[n] for n in names[a : a + 3]])
    store.remove_documents(["d1", "d4"])
    docs["d7"] = _doc("d7", rng, 12)  # replaced: its old rows are dead in their segment
    store.add_documents([docs["d7"]])
    store.merge_segments()
    store.close()
    live = {n: d for n, d in docs.items() if n not in ("d1", "d4")}

    ix = Index.open(tmp_path / "ix")
    result = ix.export_terms(tmp_path / "terms.jsonl")
    rows = _read(tmp_path / "terms.jsonl")

    assert result.passages == len(rows) == sum(len(d.passages) for d in live.values())
    assert result.documents == len(live)
    assert len({r["pid"] for r in rows}) == len(rows)
    seen = set()
    for r in rows:
        d = live[r["doc_id"]]
        p = d.passages[r["ordinal"]]
        # A multi-word term ("etter hvert") is one token for the engine: "etter+hvert".
        assert Counter(r["terms"].split(" ")) == Counter(t.replace(" ", "+") for t in d.terms[r["ordinal"]])
        assert (r["page_start"], r["section"]) == (p.page_start, p.section)
        seen.add((r["doc_id"], r["ordinal"]))
    assert seen == {(n, p.ordinal) for n, d in live.items() for p in d.passages}

    # A document filter exports only its documents; a tag is not a document filter.
    ix.export_terms(tmp_path / "d0.jsonl", Filters(doc_ids=["d0"]))
    assert {r["doc_id"] for r in _read(tmp_path / "d0.jsonl")} == {"d0"}
    with pytest.raises(PlansokError, match="tag"):
        ix.export_terms(tmp_path / "t.jsonl", Filters(tags=["bolig"]))


def test_an_engine_fed_the_export_finds_the_passages_plansok_finds_for_each_term(tmp_path: Path) -> None:
    """tantivy, with a whitespace tokenizer over the exported terms, holds
    each analysed term (lemmas, compound parts, stems) in the passages
    plansok's own index holds it in."""
    tantivy = pytest.importorskip("tantivy")
    ix = index_of_plans(
        tmp_path,
        {
            "3324_gol_plan": (
                [
                    "Barnefattigdom er ei utfordring. Talet på barn i familiar med låg inntekt aukar.",
                    "Kommunen skal redusere fattigdom blant barn og unge gjennom tiltak i skulen, etter kvart.",
                ],
                {"kommune": "Gol", "type": "samfunnsdel"},
            ),
            "3326_hemsedal_plan": (
                [
                    "Levekårsundersøkelsen viser at boligsosiale tiltak gir bedre levekår for barnefamilier.",
                    "Folkehelse og bolig henger sammen; kommunen vil etterhvert bygge flere utleieboliger.",
                ],
                {"kommune": "Hemsedal", "type": "samfunnsdel"},
            ),
        },
    )
    out = tmp_path / "terms.jsonl"
    assert main(["export", "--format", "terms-jsonl", "--out", str(out), "--index", str(ix.path)]) == 0
    rows = _read(out)
    assert rows and all(r["terms"] for r in rows)

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pid", stored=True, indexed=True)
    sb.add_text_field("terms", stored=False, tokenizer_name="ws", index_option="freq")
    schema = sb.build()
    engine = tantivy.Index(schema)
    engine.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = engine.writer(heap_size=15_000_000, num_threads=1)
    for r in rows:
        writer.add_document(tantivy.Document(pid=r["pid"], terms=r["terms"]))
    writer.commit()
    engine.reload()
    searcher = engine.searcher()

    loaded = ix.searcher().ix
    pids = loaded.pids
    vocab = {t for r in rows for t in r["terms"].split(" ")}
    assert any(t.startswith("~") for t in vocab) and any(t.startswith("^") for t in vocab)
    assert "etter+hvert" in vocab  # a multi-word term of the dictionary, one token for the engine
    for term in sorted(vocab):
        ids, _ = loaded.bm25.postings(loaded.bm25.vocab[term.replace("+", " ")])
        want = {int(pids[int(i)]) for i in ids}
        found = searcher.search(tantivy.Query.term_query(schema, "terms", term), len(rows)).hits
        got = {searcher.doc(addr)["pid"][0] for _, addr in found}
        assert got == want, term
