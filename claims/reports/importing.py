"""Importing a marketplace's finance report into the domain, row by row, through the same
services the API uses: shipments upserted, the reverse leg's fee recorded as the item's event
(which opens the claim, source `report`), compensation recorded for reconciliation.

Within the report netting comes first (claims/reports/netting.py). A row's key (WB rrd_id,
Ozon operation_id) counts once per marketplace: a report imported twice, or two overlapping
weeks, change nothing the second time. The rows go through in chunks, each one transaction
that also moves the import's progress, so an import stopped anywhere resumes where it
stopped. Every row keeps its outcome, and bad rows never stop the good ones.
"""

import datetime as dt
import hashlib
import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from claims.choices import (
    ClaimSource,
    ClaimStatus,
    CompensationReason,
    CompensationSource,
    EligibilityCode,
    ReportIgnoredReason,
    ReportOutcome,
    ReportSource,
)
from claims.compensation import compensations_record_bulk
from claims.filing import claim_amount_add, shipment_events_ingest
from claims.models import (
    Claim,
    MarketplaceCompensation,
    ReportImport,
    ReportImportStatus,
    ReportLine,
)
from claims.reports.ahead import rows_read_ahead
from claims.reports.netting import Netting, Outcome, RowOutcome, batches
from claims.reports.read import Report, read_report
from claims.reports.rows import FEE_KINDS, ReportRow, RowKind
from claims.reports.scratch import Kept, scratch
from claims.selectors import money_sum
from claims.tasks import report_import_run_task
from policies.calculation import ZERO
from policies.choices import EVENT_KIND_BY_PERIL, Cover, Fulfilment
from policies.errors import ConflictError, DomainError, ErrorCode
from policies.ingest import (
    CREATED,
    ERROR,
    UNCHANGED,
    InArray,
    Statistics,
    array_cursor,
    by_external_id,
    full_collections_deferred,
    insert_values,
    shipments_record_bulk,
    values_by_external_id,
)
from policies.models import Marketplace, Seller, Shipment, ShipmentEvent, User
from policies.outbox import outbox_enqueue
from policies.partitions import KEYS, partitioned

# Rows per transaction: at least CHUNK, so that a chunk's few queries dominate; of a large
# report a twentieth, so that it commits (and waits for the disk) twenty times, not hundreds,
# and its progress still moves; at most CHUNK_MAX, so that a chunk's objects stay some tens
# of megabytes however long the report.
CHUNK = 2000
CHUNK_MAX = 10_000
PROGRESS_STEPS = 20
# Stored event and compensation ids are the report row's, so a row is recorded once.
KEY_PREFIX = "report-"
# Refusals of filing that say the item or its date lies outside any policy.
OUTSIDE_POLICY = {EligibilityCode.NO_ACTIVE_POLICY, EligibilityCode.EVENT_BEFORE_COVER}


def report_import_create(
    *,
    marketplace: Marketplace,
    seller: Seller,
    content: bytes,
    filename: str,
    source: str,
    user: User | None = None,
    external_id: str | None = None,
) -> ReportImport:
    """Store a report for `seller` and return its import, not yet run.

    The file is recognised first: one that is none of the formats raises the
    ReportFileError naming what was expected, and nothing is stored.
    """
    report = read_report(content=content, filename=filename)
    imported = ReportImport(
        marketplace=marketplace,
        seller=seller,
        external_id=external_id,
        format=report.format,
        source=source,
        filename=filename[:200],
        sha256=hashlib.sha256(content).hexdigest(),
        rows=report.count,
        period_start=report.period.start if report.period else None,
        period_end=report.period.end if report.period else None,
        created_by=user,
    )
    imported.file.save(f"{imported.sha256[:16]}-{report.format}", ContentFile(content), save=False)
    imported.save()
    return imported


def report_import_request(**kwargs) -> ReportImport:
    """Store a report (as `report_import_create`) and queue its import for a worker."""
    with transaction.atomic():
        imported = report_import_create(**kwargs)
        outbox_enqueue(task=report_import_run_task, import_id=imported.pk)
    return imported


@dataclass
class _Line:
    """A row's outcome on its way to a ReportLine: a model object per row costs more than
    the row's whole reading. Its fields are the line's columns, by attname."""

    line: int
    key: str
    kind: str
    amount: Decimal | None
    shipment_external_id: str
    peril: str
    occurred_on: dt.date | None
    outcome: str = ""
    reason: str = ""
    message: str = ""
    claim_id: int | None = None
    compensation_id: int | None = None
    counted: bool = False


@dataclass
class _Chunk:
    """What one chunk of rows came to, before it is written."""

    lines: list[_Line] = field(default_factory=list)
    fees: list[tuple[ReportRow, _Line]] = field(default_factory=list)
    legs: list[tuple[ReportRow, _Line]] = field(default_factory=list)
    compensations: list[tuple[ReportRow, _Line]] = field(default_factory=list)
    cancels: list[tuple[ReportRow, _Line]] = field(default_factory=list)


def report_import_run(
    *,
    import_id: int,
    progress: Callable[[int, int], None] | None = None,
    seconds: float | None = None,
) -> ReportImport:
    """Import the report's rows not yet imported; return the import when done.

    Safe to run again: a finished import is left as it is, an interrupted one goes on
    from the first row it had not written. With `seconds`, no chunk but the first is
    written after that many seconds, and the import is returned still running.
    """
    deadline = float("inf") if seconds is None else time.monotonic() + seconds
    with transaction.atomic():
        imported = ReportImport.objects.select_for_update().get(pk=import_id)
        if imported.status in (ReportImportStatus.DONE, ReportImportStatus.FAILED):
            return imported
        imported.status = ReportImportStatus.RUNNING
        imported.heartbeat_at = timezone.now()
        imported.save(update_fields=["status", "heartbeat_at"])
    try:
        with imported.file.open("rb") as stored:
            content = stored.read()
        report = read_report(content=content, filename=imported.filename)
        with full_collections_deferred():
            complete = _import_rows(imported, report, progress, deadline)
        if not complete:
            return ReportImport.objects.get(pk=import_id)
    except Exception as exc:
        ReportImport.objects.filter(pk=import_id).update(
            status=ReportImportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:5000],
            finished_at=timezone.now(),
        )
        raise
    return _finish(import_id)


def _import_rows(
    imported: ReportImport,
    report: Report,
    progress: Callable[[int, int], None] | None,
    deadline: float,
) -> bool:
    """Read the report once: rows that write nothing but their outcome go in chunk by
    chunk as they are read; those that open, change or record something wait for the
    netting, which needs the whole report, and go in after it in file order. What the
    netting remembers and the waiting rows are kept on disk (claims/reports/scratch.py).

    Return whether all are in: past `deadline` (of `time.monotonic()`), once a chunk
    went in, the rest are left for the next run."""
    written = _lines_written(imported)
    done = len(written)
    size = min(CHUNK_MAX, max(CHUNK, imported.rows // PROGRESS_STEPS))
    # The reader forks before the scratch database opens: the child holds no connection.
    with rows_read_ahead(report, rows=imported.rows, size=size) as parts, scratch() as db:
        netting, waiting = Netting(db), Kept(db, "waiting")
        added = 0
        for part in parts:
            # Rows an earlier import counted are set aside before netting: a storno of a fee
            # counted last week cancels that fee's claim even if the fee comes again here.
            elsewhere = _counted_elsewhere(imported, part)
            verdicts = iter(netting.add_many([row for row in part if row.key not in elsewhere]))
            now, later = [], []
            for row in part:
                verdict = None
                if row.key not in elsewhere:
                    verdict, added = next(verdicts), added + 1
                if row.line in written:
                    continue
                if verdict is not None and verdict.outcome is Outcome.KEPT and _route(row)[0]:
                    later.append((added - 1, row))
                else:
                    now.append((row, verdict))
            waiting.add_many(later)
            if now and done > len(written) and time.monotonic() >= deadline:
                return False
            _import_chunk(imported, now)
            done += len(now)
            if progress is not None:
                progress(done, imported.rows)
        # The rows written as they were read that pairing netted.
        apart = (o.line for row, o in _by_position(waiting, netting.netted()) if row is None)
        for chunk in batches(apart, size):
            ReportLine.objects.filter(report=imported, line__in=chunk).update(
                outcome=ReportOutcome.NETTED, reason="", message=""
            )
        # The waiting rows, netted where pairing netted them, else kept as they waited.
        rows = (
            (row, outcome or RowOutcome(row.line, row.key, Outcome.KEPT))
            for row, outcome in _by_position(waiting, netting.netted())
            if row is not None
        )
        statistics, filed = Statistics(*_filed_into(), first=CHUNK_MAX), 0
        for chunk in batches(rows, size):
            if done > len(written) and time.monotonic() >= deadline:
                return False
            _import_chunk(imported, chunk)
            done, filed = done + len(chunk), filed + len(chunk)
            statistics.written(filed)
            if progress is not None:
                progress(done, imported.rows)
    return True


def _filed_into() -> list[str]:
    """Return the tables where the waiting rows' writes look up what is stored."""
    models = (Shipment, ShipmentEvent, Claim, MarketplaceCompensation)
    tables = [model._meta.db_table for model in models]
    return [*tables, KEYS] if partitioned() else tables


def _by_position(
    waiting: Kept, netted: Iterator[tuple[int, RowOutcome]]
) -> Iterator[tuple[ReportRow | None, RowOutcome | None]]:
    """Yield, in file order, (the waiting row or None, its netted outcome or None) for each
    position that is waiting, netted or both: both come ordered by position."""
    merged = heapq.merge(
        ((position, 0, row) for position, row in waiting),
        ((position, 1, outcome) for position, outcome in netted),
        key=itemgetter(0, 1),
    )
    for _position, items in groupby(merged, key=itemgetter(0)):
        found = {side: value for _position, side, value in items}
        yield found.get(0), found.get(1)


def _lines_written(imported: ReportImport) -> set[int]:
    """Return the lines an interrupted run of the import already wrote."""
    if not imported.processed:
        return set()
    return set(ReportLine.objects.filter(report=imported).values_list("line", flat=True))


def _counted_elsewhere(imported: ReportImport, rows: list[ReportRow]) -> set[str]:
    """Return the keys of `rows` an earlier import of the marketplace counted."""
    keys = {row.key for row in rows}
    if connection.vendor != "postgresql":
        return set(
            ReportLine.objects.filter(
                key__in=keys, marketplace_id=imported.marketplace_id, counted=True
            )
            .exclude(report=imported)
            .order_by()
            .values_list("key", flat=True)
        )
    # Key by key through the index. Given `key = ANY(…)` the planner may read every line of
    # the marketplace instead, when its statistics predate the import (as for a first large
    # one), and that read grows with each chunk written.
    table = connection.ops.quote_name(ReportLine._meta.db_table)
    with array_cursor() as cursor:
        cursor.execute(
            "SELECT k.key FROM unnest(%b::text[]) AS k(key) CROSS JOIN LATERAL"
            f" (SELECT FROM {table} AS l"
            "  WHERE l.marketplace_id = %b AND l.key = k.key AND l.counted AND l.report_id <> %b"
            "  LIMIT 1) AS counted",
            [list(keys), imported.marketplace_id, imported.pk],
        )
        return {key for (key,) in cursor.fetchall()}


@transaction.atomic
def _import_chunk(imported: ReportImport, chunk: list) -> None:
    parts = _Chunk()
    for row, verdict in chunk:
        line = _Line(
            line=row.line,
            key=row.key[:64],
            kind=row.kind,
            amount=row.amount,
            shipment_external_id=(row.shipment_id or "")[:64],
            peril=row.peril or "",
            occurred_on=row.occurred_on,
        )
        parts.lines.append(line)
        _sort(row, verdict, line, parts)
    _file_fees(imported, parts.fees)
    _add_legs(imported, parts.legs)
    _record_compensations(imported, parts.compensations)
    _cancel_fees(imported, parts.cancels)
    # By COPY on PostgreSQL: a model insert's per-value preparation costs more than the row.
    insert_values(
        ReportLine,
        [vars(line) for line in parts.lines],
        same={"report_id": imported.pk, "marketplace_id": imported.marketplace_id},
    )
    ReportImport.objects.filter(pk=imported.pk).update(
        processed=F("processed") + len(chunk), heartbeat_at=timezone.now()
    )


def _sort(row: ReportRow, verdict, line: _Line, parts: _Chunk) -> None:
    """Decide what a row comes to, or which of the chunk's writes it waits for.

    Every row read is counted under its key, netted and ignored ones too, so that a later
    report bringing it again finds it; a row in error is not, so that a corrected file
    can still bring it.
    """
    if verdict is None:
        line.outcome = ReportOutcome.DUPLICATE
        return
    line.counted = verdict.outcome not in (Outcome.DUPLICATE, Outcome.ERROR)
    if verdict.outcome is not Outcome.KEPT:
        line.outcome = ReportOutcome(verdict.outcome)
        line.reason = verdict.reason or ""
        line.message = row.error
        return
    target, reason = _route(row)
    if target is None:
        _ignore(line, reason)
        return
    getattr(parts, target).append((row, line))


def _route(row: ReportRow) -> tuple[str | None, str]:
    """Return which of a chunk's writes a kept row goes to, or None and why it is ignored."""
    if row.kind in (RowKind.REVERSE_FEE, RowKind.FORWARD_FEE) and row.peril:
        target = "fees"
    elif row.kind in FEE_KINDS:
        # A leg that names no peril (back to the seller, or one the report leaves unnamed)
        # belongs to the claim its item already has.
        target = "legs"
    elif row.kind is RowKind.COMPENSATION:
        target = "compensations"
    elif row.kind in (RowKind.STORNO, RowKind.CORRECTION) and row.cancels in FEE_KINDS:
        target = "cancels"
    else:
        return None, row.reason or ReportIgnoredReason.NOT_COVERED
    if not row.shipment_id and row.kind is not RowKind.COMPENSATION:
        return None, ReportIgnoredReason.NO_ITEM
    return target, ""


def _ignore(line: _Line, reason: str) -> None:
    line.outcome, line.reason = ReportOutcome.IGNORED, reason


def _aware(day: dt.date | None, zone: dt.tzinfo) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day or timezone.localdate(), dt.time(12)), zone)


def _shipments(
    imported: ReportImport, rows: list[ReportRow]
) -> tuple[dict[str, str], dict[str, Shipment]]:
    """Return the rows' items by id, recording those the marketplace never pushed, and why
    an item could not be recorded."""
    items, zone = {}, timezone.get_current_timezone()
    for row in rows:
        items.setdefault(
            row.shipment_id,
            {
                "external_id": row.shipment_id,
                "seller": imported.seller,
                "order_id": (row.order_id or row.shipment_id)[:64],
                # WB rows name the item by srid alone; its SKU is then unknown.
                "sku": (row.sku or row.shipment_id)[:64],
                "category": "",
                "declared_value": row.item_value or ZERO,
                "warehouse": "",
                "pickup_point": "",
                "fulfilment": Fulfilment.MARKETPLACE,
                # The fee is charged when the item comes back: it shipped that day at the latest.
                "shipped_at": _aware(row.occurred_on, zone),
                # The fee the row charged, which its event keeps on it: one write, not two.
                "reverse_logistics_fee": row.amount if row.kind is RowKind.REVERSE_FEE else None,
            },
        )
    results = shipments_record_bulk(marketplace=imported.marketplace, items=list(items.values()))
    refused = {
        result.external_id: "; ".join(m for ms in result.errors.values() for m in ms)
        for result in results
        if result.status == ERROR
    }
    # A new item comes back with its policy and product loaded. One stored before is read:
    # the marketplace's own record of it differs from the report's, and wins.
    shipments = {r.external_id: r.obj for r in results if r.status == CREATED}
    if stored := items.keys() - shipments.keys():
        shipments |= by_external_id(
            Shipment.objects.select_related("policy__product_version"),
            marketplace=imported.marketplace,
            ids=stored,
        )
    return refused, shipments


def _file_fees(imported: ReportImport, fees: list[tuple[ReportRow, _Line]]) -> None:
    """Record each insured fee as its item's event, which opens the claim (source `report`)."""
    if not fees:
        return
    refused, shipments = _shipments(imported, [row for row, _line in fees])
    events, waiting, zone = [], [], timezone.get_current_timezone()
    for row, line in fees:
        shipment = shipments.get(row.shipment_id)
        if shipment is None or shipment.seller_id != imported.seller_id:
            line.outcome, line.counted = ReportOutcome.ERROR, False
            line.message = refused.get(row.shipment_id) or _("The item belongs to another seller.")
            continue
        if shipment.policy is None:
            _ignore(line, ReportIgnoredReason.UNINSURED)
            continue
        if (
            row.kind is RowKind.FORWARD_FEE
            and not shipment.policy.product_version.forward_leg_covered
        ):
            _ignore(line, ReportIgnoredReason.FORWARD_LEG_NOT_COVERED)
            continue
        events.append(
            {
                "external_id": f"{KEY_PREFIX}{row.key}"[:64],
                "shipment": shipment,
                "kind": EVENT_KIND_BY_PERIL[row.peril],
                "occurred_at": _aware(row.occurred_on, zone),
                "amount": row.amount,
            }
        )
        waiting.append((row, line))
    shipment_ids = [event["shipment"].pk for event in events]
    before = set(
        Claim.objects.filter(InArray(F("shipment_id"), shipment_ids)).values_list("pk", flat=True)
    )
    results = shipment_events_ingest(
        marketplace=imported.marketplace, items=events, source=ClaimSource.REPORT
    )
    claims = {
        (shipment_id, peril): pk
        for shipment_id, peril, pk in Claim.objects.filter(
            InArray(F("shipment_id"), shipment_ids)
        ).values_list("shipment_id", "peril", "pk")
    }
    for (row, line), event, result in zip(waiting, events, results, strict=True):
        claim = claims.get((event["shipment"].pk, row.peril))
        if result.status == ERROR:
            line.outcome, line.counted = ReportOutcome.ERROR, False
            line.message = "; ".join(m for ms in result.errors.values() for m in ms)
        elif claim is None:
            code = result.extra.get("claim_error", "")
            _ignore(
                line,
                ReportIgnoredReason.OUTSIDE_POLICY_PERIOD
                if code in OUTSIDE_POLICY
                else ReportIgnoredReason.NOT_ELIGIBLE,
            )
            line.message = code
        elif claim not in before:
            # The first fee of the item and peril opened its claim; a later one adds to it.
            line.outcome, line.claim_id = ReportOutcome.CLAIM_OPENED, claim
            before.add(claim)
        else:
            _add_to_claim(line, claim, row.amount)


def _add_to_claim(line: _Line, claim_id: int, amount: Decimal | None) -> None:
    """Add a leg's fee to its claim: counted while the claim is open, noted after settlement."""
    line.claim_id = claim_id
    added = claim_amount_add(claim_id=claim_id, amount=amount or ZERO, note=line.key)
    line.outcome = ReportOutcome.CLAIM_UPDATED
    line.reason = "" if added else "reported_after_settlement"


def _add_legs(imported: ReportImport, legs: list[tuple[ReportRow, _Line]]) -> None:
    """A leg with no peril of its own belongs to the item's return-logistics claim, if any.

    A forward leg is counted only where the item's product covers it.
    """
    if not legs:
        return
    claims = {
        c.shipment.external_id: c
        for c in Claim.objects.filter(
            marketplace_id=imported.marketplace_id,
            seller_id=imported.seller_id,
            cover=Cover.RETURN_LOGISTICS,
            shipment__external_id__in={row.shipment_id for row, _line in legs},
        )
        .exclude(status=ClaimStatus.WITHDRAWN)
        .select_related("shipment", "policy__product_version")
        .order_by("pk")
    }
    for row, line in legs:
        claim = claims.get(row.shipment_id)
        if claim is None:
            _ignore(line, ReportIgnoredReason.NO_CLAIM)
            continue
        if row.kind is RowKind.FORWARD_FEE and not claim.policy.product_version.forward_leg_covered:
            _ignore(line, ReportIgnoredReason.FORWARD_LEG_NOT_COVERED)
            continue
        _add_to_claim(line, claim.pk, row.amount)


def _record_compensations(imported: ReportImport, rows: list[tuple[ReportRow, _Line]]):
    """Record what the marketplace paid; reconciliation counts it on its claim."""
    paid = []
    for row, line in rows:
        if row.amount is None or row.amount <= 0:
            _ignore(line, ReportIgnoredReason.REVERSAL)
            continue
        paid.append((row, line))
    if not paid:
        return
    results = compensations_record_bulk(
        marketplace=imported.marketplace,
        source=CompensationSource.REPORT,
        items=[
            {
                "external_id": f"{KEY_PREFIX}{row.key}"[:64],
                "seller": imported.seller,
                # An accrual that names no item is kept against the seller, to be linked.
                "shipment": (row.shipment_id or "")[:64],
                "reason": row.reason or CompensationReason.OTHER,
                "amount": row.amount,
                "paid_on": row.occurred_on or timezone.localdate(),
            }
            for row, _line in paid
        ],
        # Their keys are all a line keeps: read alone, not as a model object each.
        with_records=False,
    )
    stored = values_by_external_id(
        MarketplaceCompensation.objects,
        marketplace=imported.marketplace,
        ids=(result.external_id for result in results if result.status in (CREATED, UNCHANGED)),
        fields=("pk",),
    )
    for (_row, line), result in zip(paid, results, strict=True):
        if result.status in (CREATED, UNCHANGED):
            line.outcome = ReportOutcome.COMPENSATION_RECORDED
            line.compensation_id = stored[result.external_id]["pk"]
        else:
            line.outcome, line.counted = ReportOutcome.ERROR, False
            line.message = "; ".join(m for ms in result.errors.values() for m in ms)


def _cancel_fees(imported: ReportImport, rows: list[tuple[ReportRow, _Line]]) -> None:
    """A fee cancelled or corrected in a later report changes the claim it opened."""
    if not rows:
        return
    claims = {
        (c.shipment.external_id, c.peril): c
        for c in Claim.objects.filter(
            marketplace_id=imported.marketplace_id,
            seller_id=imported.seller_id,
            shipment__external_id__in={row.shipment_id for row, _line in rows},
        ).select_related("shipment")
    }
    for row, line in rows:
        claim = claims.get((row.shipment_id, row.peril))
        if claim is None:
            _ignore(line, ReportIgnoredReason.NOTHING_TO_CANCEL)
            continue
        change = -(row.amount or ZERO) if row.kind is RowKind.STORNO else (row.amount or ZERO)
        _add_to_claim(line, claim.pk, change)


def _finish(import_id: int) -> ReportImport:
    """Count the outcomes into the import and mark it done."""
    with transaction.atomic():
        imported = ReportImport.objects.select_for_update().get(pk=import_id)
        # Counted and summed by the database: a large report's lines are not read back.
        lines = ReportLine.objects.filter(report=imported).order_by()
        imported.outcomes = dict(lines.values_list("outcome").annotate(Count("pk")))
        fees = lines.filter(
            outcome__in=(ReportOutcome.CLAIM_OPENED, ReportOutcome.CLAIM_UPDATED),
            kind__in=list(FEE_KINDS),
        )
        imported.fees_found = fees.count()
        imported.fees_amount = money_sum(fees)
        imported.compensations_amount = money_sum(
            lines.filter(outcome=ReportOutcome.COMPENSATION_RECORDED)
        )
        imported.status = ReportImportStatus.DONE
        imported.finished_at = timezone.now()
        imported.save()
    return imported


def report_upload_request(*, seller: Seller, upload: UploadedFile, user: User) -> ReportImport:
    """Store a report a person uploaded for `seller` and queue its import; return it.

    Staff upload for any seller (source admin); a seller's user for its own.
    """
    return report_import_request(
        marketplace=seller.marketplace,
        seller=seller,
        content=upload.read(),
        filename=upload.name,
        source=ReportSource.ADMIN if user.is_staff else ReportSource.UPLOAD,
        user=user,
    )


def report_import_push(
    *, marketplace: Marketplace, seller_ref: str, external_id: str, content: bytes
) -> tuple[ReportImport, bool]:
    """Import a report the marketplace pushed, once per external id; return the import and
    whether it was made now.

    The same report again answers the stored import; the same id with another report is
    a conflict.
    """
    stored = ReportImport.objects.filter(marketplace=marketplace, external_id=external_id).first()
    if stored is None:
        seller = Seller.objects.filter(marketplace=marketplace, external_id=seller_ref).first()
        if seller is None:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                _("Unknown seller."),
                fields={"seller": [_("Unknown seller.")]},
            )
        try:
            with transaction.atomic():
                imported = report_import_create(
                    marketplace=marketplace,
                    seller=seller,
                    content=content,
                    filename=f"{external_id}.json",
                    source=ReportSource.API,
                    external_id=external_id,
                )
        except IntegrityError:
            # Pushed twice at once: the other request stored it; answer as a replay.
            stored = ReportImport.objects.get(marketplace=marketplace, external_id=external_id)
        else:
            return report_import_run(import_id=imported.pk), True
    if stored.sha256 != hashlib.sha256(content).hexdigest() or stored.seller.external_id != (
        seller_ref
    ):
        raise ConflictError(
            ErrorCode.CONFLICT,
            _("A report with this external id exists with other content: %(fields)s.")
            % {"fields": "report"},
            fields={"report": [_("Differs from the stored report.")]},
        )
    return report_import_run(import_id=stored.pk), False


def report_import_claims(*, imported: ReportImport) -> list[str]:
    """Return the numbers of the claims the import opened or changed, in file order."""
    numbers = (
        ReportLine.objects.filter(report=imported, claim__isnull=False)
        .order_by("line", "pk")
        .values_list("claim__number", flat=True)
    )
    return list(dict.fromkeys(numbers))
