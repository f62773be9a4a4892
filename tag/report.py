"""Reports for a batch of tagged documents: tables a researcher can read,
plot and import (CSV, JSON), and one self-contained HTML page with heatmaps
and the best passages per tag, with citations.

    passages.csv / passages.json       one row per passage: citation, text, tags, confidence, evidence
    document_tags.csv                  document x tag: passages with the tag (count and share)
    municipality_tags.csv              municipality x tag: the same, summed over documents
    theory_theme.csv                   theory x theme: passages with both
    report.html                        heatmaps, co-occurrence, top passages per tag
    heatmap_documents.png, heatmap_municipalities.png, theory_theme.png
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plansok.models import DocumentMeta, Passage, cite
from plansok.tag.codebook import Codebook

TOP_PASSAGES = 3


@dataclass
class TaggedPassage:
    pid: int
    passage: Passage
    doc: DocumentMeta
    tags: list[dict]  # tag, confidence, source, evidence

    def citation(self) -> str:
        return cite(self.passage, self.doc)


def collect(store, doc_ids: Sequence[str]) -> list[TaggedPassage]:  # store: IndexStore
    docs = {d.doc_id: d for d in store.documents()}
    out: list[TaggedPassage] = []
    for doc_id in doc_ids:
        rows = store.passages_of(doc_id)
        tags = store.tags_of([pid for pid, _ in rows])
        out.extend(TaggedPassage(pid, p, docs[doc_id], tags.get(pid, [])) for pid, p in rows)
    return out


@dataclass
class Matrices:
    tags: list[str]
    documents: list[str]
    municipalities: list[str]
    doc_counts: np.ndarray  # documents x tags
    doc_totals: np.ndarray  # passages per document
    mun_counts: np.ndarray
    mun_totals: np.ndarray
    theories: list[str]
    themes: list[str]
    cooccurrence: np.ndarray  # theories x themes


def matrices(passages: Sequence[TaggedPassage], codebook: Codebook) -> Matrices:
    tags = codebook.ids
    col = {t: j for j, t in enumerate(tags)}
    documents = list(dict.fromkeys(tp.doc.doc_id for tp in passages))
    municipalities = sorted({tp.doc.municipality or "?" for tp in passages})
    drow = {d: i for i, d in enumerate(documents)}
    mrow = {m: i for i, m in enumerate(municipalities)}
    doc_counts = np.zeros((len(documents), len(tags)), dtype=np.int64)
    mun_counts = np.zeros((len(municipalities), len(tags)), dtype=np.int64)
    doc_totals = np.zeros(len(documents), dtype=np.int64)
    mun_totals = np.zeros(len(municipalities), dtype=np.int64)
    theories = [t.id for t in codebook.by_kind("theory")]
    themes = [t.id for t in codebook.by_kind("theme")]
    co = np.zeros((len(theories), len(themes)), dtype=np.int64)
    for tp in passages:
        d, m = drow[tp.doc.doc_id], mrow[tp.doc.municipality or "?"]
        doc_totals[d] += 1
        mun_totals[m] += 1
        present = {t["tag"] for t in tp.tags if t["tag"] in col}
        for t in present:
            doc_counts[d, col[t]] += 1
            mun_counts[m, col[t]] += 1
        for i, th in enumerate(theories):
            if th in present:
                for j, tm in enumerate(themes):
                    co[i, j] += tm in present
    return Matrices(
        tags, documents, municipalities, doc_counts, doc_totals, mun_counts, mun_totals, theories, themes, co
    )


def _share(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    return counts / np.maximum(totals, 1)[:, None]


# ---------------------------------------------------------------- files


def write_reports(
    out_dir: Path, passages: Sequence[TaggedPassage], codebook: Codebook, title: str = "plansok tagging"
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    m = matrices(passages, codebook)
    written = [
        _write_passages_csv(out_dir / "passages.csv", passages),
        _write_json(out_dir / "passages.json", [_passage_row(tp) for tp in passages]),
        _write_matrix(out_dir / "document_tags.csv", "doc_id", m.documents, m.tags, m.doc_counts, m.doc_totals),
        _write_matrix(
            out_dir / "municipality_tags.csv", "municipality", m.municipalities, m.tags, m.mun_counts, m.mun_totals
        ),
        _write_cooccurrence(out_dir / "theory_theme.csv", m),
    ]
    pngs = _write_plots(out_dir, m, passages)
    written += list(pngs.values())
    written.append(_write_html(out_dir / "report.html", passages, codebook, m, pngs, title))
    return written


def _atomic_write(path: Path, data: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _passage_row(tp: TaggedPassage) -> dict:
    return {
        "doc_id": tp.doc.doc_id,
        "passage_id": tp.passage.passage_id,
        "municipality": tp.doc.municipality,
        "kommunenummer": tp.doc.kommunenummer,
        "title": tp.doc.title,
        "doc_type": tp.doc.doc_type,
        "year_from": tp.doc.year_from,
        "year_to": tp.doc.year_to,
        "page": tp.passage.page_start,
        "section": tp.passage.section,
        "citation": tp.citation(),
        "text": tp.passage.text,
        "tags": tp.tags,
    }


def _write_passages_csv(path: Path, passages: Sequence[TaggedPassage]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["doc_id", "passage_id", "municipality", "doc_type", "year_from", "year_to", "page", "section",
                "citation", "text", "tags", "confidence", "evidence"])  # fmt: skip
    for tp in passages:
        w.writerow([
            tp.doc.doc_id, tp.passage.passage_id, tp.doc.municipality, tp.doc.doc_type, tp.doc.year_from or "",
            tp.doc.year_to or "", tp.passage.page_start, tp.passage.section, tp.citation(), tp.passage.text,
            ";".join(t["tag"] for t in tp.tags),
            ";".join(f"{t['tag']}:{t['confidence']:.2f}" for t in tp.tags),
            ";".join(f"{t['tag']}:{','.join(t['evidence'])}" for t in tp.tags),
        ])  # fmt: skip
    return _atomic_write(path, buf.getvalue())


def _write_json(path: Path, data: object) -> Path:
    return _atomic_write(path, json.dumps(data, ensure_ascii=False, indent=1))


def _write_matrix(
    path: Path, key: str, rows: list[str], tags: list[str], counts: np.ndarray, totals: np.ndarray
) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([key, "passages", *[f"{t}_n" for t in tags], *[f"{t}_share" for t in tags]])
    share = _share(counts, totals)
    for i, r in enumerate(rows):
        w.writerow([r, int(totals[i]), *counts[i].tolist(), *[f"{v:.4f}" for v in share[i]]])
    return _atomic_write(path, buf.getvalue())


def _write_cooccurrence(path: Path, m: Matrices) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["theory", *m.themes])
    for i, th in enumerate(m.theories):
        w.writerow([th, *m.cooccurrence[i].tolist()])
    return _atomic_write(path, buf.getvalue())


# ---------------------------------------------------------------- plots


def _heatmap(values: np.ndarray, rows: list[str], cols: list[str], title: str, fmt: str, cmap: str = "Blues"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(2.5, 0.32 * len(rows) + 1.8)
    width = max(6.0, 0.36 * len(cols) + 3.5)
    fig, ax = plt.subplots(figsize=(min(width, 14), min(height, 30)), dpi=110)
    im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=0)
    ax.set_xticks(range(len(cols)), labels=cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=[r[:38] for r in rows], fontsize=8)
    ax.set_title(title, fontsize=10)
    if values.size and len(rows) * len(cols) <= 600:
        top = values.max() or 1
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if v:
                    ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=6,
                            color="white" if v > top * 0.6 else "black")  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _write_plots(out_dir: Path, m: Matrices, passages: Sequence[TaggedPassage]) -> dict[str, Path]:
    names = {tp.doc.doc_id: f"{tp.doc.municipality}: {tp.doc.title}" for tp in passages}
    plots = {
        "heatmap_documents.png": _heatmap(
            _share(m.doc_counts, m.doc_totals), [names[d] for d in m.documents], m.tags,
            "Share of passages with each tag, by document", ".2f",
        ),
        "heatmap_municipalities.png": _heatmap(
            _share(m.mun_counts, m.mun_totals), m.municipalities, m.tags,
            "Share of passages with each tag, by municipality", ".2f",
        ),
        "theory_theme.png": _heatmap(
            m.cooccurrence, m.theories, m.themes, "Passages with both a theory tag and a theme tag", "d", "Oranges"
        ),
    }  # fmt: skip
    out = {}
    for name, data in plots.items():
        path = out_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        out[name] = path
    return out


# ---------------------------------------------------------------- HTML

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin-bottom: .2rem; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: .9rem; }
td, th { border-bottom: 1px solid #eee; padding: .25rem .4rem; text-align: left; overflow-wrap: anywhere; }
.quote { margin: .3rem 0 .8rem; padding: .4rem .8rem; background: #f7f7f5; border-left: 3px solid #999; }
.cite { color: #555; font-size: .85rem; } .ev { color: #7a4b00; font-size: .85rem; }
.kind { color: #666; font-size: .85rem; } .small { color: #666; font-size: .85rem; }
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _write_html(
    path: Path,
    passages: Sequence[TaggedPassage],
    codebook: Codebook,
    m: Matrices,
    pngs: dict[str, Path],
    title: str,
) -> Path:
    e = html.escape
    n_docs, n_pass = len(m.documents), len(passages)
    totals = m.doc_counts.sum(axis=0)
    parts = [
        f"<!doctype html><html lang='no'><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='small'>{n_docs} documents, {n_pass} passages, tagged with {e(codebook.name or 'the codebook')} "
        f"(version {e(codebook.version)}); made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by plansok. "
        "Tables: passages.csv, document_tags.csv, municipality_tags.csv, theory_theme.csv.</p>",
        "<h2>Tags in this batch</h2><table><tr><th style='width:40%'>tag</th><th>kind</th>"
        "<th>passages</th><th>share</th></tr>",
    ]
    for j, tag in enumerate(codebook.tags):
        share = totals[j] / max(n_pass, 1)
        parts.append(
            f"<tr><td>{e(tag.label)} <span class='small'>({e(tag.id)})</span></td><td>{tag.kind}</td>"
            f"<td>{int(totals[j])}</td><td>{share:.1%}</td></tr>"
        )
    parts.append("</table>")
    parts += [
        "<h2>By document</h2>", _img(pngs["heatmap_documents.png"], "heatmap of tags by document"),
        "<h2>By municipality</h2>", _img(pngs["heatmap_municipalities.png"], "heatmap of tags by municipality"),
        "<h2>Theory × theme</h2>", _img(pngs["theory_theme.png"], "co-occurrence of theory and theme tags"),
        "<h2>Top passages per tag</h2>",
    ]  # fmt: skip
    for tag in codebook.tags:
        best = sorted(
            ((t["confidence"], tp, t) for tp in passages for t in tp.tags if t["tag"] == tag.id),
            key=lambda x: -x[0],
        )[:TOP_PASSAGES]
        if not best:
            continue
        parts.append(f"<h3>{e(tag.label)} <span class='kind'>{tag.kind}</span></h3>")
        if tag.description:
            parts.append(f"<p class='small'>{e(tag.description)}</p>")
        for conf, tp, t in best:
            text = tp.passage.text if len(tp.passage.text) < 900 else tp.passage.text[:900] + "…"
            parts.append(
                f"<div class='quote'>{e(text)}<div class='cite'>{e(tp.citation())}</div>"
                f"<div class='ev'>confidence {conf:.2f} ({e(t['source'])}); evidence: "
                f"{e(', '.join(t['evidence']))}</div></div>"
            )
    parts.append("</body></html>")
    return _atomic_write(path, "\n".join(parts))
