"""Collections: a researcher's chain of evidence.

A collection holds passages saved from queries, each with the query that
found it, the researcher's own codes and a memo, and a snapshot of the quote
and its citation. It lives beside the index in ``collections.sqlite``, apart
from the index's own tables, so re-indexing never touches it; when a source
document changes, each saved passage is looked up again and reported as
``current``, ``moved`` (same words, another place), ``changed`` (its place
now holds other words) or ``vanished``.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plansok.errors import PlansokError
from plansok.models import Hit, Passage
from plansok.sqlite import transaction

DB_NAME = "collections.sqlite"
NAME_RE = re.compile(r"^[\w][\w .-]{0,80}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    memo TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS queries (
    collection TEXT NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    run_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    collection TEXT NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    text_sha TEXT NOT NULL,
    doc_fingerprint TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    page_label TEXT,
    section TEXT NOT NULL,
    citation TEXT NOT NULL,
    source_url TEXT NOT NULL DEFAULT '',
    query TEXT NOT NULL DEFAULT '',
    rank INTEGER,
    score REAL,
    tags TEXT NOT NULL DEFAULT '[]',
    memo TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    UNIQUE (collection, doc_id, text_sha)
);
CREATE TABLE IF NOT EXISTS codes (
    item INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    PRIMARY KEY (item, code)
);
"""
# The hierarchy of the researcher's codes (format 2): a code's parent code.
CODE_TREE = """
CREATE TABLE IF NOT EXISTS code_tree (
    code TEXT PRIMARY KEY,
    parent TEXT NOT NULL CHECK (parent != code)
);
"""
SCHEMA += CODE_TREE


# The collections file's format, in SQLite's user_version. A change of the
# schema is a new step in _STEPS (from the format before it to its own),
# applied in order when an older file is opened, in one transaction.
COLLECTIONS_FORMAT = 2


def _v2_code_tree(db: sqlite3.Connection) -> None:
    """Format 2: the researcher's codes get parents (a hierarchy across collections)."""
    db.execute(CODE_TREE)


_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _v2_code_tree}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def text_sha(text: str) -> str:
    """Identity of a quote: its words, whitespace and case aside."""
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:20]


@dataclass
class Item:
    id: int
    doc_id: str
    ordinal: int
    text: str
    page_start: int
    page_end: int
    page_label: str | None
    section: str
    citation: str
    source_url: str = ""
    query: str = ""
    rank: int | None = None
    score: float | None = None
    tags: list[dict] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    memo: str = ""
    added_at: str = ""
    status: str = "current"  # current, moved, changed, vanished
    now: dict | None = None  # where the passage stands now, when moved or changed

    @property
    def passage_id(self) -> str:
        return f"{self.doc_id}#{self.ordinal}"

    def to_dict(self) -> dict:
        return asdict(self) | {"passage_id": self.passage_id}


@dataclass
class Collection:
    name: str
    memo: str
    created: str
    updated: str
    queries: list[dict] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "memo": self.memo,
            "created": self.created,
            "updated": self.updated,
            "queries": self.queries,
            "items": [i.to_dict() for i in self.items],
        }


@dataclass
class CodeInfo:
    """One of the researcher's codes: its parent, depth in the tree, and the
    passages it codes in all collections and in each."""

    name: str
    parent: str | None
    depth: int
    passages: int
    collections: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _code_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise PlansokError("a code needs a name")
    return name


class Collections:
    """The collections of one index directory."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / DB_NAME
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._check_version()
        self.db.executescript(SCHEMA)

    def _check_version(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > COLLECTIONS_FORMAT:
            self.db.close()
            raise PlansokError(
                f"{self.path}: collections format {version} was written by a newer plansok (this one reads up to "
                f"{COLLECTIONS_FORMAT}); upgrade plansok"
            )
        if version < COLLECTIONS_FORMAT:
            # Format 1 is the first schema; files written before it was numbered hold the same tables.
            with self._tx():
                for step in range(max(version, 1) + 1, COLLECTIONS_FORMAT + 1):
                    _STEPS[step](self.db)
                self.db.execute(f"PRAGMA user_version = {COLLECTIONS_FORMAT}")

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    # -- collections -------------------------------------------------------------------
    def names(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT c.name, c.memo, c.created, c.updated, COUNT(i.id) FROM collections c "
            "LEFT JOIN items i ON i.collection = c.name GROUP BY c.name ORDER BY c.name"
        ).fetchall()
        return [{"name": r[0], "memo": r[1], "created": r[2], "updated": r[3], "passages": r[4]} for r in rows]

    def ensure(self, name: str) -> None:
        if not NAME_RE.match(name):
            raise PlansokError(f"collection name {name!r}: use letters, digits, space, '.', '-' or '_'")
        now = _now()
        self.db.execute("INSERT OR IGNORE INTO collections VALUES (?, '', ?, ?)", (name, now, now))

    def _check(self, name: str) -> None:
        if not self.db.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
            known = ", ".join(c["name"] for c in self.names()) or "none yet"
            raise PlansokError(f"no collection {name!r} (collections: {known})")

    def delete(self, name: str) -> None:
        self._check(name)
        with self._tx():
            self.db.execute("DELETE FROM collections WHERE name = ?", (name,))

    def set_memo(self, name: str, memo: str) -> None:
        self._check(name)
        self.db.execute("UPDATE collections SET memo = ?, updated = ? WHERE name = ?", (memo, _now(), name))

    # -- items -------------------------------------------------------------------------
    def add_hits(
        self, name: str, hits: Sequence[Hit], query: str = "", filters: dict | None = None, fingerprints=None
    ) -> list[int]:
        """Save hits (with the query that found them); a passage already in the
        collection is kept once. Returns the item ids."""
        fingerprints = fingerprints or {}
        self.ensure(name)
        ids = []
        with self._tx():
            if query:
                self.db.execute(
                    "INSERT INTO queries VALUES (?, ?, ?, ?)",
                    (name, query, json.dumps(filters or {}, ensure_ascii=False, default=str), _now()),
                )
            for h in hits:
                fingerprint = fingerprints.get(h.doc.doc_id, h.doc.sha256)
                item = self._insert(
                    name, h.passage, h.citation, h.doc.source_url, fingerprint, query, h.rank, h.score, h.tags
                )
                ids.append(item)
            self._touch(name)
        return ids

    def add_passage(
        self, name: str, passage: Passage, citation: str, source_url: str, fingerprint: str, tags: list[dict]
    ) -> int:
        self.ensure(name)
        with self._tx():
            item = self._insert(name, passage, citation, source_url, fingerprint, "", None, None, tags)
            self._touch(name)
        return item

    def _insert(self, name, passage: Passage, citation, source_url, fingerprint, query, rank, score, tags) -> int:
        sha = text_sha(passage.text)
        row = self.db.execute(
            "SELECT id FROM items WHERE collection = ? AND doc_id = ? AND text_sha = ?", (name, passage.doc_id, sha)
        ).fetchone()
        if row:
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO items (collection, doc_id, ordinal, text, text_sha, doc_fingerprint, page_start, page_end, "
            "page_label, section, citation, source_url, query, rank, score, tags, memo, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
            (name, passage.doc_id, passage.ordinal, passage.text, sha, fingerprint, passage.page_start,
             passage.page_end, passage.page_label, passage.section, citation, source_url, query, rank, score,
             json.dumps(tags, ensure_ascii=False), _now()),
        )  # fmt: skip
        return int(cur.lastrowid)

    def _touch(self, name: str) -> None:
        self.db.execute("UPDATE collections SET updated = ? WHERE name = ?", (_now(), name))

    def _item_id(self, name: str, ref: str) -> int:
        """An item by its number in the collection or by passage id (doc#ordinal)."""
        self._check(name)
        if ref.isdigit():
            row = self.db.execute("SELECT id FROM items WHERE collection = ? AND id = ?", (name, int(ref))).fetchone()
        else:
            doc_id, _, ordinal = ref.rpartition("#")
            row = self.db.execute(
                "SELECT id FROM items WHERE collection = ? AND doc_id = ? AND ordinal = ?",
                (name, doc_id, int(ordinal) if ordinal.isdigit() else -1),
            ).fetchone()
        if not row:
            raise PlansokError(f"{name}: no passage {ref!r} in the collection (see `plansok show-collection {name}`)")
        return int(row[0])

    def remove(self, name: str, refs: Sequence[str]) -> int:
        ids = [self._item_id(name, r) for r in refs]
        with self._tx():
            for i in ids:
                self.db.execute("DELETE FROM items WHERE id = ?", (i,))
            self._touch(name)
        return len(ids)

    def code(self, name: str, ref: str, codes: Sequence[str], remove: bool = False) -> None:
        item = self._item_id(name, ref)
        with self._tx():
            for c in codes:
                if remove:
                    self.db.execute("DELETE FROM codes WHERE item = ? AND code = ?", (item, c))
                else:
                    self.db.execute("INSERT OR IGNORE INTO codes VALUES (?, ?)", (item, _code_name(c)))
            self._touch(name)

    def item_memo(self, name: str, ref: str, memo: str) -> None:
        item = self._item_id(name, ref)
        self.db.execute("UPDATE items SET memo = ? WHERE id = ?", (memo, item))
        self._touch(name)

    # -- the researcher's codes, across collections ------------------------------------
    def code_parents(self) -> dict[str, str]:
        """Each code that has a parent, and its parent."""
        return dict(self.db.execute("SELECT code, parent FROM code_tree"))

    def _code_names(self) -> set[str]:
        used = {c for (c,) in self.db.execute("SELECT DISTINCT code FROM codes")}
        return used | {n for pair in self.db.execute("SELECT code, parent FROM code_tree") for n in pair}

    def _known_code(self, code: str) -> str:
        known = self._code_names()
        if code not in known:
            close = difflib.get_close_matches(code, sorted(known), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            listed = ", ".join(sorted(known)[:10]) or "none yet"
            raise PlansokError(f"no code {code!r}{hint} (codes: {listed}; see `plansok codes`)")
        return code

    def codes(self) -> list[CodeInfo]:
        """Every code of the researcher with the passages it codes, in each
        collection; parents before their children, siblings by name."""
        counts: dict[str, dict[str, int]] = {}
        for code, collection, n in self.db.execute(
            "SELECT c.code, i.collection, COUNT(*) FROM codes c JOIN items i ON i.id = c.item "
            "GROUP BY c.code, i.collection"
        ):
            counts.setdefault(code, {})[collection] = n
        parents = self.code_parents()
        names = set(counts) | set(parents) | set(parents.values())
        children: dict[str | None, list[str]] = {}
        for name in names:
            children.setdefault(parents.get(name), []).append(name)
        out: list[CodeInfo] = []

        def walk(parent: str | None, depth: int) -> None:
            for name in sorted(children.get(parent, []), key=str.casefold):
                by_collection = counts.get(name, {})
                out.append(
                    CodeInfo(name, parent, depth, sum(by_collection.values()), dict(sorted(by_collection.items())))
                )
                walk(name, depth + 1)

        walk(None, 0)
        return out

    def rename_code(self, old: str, new: str) -> int:
        """Rename a code in every collection (and in the hierarchy). Returns the
        number of passages it codes. Renaming onto an existing code is a merge:
        use ``merge_codes``."""
        new = _code_name(new)
        self._known_code(old)
        if new == old:
            return self._coded(old)
        if new in self._code_names():
            raise PlansokError(
                f"code {new!r} exists already; to put {old!r} into it, merge them (plansok codes --merge)"
            )
        with self._tx():
            self.db.execute("UPDATE codes SET code = ? WHERE code = ?", (new, old))
            self.db.execute("UPDATE code_tree SET code = ? WHERE code = ?", (new, old))
            self.db.execute("UPDATE code_tree SET parent = ? WHERE parent = ?", (new, old))
        return self._coded(new)

    def merge_codes(self, source: str, target: str) -> int:
        """Put every passage coded ``source`` under ``target`` (a passage with
        both keeps one) and drop ``source``; its child codes move to ``target``.
        Returns the number of passages ``target`` codes afterwards."""
        target = _code_name(target)
        self._known_code(source)
        if source == target:
            raise PlansokError(f"cannot merge code {source!r} into itself")
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO codes (item, code) SELECT item, ? FROM codes WHERE code = ?", (target, source)
            )
            self.db.execute("DELETE FROM codes WHERE code = ?", (source,))
            self.db.execute("UPDATE code_tree SET parent = ? WHERE parent = ? AND code != ?", (target, source, target))
            self.db.execute("DELETE FROM code_tree WHERE parent = ? AND code = ?", (source, target))
            # target takes source's place in the tree when it has none of its own
            self.db.execute(
                "INSERT OR IGNORE INTO code_tree (code, parent) SELECT ?, parent FROM code_tree "
                "WHERE code = ? AND parent != ?",
                (target, source, target),
            )
            self.db.execute("DELETE FROM code_tree WHERE code = ?", (source,))
        return self._coded(target)

    def set_code_parent(self, child: str, parent: str | None) -> None:
        """Make ``parent`` the parent of code ``child`` (a new name makes a
        grouping code), or, with ``None``, put ``child`` at the top."""
        self._known_code(child)
        if parent is None:
            self.db.execute("DELETE FROM code_tree WHERE code = ?", (child,))
            return
        parent = _code_name(parent)
        up: str | None = parent
        parents = self.code_parents()
        seen = set()
        while up is not None and up not in seen:
            if up == child:
                raise PlansokError(f"code {parent!r} is {child!r} or below it; a code cannot be its own ancestor")
            seen.add(up)
            up = parents.get(up)
        self.db.execute("INSERT OR REPLACE INTO code_tree (code, parent) VALUES (?, ?)", (child, parent))

    def _coded(self, code: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM codes WHERE code = ?", (code,)).fetchone()[0])

    # -- reading -----------------------------------------------------------------------
    def get(self, name: str, store=None) -> Collection:  # store: plansok.index.store.IndexStore
        """The collection, each item with its status against ``store`` (if given)."""
        self._check(name)
        c = self.db.execute("SELECT name, memo, created, updated FROM collections WHERE name = ?", (name,)).fetchone()
        col = Collection(*c)
        col.queries = [
            {"query": q, "filters": json.loads(f), "run_at": t}
            for q, f, t in self.db.execute("SELECT query, filters, run_at FROM queries WHERE collection = ?", (name,))
        ]
        codes: dict[int, list[str]] = {}
        for item, code in self.db.execute(
            "SELECT c.item, c.code FROM codes c JOIN items i ON i.id = c.item WHERE i.collection = ? ORDER BY c.code",
            (name,),
        ):
            codes.setdefault(item, []).append(code)
        rows = self.db.execute(
            "SELECT id, doc_id, ordinal, text, page_start, page_end, page_label, section, citation, source_url, "
            "query, rank, score, tags, memo, added_at, doc_fingerprint, text_sha FROM items WHERE collection = ? "
            "ORDER BY id",
            (name,),
        ).fetchall()
        for r in rows:
            item = Item(*r[:13], tags=json.loads(r[13]), codes=codes.get(r[0], []), memo=r[14], added_at=r[15])
            if store is not None:
                item.status, item.now = _status(store, item, r[16], r[17])
            col.items.append(item)
        return col


def _status(store, item: Item, fingerprint: str, sha: str) -> tuple[str, dict | None]:
    """Where the saved passage stands in the index now."""
    current = store.document_hashes().get(item.doc_id)
    if current is None:
        return "vanished", None
    if current == fingerprint:
        return "current", None
    passages = store.passages_of(item.doc_id)
    same = [p for _pid, p in passages if text_sha(p.text) == sha]
    if any(p.ordinal == item.ordinal and p.page_start == item.page_start for p in same):
        return "current", None  # the document was re-read, this passage is as it was
    if same:
        p = same[0]
        return "moved", {"passage_id": p.passage_id, "page": p.page_start, "section": p.section}
    at = next((p for _pid, p in passages if p.ordinal == item.ordinal), None)
    if at is None:
        return "vanished", None
    return "changed", {"passage_id": at.passage_id, "page": at.page_start, "text": at.text}
