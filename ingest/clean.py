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
from dataclasses import replace

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

_DOT_LEADER = re.compile(r"(?:\.\s*){4,}|…{2,}|(?:\.\s?){3,}\s*\d+\s*$")
_PAGE_ONLY = re.compile(r"^\s*(?:(?:side|page|s\.)\s*)?(\d{1,4})(?:\s*(?:av|of|/)\s*\d{1,4})?\s*$", re.IGNORECASE)
_SIDE_N = re.compile(r"\b(?:side|page|s\.)\s*(\d{1,4})(?:\s*(?:av|of|/)\s*\d{1,4})?\b", re.IGNORECASE)
_EDGE_NUMBER = re.compile(r"^\s*(\d{1,4})\s*[|–—-]\s|\s[|–—-]\s*(\d{1,4})\s*$")

# Words after which a line-end hyphen is a suspended compound ("helse- og omsorg").
_SUSPENSION_WORDS = {"og", "eller", "and", "or", "samt", "enn", "til", "som", "både", "så"}

HEADER_ZONE = 3  # lines at the top and bottom of a page that may be running lines
MIN_REPEAT_SHARE = 0.4  # share of pages a line must appear on to count as running


def normalize_chars(text: str) -> str:
    """Map bullets, ligatures, odd spaces and invisible marks to plain characters."""
    text = text.translate(_INVISIBLE).translate(_BULLET_MAP).translate(_SPACES)
    text = text.translate(_LIGATURES)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep single blank lines between paragraphs."""
    lines = [re.sub(r" {2,}", " ", ln).strip() for ln in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def is_toc_line(line: str) -> bool:
    """True for table-of-contents lines: a title followed by a dot leader and a page."""
    return bool(_DOT_LEADER.search(line))


def drop_toc_lines(text: str) -> str:
    """Remove table-of-contents dot-leader lines; they only repeat headings."""
    kept = []
    for line in text.split("\n"):
        if is_toc_line(line):
            continue
        kept.append(line)
    return "\n".join(kept)


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


def _edge_lines(lines: list[str]) -> list[int]:
    """Indexes of the first and last few non-empty lines of a page."""
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    return sorted(set(filled[:HEADER_ZONE] + filled[-HEADER_ZONE:]))


def running_line_keys(page_texts: Sequence[str]) -> set[str]:
    """Digit-blind forms of lines repeated near the top/bottom of many pages."""
    counts: Counter[str] = Counter()
    for text in page_texts:
        lines = text.split("\n")
        counts.update({_digit_key(lines[i]) for i in _edge_lines(lines)})
    threshold = max(3, MIN_REPEAT_SHARE * len(page_texts))
    return {key for key, n in counts.items() if n >= threshold and key not in ("", "#")}


def strip_running_lines(text: str, running: set[str]) -> tuple[str, str | None]:
    """Drop running headers/footers and page numbers; return (text, printed label)."""
    lines = text.split("\n")
    label: str | None = None
    drop: set[int] = set()
    for i in _edge_lines(lines):
        line = lines[i]
        is_number = bool(_PAGE_ONLY.match(line))
        if is_number or _digit_key(line) in running:
            drop.add(i)
            found = label_from_line(line)
            # A bare page number or "Side N" beats a number inside a header title.
            if found and (label is None or is_number or _SIDE_N.search(line)):
                label = found
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    return "\n".join(kept), label


def clean_text(text: str) -> str:
    """Format-independent cleaning of one page or document body."""
    text = normalize_chars(text)
    text = drop_toc_lines(text)
    text = join_hyphenated(text)
    return normalize_whitespace(text)


def clean_pages(pages: Sequence[Page]) -> list[Page]:
    """Clean a document's pages: running lines out, labels in, text normalised.

    A label already set by the extractor is kept when no printed number is found.
    """
    texts = [normalize_whitespace(normalize_chars(p.text)) for p in pages]
    running = running_line_keys(texts) if len(texts) >= 3 else set()
    if running:
        log.debug("running lines: %s", sorted(running))
    out = []
    for page, text in zip(pages, texts, strict=True):
        body, label = strip_running_lines(text, running)
        out.append(replace(page, text=clean_text(body), label=label or page.label))
    return out
