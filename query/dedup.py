"""Fold near-duplicate passages: plans copy paragraphs between documents and
years, and a researcher wants one hit that lists where else it stands."""

from __future__ import annotations

import re
import zlib

_WORD_RE = re.compile(r"\w+")
SHINGLE = 4
THRESHOLD = 0.8


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
    owner = list(range(len(sigs)))
    by_probe: dict[int, list[int]] = {}
    for i, sig in enumerate(sigs):
        probe = sorted(sig)[:probes]
        candidates = dict.fromkeys(j for h in probe for j in by_probe.get(h, ()))
        for j in candidates:
            if overlap(sig, sigs[j]) >= threshold:
                owner[i] = j
                break
        else:
            for h in probe:
                by_probe.setdefault(h, []).append(i)
    return owner
