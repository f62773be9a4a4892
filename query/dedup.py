"""Fold near-duplicate passages: plans copy paragraphs between documents and
years, and a researcher wants one hit that lists where else it stands."""

from __future__ import annotations

import re
import zlib

_WORD_RE = re.compile(r"\w+")
SHINGLE = 4
THRESHOLD = 0.7


def shingles(text: str, n: int = SHINGLE) -> frozenset[int]:
    words = _WORD_RE.findall(text.lower())
    if len(words) < n:
        return frozenset({zlib.crc32(" ".join(words).encode())})
    return frozenset(zlib.crc32(" ".join(words[i : i + n]).encode()) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def fold(texts: list[str], threshold: float = THRESHOLD) -> list[int]:
    """For each text, the index of the earlier text it duplicates, or its own
    index if it is the first of its kind (texts come best-ranked first)."""
    sigs = [shingles(t) for t in texts]
    owner = list(range(len(texts)))
    keep: list[int] = []
    for i, sig in enumerate(sigs):
        for j in keep:
            if jaccard(sig, sigs[j]) >= threshold:
                owner[i] = j
                break
        else:
            keep.append(i)
    return owner
