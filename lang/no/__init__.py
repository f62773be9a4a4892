"""Norwegian (bokmål and nynorsk) language data: stop words, compound affixes,
the municipality register. Loaders only; no algorithms."""

from __future__ import annotations

from functools import cache
from importlib import resources


def read_lines(name: str) -> list[str]:
    """Non-comment, non-empty lines of a data file in this folder."""
    text = resources.files("plansok.lang.no").joinpath(name).read_text("utf-8")
    return [ln.rstrip("\n") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@cache
def stop_words() -> frozenset[str]:
    return frozenset(w.strip() for w in read_lines("stopwords_nb.txt") + read_lines("stopwords_nn.txt"))


@cache
def _affixes() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for line in read_lines("compound_affixes.tsv"):
        kind, affix = line.split("\t")[:2]
        out.setdefault(kind, []).append(affix.strip())
    return {k: tuple(v) for k, v in out.items()}


# Linking elements between compound parts; "" (no linker) is always allowed.
LINKERS: tuple[str, ...] = (*_affixes()["linker"], "")
NOT_MODIFIERS: frozenset[str] = frozenset(_affixes()["prefix"])
NOT_HEADS: frozenset[str] = frozenset(_affixes()["suffix"])
