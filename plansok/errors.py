"""Errors a researcher sees. Each names the file and the reason."""

from __future__ import annotations


class PlansokError(Exception):
    """Base class for errors reported to the user without a traceback."""


class IngestError(PlansokError):
    """A source file could not be read. The batch goes on without it."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexError_(PlansokError):
    """The index directory is missing, from another version, or unreadable."""
