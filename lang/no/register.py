"""The national register of municipalities (``kommuner.tsv``, from SSB's
classification 131): numbers, names and the numbers they had before the 2020
and 2024 reforms, so "0602", "3005" and "3301" all mean Drammen."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from plansok.lang.no import read_lines

_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "-": " ", "_": " "})


@lru_cache(maxsize=65536)  # a document names the same few words thousands of times
def fold(name: str) -> str:
    """A name without case, diacritics or the ASCII spellings of file names:
    Flå, Flaa and flaa are "fla"; Øvre Eiker and Ovre-Eiker are "ovre eiker"."""
    s = name.casefold().strip().translate(_FOLD)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("aa", "a").replace("oe", "o")
    return re.sub(r"\s+", " ", s)


@dataclass(frozen=True)
class Municipality:
    nr: str
    name: str
    valid_from: str
    valid_to: str
    successors: tuple[str, ...]
    county: str

    @property
    def current(self) -> bool:
        return not self.valid_to

    @property
    def names(self) -> tuple[str, ...]:
        """The official name and each of its parallel forms ("Kárášjohka - Karasjok")."""
        return (self.name, *(p.strip() for p in self.name.split(" - ") if " - " in self.name))


class Register:
    def __init__(self, rows: list[Municipality]) -> None:
        self.by_nr = {m.nr: m for m in rows}
        self._numbers_cache: dict[str, frozenset[str]] = {}
        self._preds: dict[str, list[str]] = {}
        for m in rows:
            for s in m.successors:
                self._preds.setdefault(s, []).append(m.nr)
        self._by_name: dict[str, set[str]] = {}
        for m in rows:
            for n in m.names:
                self._by_name.setdefault(fold(n), set()).add(m.nr)

    def lineage(self, nr: str) -> set[str]:
        """Every number of the same municipality over time: what it became and
        what it was made of (not the siblings of a split)."""
        return self._walk(nr, lambda n: self.by_nr[n].successors) | self._walk(nr, lambda n: self._preds.get(n, []))

    def _walk(self, nr: str, step: Callable[[str], Sequence[str]]) -> set[str]:
        seen = {nr}
        todo = [nr]
        while todo:
            for x in step(todo.pop()):
                if x in self.by_nr and x not in seen:
                    seen.add(x)
                    todo.append(x)
        return seen

    def current_of(self, nr: str) -> list[Municipality]:
        """The municipalities valid now that a number became (two for a split)."""
        out, todo, seen = [], [nr], set()
        while todo:
            n = todo.pop()
            m = self.by_nr.get(n)
            if m is None or n in seen:
                continue
            seen.add(n)
            if m.current:
                out.append(m)
            else:
                todo.extend(m.successors)
        return out

    def numbers_for(self, value: str) -> frozenset[str]:
        """The numbers a name or number given by a user may mean (with their history)."""
        hit = self._numbers_cache.get(value)
        if hit is None:
            hit = self._numbers_cache[value] = frozenset(self._numbers_for(value))
        return hit

    def _numbers_for(self, value: str) -> set[str]:
        v = value.strip()
        if v.isdigit():
            v = v.zfill(4)
            return self.lineage(v) if v in self.by_nr else set()
        out: set[str] = set()
        for nr in self._by_name.get(fold(v), ()):
            out |= self.lineage(nr)
        return out

    def names(self) -> list[str]:
        return sorted({m.name for m in self.by_nr.values()})

    def name_of(self, nr: str) -> str | None:
        m = self.by_nr.get(nr)
        return m.name if m else None


@cache
def register() -> Register:
    rows = []
    for line in read_lines("kommuner.tsv"):
        c = line.split("\t")
        if c[0] == "nr":
            continue
        c += [""] * (6 - len(c))
        rows.append(Municipality(c[0], c[1], c[2], c[3], tuple(s for s in c[4].split(",") if s), c[5]))
    return Register(rows)
