"""Apertium's nynorsk–bokmål analysers and bilingual dictionary, through ``lt-proc``.

Apertium's ``apertium-nno-nob`` (Debian package of the same name, GPL-2.0+;
its lexicons are built on Norsk ordbank) ships finite-state morphological
analysers for both written standards and a bilingual nn→nb dictionary. We run
the ``lt-proc`` program from ``lttoolbox`` as a separate process, so no GPL
code is linked into plansok: the transducers are read by Apertium's own tool.

One process per transducer stays open in null-flush mode (``-z``): a batch of
words goes in, terminated by a NUL, and its analyses come back terminated by
a NUL. Starting a process costs about 0.1 s, a batch of 10,000 words about
0.1 s more.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO

from plansok.errors import PlansokError

APERTIUM_DIRS = (Path("/usr/share/apertium/apertium-nno-nob"), Path("/usr/local/share/apertium/apertium-nno-nob"))
# Analysers: the bokmål one is the source side of nob-nno, the nynorsk one of nno-nob.
ANALYSERS = {"nb": "nob-nno.automorf.bin", "nn": "nno-nob.automorf.bin"}
BIDIX_NN_NB = "nno-nob.autobil.bin"

INSTALL_HINT = (
    "plansok's Norwegian analysis needs Apertium's nynorsk–bokmål data and lttoolbox: "
    "run `make system-deps` (or `apt-get install apertium-nno-nob lttoolbox`)"
)

# ^surface/analysis/analysis$ ; unknown words come back as ^surface/*surface$
_UNIT_RE = re.compile(r"\^((?:[^$\\]|\\.)*)\$")
_TAG_RE = re.compile(r"<([^>]+)>")
# Characters with a meaning in Apertium's stream format; a word holding one is not sent.
_SPECIAL = set("^$/<>[]{}\\@*#+~")


class ApertiumMissing(PlansokError):
    """Apertium's data or lt-proc is not installed."""


@dataclass(frozen=True)
class Unit:
    """One lexical unit of an analysis: lemma and tags (``barn``, ``("n", "nt", "sg", "ind")``)."""

    lemma: str
    tags: tuple[str, ...]

    @property
    def pos(self) -> str:
        return self.tags[0] if self.tags else ""

    @property
    def lexical(self) -> str:
        """The unit in stream format, for the bilingual dictionary."""
        return self.lemma + "".join(f"<{t}>" for t in self.tags)


@dataclass(frozen=True)
class Reading:
    """One analysis of a word form: a single unit, or a compound (modifiers then head)."""

    units: tuple[Unit, ...]

    @property
    def head(self) -> Unit:
        return self.units[-1]

    @property
    def is_compound(self) -> bool:
        return len(self.units) > 1


def find_data_dir() -> Path | None:
    override = os.environ.get("PLANSOK_APERTIUM_DIR")
    for d in ((Path(override),) if override else ()) + APERTIUM_DIRS:
        if (d / ANALYSERS["nb"]).exists() and (d / ANALYSERS["nn"]).exists() and (d / BIDIX_NN_NB).exists():
            return d
    return None


def apertium_version(data_dir: Path) -> str:
    """The installed apertium-nno-nob and lttoolbox versions, recorded in every index."""
    out = []
    for pkg in ("apertium-nno-nob", "lttoolbox"):
        try:
            v = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            v = ""
        if not v:
            # Not a Debian install: the transducer's size and date identify it.
            st = (data_dir / ANALYSERS["nb"]).stat()
            v = f"file:{st.st_size}"
        out.append(f"{pkg}={v}")
    return ";".join(out)


# Linux's pipe buffer is 64 KiB; a batch of at most half of it is written at once.
_DIRECT_WRITE = 32 * 1024


class LtProc:
    """One ``lt-proc`` process over one transducer, fed in null-flushed batches."""

    def __init__(self, transducer: Path, mode: str) -> None:
        exe = shutil.which("lt-proc")
        if exe is None:
            raise ApertiumMissing(INSTALL_HINT)
        self._args = [exe, "-z", mode, str(transducer)]
        self._proc: subprocess.Popen[bytes] | None = None
        # A Searcher may be shared by server threads; one batch at a time per process.
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        return self._proc

    def run(self, text: str) -> str:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            data = text.encode("utf-8") + b"\0"
            writer = None
            if len(data) <= _DIRECT_WRITE:
                # Fits the empty pipe's buffer: the write cannot block, and most
                # batches are this small (a thread per batch cost more than lt-proc).
                _feed(proc.stdin, data)
            else:
                # Write from another thread: lt-proc answers while it reads, and a large
                # batch would otherwise fill both pipes and leave each side waiting.
                writer = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
                writer.start()
            buf = bytearray()
            fd = proc.stdout.fileno()
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise ApertiumMissing(f"lt-proc ended unexpectedly ({' '.join(self._args)})")
                buf += chunk
                if buf.endswith(b"\0"):
                    break
            if writer is not None:
                writer.join()
            return buf[:-1].decode("utf-8", errors="replace")

    def close(self, wait: bool = True) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            if wait:
                self._proc.wait(timeout=5)
        self._proc = None

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        # lt-proc ends on the end of its input; waiting for it (a timed wait polls
        # with sleeps) only delayed the end of every short command.
        with contextlib.suppress(Exception):
            self.close(wait=False)


_HOMONYM_RE = re.compile(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]")


def _feed(stream: IO[bytes], data: bytes) -> None:
    stream.write(data)
    stream.flush()


def _parse_unit(text: str) -> Unit:
    m = _TAG_RE.search(text)
    lemma = text[: m.start()] if m else text
    # "barnevern¹" marks a homonym; "ta# opp" a verb with a particle.
    lemma = _HOMONYM_RE.sub("", lemma.split("#", 1)[0]).strip()
    return Unit(lemma.lower(), tuple(_TAG_RE.findall(text)))


def _parse_reading(analysis: str) -> Reading:
    # Compound parts are joined by '+' (the modifiers carry <cmp>).
    return Reading(tuple(_parse_unit(u) for u in analysis.split("+") if u))


def _sendable(word: str) -> bool:
    return bool(word) and not any(c in _SPECIAL for c in word) and not any(c.isspace() for c in word)


class Apertium:
    """Readings of word forms in either standard, and nynorsk lemmas in bokmål."""

    def __init__(self, data_dir: Path | None = None) -> None:
        d = data_dir or find_data_dir()
        if d is None:
            raise ApertiumMissing(INSTALL_HINT)
        self.data_dir = d
        self._analysers = {std: LtProc(d / name, "-e") for std, name in ANALYSERS.items()}
        self._bidix = LtProc(d / BIDIX_NN_NB, "-b")

    @cached_property
    def version(self) -> str:
        return apertium_version(self.data_dir)

    def analyse(self, words: list[str], standard: str) -> dict[str, list[Reading]]:
        """Readings of each word in one standard's analyser; unknown words get none.

        Words go one per line, with a full stop between them so that the
        analyser's multi-word entries ("i dag") never join two of our words.
        """
        sendable = [w for w in dict.fromkeys(words) if _sendable(w)]
        out: dict[str, list[Reading]] = {w: [] for w in words}
        if not sendable:
            return out
        raw = self._analysers[standard].run("\n.\n".join(sendable))
        units = [u for u in _UNIT_RE.findall(raw) if not u.startswith("./")]
        if len(units) != len(sendable):
            # A multi-word entry or tokenisation difference: fall back to one word per batch.
            return {w: self._analyse_one(w, standard) for w in words}
        for w, unit in zip(sendable, units):
            out[w] = _readings(unit)
        return out

    def _analyse_one(self, word: str, standard: str) -> list[Reading]:
        if not _sendable(word):
            return []
        units = _UNIT_RE.findall(self._analysers[standard].run(word))
        return _readings(units[0]) if len(units) == 1 else []

    def to_bokmaal(self, units: list[Unit]) -> dict[Unit, tuple[str, ...]]:
        """Bokmål lemmas of each nynorsk unit, where the dictionary has any.

        A translation that differs from the nynorsk word comes first: the
        dictionary lists låginntektsfamilie -> (låginntektsfamilie,
        lavinntektsfamilie), and the bokmål norm is the second."""
        todo = list(dict.fromkeys(u for u in units if _sendable(u.lemma)))
        if not todo:
            return {}
        # The bidix mode answers a batch only once a character follows its last "$".
        raw = self._bidix.run("\n".join(f"^{u.lexical}$" for u in todo) + "\n")
        found = _UNIT_RE.findall(raw)
        out: dict[Unit, tuple[str, ...]] = {}
        if len(found) != len(todo):
            return out
        for u, unit in zip(todo, found):
            alts = [_parse_unit(a).lemma for a in unit.split("/")[1:] if a and not a.startswith("@")]
            alts = list(dict.fromkeys(alts))
            if alts:
                out[u] = tuple(sorted(alts, key=lambda a: a == u.lemma))
        return out

    def close(self) -> None:
        for p in (*self._analysers.values(), self._bidix):
            p.close()


def _readings(unit: str) -> list[Reading]:
    parts = unit.split("/")
    alts = parts[1:]
    if not alts or alts[0].startswith("*"):
        return []
    return [_parse_reading(a) for a in alts if a and not a.startswith("*")]
