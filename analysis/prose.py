"""Is a passage prose? Theory tags need an argument in sentences.

A theory tag says the passage's language reflects a theory; a reference list
citing Hood (1991), a contents page listing "Organisasjonskultur 12", a table
of figures or a list of job titles has no such language, whatever words it
holds. These checks look only at the form of the text, never at its topic:

- a table: cells separated by " | " (how the extractor writes ruled tables and
  wide gaps), or a large share of number tokens;
- a reference list: several "Surname, I." author patterns or publisher places
  together with years;
- a contents list: several numbered titles ending in a page number, or leaders;
- a list of titles: several short lines, few of them sentences.

It sits with the analysis because both the tagger (no theory tags on
non-prose) and the index (reference lists and contents pages are recorded at
ingest, so results can leave them out without reading a passage) use it.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\S+")
_NUMBER = re.compile(r"^[(\[]?[-+−]?\d[\d.,:%/‰–-]*[)\].,;:]?$")
_YEAR = re.compile(r"\b(?:19|20)\d\d[a-z]?\b")
_AUTHOR = re.compile(r"\b[A-ZÆØÅ][\w'’-]+,\s(?:[A-ZÆØÅ]\.\s?){1,3}")
_PUBLISHER = re.compile(
    r"\b(?:Oslo|Bergen|Trondheim|Kristiansand|London|Cambridge|Oxford|New York|Thousand Oaks|Stockholm|København)\s*:"
    r"|\b(?:Universitetsforlaget|Fagbokforlaget|Cappelen|Gyldendal|Abstrakt|Sage|Routledge|Wiley)\b"
)
_CONTENTS_ENTRY = re.compile(r"(?:^|\s)\d+(?:\.\d+)*\.?\s+[A-ZÆØÅ][^\n|]{2,80}?\s\d{1,3}(?=\s|$)")
_LEADER = re.compile(r"\.{4,}|…{2,}|(?:\. ){4,}")
_SENTENCE_END = re.compile(r"[.!?:;»”\"]\s*$")

MAX_NUMBER_SHARE = 0.3
MIN_TABLE_CELLS = 3


def why_not_prose(text: str) -> str | None:
    """The kind of non-prose the passage is ("table", "references", "contents",
    "list"), or None for prose."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return "empty"
    if text.count(" | ") >= MIN_TABLE_CELLS:
        return "table"
    numbers = sum(bool(_NUMBER.match(t)) for t in tokens)
    if len(tokens) >= 6 and numbers / len(tokens) >= MAX_NUMBER_SHARE:
        return "table"
    years = len(_YEAR.findall(text))
    if years >= 2 and (len(_AUTHOR.findall(text)) >= 2 or len(_PUBLISHER.findall(text)) >= 2):
        return "references"
    if len(_CONTENTS_ENTRY.findall(text)) >= 3 or _LEADER.search(text):
        return "contents"
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if len(lines) >= 4:
        short = sum(len(ln.split()) <= 5 for ln in lines)
        sentences = sum(bool(_SENTENCE_END.search(ln)) for ln in lines)
        if short / len(lines) >= 0.7 and sentences / len(lines) <= 0.3:
            return "list"
    return None


def is_prose(text: str) -> bool:
    return why_not_prose(text) is None


# What results leave out unless asked: they match almost any query's words
# without saying anything about them. Tables and lists stay (a plan's
# measures are often a list, its targets a table).
LEFT_OUT = ("references", "contents")


def left_out_kind(text: str) -> str | None:
    """ "references" or "contents" for a passage results leave out, else None."""
    kind = why_not_prose(text)
    return kind if kind in LEFT_OUT else None
