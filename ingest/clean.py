"""Text cleaning shared by every source format (PDF, DOCX, HTML, Markdown, text).

The functions take and return plain strings (or ``Page`` lists) so that each
extractor can run the same cleaning after its own format-specific reading.
Blank lines separate paragraphs throughout; cleaning must not erase them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from plansok.models import Page

log = logging.getLogger(__name__)

# Private-use glyphs that Symbol/Wingdings fonts use for bullets; Word exports
# leave them as raw code points, which neither tokenisers nor readers understand.
_PUA_BULLETS = "\uf0b7\uf0a7\uf0d8\uf076\uf0fc\uf0a8\uf0e0\uf06e\uf071\uf0f0\uf0be\uf02d"
_BULLET_MAP = {ord(c): "•" for c in _PUA_BULLETS + "\u25aa\u25cf\u2022\u25e6\u2023\u2043"}
# Marks that only steer layout; they break word matching if left in.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = {ord(c): " " for c in "\u00a0\u2007\u202f\u2002\u2003\u2009\t"}

# NFKC also rewrites ², ½ and full-width forms that carry meaning in statistics
# ("m²"), so only the typographic ligatures are decomposed.
_LIGATURES = {ord(c): unicodedata.normalize("NFKC", c) for c in "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"}

_DOT_LEADER = re.compile(r"(?:\.\s*){4,}|…{2,}|(?:\.\s?){3,}\s*\d+\s*$|(?:^|\s)…\s*\d{1,4}(?![\d,.]\d)")
# A leader as cleaning leaves it: one ellipsis between the title and the page.
_LEADER_RUN = re.compile(r"[ \t]*(?:(?:\.[ \t]?){4,}|…{2,}|(?:\.[ \t]?){3,}(?=[ \t]*\d+[ \t]*$))[ \t]*")
_PAGE_ONLY = re.compile(r"^\s*(?:(?:side|page|s\.)\s*)?(\d{1,4})(?:\s*(?:av|of|/)\s*\d{1,4})?\s*$", re.IGNORECASE)
_SIDE_N = re.compile(r"\b(?:side|page|s\.)\s*(\d{1,4})(?:\s*(?:av|of|/)\s*\d{1,4})?\b", re.IGNORECASE)
_EDGE_NUMBER = re.compile(r"^\s*(\d{1,4})\s*[|–—-]\s|\s[|–—-]\s*(\d{1,4})\s*$")

# Words after which a line-end hyphen is a suspended compound ("helse- og omsorg").
_SUSPENSION_WORDS = {"og", "eller", "and", "or", "samt", "enn", "til", "som", "både", "så"}

HEADER_ZONE = 3  # lines at the top and bottom of a page that may be running lines
MIN_REPEAT_SHARE = 0.4  # share of pages a line must appear on to count as running
# Books alternate headers on left and right pages: a line on this share of the odd (or of
# the even) pages is running too.
MIN_SIDE_SHARE = 0.6
# A line whose number follows the page numbers ("Statistikkrapport | 9" on page 9, "10 |
# Levekår i Drammen" on page 10) is a running line on fewer pages: this share of them,
# with the number tracking the page on TRACKING_SHARE of its occurrences.
MIN_TRACKING_SHARE = 0.15
TRACKING_SHARE = 0.8
# Two printed pages set side by side on one sheet ("2-up"): the printed numbers step by two per
# sheet, and each half has its own running lines, so one half's footer and the next half's header
# meet mid-page. A document is read as 2-up when at least this many of its pages (and this share)
# show both numbers of their sheet.
MIN_SPREAD_PAGES = 3
MIN_SPREAD_SHARE = 0.15
MIN_SPREAD_OFFSET_PAGES = 2  # pages' worth of evidence for each numbering offset (see _spread_offset)
_NUMBER = re.compile(r"\d+")
_WORDS = re.compile(r"[^\W\d_]{2,}")
_EDGE_HASH = re.compile(r"^#\s*[|–—-]?\s*|\s*[|–—-]?\s*#$")


_CHAR_MAP: dict[int, str | None] = {**_LIGATURES, **_SPACES, **_BULLET_MAP, **_INVISIBLE}
# str.translate looks every character up in the map; most pages hold none of these, so find one first.
_MAPPED = re.compile("[" + re.escape("".join(map(chr, _CHAR_MAP))) + "]")


def normalize_chars(text: str) -> str:
    """Map bullets, ligatures, odd spaces and invisible marks to plain characters."""
    if _MAPPED.search(text):
        text = text.translate(_CHAR_MAP)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep single blank lines between paragraphs."""
    lines = [re.sub(r" {2,}", " ", ln).strip() for ln in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# A contents entry is a short title, a leader and a page; a line with fewer
# leaders than one per this many words is running text that happens to hold
# one (a plan whose text lost its line breaks is a single such line).
TOC_WORDS_PER_LEADER = 15


def is_toc_line(line: str) -> bool:
    """True for table-of-contents lines: a title followed by a dot leader and a
    page (or several such entries run together on one line)."""
    if not _DOT_LEADER.search(line):
        return False
    words = len(line.split())
    return words <= TOC_WORDS_PER_LEADER or words <= TOC_WORDS_PER_LEADER * len(_DOT_LEADER.findall(line))


def collapse_dot_leaders(text: str) -> str:
    """Shorten table-of-contents dot leaders to one "…": "8.2 Folkehelse ...... 9" -> "8.2 Folkehelse … 9".

    The entries stay in the page text (they are what the page shows, and the
    passage splitter reads headings from them); a line of nothing but dots goes.
    """
    out = []
    for line in text.split("\n"):
        if _LEADER_RUN.search(line):
            line = _LEADER_RUN.sub(" … ", line).strip()
            if not line.strip(" …"):
                continue
        out.append(line)
    return "\n".join(out)


def _keeps_hyphen(before: str, after: str) -> bool:
    """Whether a hyphen at a line end is a real one rather than a word break."""
    if not before or not after:
        return True
    last = before[-1]
    if last.isupper() or last.isdigit():
        return True  # "NAV-kontoret", "2020-tallet" keep their hyphen
    if not last.isalpha():
        return False  # a break after "/" or ")" was added by the typesetter
    next_word = re.match(r"[\wæøåÆØÅ]+", after)
    if next_word is None:
        return True
    word = next_word.group(0)
    if word.lower() in _SUSPENSION_WORDS:
        return True
    return word[0].isupper()  # "Nord-Norge", "sør-Afrika" keep the hyphen


def join_hyphenated(text: str) -> str:
    """Join words broken across lines with a hyphen, keeping real hyphens.

    "resultatenhets-\\nmodellen" -> "resultatenhetsmodellen";
    "NAV-\\nkontoret" -> "NAV-kontoret"; "helse-\\nog omsorg" -> "helse- og omsorg".
    """

    def repl(m: re.Match[str]) -> str:
        before, after = m.group(1), m.group(2)
        if after.split(maxsplit=1)[0].lower().strip(",.;:") in _SUSPENSION_WORDS:
            return f"{before}- {after}"
        if _keeps_hyphen(before, after):
            return f"{before}-{after}"
        return before + after

    return re.sub(r"(\S+)-[ \t]*\n[ \t]*(?=\S)(\S+)", repl, text)


def label_from_line(line: str) -> str | None:
    """The printed page number in a header/footer line, if it has one."""
    m = _PAGE_ONLY.match(line)
    if m:
        return m.group(1)
    m = _SIDE_N.search(line)
    if m:
        return m.group(1)
    m = _EDGE_NUMBER.search(line)
    if m:
        return m.group(1) or m.group(2)
    return None


def _digit_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def _edge_lines(lines: list[str], joins: Sequence[int] = ()) -> list[int]:
    """Indexes of the first and last few non-empty lines of a page, and of the printed pages in it.

    ``joins`` are lines where two printed pages meet mid-page (a 2-up sheet): the
    lines either side of a join are a printed page's bottom and the next one's top.
    """
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    edges = set(filled[:HEADER_ZONE] + filled[-HEADER_ZONE:])
    for j in joins:
        at = filled.index(j)
        edges.update(filled[max(at - HEADER_ZONE, 0) : at + HEADER_ZONE + 1])
    return sorted(edges)


@dataclass
class RunningLines:
    """A document's running lines, as digit-blind keys.

    ``tracking`` maps the keys that carry the page number to (which of the
    line's numbers, how many printed pages a sheet holds, its offsets from the
    page's position): such a line is dropped wherever it stands on its own page,
    not only at the edges, since a footer can land among the labels of a map or
    chart. ``spread`` is set for a 2-up document: the sheet at position n holds
    the printed pages 2n + b and 2n + b + 1, b one of ``spread`` (a single page
    among the sheets shifts b by two). ``sheet_edges`` are the running lines the
    sheets' own edges show, before the joins between printed pages were known.
    """

    keys: set[str] = field(default_factory=set)
    tracking: dict[str, tuple[int, int, frozenset[int]]] = field(default_factory=dict)
    spread: frozenset[int] | None = None
    sheet_edges: RunningLines | None = None

    def __bool__(self) -> bool:
        return bool(self.keys)

    def at_edges(self) -> RunningLines:
        """The running lines as the sheets' edges alone show them, with no joins between printed pages."""
        edges = self.sheet_edges or self
        return RunningLines(edges.keys, edges.tracking)


def find_running_lines(page_texts: Sequence[str], numbers: Sequence[int] | None = None) -> RunningLines:
    """Lines repeated near the top/bottom of many pages (``numbers``: the pages' positions).

    On a 2-up document (its printed numbers step by two per page, two to a page)
    the lines where printed pages meet mid-page count as page edges too.
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(page_texts) + 1))
    pages = [text.split("\n") for text in page_texts]
    first = _running_from_edges(pages, numbers, [()] * len(pages))
    first.spread = _spread_offset(pages, numbers, first.keys)
    if first.spread is None:
        return first
    joins = [_joins(lines, number, first) for lines, number in zip(pages, numbers, strict=True)]
    if not any(joins):
        return first
    out = _running_from_edges(pages, numbers, joins)
    out.spread, out.sheet_edges = first.spread, first
    log.debug("2-up pages (printed = 2 x page + %s); joins on %d pages", sorted(first.spread), sum(map(bool, joins)))
    return out


def _running_from_edges(pages: list[list[str]], numbers: list[int], joins: list[Sequence[int]]) -> RunningLines:
    seen: dict[str, list[tuple[int, list[int]]]] = {}
    every: dict[str, list[tuple[int, list[int]]]] = {}  # each occurrence, two to a page on 2-up sheets
    for number, lines, page_joins in zip(numbers, pages, joins, strict=True):
        for i in _edge_lines(lines, page_joins):
            for part in _edge_parts(lines[i]):
                key = _digit_key(part)
                if key in ("", "#"):
                    continue
                nums = [int(n) for n in _NUMBER.findall(part)]
                every.setdefault(key, []).append((number, nums))
                occurrences = seen.setdefault(key, [])
                if not occurrences or occurrences[-1][0] != number:
                    occurrences.append((number, nums))
    n_pages = len(pages)
    sides = Counter(n % 2 for n in numbers)
    out = RunningLines()
    for key, occurrences in seen.items():
        count = len(occurrences)
        if count < 3:
            continue
        on_side = Counter(n % 2 for n, _ in occurrences)
        if count >= MIN_REPEAT_SHARE * n_pages or any(
            on_side[side] >= MIN_SIDE_SHARE * sides[side] for side in on_side
        ):
            out.keys.add(key)
        tracking = _page_tracking(occurrences) or _page_tracking(every[key], per_page=2)
        if tracking and count >= MIN_TRACKING_SHARE * n_pages:
            out.keys.add(key)
            out.tracking[key] = tracking
    # The same footer where the page number has a line of its own ("3" under it).
    for key in list(out.keys):
        bare = _EDGE_HASH.sub("", key).strip()
        if bare != key and len(seen.get(bare, ())) >= 3:
            out.keys.add(bare)
    return out


def _edge_parts(line: str) -> list[str]:
    """The line, and the runs of cells at its start and end where its cells are all words.

    The two printed pages of a 2-up sheet set their headers at one height, so they
    read as one line ("Helseplan 2024–2028 | Kapittel 3: Helse"); the half that
    repeats is a running line on its own, and ``strip_running_lines`` takes
    such cells off a line. A header beside its page number ("12 | Kommuneplan")
    is not split: alone, its title would also match the cover's.
    """
    cells = line.split(" | ")
    if len(cells) == 1 or not all(_WORDS.search(c) for c in cells):
        return [line]
    heads = [" | ".join(cells[:k]) for k in range(1, len(cells))]
    tails = [" | ".join(cells[-k:]) for k in range(1, len(cells))]
    return [line, *dict.fromkeys(heads + tails)]


def _page_tracking(
    occurrences: list[tuple[int, list[int]]], per_page: int = 1
) -> tuple[int, int, frozenset[int]] | None:
    """(number slot, ``per_page``, offsets) if one of a line's numbers follows the page position.

    The offset may step where a printed page spans two physical ones (a foldout),
    so the offsets seen twice or more all count. With ``per_page=2`` the number
    follows twice the position (two printed pages to a sheet), at two offsets
    side by side.
    """
    slots = min(len(nums) for _, nums in occurrences)
    for slot in range(slots):
        offsets = Counter(nums[slot] - per_page * number for number, nums in occurrences)
        top = offsets.most_common(2)
        if per_page > 1 and len(top) == 2 and abs(top[0][0] - top[1][0]) != 1:
            top = top[:1]  # the two printed pages of a sheet are numbered one apart
        if sum(n for _, n in top) >= TRACKING_SHARE * len(occurrences):
            return slot, per_page, frozenset(o for o, n in offsets.items() if n >= 2)
    return None


def _tracks(line: str, number: int, where: tuple[int, int, frozenset[int]]) -> str | None:
    """The line's page number if it follows the page as a tracking key's ``where`` says."""
    slot, per_page, offsets = where
    nums = _NUMBER.findall(line)
    if len(nums) > slot and int(nums[slot]) - per_page * number in offsets:
        return nums[slot]
    return None


def _spread_offset(pages: list[list[str]], numbers: list[int], keys: set[str]) -> frozenset[int] | None:
    """The b where the page at position n shows the printed numbers 2n + b and 2n + b + 1 (a 2-up document).

    The numbers are read from lines that are nothing but a number, anywhere on
    the page (a half's footer lands mid-page), and from running lines (not their
    years). A page counts when it shows a pair of consecutive numbers; where it
    shows several (its own position stamped beside the printed numbers, a table
    column, a chart axis "1 2 3 4"), each pair counts for its share, so an axis
    that fits any sheet says next to nothing. A single page among the sheets
    shifts b by two, so every b seen on MIN_SPREAD_OFFSET_PAGES pages' worth
    counts, and the document is 2-up when those make enough pages together.
    """
    weight: dict[int, float] = {}
    for number, lines in zip(numbers, pages, strict=True):
        found: set[int] = set()
        for line in lines:
            m = _PAGE_ONLY.match(line)
            if m:
                found.add(int(m.group(1)))
            elif _digit_key(line) in keys:
                found.update(int(n) for n in _NUMBER.findall(line) if len(n) <= 3)
        pairs = [n for n in found if n + 1 in found]
        for n in pairs:
            weight[n - 2 * number] = weight.get(n - 2 * number, 0.0) + 1 / len(pairs)
    spread = frozenset(b for b, w in weight.items() if w >= MIN_SPREAD_OFFSET_PAGES)
    if sum(weight[b] for b in spread) < max(MIN_SPREAD_PAGES, MIN_SPREAD_SHARE * len(pages)):
        return None
    return spread


def _sheet_numbers(number: int, spread: frozenset[int]) -> set[int]:
    return {2 * number + b + k for b in spread for k in (0, 1)}


def _joins(lines: list[str], number: int, running: RunningLines) -> list[int]:
    """Lines inside a 2-up page where one printed page ends and the next begins.

    A join is a page-number line of this sheet: a running line whose number
    follows the sheet, or a bare number of the sheet with a running line beside
    it (a lone number may be a table value).
    """
    if running.spread is None:
        return []
    sheet = _sheet_numbers(number, running.spread)
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    out = []
    # Joins in the edge zones count too: the zone then reaches past them (a rendering's own
    # header above a printed page's last lines).
    for at, i in enumerate(filled):
        where = running.tracking.get(_digit_key(lines[i]))
        if where is not None and where[1] == 2:
            # The line may have been seen on the other half of the sheets only: either number counts.
            nums = _NUMBER.findall(lines[i])
            if _tracks(lines[i], number, where) or (len(nums) > where[0] and int(nums[where[0]]) in sheet):
                out.append(i)
                continue
        m = _PAGE_ONLY.match(lines[i])
        if m and int(m.group(1)) in sheet:
            near = filled[max(at - HEADER_ZONE, 0) : at + HEADER_ZONE + 1]
            if any(_digit_key(lines[j]) in running.keys for j in near if j != i):
                out.append(i)
    return out


def running_line_keys(page_texts: Sequence[str], numbers: Sequence[int] | None = None) -> set[str]:
    """Digit-blind forms of lines repeated near the top/bottom of many pages."""
    return find_running_lines(page_texts, numbers).keys


def strip_running_lines(
    text: str, running: set[str] | RunningLines, number: int | None = None
) -> tuple[str, str | None]:
    """Drop running headers/footers and page numbers; return (text, printed label).

    With a ``RunningLines`` and the page's position, a line carrying this
    page's number is dropped wherever it stands, and on a 2-up document the
    running lines where its printed pages meet mid-page go too.
    """
    if isinstance(running, RunningLines):
        keys, tracking = running.keys, running.tracking
    else:
        keys, tracking = running, {}
    lines = text.split("\n")
    joins: list[int] = []
    sheet: set[int] = set()
    if isinstance(running, RunningLines) and running.spread is not None and number is not None:
        joins = _joins(lines, number, running)
        sheet = _sheet_numbers(number, running.spread)
    outer = set(_edge_lines(lines))
    label: str | None = None
    drop: set[int] = set(joins)
    for i in _edge_lines(lines, joins):
        line = lines[i]
        m = _PAGE_ONLY.match(line)
        # Near a join only the sheet's own numbers are page numbers; others are body (a list, a table).
        is_number = m is not None and (i in outer or int(m.group(1)) in sheet)
        if is_number or _digit_key(line) in keys:
            drop.add(i)
            found = label_from_line(line)
            # A bare page number or "Side N" beats a number inside a header title. The page's
            # label comes from its own edges, as on a sheet with one printed page.
            if i in outer and found and (label is None or is_number or _SIDE_N.search(line)):
                label = found
        elif " | " in line:
            rest, found = _strip_running_cells(line, keys)
            if rest != line:
                lines[i] = rest
                label = label or found
    if tracking and number is not None:
        for i, line in enumerate(lines):
            where = tracking.get(_digit_key(line))
            if where is None or i in drop:
                continue
            found = _tracks(line, number, where)
            if found is not None:
                drop.add(i)
                label = label or found
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    return "\n".join(kept), label


def _strip_running_cells(line: str, keys: set[str]) -> tuple[str, str | None]:
    """A header that shares its line with text across a gap ("Statistikkrapport | 3 | Innhold")."""
    cells = line.split(" | ")
    for k in range(len(cells) - 1, 0, -1):
        head, tail = " | ".join(cells[:k]), " | ".join(cells[-k:])
        if _digit_key(head) in keys:
            return " | ".join(cells[k:]), label_from_line(head)
        if _digit_key(tail) in keys:
            return " | ".join(cells[:-k]), label_from_line(tail)
    return line, None


def clean_text(text: str) -> str:
    """Format-independent cleaning of one page or document body."""
    text = normalize_chars(text)
    text = collapse_dot_leaders(text)
    text = join_hyphenated(text)
    return normalize_whitespace(text)


def clean_pages(pages: Sequence[Page]) -> list[Page]:
    """Clean a document's pages: running lines out, labels in, text normalised.

    A label already set by the extractor is kept when no printed number is found.
    """
    texts = [normalize_whitespace(normalize_chars(p.text)) for p in pages]
    numbers = [p.number for p in pages]
    running = find_running_lines(texts, numbers) if len(texts) >= 3 else RunningLines()
    if running:
        log.debug("running lines: %s", sorted(running.keys))
    stripped = [strip_running_lines(text, running, page.number) for page, text in zip(pages, texts, strict=True)]
    if running.spread is not None:
        # The joins of 2-up pages must not take a page's whole body: where they would, the
        # page keeps what its own edges alone would leave (a body line that happens to repeat).
        edges = running.at_edges()
        for k, (page, text) in enumerate(zip(pages, texts, strict=True)):
            if not _WORDS.search(stripped[k][0]):
                fallback = strip_running_lines(text, edges, page.number)
                if _WORDS.search(fallback[0]):
                    log.info("page %d: running lines at 2-up joins would leave no text; kept", page.number)
                    stripped[k] = fallback
    if running and not any(_WORDS.search(body) for body, _ in stripped) and any(_WORDS.search(t) for t in texts):
        # Every page holds the same line and nothing else: that line is the text, not a
        # header; removing it would leave the document with no text at all.
        log.info("lines repeated on every page are the only text; kept: %s", sorted(running.keys))
        stripped = [strip_running_lines(text, set()) for text in texts]
    return [
        replace(page, text=clean_text(body), label=label or page.label)
        for page, (body, label) in zip(pages, stripped, strict=True)
    ]
