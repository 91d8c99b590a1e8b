"""A throwaway database on disk for what a pass over a large report must remember.

Netting a report needs every row's key and the rows that may pair, and the rows that
wait for it; a weekly report of a million rows would hold hundreds of megabytes of them.
They go into a SQLite file in a temporary folder instead, with a few megabytes of page
cache, and the file goes when the pass ends: memory stays flat in the number of rows.
It is not the project's database: nothing in it outlives the pass, on any backend.
"""

import pickle
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Pages SQLite keeps in memory, in KiB (a negative cache_size is KiB, not pages).
CACHE_KIB = 8192


@contextmanager
def scratch() -> Iterator[sqlite3.Connection]:
    """Yield a connection to a new, empty scratch database; it is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="sellercover-scratch-") as folder:
        db = sqlite3.connect(Path(folder) / "scratch.sqlite3", isolation_level=None)
        try:
            # Nothing here must survive a crash: no journal, no waiting for the disk.
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # One transaction, never committed: a commit per batch writes its pages out.
            db.execute("BEGIN")
            yield db
        finally:
            db.close()


class Kept:
    """Objects set aside in file order, by a rising index, and read back in that order."""

    def __init__(self, db: sqlite3.Connection, name: str):
        self._db, self._table = db, f"kept_{name}"
        db.execute(f"CREATE TABLE {self._table} (position INTEGER PRIMARY KEY, item BLOB)")

    def add_many(self, items: Iterable[tuple[int, Any]]) -> None:
        self._db.executemany(
            f"INSERT INTO {self._table} VALUES (?, ?)",
            ((position, pickle.dumps(item, pickle.HIGHEST_PROTOCOL)) for position, item in items),
        )

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        # Our own pickles, written by this pass into a folder only it knows.
        for position, item in self._db.execute(
            f"SELECT position, item FROM {self._table} ORDER BY position"
        ):
            yield position, pickle.loads(item)
