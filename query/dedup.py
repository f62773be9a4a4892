"""Fold near-duplicate passages: plans copy paragraphs between documents and
years, and a researcher wants one hit that lists where else it stands."""

from __future__ import annotations

import heapq
import itertools
import re
import zlib

import numpy as np

_WORD_RE = re.compile(r"\w+")
SHINGLE = 4
THRESHOLD = 0.8
# Up to this many texts, fold_signatures compares all pairs at once.
TABLE_MAX = 1024


def shingles(text: str, n: int = SHINGLE) -> frozenset[int]:
    words = _WORD_RE.findall(text.lower())
    if len(words) < n:
        return frozenset({zlib.crc32(" ".join(words).encode())})
    return frozenset(zlib.crc32(" ".join(words[i : i + n]).encode()) for i in range(len(words) - n + 1))


def overlap(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of the smaller text's shingles found in the other: a paragraph
    copied with a sentence added or a word changed still counts as a copy."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def fold(texts: list[str], threshold: float = THRESHOLD, probes: int = 6) -> list[int]:
    """See :func:`fold_signatures`; shingles the texts first."""
    return fold_signatures([shingles(t) for t in texts], threshold, probes)


def fold_signatures(sigs: list[frozenset[int]], threshold: float = THRESHOLD, probes: int = 6) -> list[int]:
    """For each text, the index of the earlier text it duplicates, or its own
    index if it is the first of its kind (texts come best-ranked first).

    Candidates are found through their smallest shingle hashes (bottom-k
    min-hashing): two texts that mostly overlap almost surely share one, so
    a page of hits costs a few set look-ups per text rather than all pairs.
    """
    n = len(sigs)
    # Lightly edited copies share their probes but stay under the threshold, so
    # nearly every candidate would be compared: which pairs overlap enough comes
    # from one sparse product in C instead, and a text with no such earlier text
    # skips its candidates. The table is square, so a very long list compares sets.
    table = None
    if 2 <= n <= TABLE_MAX:
        try:
            table = _overlapping(sigs, threshold, probes)
        except OverflowError:  # hashes beyond 64 bits (not shingles()'): compare the sets
            table = None
    owner = list(range(n))
    by_probe: dict[int, list[int]] = {}
    for i, sig in enumerate(sigs):
        probe = heapq.nsmallest(probes, sig) if table is None else table[2][i]
        if table is None or table[1][i]:
            candidates = dict.fromkeys(j for h in probe for j in by_probe.get(h, ()))
            for j in candidates:
                if (overlap(sig, sigs[j]) >= threshold) if table is None else table[0][i][j]:
                    owner[i] = j
                    break
            else:
                for h in probe:
                    by_probe.setdefault(h, []).append(i)
        else:
            for h in probe:
                by_probe.setdefault(h, []).append(i)
    return owner


def _overlapping(
    sigs: list[frozenset[int]], threshold: float, probes: int
) -> tuple[list[list[bool]], list[bool], list[list[int]]]:
    """Which pairs of signatures reach ``threshold`` by :func:`overlap` (a
    square table), for each text whether any earlier one does, and each
    text's ``probes`` smallest hashes."""
    import scipy.sparse as sp  # on first use: a one-shot query with no duplicates to fold does without it

    n = len(sigs)
    lens = np.fromiter((len(s) for s in sigs), dtype=np.int64, count=n)
    flat = np.fromiter(itertools.chain.from_iterable(sigs), dtype=np.int64, count=int(lens.sum()))
    uniq, cols = np.unique(flat, return_inverse=True)
    indptr = np.concatenate([[0], np.cumsum(lens)])
    m = sp.csr_matrix(
        (np.ones(len(flat), dtype=np.int32), cols.ravel(), indptr), shape=(n, int(cols.max(initial=-1)) + 1)
    )
    # A column is a hash's rank, so a row's first columns are its smallest hashes.
    m.sort_indices()
    smallest = [uniq[m.indices[a : min(b, a + probes)]].tolist() for a, b in itertools.pairwise(m.indptr.tolist())]
    shared = (m @ m.T).toarray().astype(np.float64)
    small = np.minimum.outer(lens, lens)
    # The same division as overlap()'s, so a share at the threshold decides alike;
    # an empty text overlaps nothing.
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(small > 0, shared / np.maximum(small, 1), 0.0)
    ok = share >= threshold
    earlier = np.tril(ok, -1).any(axis=1)
    return ok.tolist(), earlier.tolist(), smallest
