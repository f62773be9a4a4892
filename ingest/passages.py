"""Split a document's cleaned pages into quotable passages with a heading path.

Input pages carry paragraphs separated by blank lines (the PDF extractor marks
them from line geometry; Markdown and text files have them already). Headings
become the ``section`` path rather than passage text; short paragraphs merge
with their neighbours in the same section, long ones split at sentences.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from plansok.models import Page, Passage

log = logging.getLogger(__name__)

MIN_WORDS = 40
TARGET_WORDS = 150
MAX_WORDS = 250
MAX_HEADING_WORDS = 12
MAX_PLAIN_HEADING_WORDS = 8

_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\S.*)$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_LIST_START = re.compile(r"^(?:[•\-–—*▪o]\s|\(?[a-zæøå]\)\s|\d+\)\s)")
_FUNCTION_WORDS = {
    "og",
    "i",
    "til",
    "for",
    "av",
    "med",
    "på",
    "som",
    "er",
    "en",
    "et",
    "ei",
    "å",
    "at",
    "om",
    "the",
    "of",
    "and",
    "in",
    "frå",
    "fra",
    "ved",
    "mot",
    "eller",
    "der",
    "har",
    "kan",
}
_CAPTION_WORDS = {"foto", "kilde", "figur", "fig", "tabell", "illustrasjon", "kjelde", "bilde"}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"»”)]?\s+(?=[«\"(]?[A-ZÆØÅ0-9])")
# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {
    "bl.a",
    "f.eks",
    "ca",
    "kr",
    "nr",
    "jf",
    "jfr",
    "evt",
    "mv",
    "osv",
    "pr",
    "dvs",
    "mm",
    "m.m",
    "m.fl",
    "ifm",
    "iht",
    "inkl",
    "ekskl",
    "kap",
    "tlf",
    "st",
    "dr",
    "prof",
    "s",
    "t.o.m",
    "f.o.m",
    "o.l",
    "vedr",
    "ref",
    "bl",
    "mill",
    "mrd",
    "tab",
    "fig",
    "avd",
}


@dataclass
class _Para:
    text: str
    page_start: int
    page_end: int
    section: str
    label: str | None
    source: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def split_passages(doc_id: str, pages: list[Page]) -> list[Passage]:
    """Paragraph-sized passages (about 40-250 words) with pages and heading path."""
    paras = _paragraphs(pages)
    chunks = _merge_short(_split_long(paras))
    return [
        Passage(
            doc_id=doc_id,
            ordinal=i,
            text=c.text,
            page_start=c.page_start,
            page_end=c.page_end,
            section=c.section,
            page_label=c.label,
            source=c.source,
        )
        for i, c in enumerate(chunks)
    ]


# ---------------------------------------------------------------- headings


def heading_level(block: str, next_block: str | None) -> tuple[int, str] | None:
    """(depth, heading text) if a paragraph block is a heading, else None.

    Numbered headings ("8.2 Folkehelse") get their numbering depth; a title-like
    line without number gets depth 0 and only counts when body text follows.
    """
    line = _one_line(block.strip())
    if line is None:
        return None
    md = _MD_HEADING.match(line)
    if md:
        return len(md.group(1)), md.group(2).strip()
    if line.isupper() and line.endswith(".") and _NUMBERED.match(line):
        line = line[:-1]  # "3. TEORETISK FORSTÅELSE ... ULIKHET."
    if not _looks_like_title(line):
        return None
    numbered = _NUMBERED.match(line)
    if numbered:
        number, title = numbered.groups()
        depth = number.count(".") + 1
        if not (title[0].isalpha() and title[0].isupper()) or len(line.split()) > MAX_HEADING_WORDS:
            return None
        if line.split()[-1].lower() in _FUNCTION_WORDS:
            return None  # the first line of a numbered list item that wraps
        # Table-of-contents rows are heading-like lines followed by more of them.
        if next_block is None or _toc_row(next_block, depth):
            return None
        return depth, f"{number} {title}"
    words = line.split()
    if len(words) > MAX_PLAIN_HEADING_WORDS or not line[0].isupper():
        return None
    if words[-1].lower() in _FUNCTION_WORDS or words[0].rstrip(":,").lower() in _CAPTION_WORDS:
        return None  # a wrapped line ("... bidrar til") or a caption ("Foto, ...")
    if next_block is None or not _is_body(next_block):
        return None
    return 0, line


def _heading_goes_on(prev: str, block: str) -> bool:
    """A large numbered heading set over several spaced lines ("3. TEORETISK ... AV")."""
    if "\n" in prev or "\n" in block or not _NUMBERED.match(prev) or _NUMBERED.match(block):
        return False
    if len(prev.split()) + len(block.split()) > MAX_HEADING_WORDS:
        return False
    caps = prev.isupper() and block.isupper()
    return caps or prev.split()[-1].lower() in _FUNCTION_WORDS


def _one_line(block: str) -> str | None:
    """The block as one line if it is one, or a numbered heading wrapped onto two."""
    lines = block.split("\n")
    if len(lines) == 1:
        return block
    first, second = lines[0], lines[-1]
    wrapped = len(lines) == 2 and _NUMBERED.match(first) and len(second.split()) <= 6
    if wrapped and first.isupper() == second.isupper() and second[-1:] not in ".,;:":
        return f"{first} {second}"
    return None


def _looks_like_title(line: str) -> bool:
    if not line or " | " in line or _LIST_START.match(line):
        return False
    if line[-1] in ".,;:" or re.search(r"\d\s*$", line):
        return False  # sentences, lead-ins ("skal:") and table-of-contents rows
    letters = sum(ch.isalpha() for ch in line)
    return letters >= 3 and letters >= 0.6 * len(line.replace(" ", ""))


def _toc_row(block: str, depth: int) -> bool:
    """A one-line block that is a numbered line at the same or a higher level, or ends in a page."""
    line = block.strip()
    if "\n" in line:
        return False
    if re.search(r"\s\d{1,3}$", line):
        return True
    m = _NUMBERED.match(line)
    return bool(m) and m.group(1).count(".") + 1 <= depth


def _is_body(block: str) -> bool:
    text = block.strip()
    return len(text.split()) >= 12 or (text[-1:] in ".!?" and len(text.split()) >= 5)


def _number_of(title: str) -> tuple[int, ...]:
    m = _NUMBERED.match(title)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


class _SectionPath:
    """Heading stack: numbered headings nest by depth; a plain title hangs below them."""

    def __init__(self) -> None:
        self.numbered: list[tuple[int, str]] = []
        self.plain: str = ""

    def accepts(self, depth: int, title: str) -> bool:
        """Numbering must move forward; a numbered list item ("3 En kommune ...") does not."""
        if depth == 0 or not self.numbered or not _number_of(title):
            return True
        num = _number_of(title)
        current = [_number_of(t) for _, t in self.numbered]
        if len(num) == 1:
            return current[0][:1] < num <= (current[0][0] + 3,)
        parent, sibling = num[:-1], [c for c in current if len(c) == len(num)]
        if parent not in current:
            return bool(current[0]) and num[0] > current[0][0]
        return not sibling or sibling[0][:-1] != parent or sibling[0] < num

    def push(self, depth: int, title: str) -> None:
        if depth == 0:
            self.plain = title
            return
        while self.numbered and self.numbered[-1][0] >= depth:
            self.numbered.pop()
        self.numbered.append((depth, title))
        self.plain = ""

    @property
    def depth(self) -> int:
        return len(self.numbered) + bool(self.plain)

    def __str__(self) -> str:
        parts = [t for _, t in self.numbered] + ([self.plain] if self.plain else [])
        return " > ".join(parts)


# ---------------------------------------------------------------- paragraphs


def _blocks(text: str) -> list[str]:
    """Paragraph blocks; a numbered heading glued to its first paragraph is split off."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        if out and _heading_goes_on(out[-1], block):
            out[-1] = f"{out[-1]} {block}"
            continue
        first, _, rest = block.partition("\n")
        if rest and _NUMBERED.match(first) and heading_level(first, rest):
            out.extend([first, rest])
        else:
            out.append(block)
    return out


def _join_lines(block: str) -> str:
    """Reflow a paragraph; table rows and list items keep their own lines."""
    out: list[str] = []
    for line in block.split("\n"):
        line = line.strip()
        if not line:
            continue
        own_line = " | " in line or _LIST_START.match(line) or (out and " | " in out[-1])
        if out and not own_line:
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)


@dataclass(frozen=True)
class Heading:
    """A heading as the section path took it: page, depth in the path, text."""

    page: int
    depth: int
    text: str


def section_headings(pages: list[Page]) -> list[Heading]:
    """The headings that open sections, in reading order (what ``split_passages`` cites)."""
    found: list[Heading] = []
    _paragraphs(pages, found)
    return found


def _paragraphs(pages: list[Page], headings: list[Heading] | None = None) -> list[_Para]:
    """Body paragraphs in order, headings folded into the section path."""
    path = _SectionPath()
    paras: list[_Para] = []
    for page in pages:
        if page.source in ("empty", "scan"):
            continue
        blocks = _blocks(page.text)
        toc = _is_toc_page(blocks)
        for i, block in enumerate(blocks):
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            heading = None if toc else heading_level(block, nxt)
            if heading and path.accepts(*heading):
                path.push(*heading)
                if headings is not None:
                    headings.append(Heading(page.number, path.depth, heading[1]))
                continue
            if _is_toc_block(block, strict=not toc):
                continue
            text = _join_lines(block)
            para = _Para(text, page.number, page.number, str(path), page.label, page.source)
            if paras and _continues(paras[-1], para):
                prev = paras[-1]
                prev.text = f"{prev.text} {text}"
                prev.page_end = page.number
            else:
                paras.append(para)
    return paras


def _is_toc_page(blocks: list[str]) -> bool:
    """A contents page: its headings are references, not the start of sections."""
    if any(re.fullmatch(r"(?i)innhold(sfortegnelse)?|innhald|contents?", b) for b in blocks):
        return True
    numbered = sum(1 for b in blocks if "\n" not in b and _NUMBERED.match(b))
    return numbered >= 5 and numbered >= 0.5 * len(blocks)


def _is_toc_block(block: str, strict: bool = False) -> bool:
    """What is left of a table of contents after its dot leaders are gone:
    section numbers and page numbers between short titles. Nobody quotes it.

    Off a contents page (``strict``) it must also carry several section
    numbers such as "8.2": Norwegian tables write decimals with a comma, so a
    table of figures is not mistaken for one."""
    words = block.split()
    numbers = sum(1 for w in words if re.fullmatch(r"[\d.|]+-?", w))
    if not strict and len(words) <= 12 and numbers:
        return True  # one entry of a contents page: "8 8.2 Folkehelse"
    if strict:
        sections = sum(1 for w in words if re.fullmatch(r"\d{1,2}(?:\.\d{1,2})+\.?", w))
        return sections >= 3 and numbers >= 6 and numbers >= 0.35 * len(words)
    return bool(re.match(r"(?i)(innhold|innhald|contents?)\b", block)) or (
        numbers >= 4 and numbers >= 0.25 * len(words)
    )


def _continues(prev: _Para, para: _Para) -> bool:
    """A paragraph cut by a column break: no final stop, next starts lower-case.

    A paragraph cut by a page break stays two passages, so that every passage
    cites one exact page and a hit on the second half names that page."""
    if para.page_start != prev.page_end or prev.section != para.section:
        return False
    if prev.text[-1:] in ".!?:" or " | " in prev.text:
        return False
    return para.text[:1].islower()


# ---------------------------------------------------------------- sizing


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, not splitting after common abbreviations."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        prev_word = text[start : m.start()].rsplit(None, 1)[-1].rstrip(".").lower()
        if prev_word in _ABBREV or re.fullmatch(r"[\d.]+|\w", prev_word):
            continue
        out.append(text[start : m.start()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _split_long(paras: list[_Para]) -> list[_Para]:
    out: list[_Para] = []
    for p in paras:
        if p.words <= MAX_WORDS:
            out.append(p)
            continue
        for piece in _pack_sentences(_units(p.text)):
            out.append(_Para(piece, p.page_start, p.page_end, p.section, p.label, p.source))
    return out


def _units(text: str) -> list[str]:
    """Sentences; a table or list without full stops falls back to lines, then words."""
    units: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence.split()) <= MAX_WORDS:
            units.append(sentence)
            continue
        for line in sentence.split("\n"):
            words = line.split()
            units += [" ".join(words[i : i + TARGET_WORDS]) for i in range(0, len(words), TARGET_WORDS)]
    return units


def _pack_sentences(sentences: list[str]) -> list[str]:
    """Group sentences into pieces near TARGET_WORDS, never above MAX_WORDS if avoidable."""
    pieces: list[list[str]] = [[]]
    count = 0
    for s in sentences:
        n = len(s.split())
        if pieces[-1] and (count + n > MAX_WORDS or count >= TARGET_WORDS):
            pieces.append([])
            count = 0
        pieces[-1].append(s)
        count += n
    if len(pieces) > 1 and sum(len(s.split()) for s in pieces[-1]) < MIN_WORDS:
        tail = pieces.pop()
        pieces[-1].extend(tail)
    return [" ".join(p) for p in pieces]


def _mergeable(a: _Para, b: _Para) -> bool:
    return (
        a.section == b.section
        and a.source == b.source
        and a.page_end == b.page_start
        and a.words + b.words <= MAX_WORDS
    )


def _merge_short(paras: list[_Para]) -> list[_Para]:
    """Merge paragraphs under MIN_WORDS with the following (or preceding) one."""
    out: list[_Para] = []
    for p in paras:
        last = out[-1] if out else None
        if last and last.words < MIN_WORDS and _mergeable(last, p):
            _absorb(last, p)
        else:
            out.append(_copy(p))
    # A short tail left at a section end joins the passage before it.
    merged: list[_Para] = []
    for p in out:
        if merged and p.words < MIN_WORDS and _mergeable(merged[-1], p):
            _absorb(merged[-1], p)
        else:
            merged.append(p)
    return merged


def _absorb(into: _Para, other: _Para) -> None:
    into.text = f"{into.text}\n{other.text}"
    into.page_end = max(into.page_end, other.page_end)


def _copy(p: _Para) -> _Para:
    return _Para(p.text, p.page_start, p.page_end, p.section, p.label, p.source)
