"""Split a document's cleaned pages into quotable passages with a heading path.

Input pages carry paragraphs separated by blank lines (the PDF extractor marks
them from line geometry; Markdown and text files have them already). Headings
become the ``section`` path rather than passage text; short paragraphs merge
with their neighbours in the same section, long ones split at sentences.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from plansok.ingest.clean import is_toc_line, running_line_keys
from plansok.models import Page, Passage

log = logging.getLogger(__name__)

MIN_WORDS = 40
TARGET_WORDS = 150
MAX_WORDS = 250
MAX_HEADING_WORDS = 12
MAX_PLAIN_HEADING_WORDS = 8
# Markdown marks its headings, so they may be longer than a guessed one.
MD_HEADING_WORDS = 3 * MAX_HEADING_WORDS
# A contents list is real with this many numbered entries or page numbers; a page holds one
# with a title ("Innhold") or this many entry blocks.
MIN_CONTENTS_ENTRIES = 3
MIN_CONTENTS_BLOCKS = 3
MIN_FUSED_BODY_WORDS = 5  # words of paragraph after a heading run into it

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
# Parts a contents list often leaves out, so that an unlisted line may still open one.
_FRONT_MATTER = {
    "forord",
    "føreord",
    "sammendrag",
    "samandrag",
    "innledning",
    "innleiing",
    "bakgrunn",
    "avslutning",
    "oppsummering",
    "vedlegg",
    "kilder",
    "kjelder",
    "referanser",
    "litteratur",
}
_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_CONTENTS_TITLE = re.compile(
    r"(?i)^(?:innhold(?:sfortegnelse)?|innhald(?:sliste)?|innhaldsoversikt|contents|table of contents)\b[\s:.…\d]*$"
)
# "3.1 Visjon" in a contents list: a section number (not a page number after a leader) and a word.
_CONTENTS_ENTRY = re.compile(r"(?<![\d.,…])(?<!… )(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+([^\W\d_]+)")
_DOT_LEADER_END = re.compile(r"(?:\.\s?){3,}|…")
_YEARS = re.compile(r"\b(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)?\d\d)?\b")
_YEAR_END = re.compile(r"(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)?\d\d)?\s*$")
_BULLET = re.compile(r"^[•▪◦‣⁃*\-–]\s+")
_LABEL_START = re.compile(r"^[A-HJ-NP-ZÆØ]\.?\s")  # "C Landet", "A. Privat ..." (not "I" or "Å")
_CREDIT_END = re.compile(r"\((?:[A-ZÆØÅ.\s]{1,8}|[^()]*\d[^()]*)\)\s*$")  # "(JMF)", "(verdi 100)"
_SENTENCE_LINE = re.compile(r"[^\W\d_]{2,}[.!]\s*$")  # a line ending a sentence (not "5." or "f.eks")
_QUOTED = re.compile(r"[«»\"“”]")
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
#
# A heading needs evidence beyond being a short line:
# - its number, and where the number stands in the document's numbering (the
#   next sibling, a first child, the next chapter);
# - the document's contents pages: a heading the contents list names (by its
#   section number and first title word, or by its whole title between page
#   numbers) is one; where the contents list numbers a level, a numbered line
#   it does not list needs to be exactly the next number in sequence, and an
#   unnumbered line it does not list is body (captions, chart labels, box titles);
# - type, where the extractor could see it (``TypesetPage``): larger, bolder
#   or differently coloured than the body;
# - form: short, capitalised, no sentence or lead-in punctuation, not a
#   caption, a list item or a table row, and followed by body text.


@dataclass
class TypesetPage(Page):
    """A page from an extractor that saw the type (PDF): the lines set as headings.

    ``heading_lines`` holds ``line_key`` of each line set larger, bolder or in
    another colour than the document's body text; ``typeset`` is true when the
    document varies its type at all, so that a line missing from
    ``heading_lines`` is known to be set like the body.
    """

    heading_lines: frozenset[str] = frozenset()
    typeset: bool = False


def line_key(line: str) -> str:
    """A line's lower-case words: how a heading is recognised after cleaning and reflow."""
    return " ".join(_TOKEN.findall(line.lower()))


@dataclass
class _Contents:
    """What a document's contents pages list, in order: words, section and page numbers."""

    tokens: list[str] = field(default_factory=list)
    entries: dict[tuple[int, ...], set[str]] = field(default_factory=dict)  # number -> first title words

    @property
    def present(self) -> bool:
        """A real list: several numbered entries, or several titles with their page numbers."""
        pages = sum(1 for t in self.tokens if t[0].isdigit())
        return len(self.entries) >= MIN_CONTENTS_ENTRIES or pages >= MIN_CONTENTS_ENTRIES

    def covers(self, depth: int) -> bool:
        """The contents list numbers headings at this depth."""
        return sum(1 for n in self.entries if len(n) == depth) >= 2

    def lists_number(self, num: tuple[int, ...], title: str) -> bool:
        """The number is listed with the same first title word ("3.1 Visjon" for "3.1 Visjon, mål ...")."""
        first = _TOKEN.findall(title.lower())[:1]
        return bool(first) and first[0] in self.entries.get(num, ())

    def lists_title(self, title: str, numbered: bool = True) -> bool:
        """The whole title is an entry: its words stand between numbers (or the list's ends).

        An unnumbered line (``numbered=False``) does not match the title of an
        entry numbered "10.1": that is a figure label repeating a section title.
        """
        words = _TOKEN.findall(title.lower())
        if not words or not self.tokens:
            return False
        n = len(words)
        for i in range(len(self.tokens) - n + 1):
            if self.tokens[i : i + n] != words:
                continue
            before = self.tokens[i - 1] if i else "0"
            after = self.tokens[i + n] if i + n < len(self.tokens) else "0"
            if not (before[0].isdigit() and after[0].isdigit()):
                continue
            if numbered or "." not in before:
                return True
        return False

    def add(self, text: str) -> None:
        # Leader dots and ellipses carry no words; a number after one is a page number.
        text = re.sub(r"(?:\.\s?){2,}|…", " … ", text)
        for m in _CONTENTS_ENTRY.finditer(text):
            num = tuple(int(x) for x in m.group(1).split("."))
            self.entries.setdefault(num, set()).add(m.group(2).lower())
        self.tokens += _TOKEN.findall(text.lower())


@dataclass
class _Context:
    """Document-wide evidence for headings."""

    contents: _Contents
    typeset: bool = False
    # Lines repeated at the page edges (digit-blind): running lines still in the text
    # (text files are not cleaned of them); never headings, not part of a contents list.
    running: set[str] = field(default_factory=set)

    def is_running(self, line: str) -> bool:
        return re.sub(r"\d+", "#", line.strip().lower()) in self.running

    def styled(self, page: Page, line: str) -> bool | None:
        """Whether the line is set as a heading; None when the type is unknown."""
        if not self.typeset or not isinstance(page, TypesetPage):
            return None
        return line_key(line) in page.heading_lines


def _context(pages: list[Page], toc: dict[int, set[int]], blocks: dict[int, list[str]]) -> _Context:
    running = running_line_keys([p.text for p in pages]) if len(pages) >= 3 else set()
    contents = _Contents()
    for number, idx in toc.items():
        for i in sorted(idx):
            lines = blocks[number][i].split("\n")
            contents.add("\n".join(ln for ln in lines if re.sub(r"\d+", "#", ln.strip().lower()) not in running))
    typeset = [p for p in pages if isinstance(p, TypesetPage) and p.typeset]
    return _Context(contents, typeset=bool(typeset), running=running)


def heading_level(block: str, next_block: str | None) -> tuple[int, str] | None:
    """(depth, heading text) if a paragraph block is a heading, else None, from the text alone.

    Numbered headings ("8.2 Folkehelse") get their numbering depth; a title-like
    line without number gets depth 0 and only counts when body text follows.
    Without the document around it, there is no contents list or type to ask.
    """
    return _heading(block, next_block, _Context(_Contents()), _SectionPath(), Page(0, ""))


def _heading(
    block: str, next_block: str | None, ctx: _Context, path: _SectionPath, page: Page
) -> tuple[int, str] | None:
    line = _one_line(block.strip())
    if line is None or ctx.is_running(line):
        return None
    md = _MD_HEADING.match(line)
    if md:
        # A line that long is text that lost its line breaks behind a heading mark.
        return (len(md.group(1)), md.group(2).strip()) if len(line.split()) <= MD_HEADING_WORDS else None
    if line.isupper() and line.endswith(".") and _NUMBERED.match(line):
        line = line[:-1]  # "3. TEORETISK FORSTÅELSE ... ULIKHET."
    numbered = _NUMBERED.match(line)
    if numbered:
        return _numbered_heading(line, numbered, next_block, ctx, path, page)
    return _plain_heading(line, next_block, ctx, page)


def _numbered_heading(
    line: str, m: re.Match[str], next_block: str | None, ctx: _Context, path: _SectionPath, page: Page
) -> tuple[int, str] | None:
    number, title = m.groups()
    num = tuple(int(x) for x in number.split("."))
    depth = len(num)
    heading = f"{number} {title.rstrip(':').strip()}"
    listed = ctx.contents.lists_number(num, title) or ctx.contents.lists_title(line)
    styled = ctx.styled(page, line)
    if not _title_form(title, listed or bool(styled)) or len(line.split()) > MAX_HEADING_WORDS:
        return None
    if listed:
        return depth, heading
    if styled is False:
        return None  # the document sets its headings apart by type, and not this line
    if ctx.contents.covers(depth) and not styled:
        # The contents list numbers this level but not this line: only the exact next
        # number in sequence, opening body text, is a heading it left out.
        if not (path.expects(num) and next_block is not None and _is_body(next_block)):
            return None
        return depth, heading
    # Table-of-contents rows are heading-like lines followed by more of them.
    if next_block is None or (_toc_row(next_block, depth) and not styled):
        return None
    return (depth, heading) if path.accepts(num) else None


def _title_form(title: str, evidence: bool) -> bool:
    """A section title after its number: capitalised, short, no sentence or list punctuation."""
    first = title[:1]
    if not (first.isupper() or first in '«"'):
        return False
    if " | " in title or _DOT_LEADER_END.search(title):
        return False
    words = title.split()
    if words[-1].lower() in _FUNCTION_WORDS:
        return False  # the first line of a numbered list item that wraps
    end = title.rstrip()[-1]
    if end in ".,;" or (end == ":" and not evidence):
        return False  # sentences, list items and lead-ins ("Kommunen skal:")
    if end.isdigit() and not (evidence or _YEAR_END.search(title)):
        return False  # a contents row ending in its page; a title may end in a year
    rest = _YEARS.sub("", title).replace(" ", "")
    letters = sum(ch.isalpha() for ch in rest)
    return letters >= 2 and letters >= 0.5 * len(rest)


def _plain_heading(line: str, next_block: str | None, ctx: _Context, page: Page) -> tuple[int, str] | None:
    bare = _BULLET.sub("", line).strip()
    if ctx.contents.present and ctx.contents.lists_title(bare, numbered=False) and _looks_like_title(bare):
        return 0, bare  # the contents list names it (bullets included: "• Prioritering")
    if not _looks_like_title(line):
        return None
    words = line.split()
    if len(words) > MAX_PLAIN_HEADING_WORDS or not line[0].isupper():
        return None
    if words[-1].lower() in _FUNCTION_WORDS or words[0].rstrip(":,.").lower() in _CAPTION_WORDS:
        return None  # a wrapped line ("... bidrar til") or a caption ("Foto, ...")
    styled = ctx.styled(page, line)
    if styled is not None:
        # Type decides; a heading set apart may open a sub-heading rather than a paragraph.
        return (0, line) if styled and next_block is not None else None
    if next_block is None or not _is_body(next_block):
        return None
    if ctx.contents.present:
        # A contents list names the sections; what it leaves out is a caption, a label
        # or a box title, except the parts a contents list often skips.
        return (0, line) if line.lower() in _FRONT_MATTER else None
    if _LABEL_START.match(line) or _CREDIT_END.search(line) or _QUOTED.search(line):
        return None  # chart labels ("C Landet"), photo credits ("Sentrumsparken (JMF)"), slogans
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


def _fused_heading(block: str, ctx: _Context, path: _SectionPath) -> tuple[str, str] | None:
    """A numbered heading run into its first paragraph on one line, split off.

    "3.5.2 Barn og unge Barn og unge er framtida ..." is split only where the
    number is the next one in sequence (or listed in the contents): the title
    runs to the first capitalised word after it, as Norwegian titles are set in
    sentence case.
    """
    first, _, rest = block.partition("\n")
    m = _NUMBERED.match(first)
    if not m or len(first.split()) <= MAX_HEADING_WORDS:
        return None
    number, text = m.groups()
    num = tuple(int(x) for x in number.split("."))
    if not (path.expects(num) or ctx.contents.lists_number(num, text)):
        return None
    words = text.split()
    if not words[0][:1].isupper():
        return None
    end = next((i for i in range(1, len(words)) if words[i][:1].isupper()), None)
    if end is None or end > MAX_PLAIN_HEADING_WORDS or len(words) - end < MIN_FUSED_BODY_WORDS:
        return None
    title = " ".join(words[:end])
    if not _title_form(title, True):
        return None
    body = " ".join(words[end:])
    return f"{number} {title}", f"{body}\n{rest}".strip()


class _SectionPath:
    """Heading stack: numbered headings nest by depth; a plain title hangs below them."""

    def __init__(self) -> None:
        self.numbered: list[tuple[int, str]] = []
        self.plain: str = ""

    def accepts(self, num: tuple[int, ...]) -> bool:
        """Numbering must move forward; a numbered list item ("3 En kommune ...") does not."""
        if not self.numbered:
            return True
        current = [_number_of(t) for _, t in self.numbered]
        if len(num) == 1:
            return current[0][:1] < num <= (current[0][0] + 3,)
        parent, sibling = num[:-1], [c for c in current if len(c) == len(num)]
        if parent not in current:
            return bool(current[0]) and num[0] > current[0][0]
        return not sibling or sibling[0][:-1] != parent or sibling[0] < num

    def expects(self, num: tuple[int, ...]) -> bool:
        """The number comes exactly next: a first child, the next sibling, or the next at a level above."""
        current = [_number_of(t) for _, t in self.numbered]
        if not current:
            return num in ((1,), (1, 1))
        last = current[-1]
        if num == (*last, 1):
            return True
        return any(num == (*c[:-1], c[-1] + 1) for c in current)

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
    """Paragraph blocks (blank-line separated); a heading set over two spaced lines is one."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        if out and _heading_goes_on(out[-1], block):
            out[-1] = f"{out[-1]} {block}"
            continue
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
    read = [p for p in pages if p.source not in ("empty", "scan")]
    blocks = {p.number: _blocks(p.text) for p in read}
    toc = {p.number: _contents_blocks(blocks[p.number]) for p in read}
    ctx = _context(read, {n: idx for n, idx in toc.items() if idx}, blocks)
    path = _SectionPath()
    paras: list[_Para] = []
    for page in read:
        queue = [b for i, b in enumerate(blocks[page.number]) if i not in toc[page.number]]
        i = 0
        while i < len(queue):
            block = queue[i]
            split = _split_heading(block, queue[i + 1] if i + 1 < len(queue) else None, ctx, path, page)
            if split:
                queue[i : i + 1] = list(split)
                block = queue[i]
            nxt = queue[i + 1] if i + 1 < len(queue) else None
            i += 1
            heading = _heading(block, nxt, ctx, path, page)
            if heading:
                path.push(*heading)
                if headings is not None:
                    headings.append(Heading(page.number, path.depth, heading[1]))
                continue
            if _is_toc_block(block, strict=True):
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


def _split_heading(
    block: str, nxt: str | None, ctx: _Context, path: _SectionPath, page: Page
) -> tuple[str, ...] | None:
    """A heading glued to the paragraph after it, or before it (no blank line between).

    Returns the block's parts in order, the heading one of them. A heading at the
    start may be numbered; an unnumbered one anywhere in the block (a column
    layout that kept no gap around it, wrapped over one or two lines) needs the
    contents list or its type to say it is one, and text after it that starts
    a sentence.
    """
    fused = _fused_heading(block, ctx, path)
    if fused:
        return fused
    lines = block.split("\n")
    if len(lines) < 2:
        return None
    first, rest = lines[0], "\n".join(lines[1:])
    if _NUMBERED.match(first):
        return (first, rest) if _heading(first, rest, ctx, path, page) else None
    for j in range(len(lines)):
        for span in (1, 2):
            if j + span > len(lines):
                continue
            head = " ".join(ln.strip() for ln in lines[j : j + span])
            after = "\n".join(lines[j + span :])
            follow = after or nxt
            starts = head[:1].isupper() or bool(_NUMBERED.match(head))
            if not starts or (follow and not follow.lstrip()[:1].isupper()):
                continue
            if _evident(head, ctx, page) and _heading(head, follow, ctx, path, page):
                return tuple(part for part in ("\n".join(lines[:j]), head, after) if part)
    return None


def _evident(line: str, ctx: _Context, page: Page) -> bool:
    """An unnumbered line inside a block needs more than its length: the contents list or its type."""
    if len(line.split()) > MAX_HEADING_WORDS or ctx.is_running(line):
        return False
    m = _NUMBERED.match(line)
    if m:
        num = tuple(int(x) for x in m.group(1).split("."))
        return ctx.contents.lists_number(num, m.group(2)) or bool(ctx.styled(page, line))
    return ctx.contents.lists_title(_BULLET.sub("", line), numbered=False) or bool(ctx.styled(page, line))


def _contents_blocks(blocks: list[str]) -> set[int]:
    """Indexes of the blocks that make up a contents list on this page (none if it has none).

    The list runs from its title ("Innhold") or first entry to its last entry;
    short blocks between entries are entries whose page number was set apart.
    Text after the last entry (a preface on the same page) is not the list.
    """
    titles = [i for i, b in enumerate(blocks) if _CONTENTS_TITLE.match(b.split("\n", 1)[0].strip())]
    if titles:
        # Under its title the list runs on while blocks are entries or short lines (a
        # title, a page number on a line of its own); a short line followed by a
        # paragraph is that paragraph's heading, and ends the list.
        end = titles[0]
        for i in range(titles[0] + 1, len(blocks)):
            block, nxt = blocks[i], blocks[i + 1] if i + 1 < len(blocks) else None
            entry = _is_contents_entry(block)
            if not (entry or _is_short_entry(block)):
                break
            if not entry and nxt is not None and _is_body(nxt) and not _is_short_entry(nxt):
                break
            end = i
        return set(range(titles[0], end + 1))
    entries = [i for i, b in enumerate(blocks) if _is_contents_entry(b)]
    if len(entries) < MIN_CONTENTS_BLOCKS:
        return set()
    return set(range(entries[0], entries[-1] + 1))


def _is_short_entry(block: str) -> bool:
    """A contents entry without leader: a short title or a page number, no sentence."""
    if _is_contents_entry(block):
        return True
    if any(_SENTENCE_LINE.search(ln) for ln in block.split("\n")):
        return False
    words = block.split()
    numbers = sum(1 for w in words if re.fullmatch(r"[\d.]+", w))
    return len(words) <= MAX_HEADING_WORDS or (numbers >= 2 and len(words) <= 2 * MAX_HEADING_WORDS)


def _is_contents_entry(block: str) -> bool:
    lines = [ln for ln in block.split("\n") if ln.strip()]
    leaders = sum(1 for ln in lines if is_toc_line(ln) or ln.rstrip().endswith("…"))
    if leaders and leaders >= 0.5 * len(lines):
        return True
    return _is_toc_block(block, strict=False) and len(block.split()) > 12


def _is_toc_block(block: str, strict: bool = False) -> bool:
    """What is left of a table of contents: section numbers and page numbers between
    short titles, or dot leaders. Nobody quotes it.

    ``strict`` asks for several section numbers such as "8.2": Norwegian tables
    write decimals with a comma, so a table of figures is not mistaken for one."""
    if any(is_toc_line(ln) for ln in block.split("\n")):
        return True
    words = block.split()
    numbers = sum(1 for w in words if re.fullmatch(r"[\d.|…]+-?", w))
    if strict:
        sections = sum(1 for w in words if re.fullmatch(r"\d{1,2}(?:\.\d{1,2})+\.?", w))
        return sections >= 3 and numbers >= 6 and numbers >= 0.35 * len(words)
    return bool(_CONTENTS_TITLE.match(block)) or (numbers >= 4 and numbers >= 0.25 * len(words))


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
