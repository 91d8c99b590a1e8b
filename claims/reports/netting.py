"""What each row of one report comes to before anything is stored: the netting rule.

Within one report:
- a row whose key was already seen is a `duplicate` (the same row twice: overlapping
  periods, a re-upload pasted in); the same key with other content is an `error`;
- a row not in roubles is `ignored` with reason `currency`, an ignored row keeps its
  reason, an error row stays an error;
- a storno that cancels a fee (or a sale, a sale return) of the same item, leg and amount
  in the same report: both rows are `netted`, and the fee opens no claim;
- a compensation paid and taken back (+X and −X of the same type, item and amount): both
  rows are `netted`;
- a storno or correction of a row the cover ignores is `ignored` with that row's reason;
- everything else is `kept` for the importer: fees open or update claims, compensations
  are recorded, stornos without their row here cancel an earlier report's fee, and
  corrections (and partial stornos) change it.

Pairing looks at the rows' content only, never at their order in the file: the same rows
in any order come to the same outcomes.
"""

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import groupby, islice
from operator import itemgetter

from claims.choices import ReportIgnoredReason
from claims.reports.rows import FEE_KINDS, ErrorReason, ReportRow, RowKind
from claims.reports.scratch import scratch

# Kinds a storno can cancel within the report.
NETTABLE_BY_STORNO = FEE_KINDS | {RowKind.SALE, RowKind.SALE_RETURN, RowKind.COMPENSATION}


class Outcome(StrEnum):
    KEPT = "kept"
    NETTED = "netted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    line: int
    key: str
    outcome: Outcome
    reason: str | None = None  # the ignored or error reason
    partner: int | None = None  # the line netted against, or of the row duplicated


def net_within_report(rows: Iterable[ReportRow]) -> list[RowOutcome]:
    """Return one outcome per row, in the rows' order."""
    with scratch() as db:
        netting = Netting(db)
        outcomes = []
        for chunk in batches(rows, BATCH):
            outcomes += netting.add_many(chunk)
        for index, outcome in netting.netted():
            outcomes[index] = outcome
    return outcomes


class Netting:
    """The netting rule fed a batch of rows at a time, for a report read once.

    `add_many` answers each row's outcome as far as the row alone tells; once every row is
    added, `netted` answers those pairing changes to `netted`, by the rows' positions
    among all added. What it must remember of each row (its key and content, and where a
    row may pair, its group) is kept in the scratch database `db`, never in memory.
    """

    def __init__(self, db: sqlite3.Connection):
        self._db, self._count, self._paired = db, 0, False
        db.execute(
            "CREATE TABLE netting_seen (key TEXT PRIMARY KEY, line INTEGER, content INTEGER)"
            " WITHOUT ROWID"
        )
        # pairing: 1 a storno with its row, 2 a compensation with its taking back; side 0
        # is the first of the pair (the storno, the taking back), 1 the second.
        db.execute(
            "CREATE TABLE netting_candidate (pairing INTEGER, grp TEXT, side INTEGER,"
            " day TEXT, key TEXT, position INTEGER, line INTEGER)"
        )
        db.execute(
            "CREATE TABLE netting_netted"
            " (position INTEGER PRIMARY KEY, line INTEGER, key TEXT, partner INTEGER)"
        )

    def add_many(self, rows: Sequence[ReportRow]) -> list[RowOutcome]:
        """Return each row's outcome by itself: KEPT when only pairing can tell more."""
        assert not self._paired, "rows added after pairing"
        seen = self._seen({row.key for row in rows})
        first = self._count
        self._count += len(rows)
        outcomes, new, candidates = [], [], []
        for index, row in enumerate(rows, start=first):
            outcome = _alone(row, seen, new)
            outcomes.append(outcome)
            if outcome.outcome is Outcome.KEPT:
                candidates += _candidates(row, index)
        self._db.executemany("INSERT INTO netting_seen VALUES (?, ?, ?)", new)
        self._db.executemany(
            "INSERT INTO netting_candidate VALUES (?, ?, ?, ?, ?, ?, ?)", candidates
        )
        return outcomes

    def netted(self) -> Iterator[tuple[int, RowOutcome]]:
        """Yield (position, `netted` outcome) of the rows pairing nets, in their order."""
        if not self._paired:
            self._pair()
        for index, line, key, partner in self._db.execute(
            "SELECT position, line, key, partner FROM netting_netted ORDER BY position"
        ):
            yield index, RowOutcome(line, key, Outcome.NETTED, partner=partner)

    def _seen(self, keys: set[str]) -> dict[str, tuple[int, int]]:
        found = self._db.execute(
            "SELECT key, line, content FROM netting_seen"
            " WHERE key IN (SELECT value FROM json_each(?))",
            [json.dumps(list(keys))],
        )
        return {key: (line, content) for key, line, content in found}

    def _pair(self) -> None:
        """Net the rows of each group, stornos first: a row netted there pairs no further."""
        self._paired = True
        for pairing in (STORNO_PAIRING, COMPENSATION_PAIRING):
            groups = self._db.execute(
                "SELECT grp, side, day, key, position, line FROM netting_candidate"
                " WHERE pairing = ? AND grp IN (SELECT grp FROM netting_candidate"
                "  WHERE pairing = ? GROUP BY grp HAVING min(side) < max(side))"
                " AND position NOT IN (SELECT position FROM netting_netted)"
                " ORDER BY grp, side, day, key",
                [pairing, pairing],
            )
            for _group, members in groupby(groups, key=itemgetter(0)):
                sides: tuple[list, list] = ([], [])
                for _grp, side, _day, key, index, line in members:
                    sides[side].append((index, line, key))
                self._db.executemany(
                    "INSERT INTO netting_netted VALUES (?, ?, ?, ?)", _pairs(*sides)
                )


# Rows the rule reads at a time: one query of keys per batch.
BATCH = 2000
STORNO_PAIRING, COMPENSATION_PAIRING = 1, 2


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Yield lists of `size` items (the last one shorter) until `items` ends."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _candidates(row: ReportRow, index: int) -> list[tuple]:
    """Return the groups a kept row may pair in, as rows of `netting_candidate`."""
    order = ((row.occurred_on or dt.date.min).isoformat(), row.key, index, row.line)
    found = []
    if row.kind is RowKind.STORNO and row.shipment_id:
        found.append((STORNO_PAIRING, _storno_group(row, kind=row.cancels), 0, *order))
    elif row.kind in NETTABLE_BY_STORNO and row.shipment_id and row.amount is not None:
        found.append((STORNO_PAIRING, _storno_group(row, kind=row.kind), 1, *order))
    if row.kind is RowKind.COMPENSATION and row.amount:
        group = _group(row.raw_kind, row.shipment_id, row.sku, row.currency, abs(row.amount))
        found.append((COMPENSATION_PAIRING, group, 0 if row.amount < 0 else 1, *order))
    return found


def _group(*values) -> str:
    """Return a group's values as text that is equal exactly when the values are: an
    amount by its value, whatever its places (50.0 is 50.00)."""
    # The repr of a tuple of plain texts and None tells every such tuple from every other.
    return repr(tuple(map(_text, values)))


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value.normalize())
    # A kind goes as its text: an enum's own repr costs more than the rest of the group.
    return str(value)


def _alone(row: ReportRow, seen: dict[str, tuple[int, int]], new: list[tuple]) -> RowOutcome:
    """Return the outcome a row has by itself (KEPT when only pairing can tell more).

    `seen` holds the earlier rows' keys among this batch's; a key first seen here is
    added to it, and to `new`."""
    if row.kind is RowKind.ERROR:
        return RowOutcome(row.line, row.key, Outcome.ERROR, reason=row.reason)
    content = hash(row.content())
    if row.key in seen:
        first_line, first_content = seen[row.key]
        if first_content == content:
            return RowOutcome(row.line, row.key, Outcome.DUPLICATE, partner=first_line)
        return RowOutcome(
            row.line, row.key, Outcome.ERROR, reason=ErrorReason.KEY_CONFLICT, partner=first_line
        )
    seen[row.key] = (row.line, content)
    new.append((row.key, row.line, content))
    if not row.in_roubles:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=ReportIgnoredReason.CURRENCY)
    if row.kind is RowKind.IGNORED:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=row.reason)
    if row.kind in (RowKind.STORNO, RowKind.CORRECTION) and row.cancels is RowKind.IGNORED:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=row.reason)
    return RowOutcome(row.line, row.key, Outcome.KEPT)


def _storno_group(row: ReportRow, *, kind: RowKind | None) -> str:
    amount = abs(row.amount) if row.amount is not None else None
    return _group(kind, row.peril, row.shipment_id, row.currency, amount)


def _pairs(firsts: list[tuple], seconds: list[tuple]) -> Iterator[tuple]:
    """Net the earliest of each side with each other, as far as both sides go: yield
    rows of `netting_netted` for both rows of each pair. Each side is (position, line,
    key) in its order, by date, then key."""
    for first, second in zip(firsts, seconds, strict=False):
        for (index, line, key), (_other, partner, _key) in ((first, second), (second, first)):
            yield index, line, key, partner
