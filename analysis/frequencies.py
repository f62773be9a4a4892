"""Word frequencies (wordfreq's Norwegian list) for choosing among readings.

Importing wordfreq and loading its whole list costs about a third of a second,
more than the rest of a one-word query on a million passages. So the list is
kept once as an SQLite table in the user's cache folder (``$XDG_CACHE_HOME``
or ``~/.cache``, ``plansok/``), named by wordfreq's version, and a short
process looks up only its few words. A process that asks for many words (an
ingest) loads the whole list once, as dictionary look-ups are faster than any
query. Without a writable cache folder the list is loaded as before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# After this many distinct words a process is analysing documents, not a query.
LOOKUPS_BEFORE_LOADING = 2_000


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "plansok"


class WordFrequencies:
    """``get(word)``: the word's frequency in running Norwegian text (0 if unlisted)."""

    def __init__(self, lang: str = "nb", folder: Path | None = None) -> None:
        self.lang = lang
        self.folder = folder or cache_folder()
        self._all: dict[str, float] | None = None
        self._db: sqlite3.Connection | None = None
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, word: str) -> float:
        if self._all is not None:
            return self._all.get(word, 0.0)
        with self._lock:
            hit = self._seen.get(word)
            if hit is not None:
                return hit
            if len(self._seen) >= LOOKUPS_BEFORE_LOADING:
                self._all = self._load()
                return self._all.get(word, 0.0)
            if self._db is None:
                self._db = self._open()
                if self._db is None:
                    self._all = self._load()
                    return self._all.get(word, 0.0)
            try:
                row = self._db.execute("SELECT f FROM freq WHERE w = ?", (word,)).fetchone()
            except sqlite3.Error as e:  # a damaged cache file: the list it was made from
                logger.warning("word frequency cache unreadable (%s); loading the whole list", e)
                self._all = self._load()
                return self._all.get(word, 0.0)
            value = self._seen[word] = float(row[0]) if row else 0.0
            return value

    def _load(self) -> dict[str, float]:
        from wordfreq import get_frequency_dict

        return get_frequency_dict(self.lang)

    def _path(self) -> Path:
        from importlib.metadata import version

        return self.folder / f"wordfreq-{self.lang}-{version('wordfreq')}.sqlite"

    def _open(self) -> sqlite3.Connection | None:
        path = self._path()
        try:
            if not path.exists():
                self._write(path)
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            logger.debug("word frequencies not cached in %s (%s); loading the whole list", path, e)
            return None

    def _write(self, path: Path) -> None:
        """Write the table under a temporary name and rename it: a reader never
        opens a half-written file, and two processes writing at once both
        leave a whole one."""
        freqs = self._load()
        self._all = freqs  # loaded anyway: use it for the rest of this process
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            con = sqlite3.connect(tmp)
            with con:
                con.execute("CREATE TABLE freq (w TEXT PRIMARY KEY, f REAL NOT NULL) WITHOUT ROWID")
                con.executemany("INSERT INTO freq VALUES (?, ?)", freqs.items())
            con.close()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
