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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from claims.choices import ReportIgnoredReason
from claims.reports.rows import FEE_KINDS, ErrorReason, ReportRow, RowKind

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


@dataclass(frozen=True, slots=True)
class _Candidate:
    order: tuple[dt.date, str]  # how pairs are chosen: by date, then key (unique here)
    index: int  # position among the outcomes
    line: int


def net_within_report(rows: Iterable[ReportRow]) -> list[RowOutcome]:
    """Return one outcome per row, in the rows' order."""
    netting = Netting()
    outcomes = [netting.add(row) for row in rows]
    for index, outcome in netting.netted().items():
        outcomes[index] = outcome
    return outcomes


class Netting:
    """The netting rule fed one row at a time, for a report read once.

    `add` answers each row's outcome as far as the row alone tells; once every row is
    added, `netted` answers those pairing changes to `netted`. Keeps a small record per
    row, never the rows themselves, so a large report streams through.
    """

    def __init__(self):
        self._count = 0
        self._seen: dict[str, tuple[int, int]] = {}  # key → (line, hash of content)
        self._stornos: dict[tuple, list[_Candidate]] = defaultdict(list)
        self._targets: dict[tuple, list[_Candidate]] = defaultdict(list)
        self._paid: dict[tuple, list[_Candidate]] = defaultdict(list)
        self._taken_back: dict[tuple, list[_Candidate]] = defaultdict(list)

    def add(self, row: ReportRow) -> RowOutcome:
        """Return the row's outcome by itself: KEPT when only pairing can tell more."""
        index, self._count = self._count, self._count + 1
        outcome = _alone(row, self._seen)
        if outcome.outcome is not Outcome.KEPT:
            return outcome
        candidate = _Candidate(
            order=(row.occurred_on or dt.date.min, row.key), index=index, line=row.line
        )
        if row.kind is RowKind.STORNO and row.shipment_id:
            self._stornos[_storno_group(row, kind=row.cancels)].append(candidate)
        elif row.kind in NETTABLE_BY_STORNO and row.shipment_id and row.amount is not None:
            self._targets[_storno_group(row, kind=row.kind)].append(candidate)
        if row.kind is RowKind.COMPENSATION and row.amount:
            group = (row.raw_kind, row.shipment_id, row.sku, row.currency, abs(row.amount))
            (self._paid if row.amount > 0 else self._taken_back)[group].append(candidate)
        return outcome

    def netted(self) -> dict[int, RowOutcome]:
        """Return the `netted` outcomes of the rows added, by their position among them."""
        netted: dict[int, RowOutcome] = {}
        for group, cancelling in self._stornos.items():
            _pair(cancelling, self._targets.get(group, []), netted)
        for group, negatives in self._taken_back.items():
            _pair(negatives, self._paid.get(group, []), netted)
        return netted


def _alone(row: ReportRow, seen: dict[str, tuple[int, int]]) -> RowOutcome:
    """Return the outcome a row has by itself (KEPT when only pairing can tell more)."""
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
    if not row.in_roubles:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=ReportIgnoredReason.CURRENCY)
    if row.kind is RowKind.IGNORED:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=row.reason)
    if row.kind in (RowKind.STORNO, RowKind.CORRECTION) and row.cancels is RowKind.IGNORED:
        return RowOutcome(row.line, row.key, Outcome.IGNORED, reason=row.reason)
    return RowOutcome(row.line, row.key, Outcome.KEPT)


def _storno_group(row: ReportRow, *, kind: RowKind | None) -> tuple:
    amount = abs(row.amount) if row.amount is not None else None
    return (kind, row.peril, row.shipment_id, row.currency, amount)


def _pair(
    firsts: list[_Candidate], seconds: list[_Candidate], netted: dict[int, RowOutcome]
) -> None:
    """Net the earliest of each side with each other, as far as both sides go."""

    def free(candidates: list[_Candidate]) -> list[_Candidate]:
        return sorted((c for c in candidates if c.index not in netted), key=lambda c: c.order)

    for first, second in zip(free(firsts), free(seconds), strict=False):
        for this, other in ((first, second), (second, first)):
            netted[this.index] = RowOutcome(
                this.line, this.order[1], Outcome.NETTED, partner=other.line
            )
