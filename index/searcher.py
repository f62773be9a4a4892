"""An index opened for searching at one commit: memory-mapped segments, and
BM25 computed per query term from the postings.

Opening reads the commit's document list and each segment's directory; no
postings. A query term is looked up in each segment's sorted term
dictionary; its postings (rows and term frequencies) are read from the
mapped files, rows of removed or replaced documents are dropped, and its
BM25 weights come from the term frequency, the row's length and the
commit's average length, exactly as if the whole index were one matrix in
memory. Page context (``page_bm25``) scores each (document, page) group
with the same formula over the sums of its passages.

Rows are numbered over the live passages of the commit, segment after
segment in commit order, so results (and ties) are those of the merged
in-memory index plansok used before. Open once per process and reuse (the
Python API and ``plansok serve`` do); a reader keeps answering from its
commit while writers add, remove and merge, because a mapped file stays
readable after a merge unlinks it.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from plansok.errors import IndexError_
from plansok.index.bm25 import K1, B, length_norm, lucene_idf, tfn_from_norm, top_k_sparse
from plansok.index.segment_format import MIN_LENGTH, LiveMap, OldSegmentFormat, SegmentFile
from plansok.index.store import IndexStore
from plansok.models import DocumentMeta

if TYPE_CHECKING:  # built only for query feedback; a cold `plansok query` does not import scipy
    import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = ["MIN_LENGTH", "LoadedIndex", "MappedBM25"]

# Decoded postings kept per unit (passages, pages), most recently used first.
CACHE_BYTES = 64 * 2**20
_MIN = np.float32(MIN_LENGTH)


class SegmentView:
    """One segment as one commit sees it: which of its documents are live,
    and where its live rows and page groups start in the commit's numbering."""

    def __init__(self, seg: SegmentFile, live_docs: np.ndarray, doc_pos: np.ndarray, row_base: int, group_base: int):
        self.seg = seg
        self.live_docs = live_docs
        self.doc_pos = doc_pos  # local document -> position in LoadedIndex.docs
        self.rows = LiveMap.of(seg.doc_rows, live_docs)
        self.groups = LiveMap.of(seg.doc_groups, live_docs)
        self.row_base = row_base
        self.group_base = group_base
        self.lensum = float(np.asarray(seg.doc_lensum)[live_docs].sum()) if len(live_docs) else 0.0
        self._pid_order: np.ndarray | None = None

    def live_rows(self) -> np.ndarray:
        return self.rows.to_local(np.arange(self.rows.n_live, dtype=np.int64))

    def pid_rows(self, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``pids`` found here, their local rows)."""
        row_pid = self.seg.row_pid
        if len(row_pid) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if self.seg.pids_sorted:
            pos = np.minimum(np.searchsorted(row_pid, pids), len(row_pid) - 1)
            local = pos
        else:
            if self._pid_order is None:
                self._pid_order = np.argsort(row_pid)
            pos = np.minimum(np.searchsorted(row_pid, pids, sorter=self._pid_order), len(row_pid) - 1)
            local = self._pid_order[pos]
        found = np.flatnonzero(row_pid[local] == pids)
        return found, local[found]


class TermTable:
    """Term ids for one commit, handed out as terms are looked up: no
    dictionary of every term is built unless someone asks for all of them
    (``len``, iteration; query feedback does)."""

    def __init__(self, views: list[SegmentView]) -> None:
        self.views = views
        self._ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._where: list[list[tuple[int, int]]] = []  # per id: (view, local term id)
        self._missing: set[str] = set()
        self._complete = False
        self._local_ids: list[np.ndarray] = []  # per view, local term id -> id (when complete)
        self._lock = threading.Lock()

    def get(self, term: str) -> int | None:
        tid = self._ids.get(term)
        if tid is not None or self._complete or term in self._missing:
            return tid
        key = term.encode("utf-8")
        where = [(vi, lt) for vi, v in enumerate(self.views) if (lt := v.seg.lookup(key)) >= 0]
        with self._lock:
            if term in self._ids:
                return self._ids[term]
            if not where:
                if len(self._missing) > 100_000:
                    self._missing.clear()
                self._missing.add(term)
                return None
            tid = len(self._terms)
            self._terms.append(term)
            self._where.append(where)
            self._ids[term] = tid
            return tid

    def where(self, tid: int) -> list[tuple[int, int]]:
        return self._where[tid]

    def term(self, tid: int) -> str:
        return self._terms[tid]

    def complete(self) -> None:
        """Give every term of every segment an id (ids handed out so far stay)."""
        with self._lock:
            if self._complete:
                return
            known = len(self._terms)
            for vi, v in enumerate(self.views):
                terms = v.seg.terms()
                local = np.empty(len(terms), dtype=np.int64)
                for lt, t in enumerate(terms):
                    tid = self._ids.get(t)
                    if tid is None:
                        tid = self._ids[t] = len(self._terms)
                        self._terms.append(t)
                        self._where.append([])
                    if tid >= known:
                        self._where[tid].append((vi, lt))
                    local[lt] = tid
                self._local_ids.append(local)
            self._missing.clear()
            self._complete = True

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()
            self._terms.clear()
            self._where.clear()
            self._missing.clear()
            self._local_ids.clear()
            self._complete = False

    def local_ids(self, vi: int) -> np.ndarray:
        self.complete()
        return self._local_ids[vi]

    def __len__(self) -> int:
        self.complete()
        return len(self._terms)


class Vocab(Mapping[str, int]):
    """term -> id, looked up in the segments' term dictionaries on demand."""

    def __init__(self, table: TermTable) -> None:
        self._table = table

    def __getitem__(self, term: str) -> int:
        tid = self._table.get(term)
        if tid is None:
            raise KeyError(term)
        return tid

    def get(self, term: str, default: Any = None) -> Any:  # type: ignore[override]
        tid = self._table.get(term)
        return default if tid is None else tid

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._table.get(term) is not None

    def __iter__(self) -> Iterator[str]:
        self._table.complete()
        return iter(list(self._table._terms))

    def __len__(self) -> int:
        return len(self._table)


class _Idf:
    def __init__(self, bm: MappedBM25) -> None:
        self._bm = bm

    def __getitem__(self, tid: int) -> np.float32:
        return self._bm.idf_of(int(tid))


class MappedBM25:
    """BM25 over one unit of a commit, passages (``rows``) or pages
    (``groups``: a page's passages summed), from memory-mapped postings. Has
    the interface of the in-memory ``BM25`` that ``query.ranking`` uses:
    ``vocab``, ``idf[tid]``, ``postings(tid)``, ``weighted_scores``, ``n_docs``."""

    def __init__(self, table: TermTable, unit: str, n: int, lensum: float, *, k1: float = K1, b: float = B) -> None:
        if unit not in ("rows", "groups"):
            raise ValueError(f"unit must be 'rows' or 'groups', not {unit!r}")
        self.table = table
        self.unit = unit
        self._n = n
        self.avg = (lensum / n if n else 0.0) or 1.0
        self.k1, self.b = k1, b
        self.vocab = Vocab(table)
        self.idf = _Idf(self)
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()
        self._tfn: sp.csr_matrix | None = None
        self._norms: dict[int, np.ndarray] = {}
        self._scratch = threading.local()

    @property
    def n_docs(self) -> int:
        return self._n

    # -- postings -------------------------------------------------------------------------
    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, BM25 tfn values) of one term over the live units."""
        with self._lock:
            hit = self._cache.get(tid)
            if hit is not None:
                self._cache.move_to_end(tid)
                return hit
        parts = [self._segment_postings(vi, lt) for vi, lt in self.table.where(tid)]
        if len(parts) == 1:
            out = parts[0]
        elif parts:
            out = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        else:
            out = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        size = out[0].nbytes + out[1].nbytes
        with self._lock:
            if tid not in self._cache:
                self._cache[tid] = out
                self._cached_bytes += size
                while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
                    _, (a, v) = self._cache.popitem(last=False)
                    self._cached_bytes -= a.nbytes + v.nbytes
        return out

    def _norm(self, vi: int) -> np.ndarray:
        """k1 * (1 - b + b * len / avglen) for every row (or group) of a
        segment: computed on the segment's first query, as it depends on the
        commit's average length."""
        norm = self._norms.get(vi)
        if norm is None:
            seg = self.table.views[vi].seg
            length = np.maximum(seg.row_len, _MIN) if self.unit == "rows" else seg.group_len
            norm = self._norms[vi] = length_norm(length, self.avg, self.k1, self.b)
        return norm

    def _segment_postings(self, vi: int, lt: int) -> tuple[np.ndarray, np.ndarray]:
        view = self.table.views[vi]
        seg = view.seg
        rows, tf = seg.postings(lt)
        tf = tf.astype(np.float32)
        if self.unit == "rows":
            live, ids = view.rows.to_compact(rows)
            if live is not None:
                rows, tf = rows[live], tf[live]
            vals = tfn_from_norm(tf, self._norm(vi)[rows], self.k1)
            return (ids + view.row_base if view.row_base else ids).astype(np.int32, copy=False), vals
        groups = seg.row_group[rows]
        if seg.groups_sorted:
            starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]])) if len(groups) else groups[:0]
            ug = groups[starts]
            gtf = np.add.reduceat(tf, starts) if len(starts) else tf[:0]
        elif len(groups) * 8 > seg.n_groups:  # many postings: one pass over the segment's groups
            dense = np.bincount(groups, weights=tf, minlength=seg.n_groups)
            ug = np.flatnonzero(dense)
            gtf = dense[ug].astype(np.float32)
        else:
            ug, inv = np.unique(groups, return_inverse=True)
            gtf = np.bincount(inv.ravel(), weights=tf, minlength=len(ug)).astype(np.float32)
        live, ids = view.groups.to_compact(ug)
        if live is not None:
            ug, gtf = ug[live], gtf[live]
        vals = tfn_from_norm(gtf.astype(np.float32), self._norm(vi)[ug], self.k1)
        return (ids + view.group_base if view.group_base else ids).astype(np.int32, copy=False), vals

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._cached_bytes = 0
            self._tfn = None

    def df(self, tid: int) -> int:
        return len(self.postings(tid)[0])

    def idf_of(self, tid: int) -> np.float32:
        return np.float32(lucene_idf(self.df(tid), self._n))

    # -- scoring ----------------------------------------------------------------------------
    def sparse_scores(self, weighted: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, scores) for (term id, weight) pairs: the sum of
        weight * idf * tfn, only where some term occurs."""
        ids_parts, val_parts = [], []
        for tid, w in weighted:
            ids, vals = self.postings(tid)
            ids_parts.append(ids)
            val_parts.append(vals * np.float32(w * self.idf_of(tid)))
        if not ids_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(ids_parts) == 1:
            return ids_parts[0], val_parts[0]
        ids = np.concatenate(ids_parts)
        vals = np.concatenate(val_parts)
        if ids.size > self._n // 4:
            dense = np.bincount(ids, weights=vals, minlength=self._n)
            nz = np.flatnonzero(dense)
            return nz, dense[nz].astype(np.float32)
        # Each term's ids ascend: a stable sort merges the runs, and sums in float64
        # in term order, as a bincount over the whole unit would.
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        return ids[starts], np.add.reduceat(vals[order].astype(np.float64), starts).astype(np.float32)

    def weighted_scores(self, weighted: Sequence[tuple[int, float]]) -> np.ndarray:
        """Dense scores (one per live unit) for (term id, weight) pairs."""
        scores = np.zeros(self._n, dtype=np.float32)
        for i, (tid, w) in enumerate(weighted):
            ids, vals = self.postings(tid)
            vals = vals * np.float32(w * self.idf_of(tid))
            if i == 0:
                scores[ids] = vals
            else:
                scores[ids] += vals  # a term's ids are distinct, so no update is lost
        return scores

    def _live_df(self, tid: int) -> int:
        """Live rows holding a term, without decoding where a segment has no dead rows."""
        df = 0
        for vi, lt in self.table.where(tid):
            view = self.table.views[vi]
            if view.rows.all_live:
                df += int(view.seg.post_ptr[lt + 1] - view.seg.post_ptr[lt])
            else:
                df += int(view.rows.to_compact(view.seg.postings(lt)[0])[1].size)
        return df

    def top_k(self, weighted: Sequence[tuple[int, float]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The exact ``k`` best (ids, scores) for (term id, weight) pairs, ties
        in id order as ``bm25.top_k``, computing only what can change them:
        each segment's own top k (its rows are its own), then the best of those.

        Within a segment terms are added rarest first. A term's score in a row
        is below c = (k1 + 1) * weight * idf (tf / (tf + norm) < 1), so once the
        k-th best score so far beats the sum of c over the terms still to add,
        no row outside the current candidates can enter the top k: the
        remaining terms are looked up for the candidates only (MaxScore, as Lucene)."""
        if self.unit != "rows":
            ids, vals = self.sparse_scores(weighted)
            return top_k_sparse(ids, vals, k)
        c_of: dict[int, np.float32] = {}
        for tid, w in weighted:
            c = (self.k1 + 1.0) * w * float(lucene_idf(self._live_df(tid), self._n))
            c_of[tid] = np.float32(c_of.get(tid, 0.0) + c)
        per_segment: dict[int, list[tuple[int, int]]] = {}
        for tid in c_of:
            for vi, lt in self.table.where(tid):
                per_segment.setdefault(vi, []).append((tid, lt))
        found = []
        for vi, terms in per_segment.items():
            best = self._segment_top_k(vi, [(c_of[tid], lt) for tid, lt in terms], k)
            if best[0].size:
                found.append(best)
        if not found:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        if len(found) == 1:
            return found[0]  # one segment's top k, already best first with ties in id order
        ids = np.concatenate([f[0] for f in found])
        scores = np.concatenate([f[1] for f in found])
        order = np.argsort(ids, kind="stable")
        return top_k_sparse(ids[order], scores[order], k, positive=True)

    def _segment_top_k(self, vi: int, terms: list[tuple[np.float32, int]], k: int) -> tuple[np.ndarray, np.ndarray]:
        view = self.table.views[vi]
        seg = view.seg
        norm = self._norm(vi)
        decoded = []
        for c, lt in terms:
            rows, tf = seg.postings(lt)
            live, ids = view.rows.to_compact(rows)
            if live is not None:
                rows, tf = rows[live], tf[live]
            if rows.size:
                decoded.append((rows.size, c, ids, rows, tf))
        if not decoded:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        decoded.sort(key=lambda t: t[0])
        bounds = [0.0] * len(decoded)  # c summed over a term and the ones after it
        total = 0.0
        for i in range(len(decoded) - 1, -1, -1):
            total += float(decoded[i][1])
            bounds[i] = total
        _, c, ids, rows, tf = decoded[0]
        if tf.dtype.itemsize > 2:
            tf = tf.astype(np.float32)  # float32 arithmetic, as with the narrow ones below
        # Narrow term frequencies (uint8, uint16) meet float32 in the arithmetic: no converted copy.
        scores = tf * c / (tf + norm[rows])
        for i, (_, c, t_ids, t_rows, t_tf) in enumerate(decoded[1:], start=1):
            theta = float(np.partition(scores, scores.size - k)[scores.size - k]) if scores.size >= k else 0.0
            if theta > bounds[i]:
                # Only the candidates can still enter the top k, and of them only those
                # the terms still to add can lift to the k-th best score so far (with a
                # little slack for float32 sums): score the term where they hold it.
                reach = scores + np.float32(bounds[i] * (1 + 1e-5)) >= np.float32(theta)
                ids, scores = ids[reach], scores[reach]
                if ids.size * 16 > t_ids.size + seg.n_rows // 8:
                    # Many candidates: marking them in a bitmap of the segment's rows and
                    # reading it along the term's rows beats a binary search per candidate.
                    mark = np.zeros(seg.n_rows, dtype=bool)
                    mark[ids] = True
                    p = np.flatnonzero(mark[t_ids])
                    mark[:] = False
                    mark[t_ids[p]] = True
                    hit = np.flatnonzero(mark[ids])
                else:
                    pos = np.minimum(np.searchsorted(t_ids, ids), t_ids.size - 1)
                    hit = np.flatnonzero(t_ids[pos] == ids)
                    p = pos[hit]
                h_tf = t_tf[p].astype(np.float32)
                scores[hit] += h_tf * c / (h_tf + norm[t_rows[p]])
            else:
                t_tf = t_tf.astype(np.float32)
                all_ids = np.concatenate([ids, t_ids])
                all_scores = np.concatenate([scores, t_tf * c / (t_tf + norm[t_rows])])
                order = np.argsort(all_ids, kind="stable")
                all_ids = all_ids[order]
                starts = np.flatnonzero(np.concatenate([[True], all_ids[1:] != all_ids[:-1]]))
                ids = all_ids[starts]
                scores = np.add.reduceat(all_scores[order], starts)
        best, best_scores = top_k_sparse(ids, scores, k, positive=True)
        return (best + view.row_base).astype(np.int32, copy=False), best_scores

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        """Scores of every unit for a token list (a repeated token counts again)."""
        weights: dict[int, float] = {}
        for t in query:
            tid = self.vocab.get(t)
            if tid is not None:
                weights[tid] = weights.get(tid, 0.0) + 1.0
        return self.weighted_scores(list(weights.items())).astype(np.float64)

    @property
    def tfn(self) -> sp.csr_matrix:
        """Every row's BM25 tfn over all terms (units x ``len(vocab)``), built
        in memory on first use: only query feedback (``expand``) needs it."""
        if self.unit != "rows":
            raise NotImplementedError("the whole tfn matrix is built for passages only")
        if self._tfn is None:
            import scipy.sparse as sp

            width = len(self.table)
            blocks = []
            for vi, view in enumerate(self.table.views):
                seg = view.seg
                rows, tf = seg.postings_range(0, seg.n_terms)
                vals = tfn_from_norm(tf.astype(np.float32), self._norm(vi)[rows], self.k1)
                csr = sp.csc_matrix((vals, rows, seg.post_ptr), shape=(seg.n_rows, seg.n_terms)).tocsr()
                csr = csr[view.live_rows()]
                gids = self.table.local_ids(vi)[csr.indices]
                blocks.append(sp.csr_matrix((csr.data, gids, csr.indptr), shape=(csr.shape[0], width)))
            self._tfn = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, width), dtype=np.float32)
        return self._tfn


class RowArray:
    """A per-row value of the commit (passage id, document position), read
    from the segments for the rows asked for; ``np.asarray`` builds it all."""

    def __init__(self, ix: LoadedIndex, fn: Callable[[SegmentView, np.ndarray], np.ndarray], dtype: Any) -> None:
        self._ix = ix
        self._fn = fn
        self.dtype = np.dtype(dtype)

    def __len__(self) -> int:
        return self._ix.n_passages

    @property
    def size(self) -> int:
        return self._ix.n_passages

    @property
    def shape(self) -> tuple[int]:
        return (self._ix.n_passages,)

    def __getitem__(self, rows: Any) -> Any:
        n = self._ix.n_passages
        if isinstance(rows, int | np.integer):
            row = int(rows)
            if not 0 <= row < n:
                raise IndexError(f"row {row} out of range 0..{n - 1}")
            view = self._ix.views[bisect.bisect_right(self._ix.row_base_list, row) - 1]
            return self._fn(view, view.rows.to_local(np.asarray([row - view.row_base])))[0]
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row out of range 0..{n - 1}")
        which = self._ix.view_of_rows(rows)
        if rows.size == 0 or which.min() == which.max():
            view = self._ix.views[int(which[0])] if rows.size else None
            if view is None:
                return np.zeros(rows.shape, dtype=self.dtype)
            return self._fn(view, view.rows.to_local(rows - view.row_base)).astype(self.dtype, copy=False)
        out = np.empty(rows.shape, dtype=self.dtype)
        for vi in np.unique(which).tolist():
            sel = which == vi
            view = self._ix.views[vi]
            out[sel] = self._fn(view, view.rows.to_local(rows[sel] - view.row_base))
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        parts = [self._fn(v, v.live_rows()) for v in self._ix.views]
        out = np.concatenate(parts).astype(self.dtype) if parts else np.zeros(0, self.dtype)
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list[Any]:
        return np.asarray(self).tolist()


def _doc_of(view: SegmentView, local: np.ndarray) -> np.ndarray:
    return view.doc_pos[np.searchsorted(view.seg.doc_rows, local, side="right") - 1]


def _page_group_of(view: SegmentView, local: np.ndarray) -> np.ndarray:
    # A live row's page group is live (it holds the row).
    return view.groups.to_compact(view.seg.row_group[local].astype(np.int64))[1] + view.group_base


class LoadedIndex:
    """The index as of one commit, opened for searching."""

    def __init__(
        self, store: IndexStore, docs: list[DocumentMeta], segments: Sequence[tuple[SegmentFile, np.ndarray]]
    ) -> None:
        self.store = store
        self.docs = docs
        self.doc_pos = {d.doc_id: i for i, d in enumerate(docs)}
        self.views: list[SegmentView] = []
        rows = groups = 0
        lensum = 0.0
        for seg, live in segments:
            pos = np.fromiter((self.doc_pos.get(d, -1) for d in seg.doc_names), np.int64, count=len(seg.doc_names))
            view = SegmentView(seg, np.asarray(live, dtype=bool), pos, rows, groups)
            self.views.append(view)
            rows += view.rows.n_live
            groups += view.groups.n_live
            lensum += view.lensum
        self._row_bases = np.asarray([v.row_base for v in self.views], dtype=np.int64)
        self.row_base_list = self._row_bases.tolist()
        self._n = rows
        self.table = TermTable(self.views)
        self.bm25 = MappedBM25(self.table, "rows", rows, lensum)
        self.page_bm25 = MappedBM25(self.table, "groups", groups, lensum)
        self.pids = RowArray(self, lambda v, local: v.seg.row_pid[local], np.int64)
        self.row_doc = RowArray(self, _doc_of, np.int64)
        # Row -> its page group's id in ``page_bm25``, read for the rows asked for.
        self.page_group = RowArray(self, _page_group_of, np.int64)
        self._tag_scores: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: IndexStore, attempts: int = 5) -> LoadedIndex:
        """Open the index as of one commit. A writer that merges or replaces
        documents deletes old segment files after its commit; if one vanishes
        between our snapshot and our opening it, the snapshot is taken again.
        Once open, the mapped files stay readable whatever writers do."""
        for attempt in range(attempts):
            snapshot = store.snapshot()
            try:
                segments = store.live_segments(snapshot)
            except OldSegmentFormat:
                raise
            except IndexError_:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
                continue
            return cls(store, snapshot[0], segments)
        raise AssertionError("unreachable")

    @property
    def n_passages(self) -> int:
        return self._n

    def drop_caches(self) -> None:
        """Forget looked-up terms and decoded postings, so the next query reads
        the segments again (for measuring; not while other threads search).
        The per-row length norms, derived once per commit, stay."""
        self.bm25.clear_cache()
        self.page_bm25.clear_cache()
        self.table.clear()

    def view_of_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._row_bases, rows, side="right") - 1

    def tag_scores(self, tag: str) -> np.ndarray:
        """Per row, the confidence of ``tag`` (0 where the passage lacks it).
        Read from the store on first use and kept."""
        cache = self._tag_scores
        if tag not in cache:
            pids, conf = self.store.tagged(tag)
            scores = np.zeros(self.n_passages, dtype=np.float32)
            for v in self.views:
                found, local = v.pid_rows(pids)
                live, compact = v.rows.to_compact(local)
                scores[compact + v.row_base] = conf[found] if live is None else conf[found][live]
            cache[tag] = scores
        return cache[tag]

    def doc_mask(self, keep_doc: np.ndarray) -> np.ndarray:
        """Rows whose document is kept by a per-document boolean array."""
        parts = []
        for v in self.views:
            keep = np.where(v.doc_pos >= 0, keep_doc[np.maximum(v.doc_pos, 0)], False)
            per_row = np.repeat(keep, np.diff(v.seg.doc_rows))
            parts.append(v.rows.take(per_row))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
