"""The codebook: theory and theme tags, their terms and traps, from a TOML file.

Terms are written as words or phrases; they are analysed with the same
Norwegian analysis as the text, so one entry covers inflections, both written
standards and compounds.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from plansok.errors import PlansokError

KINDS = ("theory", "theme")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DEFAULT_NAME = "codebook.toml"


@dataclass
class Tag:
    id: str
    kind: str
    label: str
    description: str = ""
    references: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    # Word sense: ``ambiguous`` terms (from terms or weak) count only in a
    # passage that also has one of the ``context`` terms and none of the
    # ``exclude`` terms ("konkurranse" is NPM in public management, not in
    # business development; "spesialisering" is structure, not medicine).
    ambiguous: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    threshold: float = 1.0
    # A match below twice the threshold needs the classifier's agreement.
    # Default: yes for themes (their words are everywhere), no for theories.
    confirm: bool | None = None

    @property
    def needs_confirmation(self) -> bool:
        return self.kind == "theme" if self.confirm is None else self.confirm


@dataclass
class Codebook:
    tags: list[Tag]
    name: str = ""
    version: str = ""
    text: str = ""  # the TOML it was read from, stored in the index

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tags]

    def by_kind(self, kind: str) -> list[Tag]:
        return [t for t in self.tags if t.kind == kind]

    def get(self, tag_id: str) -> Tag:
        for t in self.tags:
            if t.id == tag_id:
                return t
        raise PlansokError(f"no tag {tag_id!r} in the codebook (tags: {', '.join(self.ids)})")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    # -- reading ---------------------------------------------------------------------
    @classmethod
    def default(cls) -> Codebook:
        text = resources.files("plansok.tag").joinpath("data", DEFAULT_NAME).read_text("utf-8")
        return cls.from_text(text, "the default codebook")

    @classmethod
    def load(cls, path: Path | str | None) -> Codebook:
        if path is None:
            return cls.default()
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlansokError(f"{path}: cannot read codebook ({exc.strerror or exc})") from exc
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, origin: str = "codebook") -> Codebook:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PlansokError(f"{origin}: not valid TOML ({exc})") from exc
        problems = validate(data)
        if problems:
            raise PlansokError(f"{origin}: invalid codebook:\n  " + "\n  ".join(problems))
        meta = data.get("meta", {})
        tags = [Tag(**{k: v for k, v in raw.items() if k in Tag.__dataclass_fields__}) for raw in data["tag"]]
        return cls(tags=tags, name=meta.get("name", ""), version=str(meta.get("version", "")), text=text)


def validate(data: dict) -> list[str]:
    """Everything wrong with a parsed codebook, as readable sentences."""
    problems: list[str] = []
    raw_tags = data.get("tag")
    if not isinstance(raw_tags, list) or not raw_tags:
        return ["no [[tag]] entries"]
    seen: set[str] = set()
    known = set(Tag.__dataclass_fields__)
    for i, raw in enumerate(raw_tags, start=1):
        where = f"tag {i} ({raw.get('id', '?')})"
        tag_id = raw.get("id")
        if not isinstance(tag_id, str) or not ID_RE.match(tag_id):
            problems.append(f"{where}: id must be lower-case letters, digits and '-'")
        elif tag_id in seen:
            problems.append(f"{where}: duplicate id")
        else:
            seen.add(tag_id)
        if raw.get("kind") not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not raw.get("label"):
            problems.append(f"{where}: needs a label")
        for key in sorted(set(raw) - known):
            problems.append(f"{where}: unknown field {key!r}")
        lists = ("terms", "weak", "patterns", "negative", "ambiguous", "context", "exclude", "sections", "references")
        for key in lists:
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                problems.append(f"{where}: {key} must be a list of non-empty strings")
        if not raw.get("terms") and not raw.get("patterns"):
            problems.append(f"{where}: needs terms or patterns")
        listed = set(raw.get("terms", []) or []) | set(raw.get("weak", []) or [])
        for term in raw.get("ambiguous", []) if isinstance(raw.get("ambiguous"), list) else []:
            if term not in listed:
                problems.append(f"{where}: ambiguous term {term!r} is not among its terms or weak terms")
        if raw.get("ambiguous") and not raw.get("context"):
            problems.append(f"{where}: ambiguous terms need context terms")
        for key in ("patterns", "sections"):
            for pattern in raw.get(key, []) if isinstance(raw.get(key), list) else []:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(f"{where}: bad regular expression {pattern!r} in {key} ({exc})")
        if "confirm" in raw and not isinstance(raw["confirm"], bool):
            problems.append(f"{where}: confirm must be true or false")
        threshold = raw.get("threshold", 1.0)
        if not isinstance(threshold, (int, float)) or threshold <= 0:
            problems.append(f"{where}: threshold must be a positive number")
    return problems
