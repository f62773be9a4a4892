"""Segment files, format 3: immutable postings a reader memory-maps.

A segment is one uncompressed ``.npz`` (a zip of ``.npy`` members, so
``np.load`` still reads it), written with every member's data aligned to 64
bytes so a reader maps the whole file once and views each array in place:
opening a segment reads its directory and a small JSON header, and a query
then touches only the postings of its terms and the rows of its hits.

Members (``n`` rows = passages, ``g`` page groups, ``d`` documents, ``t`` terms,
``p`` postings):

    meta.json     {"format", "version", "min_length", "n_rows", "n_groups",
                   "n_terms", "n_postings", "docs": [doc ids], "groups_sorted", "pids_sorted"}
    doc_rows      int64[d+1]   rows of document k are doc_rows[k]:doc_rows[k+1] (a document's rows are contiguous)
    doc_groups    int64[d+1]   the same for its page groups
    doc_lensum    float64[d]   sum over its rows of max(length, min_length)
    row_pid       int64[n]     passage id in plansok.sqlite
    row_len       float32[n]   content words of the passage
    row_group     int32[n]     its page group: (document, first page), numbered by first appearance
    group_len     float32[g]   sum of max(length, min_length) over the group's rows
    group_page    int32[g]     the group's page
    term_blob     uint8[...]   the terms, UTF-8, sorted bytewise, concatenated
    term_off      int64[t+1]   term i is term_blob[term_off[i]:term_off[i+1]]
    term_key      uint64[t]    its first 8 bytes as a big-endian number (a sorted array to search)
    post_ptr      int64[t+1]   term i's postings are [post_ptr[i], post_ptr[i+1])
    term_first    int32[t]     the first (smallest) row of each term
    post_gap      uint16[p]    row minus the term's previous row (0 for its first posting)
    gap_pos, gap_val  int64, int32   the gaps of 65,536 or more: posting, gap
    post_tf8      uint8[p]     term frequency in that row (255: see tf_pos)
    tf_pos, tf_val    int64, uint32  frequencies of 255 or more: posting, frequency

Rows are gaps because a term's rows ascend: about 3 bytes a posting instead
of 6 (97 % of gaps fit 16 bits at a million passages; a word 255 times in
one passage is an oddity). A term's rows are decoded with one cumulative sum.

The page-group lengths and ``doc_lensum`` let a reader get BM25's corpus
statistics of any commit (the live documents' sums) without reading a row.
Merges stream postings in chunks of terms, so their memory grows with the
vocabulary and the row count, not with the postings.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import mmap
import os
import struct
import tempfile
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path
from typing import IO, Any

import numpy as np

from plansok.errors import IndexError_

logger = logging.getLogger(__name__)

SEGMENT_FORMAT = "plansok-segment"
SEGMENT_VERSION = 3
# BM25 sees at least this many words in a passage: a heading or caption that
# became a passage of its own would otherwise outrank every paragraph on the
# topic. Part of the format because page lengths and length sums are stored.
MIN_LENGTH = 20
ALIGN = 64
TF_MAX = np.iinfo(np.uint16).max
# Postings handled at once by a merge (rows and tf: 6 bytes each, plus work arrays).
MERGE_CHUNK = 4_000_000
_PAD_ID = 0xD935  # a zip "extra" field id that readers skip: padding for alignment (as Android's zipalign)
GAP_MAX = np.iinfo(np.uint16).max
TF8_MAX = np.iinfo(np.uint8).max


class OldSegmentFormat(IndexError_):
    """A segment written in an older format (1: CSR counts with a string
    vocabulary; 2: rows and frequencies at full width)."""


# -- writing ----------------------------------------------------------------------------------
class _NpzWriter:
    """Writes an uncompressed npz whose members' array data start on ALIGN-byte boundaries."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.zf = zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def _member(self, name: str, header_len: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        start = self.zf.start_dir
        # Local header: 30 bytes + name + extra (+ 20 bytes of zip64 sizes, as members are opened with force_zip64).
        base = start + 30 + len(name.encode("utf-8")) + 20 + header_len
        pad = (-(base + 4)) % ALIGN
        info.extra = struct.pack("<HH", _PAD_ID, pad) + b"\0" * pad
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self.zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

    def add_array(self, name: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr)
        self.add_stream(name, arr.dtype, len(arr), [arr])

    def add_stream(self, name: str, dtype: np.dtype | type, n: int, chunks: Iterable[np.ndarray]) -> None:
        """A 1-d array of ``n`` items of ``dtype`` written chunk by chunk."""
        dtype = np.dtype(dtype)
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            head, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}
        )
        header = head.getvalue()
        info = self._member(name + ".npy", len(header))
        written = 0
        with self.zf.open(info, "w", force_zip64=True) as out:
            out.write(header)
            if self.fh.tell() % ALIGN:  # the padding arithmetic above must hold, or readers would copy
                raise AssertionError(f"{name}: array data not aligned (offset {self.fh.tell()})")
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, dtype=dtype)
                out.write(memoryview(chunk).cast("B"))
                written += len(chunk)
        if written != n:
            raise AssertionError(f"{name}: wrote {written} items, announced {n}")

    def close(self) -> None:
        self.zf.close()


class NewSegment(ABC):
    """A segment about to be written: built from analysed documents, or merged."""

    name: str
    n_rows: int

    @abstractmethod
    def write(self, fh: IO[bytes]) -> None: ...


def _meta(n_rows: int, n_groups: int, n_terms: int, n_postings: int, docs: list[str], **flags: bool) -> bytes:
    return json.dumps(
        {
            "format": SEGMENT_FORMAT,
            "version": SEGMENT_VERSION,
            "min_length": MIN_LENGTH,
            "n_rows": n_rows,
            "n_groups": n_groups,
            "n_terms": n_terms,
            "n_postings": n_postings,
            "docs": docs,
            **flags,
        },
        ensure_ascii=False,
    ).encode("utf-8")


def _prefix_keys(blob: np.ndarray, off: np.ndarray, start: int = 0) -> np.ndarray:
    """Bytes [start, start+8) of every term (zero-padded) as big-endian uint64:
    numbers that sort like the terms' bytes."""
    n = len(off) - 1
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    pos = np.arange(start, start + 8)
    idx = off[:-1, None] + pos
    valid = idx < off[1:, None]
    mat = np.where(valid, blob[np.minimum(idx, max(len(blob) - 1, 0))] if len(blob) else 0, 0).astype(np.uint8)
    return np.ascontiguousarray(mat).view(">u8").ravel().astype(np.uint64)


def _term_arrays(terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blob, offsets and prefix keys of terms already sorted."""
    enc = [t.encode("utf-8") for t in terms]
    off = np.zeros(len(enc) + 1, dtype=np.int64)
    if enc:
        np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=len(enc)), out=off[1:])
    blob = np.frombuffer(b"".join(enc), dtype=np.uint8)
    return blob, off, _prefix_keys(blob, off)


def _groups(doc_rows: np.ndarray, pages: np.ndarray, clipped: np.ndarray) -> dict[str, Any]:
    """Page groups, (document, page) numbered by first appearance, and their sums."""
    n = len(pages)
    n_docs = len(doc_rows) - 1
    if n == 0:
        return {
            "row_group": np.zeros(0, np.int32),
            "group_len": np.zeros(0, np.float32),
            "group_page": np.zeros(0, np.int32),
            "doc_groups": np.zeros(n_docs + 1, np.int64),
            "groups_sorted": True,
        }
    doc_of_row = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(doc_rows))
    pages = pages.astype(np.int64)
    span = int(pages.max()) - int(pages.min()) + 1
    key = doc_of_row * span + (pages - int(pages.min()))
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(len(first), dtype=np.int64)
    rank[by_first] = np.arange(len(first))
    row_group = rank[inv.ravel()].astype(np.int32)
    group_first = first[by_first]
    doc_of_group = doc_of_row[group_first]
    return {
        "row_group": row_group,
        "group_len": np.bincount(row_group, weights=clipped, minlength=len(first)).astype(np.float32),
        "group_page": pages[group_first].astype(np.int32),
        "doc_groups": np.searchsorted(doc_of_group, np.arange(n_docs + 1), side="left").astype(np.int64),
        "groups_sorted": bool(np.all(np.diff(row_group) >= 0)),
    }


@dataclass
class BuiltSegment(NewSegment):
    """A segment held in memory (one ingest batch), ready to write."""

    name: str
    docs: list[str]
    doc_rows: np.ndarray
    row_pid: np.ndarray
    row_len: np.ndarray
    pages: np.ndarray
    terms: list[str]  # sorted
    post_ptr: np.ndarray
    post_row: np.ndarray
    post_tf: np.ndarray

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return len(self.row_pid)

    def write(self, fh: IO[bytes]) -> None:
        clipped = np.maximum(self.row_len.astype(np.float64), MIN_LENGTH)
        g = _groups(self.doc_rows, self.pages, clipped)
        csum = np.concatenate([[0.0], np.cumsum(clipped)])
        doc_lensum = csum[self.doc_rows[1:]] - csum[self.doc_rows[:-1]]
        blob, off, key = _term_arrays(self.terms)
        pids_sorted = bool(np.all(np.diff(self.row_pid) > 0))
        w = _NpzWriter(fh)
        w.add_bytes(
            "meta.json",
            _meta(
                self.n_rows,
                len(g["group_len"]),
                len(self.terms),
                len(self.post_row),
                self.docs,
                groups_sorted=g["groups_sorted"],
                pids_sorted=pids_sorted,
            ),
        )
        for name, arr in (
            ("doc_rows", self.doc_rows.astype(np.int64)),
            ("doc_groups", g["doc_groups"]),
            ("doc_lensum", doc_lensum.astype(np.float64)),
            ("row_pid", self.row_pid.astype(np.int64)),
            ("row_len", self.row_len.astype(np.float32)),
            ("row_group", g["row_group"]),
            ("group_len", g["group_len"]),
            ("group_page", g["group_page"]),
            ("term_blob", blob),
            ("term_off", off),
            ("term_key", key),
            ("post_ptr", self.post_ptr.astype(np.int64)),
            *_encode(self.post_row, self.post_tf, self.post_ptr).items(),
        ):
            w.add_array(name, arr)
        w.close()


def _encode(rows: np.ndarray, tf: np.ndarray, ptr: np.ndarray, base: int = 0) -> dict[str, np.ndarray]:
    """Format-3 arrays of postings given as ascending rows per term (``ptr``
    relative to ``rows``); escape positions count from ``base``."""
    rows = rows.astype(np.int64, copy=False)
    gap = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        np.subtract(rows[1:], rows[:-1], out=gap[1:])
        gap[ptr[:-1][ptr[:-1] < len(rows)]] = 0  # each term starts from its first row
    wide = np.flatnonzero(gap > GAP_MAX)
    gap_val = gap[wide].astype(np.int32)
    gap[wide] = 0
    tf = np.asarray(tf)
    big = np.flatnonzero(tf >= TF8_MAX)
    starts = ptr[:-1][np.diff(ptr) > 0]
    first = np.zeros(len(ptr) - 1, dtype=np.int32)
    first[np.diff(ptr) > 0] = rows[starts]
    return {
        "term_first": first,
        "post_gap": gap.astype(np.uint16),
        "gap_pos": wide.astype(np.int64) + base,
        "gap_val": gap_val,
        "post_tf8": np.minimum(tf, TF8_MAX).astype(np.uint8),
        "tf_pos": big.astype(np.int64) + base,
        "tf_val": tf[big].astype(np.uint32),
    }


def build_segment(
    name: str,
    docs: Sequence[tuple[str, Sequence[int], Sequence[int], Sequence[Sequence[str]]]],
    first_pid: int,
) -> BuiltSegment:
    """A segment from documents given as (doc id, first page of each passage,
    content words of each passage, terms of each passage); passage ids are
    handed out from ``first_pid`` in order.

    Terms become ids in one C-level pass over the tokens (a dict of the
    batch's distinct terms), and the postings come from one numpy sort of
    (term, row) keys: no Python-level loop per token."""
    doc_names = [d[0] for d in docs]
    per_doc = [len(d[3]) for d in docs]
    doc_rows = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(per_doc, out=doc_rows[1:])
    n = int(doc_rows[-1])
    pages = np.fromiter(chain.from_iterable(d[1] for d in docs), dtype=np.int32, count=n)
    lengths = np.fromiter(chain.from_iterable(d[2] for d in docs), dtype=np.float32, count=n)
    term_lists = [t for d in docs for t in d[3]]
    row_len = np.fromiter(map(len, term_lists), np.int64, count=n)
    n_tok = int(row_len.sum())
    # One pass over the tokens: each gets the position of its term's first
    # occurrence (setdefault keeps the first), then numpy renumbers those
    # positions by the terms' sorted order.
    first: dict[str, int] = {}
    small = np.int32 if n_tok < 2**31 else np.int64
    pos = np.fromiter(
        map(first.setdefault, chain.from_iterable(term_lists), itertools.count()), dtype=small, count=n_tok
    )
    del term_lists
    terms = sorted(first)  # not a numpy str array: one long word would widen it all
    rank = np.empty(n_tok, dtype=small)  # first position -> the term's sorted rank
    rank[np.fromiter(map(first.__getitem__, terms), dtype=np.int64, count=len(terms))] = np.arange(len(terms))
    del first
    # (term, row) keys: the rank in the high 32 bits, the row in the low ones.
    key = rank[pos].astype(np.uint64)
    del pos, rank
    key <<= np.uint64(32)
    key |= np.repeat(np.arange(n, dtype=np.uint32), row_len)
    key.sort()
    if key.size:
        new = np.empty(key.size, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        del new
        tf = np.empty(starts.size, dtype=np.int64)
        np.subtract(starts[1:], starts[:-1], out=tf[:-1])
        tf[-1] = key.size - starts[-1]
        uniq = key[starts]
        del key, starts
        term = (uniq >> np.uint64(32)).astype(np.int64)
        rows = (uniq & np.uint64(0xFFFFFFFF)).astype(np.int32)
    else:
        tf = np.zeros(0, np.int64)
        term = np.zeros(0, np.int64)
        rows = np.zeros(0, np.int32)
    post_ptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term, minlength=len(terms)), out=post_ptr[1:])
    return BuiltSegment(
        name,
        doc_names,
        doc_rows,
        np.arange(first_pid, first_pid + n, dtype=np.int64),
        lengths,
        pages,
        terms,
        post_ptr,
        rows,
        tf,
    )


# -- reading -----------------------------------------------------------------------------------
_ARRAYS = (
    "doc_rows",
    "doc_groups",
    "doc_lensum",
    "row_pid",
    "row_len",
    "row_group",
    "group_len",
    "group_page",
    "term_blob",
    "term_off",
    "term_key",
    "post_ptr",
    "term_first",
    "post_gap",
    "gap_pos",
    "gap_val",
    "post_tf8",
    "tf_pos",
    "tf_val",
)


def _members(path: Path, fh: IO[bytes]) -> dict[str, tuple[int, int]]:
    """Name -> (data offset, size) of every member of a stored zip."""
    out = {}
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise IndexError_(f"{path}: member {info.filename} is compressed; segments are stored uncompressed")
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise IndexError_(f"{path}: broken zip header of {info.filename}")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            out[info.filename] = (info.header_offset + 30 + name_len + extra_len, info.file_size)
    return out


class SegmentFile:
    """One segment file, memory-mapped: arrays are views of the page cache, so
    opening costs a directory read, and a file unlinked by a merge stays
    readable for as long as this object lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.stem
        try:
            with open(path, "rb") as fh:
                members = _members(path, fh)
                if "meta.json" not in members:
                    if "indptr.npy" in members and "vocab.npy" in members:
                        raise OldSegmentFormat(
                            f"{path}: a segment in format 1, before segment format {SEGMENT_VERSION}; a search or "
                            f"ingest with this plansok rewrites it (`plansok query WORD --index {path.parent.parent}`)"
                        )
                    raise IndexError_(f"{path}: not a plansok segment (no meta.json)")
                off, size = members["meta.json"]
                fh.seek(off)
                self.meta = json.loads(fh.read(size).decode("utf-8"))
                if self.meta.get("format") == SEGMENT_FORMAT and self.meta.get("version", 0) < SEGMENT_VERSION:
                    raise OldSegmentFormat(
                        f"{path}: a segment in format {self.meta.get('version')}, before segment format "
                        f"{SEGMENT_VERSION}; a search or ingest with this plansok rewrites it "
                        f"(`plansok query WORD --index {path.parent.parent}`)"
                    )
                # Array headers are read through the file, so that opening touches
                # none of the mapping (it shows in RSS only where a query reads).
                layout = {}
                for name in _ARRAYS:
                    if name + ".npy" not in members:
                        raise IndexError_(f"{path}: segment lacks {name}")
                    layout[name] = self._layout(fh, name, *members[name + ".npy"])
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, zipfile.BadZipFile, struct.error) as exc:
            raise IndexError_(f"{path}: unreadable segment ({exc})") from exc
        if self.meta.get("format") != SEGMENT_FORMAT or self.meta.get("version") != SEGMENT_VERSION:
            raise IndexError_(
                f"{path}: segment format {self.meta.get('format')} {self.meta.get('version')} "
                f"is not {SEGMENT_FORMAT} {SEGMENT_VERSION}"
            )
        if self.meta.get("min_length") != MIN_LENGTH:
            raise IndexError_(f"{path}: written with min_length {self.meta.get('min_length')}, not {MIN_LENGTH}")
        with contextlib.suppress(AttributeError, OSError):
            self._mm.madvise(mmap.MADV_RANDOM)  # postings are read a term at a time, not front to back
        self._layout = layout
        for name, (dtype, count, start) in layout.items():
            view = np.frombuffer(self._mm, dtype=dtype, count=count, offset=start) if count else np.zeros(0, dtype)
            setattr(self, name, view)
        self.doc_names: list[str] = self.meta["docs"]
        self.n_rows: int = self.meta["n_rows"]
        self.n_groups: int = self.meta["n_groups"]
        self.n_terms: int = self.meta["n_terms"]
        self.groups_sorted: bool = self.meta["groups_sorted"]
        self.pids_sorted: bool = self.meta["pids_sorted"]
        if len(self.row_pid) != self.n_rows or len(self.post_gap) != self.meta["n_postings"]:
            raise IndexError_(f"{path}: array sizes disagree with meta.json (a truncated file?)")

    def _layout(self, fh: IO[bytes], name: str, offset: int, size: int) -> tuple[np.dtype, int, int]:
        """(dtype, length, offset of the data) of a 1-d .npy member stored in place."""
        fh.seek(offset)
        buf = io.BytesIO(fh.read(min(size, 4096)))
        version = np.lib.format.read_magic(buf)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(buf)
        start = offset + buf.tell()
        count = int(np.prod(shape))
        if fortran or len(shape) != 1 or start + count * dtype.itemsize > offset + size:
            raise IndexError_(f"{self.path}: member {name} is not a 1-d array in place")
        return dtype, count, start

    def read(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Items [lo, hi) of an array, read from the file rather than the mapping,
        so that a merge streaming through a segment does not keep it resident."""
        dtype, count, start = self._layout[name]
        hi = min(hi, count)
        if hi <= lo:
            return np.zeros(0, dtype)
        with open(self.path, "rb") as fh:
            data = os.pread(fh.fileno(), (hi - lo) * dtype.itemsize, start + lo * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype)

    # -- terms ---------------------------------------------------------------------------
    def term_bytes(self, i: int) -> bytes:
        return self.term_blob[self.term_off[i] : self.term_off[i + 1]].tobytes()

    def lookup(self, term: bytes) -> int:
        """Local id of ``term``, or -1: a search of the prefix keys, then of the
        few terms sharing the first 8 bytes."""
        key = np.uint64(int.from_bytes(term[:8].ljust(8, b"\0"), "big"))
        lo = int(np.searchsorted(self.term_key, key, side="left"))
        hi = int(np.searchsorted(self.term_key, key, side="right"))
        while lo < hi:
            mid = (lo + hi) // 2
            t = self.term_bytes(mid)
            if t < term:
                lo = mid + 1
            elif t > term:
                hi = mid
            else:
                return mid
        return -1

    def terms(self) -> list[str]:
        blob = self.term_blob.tobytes()
        off = self.term_off.tolist()
        return [blob[a:b].decode("utf-8") for a, b in pairwise(off)]

    def df(self) -> np.ndarray:
        return np.diff(self.post_ptr)

    # -- postings ------------------------------------------------------------------------
    def _patched(self, values: np.ndarray, pos: np.ndarray, val: np.ndarray, lo: int, dtype: Any) -> np.ndarray:
        """``values`` (items lo.. of an array) with the escaped items put back
        (as ``dtype``; unchanged, narrow, where none is escaped)."""
        if not len(pos):
            return values
        i, j = pos.searchsorted((lo, lo + len(values)))
        if i == j:
            return values
        out = values.astype(dtype)
        out[pos[i:j] - lo] = val[i:j]
        return out

    def postings(self, lt: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, term frequencies) of local term ``lt``."""
        lo, hi = int(self.post_ptr[lt]), int(self.post_ptr[lt + 1])
        gaps = self._patched(self.post_gap[lo:hi], self.gap_pos, self.gap_val, lo, np.int32)
        rows = np.cumsum(gaps, dtype=np.int32)
        rows += self.term_first[lt]
        return rows, self._patched(self.post_tf8[lo:hi], self.tf_pos, self.tf_val, lo, np.uint32)

    def postings_range(self, a: int, b: int, read: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of local terms [a, b), term after term;
        ``read`` reads the file instead of the mapping (merges stream through it)."""
        lo, hi = int(self.post_ptr[a]), int(self.post_ptr[b])
        gap = self.read("post_gap", lo, hi) if read else self.post_gap[lo:hi]
        tf8 = self.read("post_tf8", lo, hi) if read else self.post_tf8[lo:hi]
        cs = np.cumsum(self._patched(gap, self.gap_pos, self.gap_val, lo, np.int64), dtype=np.int64)
        counts = np.diff(self.post_ptr[a : b + 1])
        starts = np.asarray(self.post_ptr[a:b]) - lo
        nonempty = counts > 0
        base = np.zeros(b - a, dtype=np.int64)
        base[nonempty] = np.asarray(self.term_first[a:b])[nonempty] - cs[starts[nonempty]]
        rows = cs + np.repeat(base, counts)
        return rows, self._patched(tf8, self.tf_pos, self.tf_val, lo, np.uint32)

    def counts_csr(self) -> Any:
        """Rows x local terms raw term frequencies (in memory: for tests, tools and feedback)."""
        import scipy.sparse as sp

        rows, tf = self.postings_range(0, self.n_terms)
        csc = sp.csc_matrix((tf.astype(np.float32), rows, self.post_ptr), shape=(self.n_rows, self.n_terms))
        return csc.tocsr()


# -- which rows a commit keeps ------------------------------------------------------------------
@dataclass
class LiveMap:
    """The rows (or page groups) of a segment that one commit keeps: runs of
    live documents. Maps local ids to compact ids (0.. live-1) and back
    without a per-row array."""

    starts: np.ndarray  # local start of each live run
    ends: np.ndarray
    first: np.ndarray  # compact id of each run's first element
    n_live: int
    total: int

    @classmethod
    def of(cls, bounds: np.ndarray, live_docs: np.ndarray) -> LiveMap:
        bounds = np.asarray(bounds, dtype=np.int64)
        total = int(bounds[-1]) if len(bounds) else 0
        if live_docs.all():
            starts, ends = np.array([0], np.int64), np.array([total], np.int64)
        else:
            edges = np.diff(np.concatenate([[0], live_docs.astype(np.int8), [0]]))
            run_first = np.flatnonzero(edges == 1)
            run_end = np.flatnonzero(edges == -1)
            starts, ends = bounds[run_first], bounds[run_end]
            keep = ends > starts
            starts, ends = starts[keep], ends[keep]
        sizes = ends - starts
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if len(sizes) else np.zeros(0, np.int64)
        return cls(starts, ends, first, int(sizes.sum()), total)

    @property
    def all_live(self) -> bool:
        return self.n_live == self.total

    def to_compact(self, local: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(mask of the live ones or None when all are, their compact ids)."""
        if self.all_live:
            return None, local
        if not len(self.starts):
            return np.zeros(len(local), dtype=bool), local[:0]
        k = np.searchsorted(self.starts, local, side="right") - 1
        kk = np.maximum(k, 0)
        live = (k >= 0) & (local < self.ends[kk])
        return live, (local - self.starts[kk] + self.first[kk])[live]

    def to_local(self, compact: np.ndarray) -> np.ndarray:
        if self.all_live:
            return compact
        k = np.searchsorted(self.first, compact, side="right") - 1
        return compact - self.first[k] + self.starts[k]

    def dense(self) -> np.ndarray:
        """Local id -> compact id, -1 where dead."""
        out = np.full(self.total, -1, dtype=np.int64)
        for s, e, f in zip(self.starts.tolist(), self.ends.tolist(), self.first.tolist()):
            out[s:e] = np.arange(f, f + e - s)
        return out

    def take(self, arr: np.ndarray) -> np.ndarray:
        """The live elements of a per-row (or per-group) array, in order."""
        if self.all_live:
            return np.asarray(arr)
        return np.concatenate([arr[s:e] for s, e in zip(self.starts.tolist(), self.ends.tolist())] or [arr[:0]])


# -- merging ----------------------------------------------------------------------------------
def _sorted_union(blobs: list[np.ndarray], offs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct terms of several sorted term lists, sorted: (entry -> union
    id for the concatenated entries, representative entry of each union term).

    Sorts by the first 8 bytes, then refines only the entries still tied by
    the next 8 bytes, and so on: vectorised, and exact (equal ids only for
    equal bytes)."""
    blob = np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)
    bases = np.cumsum([0] + [len(b) for b in blobs])
    starts = np.concatenate([o[:-1] + bases[i] for i, o in enumerate(offs)]) if offs else np.zeros(0, np.int64)
    lens = np.concatenate([np.diff(o) for o in offs]) if offs else np.zeros(0, np.int64)
    n = len(starts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def chunk(entries: np.ndarray, r: int) -> np.ndarray:
        """Bytes [8r, 8r+8) of the entries' terms, zero-padded, as sortable numbers
        (a million entries at a time, to bound the work arrays)."""
        out = np.empty(len(entries), dtype=np.uint64)
        pos = np.arange(8 * r, 8 * r + 8)
        for a in range(0, len(entries), 1 << 20):
            e = entries[a : a + (1 << 20)]
            idx = starts[e, None] + pos
            valid = pos < lens[e, None]
            mat = np.where(valid, blob[np.minimum(idx, max(len(blob) - 1, 0))], 0).astype(np.uint8)
            out[a : a + len(e)] = np.ascontiguousarray(mat).view(">u8").ravel()
        return out

    k0 = chunk(np.arange(n), 0)
    order = np.argsort(k0, kind="stable")
    ks = k0[order]
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = ks[1:] != ks[:-1]
    # Positions (in sorted order) still tied with a neighbour, and their group labels.
    active = np.arange(n)
    label = np.cumsum(boundary) - 1
    r = 0
    while active.size:
        # A group stays only if it has two entries and one is longer than the bytes compared.
        first = np.flatnonzero(np.concatenate([[True], label[1:] != label[:-1]]))
        size = np.diff(np.append(first, active.size))
        longest = np.maximum.reduceat(lens[order[active]], first)
        keep = np.repeat((size > 1) & (longest > 8 * (r + 1)), size)
        active, label = active[keep], label[keep]
        if not active.size:
            break
        r += 1
        ck = chunk(order[active], r)
        sub = np.lexsort((ck, label))  # within each group (labels ascend): by the next 8 bytes
        order[active] = order[active][sub]
        ck = ck[sub]
        same = np.zeros(active.size, dtype=bool)
        same[1:] = label[1:] == label[:-1]
        change = np.zeros(active.size, dtype=bool)
        change[1:] = ck[1:] != ck[:-1]
        boundary[active[change & same]] = True
        label = np.cumsum(change | ~same) - 1
    union_of_sorted = np.cumsum(boundary) - 1
    entry_union = np.empty(n, dtype=np.int64)
    entry_union[order] = union_of_sorted
    reps = order[np.flatnonzero(boundary)]
    return entry_union, reps


@dataclass
class MergedSegment(NewSegment):
    """The live rows of several segments as one, written in streamed chunks."""

    name: str
    inputs: list[tuple[SegmentFile, np.ndarray]]  # (segment, live documents), in row order

    def __post_init__(self) -> None:
        self.rows = [LiveMap.of(s.doc_rows, live) for s, live in self.inputs]
        self.groups = [LiveMap.of(s.doc_groups, live) for s, live in self.inputs]

    @property
    def n_rows(self) -> int:  # type: ignore[override]
        return sum(m.n_live for m in self.rows)

    def write(self, fh: IO[bytes]) -> None:
        segs = [s for s, _ in self.inputs]
        row_base = np.cumsum([0] + [m.n_live for m in self.rows])
        group_base = np.cumsum([0] + [m.n_live for m in self.groups])
        # Per-row, per-group and per-document arrays: small next to the postings.
        docs: list[str] = []
        doc_rows, doc_groups, doc_lensum = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], []
        row_group = []
        for i, (s, live) in enumerate(self.inputs):
            docs += [d for d, keep in zip(s.doc_names, live.tolist()) if keep]
            nr = np.diff(s.doc_rows)[live]
            ng = np.diff(s.doc_groups)[live]
            doc_rows.append(row_base[i] + np.cumsum(nr))
            doc_groups.append(group_base[i] + np.cumsum(ng))
            doc_lensum.append(np.asarray(s.doc_lensum)[live])
            gmap = self.groups[i]
            _, compact = gmap.to_compact(self.rows[i].take(s.row_group).astype(np.int64))
            row_group.append(compact + group_base[i])
        row_group_all = np.concatenate(row_group).astype(np.int32) if row_group else np.zeros(0, np.int32)
        row_pid = np.concatenate([m.take(s.row_pid) for s, m in zip(segs, self.rows)] or [np.zeros(0, np.int64)])
        # Terms: the sorted union, dropping terms left with no live posting.
        blobs = [np.asarray(s.term_blob) for s in segs]
        entry_union, reps = _sorted_union(blobs, [np.asarray(s.term_off) for s in segs])
        n_union = len(reps)
        entry_base = np.cumsum([0] + [s.n_terms for s in segs])
        tmaps = [entry_union[entry_base[i] : entry_base[i + 1]] for i in range(len(segs))]
        counts = [self._live_counts(s, self.rows[i]) for i, s in enumerate(segs)]
        total = np.zeros(n_union, dtype=np.int64)
        for tm, c in zip(tmaps, counts):
            total[tm] += c
        out_ptr = np.zeros(n_union + 1, dtype=np.int64)
        np.cumsum(total, out=out_ptr[1:])
        keep = total > 0
        n_post = int(out_ptr[-1])
        # The kept terms' bytes, from each one's representative entry.
        blob_base = np.cumsum([0] + [len(b) for b in blobs])
        all_starts = np.concatenate([np.asarray(s.term_off[:-1]) + blob_base[i] for i, s in enumerate(segs)])
        all_lens = np.concatenate([np.diff(np.asarray(s.term_off)) for s in segs])
        rep = reps[keep]
        lens = all_lens[rep]
        off = np.zeros(len(rep) + 1, dtype=np.int64)
        np.cumsum(lens, out=off[1:])
        src = np.repeat(all_starts[rep] - off[:-1], lens) + np.arange(int(off[-1]), dtype=np.int64)
        blob = np.concatenate(blobs)[src] if len(src) else np.zeros(0, np.uint8)
        del src
        post_ptr = np.concatenate([out_ptr[:-1][keep], out_ptr[-1:]])
        clipped_sum = np.concatenate(doc_lensum) if doc_lensum else np.zeros(0)
        w = _NpzWriter(fh)
        w.add_bytes(
            "meta.json",
            _meta(
                int(row_base[-1]),
                int(group_base[-1]),
                int(keep.sum()),
                n_post,
                docs,
                groups_sorted=all(s.groups_sorted for s in segs),
                pids_sorted=bool(np.all(np.diff(row_pid) > 0)),
            ),
        )
        w.add_array("doc_rows", np.concatenate(doc_rows))
        w.add_array("doc_groups", np.concatenate(doc_groups))
        w.add_array("doc_lensum", clipped_sum.astype(np.float64))
        w.add_array("row_pid", row_pid)
        del row_pid
        w.add_array("row_len", np.concatenate([m.take(s.row_len) for s, m in zip(segs, self.rows)]))
        w.add_array("row_group", row_group_all)
        del row_group_all, row_group
        w.add_array("group_len", np.concatenate([m.take(s.group_len) for s, m in zip(segs, self.groups)]))
        w.add_array("group_page", np.concatenate([m.take(s.group_page) for s, m in zip(segs, self.groups)]))
        w.add_array("term_blob", blob)
        w.add_array("term_off", off)
        w.add_array("term_key", _prefix_keys(blob, off))
        del blob
        w.add_array("post_ptr", post_ptr)
        encoded: dict[str, list[np.ndarray]] = {k: [] for k in ("term_first", "gap_pos", "gap_val", "tf_pos", "tf_val")}
        with tempfile.TemporaryFile(dir=getattr(fh, "name", None) and Path(fh.name).parent) as tf_file:

            def gaps() -> Iterator[np.ndarray]:
                for a, b, rows, tf in self._postings(tmaps, counts, out_ptr, row_base):
                    base = int(out_ptr[a])
                    enc = _encode(rows, tf, out_ptr[a : b + 1] - base, base)
                    for k, parts in encoded.items():
                        parts.append(enc[k])
                    tf_file.write(memoryview(enc["post_tf8"]).cast("B"))
                    yield enc["post_gap"]

            w.add_stream("post_gap", np.uint16, n_post, gaps())
            tf_file.seek(0)
            w.add_stream("post_tf8", np.uint8, n_post, _read_chunks(tf_file, np.uint8))
        first = np.concatenate(encoded.pop("term_first")) if n_union else np.zeros(0, np.int32)
        w.add_array("term_first", first[keep].astype(np.int32))
        dtypes = {"gap_pos": np.int64, "gap_val": np.int32, "tf_pos": np.int64, "tf_val": np.uint32}
        for k, parts in encoded.items():
            w.add_array(k, np.concatenate(parts).astype(dtypes[k]) if parts else np.zeros(0, dtypes[k]))
        w.close()

    def _live_counts(self, seg: SegmentFile, rows: LiveMap) -> np.ndarray:
        """Live postings per local term (a chunked pass when some rows are dead)."""
        df = seg.df()
        if rows.all_live:
            return df.astype(np.int64)
        dense = rows.dense()
        out = np.zeros(seg.n_terms, dtype=np.int64)
        for a, b in _term_chunks(seg.post_ptr, MERGE_CHUNK):
            lo = int(seg.post_ptr[a])
            alive = (dense[seg.postings_range(a, b, read=True)[0]] >= 0).astype(np.int64)
            c = np.concatenate([[0], np.cumsum(alive)])
            ptr = np.asarray(seg.post_ptr[a : b + 1]) - lo
            out[a:b] = c[ptr[1:]] - c[ptr[:-1]]
        return out

    def _postings(
        self,
        tmaps: list[np.ndarray],
        counts: list[np.ndarray],
        out_ptr: np.ndarray,
        row_base: np.ndarray,
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """The output postings chunk by chunk, (a, b, rows, tf) for union terms
        [a, b): each input's slice of those terms, its live rows renumbered,
        placed after the earlier inputs' rows of the same term."""
        segs = [s for s, _ in self.inputs]
        dense = [None if m.all_live else m.dense() for m in self.rows]
        for a, b in _term_chunks(out_ptr, MERGE_CHUNK):
            base = int(out_ptr[a])
            m = int(out_ptr[b]) - base
            rows_out = np.empty(m, dtype=np.int64)
            tf_out = np.empty(m, dtype=np.uint32)
            fill = out_ptr[a:b] - base
            for i, s in enumerate(segs):
                tm = tmaps[i]
                la, lb = int(np.searchsorted(tm, a)), int(np.searchsorted(tm, b))
                if la == lb:
                    continue
                r, tf = s.postings_range(la, lb, read=True)
                if dense[i] is not None:
                    new = dense[i][r]
                    alive = new >= 0
                    r, tf = new[alive], tf[alive]
                c = counts[i][la:lb]
                tt = tm[la:lb] - a
                excl = np.concatenate([[0], np.cumsum(c)[:-1]])
                pos = np.repeat(fill[tt] - excl, c) + np.arange(len(r))
                rows_out[pos] = r + row_base[i]
                tf_out[pos] = tf
                fill[tt] += c
            yield a, b, rows_out, tf_out


def _term_chunks(ptr: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """Ranges [a, b) of terms holding about ``budget`` postings each (a term
    with more is a range of its own)."""
    n = len(ptr) - 1
    a = 0
    while a < n:
        target = int(ptr[a]) + budget
        b = int(np.searchsorted(ptr, target, side="right")) - 1
        b = min(max(b, a + 1), n)
        yield a, b
        a = b


def _read_chunks(fh: IO[bytes], dtype: type, items: int = MERGE_CHUNK) -> Iterator[np.ndarray]:
    size = np.dtype(dtype).itemsize
    while True:
        data = fh.read(items * size)
        if not data:
            return
        yield np.frombuffer(data, dtype=dtype)


# -- files -------------------------------------------------------------------------------------
def write_segment_file(path: Path, seg: NewSegment) -> None:
    """Write under a temporary name, fsync, rename into place, fsync the folder:
    a crash leaves the file whole or absent (then unreferenced, it is garbage)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        seg.write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- migration from format 1 -------------------------------------------------------------------
def _from_format_1(path: Path) -> BuiltSegment:
    """A format-1 segment (CSR counts over a string vocabulary) as a format-2 one."""
    import scipy.sparse as sp

    with np.load(path, allow_pickle=False) as z:
        pids, doc_index, doc_names = z["pids"], z["doc_index"].astype(np.int64), z["doc_names"].tolist()
        pages, doc_len, vocab = z["pages"], z["doc_len"], z["vocab"]
        counts = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(len(pids), len(vocab)))
    # Format 2 keeps a document's rows together; format 1 wrote them so, but make sure.
    order = np.argsort(doc_index, kind="stable")
    if np.any(order != np.arange(len(order))):
        pids, doc_index, pages, doc_len = pids[order], doc_index[order], pages[order], doc_len[order]
        counts = counts[order]
    doc_rows = np.searchsorted(doc_index, np.arange(len(doc_names) + 1), side="left").astype(np.int64)
    terms_order = np.argsort(vocab) if len(vocab) else np.zeros(0, np.int64)
    csc = counts.tocsc()[:, terms_order]
    csc.sort_indices()
    return BuiltSegment(
        path.stem,
        [str(d) for d in doc_names],
        doc_rows,
        pids.astype(np.int64),
        doc_len.astype(np.float32),
        pages.astype(np.int32),
        [str(t) for t in vocab[terms_order].tolist()],
        csc.indptr.astype(np.int64),
        csc.indices.astype(np.int32),
        np.rint(csc.data).astype(np.int64),
    )


def _from_format_2(path: Path) -> BuiltSegment:
    """A format-2 segment (rows and frequencies at full width) as a format-3 one."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta.json"]).decode("utf-8"))
        blob, off = z["term_blob"].tobytes(), z["term_off"].tolist()
        return BuiltSegment(
            path.stem,
            list(meta["docs"]),
            z["doc_rows"],
            z["row_pid"],
            z["row_len"],
            z["group_page"][z["row_group"]],
            [blob[a:b].decode("utf-8") for a, b in pairwise(off)],
            z["post_ptr"],
            z["post_row"],
            z["post_tf"].astype(np.int64),
        )


def segment_version(path: Path) -> int:
    """The format of a segment file: 1 (no meta.json), else meta.json's version."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "meta.json" not in names:
                return 1 if "indptr.npy" in names else 0
            return int(json.loads(zf.read("meta.json")).get("version", 0))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise IndexError_(f"{path}: unreadable segment ({exc})") from exc


def is_format_1(path: Path) -> bool:
    return segment_version(path) == 1


def upgrade_segments(index_dir: Path) -> None:
    """Rewrite every segment of an index in an older format (1 or 2) in the
    current one, each under its own name (temporary file, fsync, rename), so
    no SQLite row changes and a crash half-way leaves a mix that the next run
    finishes. Idempotent. Holds one segment in memory at a time."""
    seg_dir = Path(index_dir) / "segments"
    if not seg_dir.is_dir():
        return
    for path in sorted(seg_dir.glob("seg-*.npz")):
        version = segment_version(path)
        if version >= SEGMENT_VERSION or version == 0:
            continue
        seg = _from_format_1(path) if version == 1 else _from_format_2(path)
        write_segment_file(path, seg)
        logger.info("%s: rewritten in segment format %d (%d passages)", path, SEGMENT_VERSION, seg.n_rows)
