"""Plan structure: the goals, sub-goals, strategies and measures a plan is built of.

Norwegian plans state their commitments in a few recurring shapes, in both
written standards:

- labelled lists: "Mål 1. …", "Delmål • … • …", "Strategi: - … - …",
  "Strategi- slik gjer vi det:  …", "Tiltak o … o …";
- numbered goals under one label: "Mål 1. Gol skal … 2. Gol skal …";
- goals as headings: "4.2 Mål 1 Arealplanleggingen vektlegger …";
- handlingsplan tables, "Mål | Tiltak | Ansvar | Frist" (ruled tables reach
  the index as rows with " | " between cells), or the same table flattened
  by the PDF into runs of "Tiltak …", "Ansvar …", "Gjennomføres …".

The extractor reads a document's indexed pages (the lines survive there; in
passages they are reflowed), follows those shapes with the unit words of
``lang/no/plan_units.tsv``, and gives each unit its exact text, page, section
and citation. What it cannot tell it leaves out rather than guesses: an
"Ansvar" column whose cells cannot be lined up with the measures is not
assigned. ``views/units_eval.py`` measures it against hand-labelled plans.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from plansok.analysis.analyzer import Analyzer
from plansok.lang.no import read_lines, stop_words
from plansok.models import DocumentMeta, Page, Passage, cite

logger = logging.getLogger(__name__)

UNIT_KINDS = ("mål", "delmål", "strategi", "tiltak")
ATTRIBUTES = ("ansvar", "frist")
# A unit's parent is the nearest unit of a kind above it (a measure under its strategy or goal).
_RANK = {k: i for i, k in enumerate(UNIT_KINDS)}

MIN_WORDS = 2
MAX_WORDS = 60  # longer than this without a list marker is prose, not a unit
CUT_WORDS = 30  # a unit this long that goes on after a full sentence is cut there ...
CUT_REST = 15  # ... when the rest is at least this long (the prose after a list)
MAX_INTRO_WORDS = 12  # "Tiltak For å fremme en sosialt bærekraftig utvikling skal Kongsberg kommune:"
MAX_HEADING_WORDS = 12
SAME_UNIT = 0.85  # token overlap (Dice) above which two statements of one kind are one unit
EDGE_LINES = 3  # running headers and footers are looked for among a page's first and last lines
MIN_RUNNING_SHARE = 0.3

_STRONG_BULLETS = "•▪◦‣●■\uf0b7\uf0a7\uf0d8\uf076\uf0fc"
_EVENT = re.compile(
    r"(?P<nl>\n[ \t]*(?:\n[ \t]*)*)"
    rf"|(?P<bullet>[{_STRONG_BULLETS}])"
    r"|(?P<dash>(?<!\S)[-–−](?=\s+\S))"
    r"|(?P<obul>(?<!\S)o(?=[ \t]+[^\W\d_]))"
    r"|(?P<num>(?<![\S])\d{1,2}[.)](?=[ \t]+[«\"\w]))"
    r"|(?P<word>[^\W\d_][\w-]*)"
)
_NUMBERED_LABEL = re.compile(r"[ \t]*(\d{1,2}(?:\.\d{1,2})?)[.:)]?[ \t]+(?=[A-ZÆØÅ«\d])")
_INTRO = re.compile(r"[ \t]*[-–]?[ \t]*([^:;]{0,120}?)[:;](?=\s|$)")
_MARKER_NEXT = re.compile(rf"\s*(?:[{_STRONG_BULLETS}]|[-–−o](?=\s))")
_EOL = re.compile(r"[ \t]*(?:\n|$)")
_RUN_IN = re.compile(r"[ \t]+(?=[A-ZÆØÅ«])")
_HEADING_NUMBER = re.compile(r"^[ \t]*\d{1,2}(?:\.\d{1,2}){0,4}\.?[ \t]+")
# "Hovedansvarlig for etablering er kommuneoverlegen", "ansvaret ligg hos rådmannen".
_RESPONSIBLE = re.compile(
    r"(?<![\w-])(?:hoved|hovud)?ansvar(?:lig|leg|et)?\s+(?:for\s+[^.;:\n]{1,60}?\s+)?"
    r"(?:er|blir|vert|ligg(?:er)?\s+(?:hos|til))\s+(?P<who>[^.;\n]{2,120})",
    re.I,
)
_CONTENTS_ENTRY = re.compile(r"(?:\.{3,}|…)\s*\d{1,3}(?:\s|$)")
_OTHER_INTRO = re.compile(r"^\s*[A-ZÆØÅ][^.:;\n]{0,60}:\s")  # "Innsatsområder: …", a list of another kind
_HEADING = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){0,4})\.?[ \t]+([A-ZÆØÅ][^\n]*)$")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_UPPER_START = re.compile(r"\s*[«\"(]?[A-ZÆØÅ]")
_LOWER_START = re.compile(r"\s*[a-zæøå0-9%)]")
_SENTENCE_END = re.compile(r"(?:(?<=[^\W\d_]{2}[.!?])|(?<=[^\W\d_][»\")][.!?]))[»\")]?\s+(?=[«\"]?[A-ZÆØÅ])")
_ABBREVIATIONS = {"eks", "iht", "inkl", "jf", "jfr", "ca", "pr", "nr", "kap", "mill", "osv", "mv", "dvs", "evt", "bl"}
_PAGE_NUMBER = re.compile(r"^\s*(?:side\s*)?\d{1,4}(?:\s*(?:av|/|of)\s*\d{1,4})?\s*$", re.I)
_YEAR = r"(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)?\d{2,3})?"
# A goal stated in running text: "det er satt som mål at X", "kommunens mål er å X".
_PROSE_GOAL = re.compile(
    r"(?:som|har|med|er)\s+(?:\w+\s+){0,2}mål(?:et|a|setjinga|settingen)?\s+(?:er\s+)?(?:om\s+)?(?:at|å)\s+(?P<goal>[^.!?]+)",
    re.I,
)


@dataclass(frozen=True)
class Vocabulary:
    """The unit words of ``lang/no/plan_units.tsv``, compiled."""

    labels: dict[str, str]  # lower-case label form -> kind
    references: frozenset[str]  # "målet", "tiltaka": prose about units
    label_re: re.Pattern[str]
    time_re: re.Pattern[str]


@cache
def vocabulary() -> Vocabulary:
    labels: dict[str, str] = {}
    times: list[str] = []
    recurring: list[str] = []
    references: set[str] = set()
    for line in read_lines("plan_units.tsv"):
        cols = line.split("\t")
        if len(cols) < 4:
            raise ValueError(f"lang/no/plan_units.tsv: expected form, kind, role, standard in {line!r}")
        form, kind, role = cols[0].strip().lower(), cols[1].strip(), cols[2].strip()
        if kind not in (*UNIT_KINDS, *ATTRIBUTES, "other"):
            raise ValueError(f"lang/no/plan_units.tsv: unknown kind {kind!r} for {form!r}")
        if role == "label":
            labels[form] = kind
        elif role == "time":
            times.append(form)
        elif role == "recurring":
            recurring.append(form)
        elif role == "reference":
            references.add(form)
        else:
            raise ValueError(f"lang/no/plan_units.tsv: unknown role {role!r} for {form!r}")
    alternatives = "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in sorted(labels, key=len, reverse=True))
    label_re = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w]|-\w)", re.I)

    def alternation(forms: list[str]) -> str:
        return "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in sorted(forms, key=len, reverse=True))

    # "innen 2030", "Oppstart 2025", "i løpet av perioden 2023-2027", "innen 10 år"; "årlig", "kontinuerlig".
    time_re = re.compile(
        rf"(?<![\w-])(?:(?:{alternation(times)})(?:\s+[^\W\d_]+){{0,3}}\s+(?:{_YEAR}|\d{{1,2}}\s+år\b)"
        rf"|(?:{alternation(recurring)})(?![\w-]))",
        re.I,
    )
    return Vocabulary(labels, frozenset(references), label_re, time_re)


@dataclass
class PlanUnit:
    """One goal, sub-goal, strategy or measure, as the plan prints it."""

    kind: str  # mål, delmål, strategi, tiltak
    text: str  # the plan's words, without label, number or bullet (whitespace collapsed)
    doc_id: str
    page: int  # physical page where it is (first) stated
    section: str = ""
    passage_id: str = ""
    citation: str = ""
    number: str = ""  # "2" for "Mål 2."
    parent: str = ""  # the goal or strategy it sits under, or the heading
    ansvar: str = ""  # responsible unit, where stated
    frist: str = ""  # deadline or period, where stated
    shape: str = ""  # how it was found: label, list, table, heading
    also_pages: list[int] = field(default_factory=list)  # later pages stating it again

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PlanStructure:
    """A plan's units in reading order."""

    doc: DocumentMeta
    units: list[PlanUnit]

    def of_kind(self, kind: str) -> list[PlanUnit]:
        return [u for u in self.units if u.kind == kind]

    def counts(self) -> dict[str, int]:
        return {k: len(self.of_kind(k)) for k in UNIT_KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc.doc_id,
            "municipality": self.doc.municipality,
            "title": self.doc.title,
            "doc_type": self.doc.doc_type,
            "period": self.doc.period,
            "standard": self.doc.standard,
            "counts": self.counts(),
            "units": [u.to_dict() for u in self.units],
        }


class WordClasses:
    """Which words are verbs in the infinitive and which are names, from Apertium's analysers
    (the ones the analysis uses): a measure in a table cell usually starts with an infinitive
    ("Styrke samarbeidet …"), and a capital inside a line is a new item only when it is no name."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self._analyzer = analyzer
        self._cache: dict[str, tuple[bool, bool, bool, bool]] = {}

    def _lookup(self, words: Iterable[str]) -> None:
        todo = [w for w in dict.fromkeys(words) if w not in self._cache]
        if not todo:
            return
        analyzer = self._analyzer or Analyzer()
        self._analyzer = analyzer
        apertium = analyzer.lexicon.apertium
        found = {w: [] for w in todo}
        for std in ("nb", "nn"):
            for w, readings in apertium.analyse(todo, std).items():
                found[w].extend(readings)
        for w in todo:
            heads = [r.head for r in found[w]]
            infinitive = any(u.pos == "vblex" and "inf" in u.tags and "pasv" not in u.tags for u in heads)
            name = any(u.pos == "np" for u in heads)
            finite = bool(heads) and all(
                u.pos in ("vblex", "vbmod", "vbser") and ("pres" in u.tags or "pret" in u.tags) for u in heads
            )
            self._cache[w] = (infinitive, name, bool(heads), finite)

    def prepare(self, words: Iterable[str]) -> None:
        self._lookup(words)

    def infinitive(self, word: str) -> bool:
        self._lookup([word])
        return self._cache[word][0] and not self._cache[word][1]

    def common(self, word: str) -> bool:
        """A known word that is not a name (asked with its capital, as printed)."""
        self._lookup([word])
        _, name, known, _ = self._cache[word]
        return known and not name

    def finite(self, word: str) -> bool:
        """Only a finite verb ("består"): the word before it is a subject, not a measure's infinitive."""
        self._lookup([word])
        return self._cache[word][3]


# -- the document as one text ----------------------------------------------------------


@dataclass
class _Text:
    text: str
    starts: list[int]  # offset where each page starts
    numbers: list[int]  # the pages' physical numbers

    def page_at(self, pos: int) -> int:
        return self.numbers[max(0, bisect.bisect_right(self.starts, pos) - 1)]


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.lower().split()))


def _furniture(pages: Sequence[Page]) -> set[str]:
    """Running headers and footers left in the page text: lines near the edges of many pages."""
    seen: dict[str, set[int]] = {}
    for page in pages:
        lines = [ln for ln in page.text.split("\n") if ln.strip()]
        for ln in lines[:EDGE_LINES] + lines[-EDGE_LINES:]:
            seen.setdefault(_line_key(ln), set()).add(page.number)
    need = max(3, MIN_RUNNING_SHARE * len(pages))
    return {k for k, nums in seen.items() if len(nums) >= need and k.strip("# ")}


def _document_text(pages: Sequence[Page]) -> _Text:
    read = sorted((p for p in pages if p.source not in ("scan", "empty") and p.text.strip()), key=lambda p: p.number)
    running = _furniture(read)
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for page in read:
        lines = page.text.split("\n")
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])
        kept = [
            ln
            for i, ln in enumerate(lines)
            if not (i in edges and (_line_key(ln) in running or _PAGE_NUMBER.match(ln)))
        ]
        body = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", "\n".join(kept)).strip("\n")
        starts.append(pos)
        parts.append(body)
        pos += len(body) + 1  # pages are joined by one newline: a list may run on over the break
    return _Text("\n".join(parts), starts, [p.number for p in read])


# -- the scanner -----------------------------------------------------------------------


@dataclass
class _Raw:
    kind: str
    start: int
    end: int
    number: str = ""
    shape: str = "label"
    parent: str = ""
    ansvar: str = ""
    frist: str = ""


@dataclass
class _Item:
    start: int
    number: int | None = None  # for the next number of a numbered list
    label: str = ""  # the number as printed ("1.1")
    marked: bool = False  # opened by a bullet, dash or number (else a line or a run-in label)


class _Scanner:
    """Walks the document text once, following labels, list markers and headings."""

    def __init__(self, doc: _Text, words: WordClasses) -> None:
        self.t = doc.text
        self.words = words
        self.vocab = vocabulary()
        self.stop = stop_words()
        self.out: list[_Raw] = []
        self.ctx: str | None = None  # a unit kind, "attr", "tail" (after an attribute column), "other"
        self.unit_kind: str | None = None  # the unit kind of the current label, kept through attributes
        self.style: str | None = None  # the list's marker: bullet, dash, o, num, line, runin
        self.item: _Item | None = None
        self.attr: tuple[str, int, bool] | None = None  # (kind, value start, inline)
        self.heading = ""
        self.groups: dict[str, list[_Raw]] = {}  # the latest group of units of each kind
        self.group: list[_Raw] = []  # units under the current label
        self.label_end = -1  # where the last unit label (and its intro) ended
        self.first_upper = True  # the current list's items start with a capital
        self.resumed = False  # measures picked up again after an attribute column: verbs only

    # -- events --------------------------------------------------------------------
    def run(self, tables: list[tuple[int, int]]) -> list[_Raw]:
        t = self.t
        table_i = 0
        skip_to = -1
        for m in _EVENT.finditer(t):
            s, e = m.start(), m.end()
            while table_i < len(tables) and tables[table_i][1] <= s:
                table_i += 1
            if table_i < len(tables) and tables[table_i][0] <= s < tables[table_i][1]:
                self._end_context(tables[table_i][0])
                continue
            if s < skip_to:
                continue
            kind = m.lastgroup
            if kind == "nl":
                self._newline(s, e, m.group().count("\n") > 1)
            elif kind == "word":
                skip_to = self._word(m)
            elif kind == "num":
                self._number(s, e, int(m.group()[:-1]))
            else:
                self._marker(kind, s, e)
        self._end_context(len(t))
        return self.out

    def _line_before(self, s: int) -> str:
        return self.t[self.t.rfind("\n", 0, s) + 1 : s]

    def _line_start(self, s: int) -> bool:
        """Only whitespace or a heading number before ``s`` on its line."""
        before = self._line_before(s)
        return not before.strip() or bool(_HEADING_NUMBER.fullmatch(before + " "))

    def _is_intro(self, intro: str) -> bool:
        """Words between a label and its colon ("Strategi- slik gjer vi det:"), not a sentence
        or another label."""
        if len(_WORD.findall(intro)) > MAX_INTRO_WORDS or "\n\n" in intro or re.search(r"[.!?]\s", intro):
            return False
        return not any(m.group()[0].isupper() for m in self.vocab.label_re.finditer(intro))

    def _word(self, m: re.Match[str]) -> int:
        """A label opens a list, a run-in item or an attribute; returns where scanning goes on."""
        s = m.start()
        lm = self.vocab.label_re.match(self.t, s)
        if not lm or not lm.group()[0].isupper():
            return -1
        label = " ".join(lm.group().lower().split())
        kind = self.vocab.labels[label]
        e = lm.end()
        after = self.t[e : e + 240]
        at_line_start = self._line_start(s)
        if kind in UNIT_KINDS:
            num = _NUMBERED_LABEL.match(after)
            intro = _INTRO.match(after)
            if num:
                self._open_label(kind, s)
                printed = num.group(1)
                self.item = _Item(e + num.end(), int(printed.split(".")[-1]), printed, marked=True)
                self.style = "num"
                return e + num.end()
            if intro and self._is_intro(intro.group(1)):
                self._open_label(kind, s)
                end = e + intro.end()
                self.label_end = end
                rest = self.t[end : self.t.find("\n", end) if "\n" in self.t[end:] else len(self.t)]
                if rest.strip() and not _MARKER_NEXT.match(rest) and _UPPER_START.match(rest):
                    self.item = _Item(end + len(rest) - len(rest.lstrip()))
                    self.style = "runin"
                return end
            if _MARKER_NEXT.match(after) or _EOL.match(after):
                self._open_label(kind, s)
                self.label_end = e
                if not _MARKER_NEXT.match(after) and _HEADING_NUMBER.match(self._line_before(s) + " "):
                    # "9.1 Mål" heads a section about goals: its prose is no list; only marked items count.
                    self.style = "marked"
                return e
            if at_line_start and _RUN_IN.match(after):
                self._open_label(kind, s)
                self.item = _Item(e + _RUN_IN.match(after).end())
                self.style = "runin"
                return e
            return -1
        colon = re.match(r"[ \t]*[:;]", after)
        if kind in ATTRIBUTES:
            if self.unit_kind is None or self.ctx is None:
                return -1
            if colon or (at_line_start and (_RUN_IN.match(after) or _EOL.match(after))):
                self._close_item(s)
                self._finish_attr(s)
                value = e + (colon.end() if colon else 0)
                self.attr = (kind, value, not at_line_start)
                self.ctx = "attr"
                return value
            return -1
        # "other": a column or box that is not a unit ("Kommentar", "Utfordringar", "Sentrale kommunale planar;")
        if colon or _EOL.match(after) or (at_line_start and _RUN_IN.match(after)):
            self._end_context(s)
            self.ctx = "other"
            return e
        return -1

    def _open_label(self, kind: str, s: int) -> None:
        self._close_item(s)
        self._finish_attr(s)
        self.ctx = kind
        self.unit_kind = kind
        self.style = None
        self.resumed = False
        self.group = []
        # A new goal starts afresh: its sub-goals, strategies and measures follow it.
        for k in UNIT_KINDS:
            if _RANK[k] >= _RANK[kind]:
                self.groups.pop(k, None)

    def _marker(self, kind: str, s: int, e: int) -> None:
        if self.ctx not in UNIT_KINDS:
            return
        style = {"bullet": "bullet", "dash": "dash", "obul": "o"}[kind]
        if self.style == "num":
            # Bullets under a numbered goal ("Mål 1: … • status • status") are not more goals; a dash
            # inside a line is punctuation ("vil- dersom … fornuftig - jobbe for …").
            if style == "bullet" or self._line_start(s):
                self._end_context(s)
            return
        if style == "bullet" or self._line_start(s) or self._just_after_label(s):
            accept = True
        elif style == "o":
            accept = self.style == "o"
        else:
            # An inline dash inside an item ("«Sesongarbeidarar som ressurs» - kompetanse …") is no
            # new item unless what follows starts the way the list's items do.
            nxt = self.t[e:].lstrip()[:1]
            accept = self.style == "dash" and (nxt.isupper() or not nxt.isalpha()) == self.first_upper
        if not accept:
            return
        self._close_item(s)
        if self.style != style:
            nxt = self.t[e:].lstrip()[:1]
            self.first_upper = nxt.isupper() or not nxt.isalpha()
        self.style = style
        self.item = _Item(e, marked=True)

    def _just_after_label(self, s: int) -> bool:
        return self.label_end >= 0 and not self.t[self.label_end : s].strip()

    def _number(self, s: int, e: int, n: int) -> None:
        if self.ctx not in UNIT_KINDS:
            return
        item = self.item
        if item is not None and item.number is not None and n == item.number + 1 and self.style == "num":
            self._close_item(s)
            self.item = _Item(e, n, str(n), marked=True)
        elif n == 1 and (item is None or (self.style in ("line", None) and not self.t[item.start : s].strip())):
            self._close_item(s)
            self.style = "num"
            self.item = _Item(e, 1, "1", marked=True)

    def _newline(self, s: int, e: int, gap: bool) -> None:
        t = self.t
        eol = t.find("\n", e)
        line = t[e : eol if eol >= 0 else len(t)]
        prev = t[t.rfind("\n", 0, s) + 1 : s]
        if self.attr is not None:
            if gap or self._starts_measure(line) or _HEADING.match(line) or _MARKER_NEXT.match(line):
                self._finish_attr(s)
            else:
                return
        heading = _HEADING.match(line)
        if heading and self._is_heading(line, heading):
            self._end_context(s)
            self.heading = heading.group(2).strip()
            self.groups = {}
            return
        if self.ctx == "tail":
            if self._starts_measure(line) and self.unit_kind:
                self.ctx = self.unit_kind
                self.style = "line"
                self.resumed = True
                self.item = _Item(e)
            return
        if self.ctx not in UNIT_KINDS or not line.strip():
            return
        first = _WORD.match(line.strip())
        if self.style == "marked":
            pass  # under a heading such as "9.2 Strategier" prose comes first; markers decide
        elif first and first.group().lower() in self.vocab.references:
            self._end_context(s)  # "Målet handler om …": prose about the units
            return
        intro = _OTHER_INTRO.match(line)
        if intro and len(_WORD.findall(intro.group())) <= 8 and not self.vocab.label_re.match(line.strip()):
            self._end_context(s)
            return
        if _MARKER_NEXT.match(line) or re.match(r"\s*\d{1,2}[.)]\s", line):
            return  # the marker or number event decides
        continues = not _UPPER_START.match(line) or self._open_end(prev)
        if self.item is not None:
            if continues or not self.t[self.item.start : s].strip():
                return
            if self.item.marked:
                # Text that does not continue a marked item and has no marker: the list is over.
                if len(_WORD.findall(self.t[self.item.start : s])) >= 3 and _UPPER_START.match(line):
                    self._end_context(s)
                return
            self._close_item(s)
            if self.resumed and not self._starts_measure(line):
                # Past the measures column of a flattened table: names, comments, dates.
                self.ctx = "tail"
                return
            self.item = _Item(e)
            self.style = "line"
            return
        if _UPPER_START.match(line) and self.style != "marked":
            self.item = _Item(e)
            if self.style is None:
                self.style = "line"

    def _is_heading(self, line: str, m: re.Match[str]) -> bool:
        """A numbered line that opens a section, not the next item of a numbered list."""
        if self.style == "num" and self.item is not None and self.item.number is not None:
            n = m.group(1)
            if n == str(self.item.number + 1):
                return False
        title = m.group(2)
        words = title.split()
        if len(words) > MAX_HEADING_WORDS:
            return False
        return "." in m.group(1) or (len(words) <= 8 and not title.rstrip().endswith((".", ",")))

    def _open_end(self, prev: str) -> bool:
        """A line that cannot end an item: it ends in a function word, a comma or a hyphen."""
        p = prev.rstrip()
        if not p or p.endswith((",", "-", "–", "/", "(", "og", "&")):
            return True
        last = _WORD.findall(p)
        return bool(last) and last[-1].lower() in self.stop

    def _starts_measure(self, line: str) -> bool:
        first = _WORD.match(line.strip())
        return bool(first) and first.group()[0].isupper() and self.words.infinitive(first.group().lower())

    # -- items ---------------------------------------------------------------------
    def _end_context(self, s: int) -> None:
        self._close_item(s)
        self._finish_attr(s)
        self.ctx = None
        self.style = None

    def _close_item(self, s: int) -> None:
        item, self.item = self.item, None
        if item is None or self.ctx not in UNIT_KINDS:
            return
        kind = self.ctx
        spans = [(item.start, s)]
        if not item.marked:
            spans = self._split_run_on(item.start, s)
        for a, b in spans:
            if not item.marked and _several_sentences(self.t[a:b]):
                # Running text under a label: the list (if any) is over.
                self.ctx = None
                self.style = None
                break
            raw = self._unit(kind, a, b, item)
            if raw is not None:
                self.out.append(raw)
                self.group.append(raw)
                self.groups[kind] = self.group

    def _split_run_on(self, a: int, b: int) -> list[tuple[int, int]]:
        """Items a table cell or a list without markers ran together on one line: a new one starts
        at a capital that is an infinitive ("… helsestasjonen Følge opp …"), or at a common word
        after a content word ("… hyttebygging Samanhengande og urørt …"); never inside quotes."""
        text = self.t[a:b]
        tokens = list(_WORD.finditer(text))
        self.words.prepare(t.group() for t in tokens if t.group()[0].isupper())
        self.words.prepare(t.group().lower() for t in tokens)
        cuts = [0]
        depth = 0
        last = 0
        for i, tok in enumerate(tokens):
            between = text[last : tok.start()]
            depth += between.count("«") - between.count("»")
            last = tok.start()
            w = tok.group()
            if i == 0 or depth > 0 or not w[0].isupper() or w.isupper():
                continue
            prev = tokens[i - 1].group()
            gap = text[tokens[i - 1].end() : tok.start()]
            if any(c in gap for c in ",(/&:") or prev.lower() in self.stop or i - _index_of(tokens, cuts[-1]) < 2:
                continue
            nxt = tokens[i + 1].group().lower() if i + 1 < len(tokens) else ""
            if self.words.finite(nxt):
                continue  # "Nå består …": the capital is a subject, not a new item
            verb = self.words.infinitive(w.lower()) and self.words.common(w)
            after_content = prev[0].islower() and not gap.strip() and self.words.common(w)
            sentence_end = gap.strip().endswith((".", "!", "?")) and len(prev) > 2
            if verb or after_content or sentence_end:
                cuts.append(tok.start())
        cuts.append(len(text))
        return [(a + x, a + y) for x, y in itertools.pairwise(cuts) if text[x:y].strip()]

    def _unit(self, kind: str, a: int, b: int, item: _Item) -> _Raw | None:
        text = self.t[a:b]
        lead = len(text) - len(text.lstrip(" \t\n:;-–•"))
        a += lead
        text = self.t[a:b].rstrip(" \t\n:;-–•")
        b = a + len(text)
        if kind == "mål":
            goal = _PROSE_GOAL.search(text)
            if goal and len(text.split()) > 15:
                a, b = a + goal.start("goal"), a + goal.end("goal")
                text = self.t[a:b].rstrip(" ,;")
                b = a + len(text)
        n_words = len(_WORD.findall(text))
        if n_words > CUT_WORDS:
            for m in _SENTENCE_END.finditer(text):
                before = _WORD.findall(text[: m.start()])
                if before and before[-1].lower() in _ABBREVIATIONS:
                    continue
                if len(before) >= 3 and len(_WORD.findall(text[m.end() :])) >= CUT_REST:
                    b = a + m.start() + 1
                    text = self.t[a:b].rstrip()
                    break
            n_words = len(_WORD.findall(text))
        if n_words < MIN_WORDS or n_words > MAX_WORDS:
            return None
        if _CONTENTS_ENTRY.search(text):
            return None  # a line of the contents list ("Mål 2 … 38"), not the goal where it is stated
        if not re.search(r"[a-zæøå]{3}", text):
            return None  # names, abbreviations and numbers ("K&O, TEK"), not a statement
        who = _RESPONSIBLE.search(text)
        if who and _WORD.findall(text[: who.start()]) and text[who.start()].isupper():
            # "Etablere LiRe Hovedansvarlig for etablering er kommuneoverlegen": the unit ends before it.
            b = a + len(text[: who.start()].rstrip(" ,;–-"))
            text = self.t[a:b]
        raw = _Raw(kind, a, b, item.label, self._shape(item))
        raw.parent = self._parent(kind)
        if who:
            raw.ansvar = " ".join(who.group("who").split()).rstrip(" .")
        when = self.vocab.time_re.search(text)
        if when:
            raw.frist = " ".join(when.group().split())
        return raw

    def _shape(self, item: _Item) -> str:
        return "list" if item.marked else "label"

    def _parent(self, kind: str) -> str:
        for k in reversed(UNIT_KINDS[: _RANK[kind]]):
            group = self.groups.get(k)
            if group and len(group) == 1:
                return " ".join(self.t[group[0].start : group[0].end].split())
        return self.heading

    def _finish_attr(self, s: int) -> None:
        if self.attr is None:
            return
        kind, start, inline = self.attr
        self.attr = None
        self.ctx = "tail"
        value = self.t[start:s]
        lines = [" ".join(ln.split()) for ln in value.split("\n") if ln.strip()]
        if not lines:
            return
        targets = [u for u in self.group if not getattr(u, kind)]
        if inline and self.group:
            targets = [self.group[-1]] if not getattr(self.group[-1], kind) else []
            lines = [" ".join(lines)]
        if len(targets) == 1 and (len(lines) == 1 or not any(_UPPER_START.match(ln) for ln in lines[1:])):
            setattr(targets[0], kind, " ".join(lines))
        elif targets and len(lines) == len(targets):
            for u, v in zip(targets, lines):
                setattr(u, kind, v)
        else:
            logger.debug("%s %r: %d values for %d units, not assigned", kind, lines, len(lines), len(targets))


def _several_sentences(text: str) -> bool:
    for m in _SENTENCE_END.finditer(text):
        before = _WORD.findall(text[: m.start()])
        if before and before[-1].lower() not in _ABBREVIATIONS and len(_WORD.findall(text[m.end() :])) >= 3:
            return True
    return False


def _index_of(tokens: list[re.Match[str]], offset: int) -> int:
    for i, t in enumerate(tokens):
        if t.start() >= offset:
            return i
    return len(tokens)


# -- tables ----------------------------------------------------------------------------


def _table_units(doc: _Text) -> tuple[list[_Raw], list[tuple[int, int]]]:
    """Units from ruled tables ("Mål | Tiltak | Ansvar | Frist" and the rows under it)."""
    vocab = vocabulary()
    t = doc.text
    out: list[_Raw] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    columns: list[str] | None = None
    table_start = -1
    carried: dict[int, str] = {}
    for line in t.split("\n"):
        start, pos = pos, pos + len(line) + 1
        if " | " not in line:
            if columns is not None:
                spans.append((table_start, start))
            columns = None
            continue
        cells = _cells(line, start)
        kinds = [vocab.labels.get(" ".join(c.lower().rstrip(":").split()), "") for c, _ in cells]
        if sum(1 for k in kinds if k) >= 2 and any(k in UNIT_KINDS for k in kinds):
            if columns is not None:
                spans.append((table_start, start))
            columns, table_start, carried = kinds, start, {}
            continue
        if columns is None:
            continue
        row: dict[str, list[_Raw]] = {}
        values: dict[str, str] = {}
        for i, (cell, offset) in enumerate(cells):
            kind = columns[i] if i < len(columns) else ""
            if kind in UNIT_KINDS:
                if not cell.strip():
                    continue
                for a, b in _cell_items(cell, offset):
                    row.setdefault(kind, []).append(_Raw(kind, a, b, shape="table"))
            elif kind in ATTRIBUTES and cell.strip():
                values[kind] = " ".join(cell.split())
        # Merged cells: a goal printed once for several rows holds for the rows under it.
        for i, kind in enumerate(columns):
            if kind in UNIT_KINDS and kind in row:
                carried[i] = " ".join(t[row[kind][0].start : row[kind][0].end].split())
        ranked = sorted(row, key=lambda k: _RANK[k])
        for kind in ranked:
            higher = [carried[i] for i, k in enumerate(columns) if k in UNIT_KINDS and _RANK[k] < _RANK[kind]]
            for raw in row[kind]:
                raw.parent = higher[-1] if higher else ""
                if kind == ranked[-1]:
                    raw.ansvar = values.get("ansvar", "")
                    raw.frist = values.get("frist", "")
                out.append(raw)
    if columns is not None:
        spans.append((table_start, len(t)))
    return out, spans


def _cells(line: str, offset: int) -> list[tuple[str, int]]:
    cells, pos = [], 0
    for cell in line.split(" | "):
        cells.append((cell, offset + pos))
        pos += len(cell) + 3
    return cells


def _cell_items(cell: str, offset: int) -> list[tuple[int, int]]:
    parts = re.split(rf"(?:^|\s)[{_STRONG_BULLETS}]\s*|(?:^|\s)[-–]\s+(?=[A-ZÆØÅ«])", cell)
    out, pos = [], 0
    for part in parts:
        at = cell.find(part, pos)
        pos = at + len(part)
        text = part.strip(" -–:;")
        if len(_WORD.findall(text)) >= MIN_WORDS:
            a = offset + at + part.find(text)
            out.append((a, a + len(text)))
    return out


# -- assembling ------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def dice(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return 2 * len(sa & sb) / (len(sa) + len(sb))


def extract_structure(
    meta: DocumentMeta,
    pages: Sequence[Page],
    passages: Sequence[Passage] = (),
    words: WordClasses | None = None,
) -> PlanStructure:
    """The units of one plan from its pages; ``passages`` give sections and passage ids."""
    doc = _document_text(pages)
    if not doc.text:
        return PlanStructure(meta, [])
    words = words or WordClasses()
    table_raws, tables = _table_units(doc)
    raws = sorted([*_Scanner(doc, words).run(tables), *table_raws], key=lambda r: r.start)
    labels = {p.number: p.label for p in pages}
    by_page = _passages_by_page(passages)
    units: list[PlanUnit] = []
    seen: dict[str, list[tuple[list[str], PlanUnit]]] = {}
    for raw in raws:
        text = " ".join(doc.text[raw.start : raw.end].split())
        page = doc.page_at(raw.start)
        toks = _tokens(text)
        twin = next((u for tk, u in seen.get(raw.kind, []) if dice(tk, toks) >= SAME_UNIT), None)
        if twin is not None:
            if page != twin.page and page not in twin.also_pages:
                twin.also_pages.append(page)
            twin.ansvar = twin.ansvar or raw.ansvar
            twin.frist = twin.frist or raw.frist
            continue
        passage = _find_passage(by_page.get(page, []), toks)
        section = passage.section if passage else ""
        cited = Passage(meta.doc_id, passage.ordinal if passage else 0, text, page, page, section, labels.get(page))
        unit = PlanUnit(
            kind=raw.kind,
            text=text,
            doc_id=meta.doc_id,
            page=page,
            section=section,
            passage_id=passage.passage_id if passage else "",
            citation=cite(cited, meta),
            number=raw.number,
            parent=raw.parent,
            ansvar=raw.ansvar,
            frist=raw.frist,
            shape=raw.shape,
        )
        units.append(unit)
        seen.setdefault(raw.kind, []).append((toks, unit))
    return PlanStructure(meta, units)


def _passages_by_page(passages: Sequence[Passage]) -> dict[int, list[tuple[str, Passage]]]:
    out: dict[int, list[tuple[str, Passage]]] = {}
    for p in passages:
        joined = " ".join(_tokens(p.text))
        for n in range(p.page_start, p.page_end + 1):
            out.setdefault(n, []).append((joined, p))
    return out


def _find_passage(candidates: list[tuple[str, Passage]], toks: list[str]) -> Passage | None:
    """The passage holding the unit's first words (a unit's text is cited from it)."""
    if not candidates:
        return None
    head = " ".join(toks[:6])
    for joined, p in candidates:
        if head and head in joined:
            return p
    return candidates[0][1]


def plan_structure(store: Any, doc_id: str, meta: DocumentMeta, words: WordClasses | None = None) -> PlanStructure:
    """``extract_structure`` for a document of an index (``store``: an ``IndexStore``)."""
    passages = [p for _, p in store.passages_of(doc_id)]
    return extract_structure(meta, store.pages(doc_id), passages, words)
