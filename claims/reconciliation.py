"""Reconciliation (DESIGN §7): count the marketplace's compensation on claims, set-based.

A run takes the compensation records not yet counted on a claim, up to the
newest id when it starts, and works through them in chunks of ids. Each chunk
is one transaction of a few statements that touch every row of the chunk at
once, never a query per row:

1. link records to their shipment by the marketplace's shipment id;
2. record discrepancies: unknown shipment, uninsured shipment, above the
   declared value, duplicate of an earlier record;
3. count each record on the claim it reduces (the rule of claims/matching.py);
4. bring the affected claims' compensation, deductible and payable up to date
   (the SQL form of calculation.calculate_payable, tested against it);
5. raise a Recovery where a paid claim's payable fell below its payout;
6. release claims that waited for compensation, routed by
   calculation.triage_target, with their log, webhooks and payment queued.

Every step only fills what is empty or recomputes from stored facts, and the
run's cursor moves in the same transaction as the chunk: killed anywhere, the
run resumes where it stopped and counts nothing twice.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from claims import lifecycle
from claims.calculation import triage_target
from claims.choices import (
    COVERS_BY_COMPENSATION_REASON,
    ClaimFlag,
    ClaimStatus,
    DiscrepancyKind,
    RecoveryStatus,
    RunState,
)
from claims.matching import PREFERRED_PERIL, UNMATCHABLE_STATUSES
from claims.models import (
    Claim,
    ClaimTransition,
    Discrepancy,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
)
from claims.tasks import reconciliation_report_make_task
from claims.webhooks import StatusChange
from policies.choices import ActorKind, Cover
from policies.models import CoverTerms, Policy, ProductVersion, Shipment

CHUNK = 50_000

T = {
    "comp": MarketplaceCompensation._meta.db_table,
    "ship": Shipment._meta.db_table,
    "claim": Claim._meta.db_table,
    "disc": Discrepancy._meta.db_table,
    "payout": Payout._meta.db_table,
    "recovery": Recovery._meta.db_table,
    "policy": Policy._meta.db_table,
    "version": ProductVersion._meta.db_table,
    "terms": CoverTerms._meta.db_table,
    "transition": ClaimTransition._meta.db_table,
}


def _db_time(value: dt.datetime):
    """Return a datetime as Django writes it, so raw SQL compares equal to ORM writes."""
    return connection.ops.adapt_datetimefield_value(value)


def _quote_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _fn(name: str) -> str:
    """Return the SQL of GREATEST/LEAST: SQLite spells them MAX/MIN."""
    if connection.vendor == "sqlite":
        return {"greatest": "MAX", "least": "MIN"}[name]
    return name.upper()


def _reasons_for(cover: str) -> str:
    return _quote_list(r for r, covers in COVERS_BY_COMPENSATION_REASON.items() if cover in covers)


def _fitting_claim(alias: str) -> str:
    """SQL predicate: claim `cl` is one the compensation row `alias` may be counted on."""
    return (
        f"cl.shipment_id = {alias}.shipment_id"
        f" AND cl.status NOT IN ({_quote_list(UNMATCHABLE_STATUSES)})"
        f" AND (({alias}.reason IN ({_reasons_for(Cover.CARGO)}) AND cl.cover = '{Cover.CARGO}')"
        f" OR ({alias}.reason IN ({_reasons_for(Cover.RETURN_LOGISTICS)})"
        f" AND cl.cover = '{Cover.RETURN_LOGISTICS}'))"
    )


def _preferred_peril(alias: str) -> str:
    whens = " ".join(f"WHEN '{reason}' THEN '{peril}'" for reason, peril in PREFERRED_PERIL.items())
    return f"CASE {alias}.reason {whens} ELSE '' END"


def _duplicate(alias: str) -> str:
    """SQL predicate: row `alias` repeats an earlier record of the same payout."""
    return (
        f"EXISTS (SELECT 1 FROM {T['comp']} d WHERE d.id < {alias}.id"
        f" AND d.marketplace_id = {alias}.marketplace_id AND d.seller_id = {alias}.seller_id"
        f" AND d.shipment_external_id = {alias}.shipment_external_id"
        f" AND d.reason = {alias}.reason AND d.amount = {alias}.amount"
        f" AND d.paid_on = {alias}.paid_on)"
    )


@dataclass
class ChunkCounts:
    processed: int = 0
    matched: int = 0
    discrepancies: int = 0
    recoveries: int = 0
    released: int = 0


def _link_shipments(cursor, lo: int, hi: int) -> None:
    cursor.execute(
        f"UPDATE {T['comp']} AS c SET shipment_id = s.id FROM {T['ship']} AS s"
        " WHERE c.id > %s AND c.id <= %s AND c.run_id IS NULL AND c.claim_id IS NULL"
        " AND c.shipment_id IS NULL"
        " AND s.marketplace_id = c.marketplace_id AND s.external_id = c.shipment_external_id"
        " AND s.seller_id = c.seller_id",
        [lo, hi],
    )


def _record_discrepancies(cursor, run_id: int, lo: int, hi: int) -> int:
    chunk = "c.id > %s AND c.id <= %s AND c.run_id IS NULL AND c.claim_id IS NULL"
    found = 0
    for kind, join, condition in (
        (DiscrepancyKind.UNKNOWN_SHIPMENT, "", "c.shipment_id IS NULL"),
        (
            DiscrepancyKind.UNINSURED_SHIPMENT,
            f"JOIN {T['ship']} s ON s.id = c.shipment_id",
            "s.policy_id IS NULL",
        ),
        (
            DiscrepancyKind.ABOVE_DECLARED_VALUE,
            f"JOIN {T['ship']} s ON s.id = c.shipment_id",
            "c.amount > s.declared_value",
        ),
        (DiscrepancyKind.DUPLICATE, "", _duplicate("c")),
    ):
        cursor.execute(
            f"INSERT INTO {T['disc']} (run_id, compensation_id, kind, detail)"
            f" SELECT %s, c.id, %s, '' FROM {T['comp']} c {join}"
            f" WHERE {chunk} AND {condition}"
            " ON CONFLICT (run_id, compensation_id, kind) DO NOTHING",
            [run_id, str(kind), lo, hi],
        )
        found += max(cursor.rowcount, 0)
    return found


def _match(cursor, run_id: int, lo: int, hi: int, now: dt.datetime) -> int:
    fitting = f"SELECT cl.id FROM {T['claim']} cl WHERE {_fitting_claim('c')}"
    # The claim of the peril the reason names first, else the oldest fitting one.
    best = (
        f"COALESCE(({fitting} AND cl.peril = {_preferred_peril('c')} ORDER BY cl.id LIMIT 1),"
        f" ({fitting} ORDER BY cl.id LIMIT 1))"
    )
    cursor.execute(
        f"UPDATE {T['comp']} AS c SET claim_id = {best}, matched_at = %s, run_id = %s"
        " WHERE c.id > %s AND c.id <= %s AND c.run_id IS NULL AND c.claim_id IS NULL"
        " AND c.shipment_id IS NOT NULL"
        f" AND NOT {_duplicate('c')}"
        f" AND EXISTS (SELECT 1 FROM {T['claim']} cl WHERE {_fitting_claim('c')})",
        [_db_time(now), run_id, lo, hi],
    )
    return max(cursor.rowcount, 0)


AFFECTED = (
    "SELECT claim_id FROM {comp}"
    " WHERE run_id = %s AND id > %s AND id <= %s AND claim_id IS NOT NULL"
)


def _recalculate(cursor, run_id: int, lo: int, hi: int) -> None:
    """Recompute compensation, deductible, payable and the limit applied of affected claims.

    One statement, so each claim row is rewritten once.
    """
    affected = AFFECTED.format(comp=T["comp"])
    greatest, least = _fn("greatest"), _fn("least")
    received = f"'{RecoveryStatus.RECEIVED}'"
    cursor.execute(
        f"""
        WITH targets AS (
            SELECT id, policy_id, event_key FROM {T["claim"]} WHERE id IN ({affected})
        ),
        compensation AS (
            SELECT c.claim_id, SUM(c.amount) AS total
            FROM {T["comp"]} c JOIN targets tg ON tg.id = c.claim_id
            GROUP BY c.claim_id
        ),
        money AS (
            SELECT m.claim_id, cl.policy_id, cl.event_key,
                   SUM(m.paid) AS paid, SUM(m.recv) AS recv
            FROM (SELECT claim_id, amount AS paid, 0 AS recv FROM {T["payout"]}
                  UNION ALL
                  SELECT claim_id, 0, amount FROM {T["recovery"]} WHERE status = {received}) m
            JOIN {T["claim"]} cl ON cl.id = m.claim_id
            WHERE cl.policy_id IN (SELECT DISTINCT policy_id FROM targets)
            GROUP BY m.claim_id, cl.policy_id, cl.event_key
        ),
        by_policy AS (
            SELECT policy_id, SUM(paid) AS paid, SUM(recv) AS recv FROM money GROUP BY policy_id
        ),
        by_event AS (
            SELECT policy_id, event_key, SUM(paid) AS paid, SUM(recv) AS recv
            FROM money GROUP BY policy_id, event_key
        ),
        base AS (
            SELECT cl.id, comp.total AS compensation,
                   {greatest}(0, COALESCE(cl.assessed_amount, cl.claimed_amount)
                                 - comp.total) AS net,
                   t.deductible, t.per_claim_limit,
                   CASE WHEN t.per_event_limit IS NULL THEN NULL ELSE
                        {greatest}(0, t.per_event_limit
                            - ((COALESCE(e.paid, 0) - COALESCE(o.paid, 0))
                               - (COALESCE(e.recv, 0) - COALESCE(o.recv, 0))))
                   END AS event_room,
                   {greatest}(0, v.aggregate_limit
                       - (COALESCE(bp.paid, 0) - COALESCE(o.paid, 0))
                       + (COALESCE(bp.recv, 0) - COALESCE(o.recv, 0))) AS aggregate_room
            FROM targets tg
            JOIN {T["claim"]} cl ON cl.id = tg.id
            JOIN compensation comp ON comp.claim_id = cl.id
            LEFT JOIN money o ON o.claim_id = cl.id
            LEFT JOIN by_policy bp ON bp.policy_id = cl.policy_id
            LEFT JOIN by_event e ON e.policy_id = cl.policy_id AND e.event_key = cl.event_key
            JOIN {T["policy"]} pol ON pol.id = cl.policy_id
            JOIN {T["version"]} v ON v.id = pol.product_version_id
            JOIN {T["terms"]} t ON t.product_version_id = v.id AND t.cover = cl.cover
        ),
        stepped AS (
            SELECT id, compensation, net, deductible, per_claim_limit, event_room,
                   aggregate_room, {greatest}(0, net - deductible) AS after_ded
            FROM base
        ),
        calc AS (
            SELECT id, compensation,
                   {least}(deductible, net) AS deductible_applied,
                   {least}(after_ded, per_claim_limit, COALESCE(event_room, after_ded),
                           aggregate_room) AS payable,
                   CASE
                     WHEN per_claim_limit < after_ded
                          AND per_claim_limit <= COALESCE(event_room, per_claim_limit)
                          AND per_claim_limit <= aggregate_room THEN 'per_claim'
                     WHEN event_room IS NOT NULL AND event_room < after_ded
                          AND event_room < per_claim_limit
                          AND event_room <= aggregate_room THEN 'per_event'
                     WHEN aggregate_room < after_ded AND aggregate_room < per_claim_limit
                          AND aggregate_room < COALESCE(event_room, after_ded) THEN 'aggregate'
                     ELSE ''
                   END AS limit_applied
            FROM stepped
        )
        UPDATE {T["claim"]} AS cl
        SET compensation_amount = calc.compensation,
            deductible_amount = calc.deductible_applied,
            payable_amount = calc.payable,
            limit_applied = calc.limit_applied
        FROM calc WHERE cl.id = calc.id
        """,
        [run_id, lo, hi],
    )


def _raise_recoveries(cursor, run_id: int, lo: int, hi: int, now: dt.datetime) -> int:
    cursor.execute(
        f"""
        INSERT INTO {T["recovery"]}
            (claim_id, compensation_id, amount, status, raised_at, received_on, reference)
        SELECT cl.id, last.comp_id, p.paid - COALESCE(r.raised, 0) - cl.payable_amount,
               '{RecoveryStatus.OPEN}', %s, NULL, ''
        FROM {T["claim"]} cl
        JOIN (SELECT claim_id, SUM(amount) AS paid FROM {T["payout"]} GROUP BY claim_id) p
             ON p.claim_id = cl.id
        LEFT JOIN (SELECT claim_id, SUM(amount) AS raised FROM {T["recovery"]}
                   GROUP BY claim_id) r ON r.claim_id = cl.id
        JOIN (SELECT claim_id, MAX(id) AS comp_id FROM {T["comp"]}
              WHERE run_id = %s AND id > %s AND id <= %s GROUP BY claim_id) last
             ON last.claim_id = cl.id
        WHERE p.paid - COALESCE(r.raised, 0) - cl.payable_amount > 0
        """,
        [_db_time(now), run_id, lo, hi],
    )
    return max(cursor.rowcount, 0)


def _release(cursor, run_id: int, lo: int, hi: int, now: dt.datetime) -> int:
    """Route the affected claims that waited for compensation, by the triage rule."""
    today = timezone.localdate(now)
    waiting = Claim.objects.filter(
        status=ClaimStatus.AWAITING_COMPENSATION,
        pk__in=MarketplaceCompensation.objects.filter(run_id=run_id, pk__gt=lo, pk__lte=hi).values(
            "claim_id"
        ),
    ).values_list(
        "pk",
        "number",
        "marketplace_id",
        "cover",
        "flags",
        "payable_amount",
        "policy__product_version__auto_approve_threshold",
    )
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    released = []
    for pk, number, marketplace_id, cover, flags, payable, threshold in waiting.iterator(
        chunk_size=5000
    ):
        # Compensation is known now: the flag that waited for it no longer applies.
        kept = tuple(f for f in flags if f != ClaimFlag.COMPENSATION_WAIT_PENDING)
        target = triage_target(
            cover=cover,
            flags=list(kept),
            payable=payable,
            auto_approve_threshold=threshold,
            compensation_known=True,
        )
        groups.setdefault((target, kept), []).append(pk)
        released.append(
            StatusChange(
                claim_id=pk,
                number=number,
                payable=payable,
                marketplace_id=marketplace_id,
                source=ClaimStatus.AWAITING_COMPENSATION,
                target=target,
            )
        )
    for (target, flags), ids in groups.items():
        probe = Claim(status=target, sla_started_on=today, decided_at=now)
        fields = {
            "status": target,
            "flags": list(flags),
            "sla_started_on": today,
            "sla_paused_days": 0,
            "status_changed_at": now,
            "due_on": lifecycle.claim_due_on(probe),
        }
        if target == ClaimStatus.APPROVED:
            fields["decided_at"] = now
        for start in range(0, len(ids), 5000):
            Claim.objects.filter(
                pk__in=ids[start : start + 5000], status=ClaimStatus.AWAITING_COMPENSATION
            ).update(**fields)
    if released:
        # The log rows of every claim released in this chunk, written by one statement.
        cursor.execute(
            f"INSERT INTO {T['transition']} (claim_id, transition, source_state, target_state,"
            " at, actor_kind, actor_user_id, actor_marketplace_id, note, internal_note)"
            f" SELECT cl.id, 'release', %s, cl.status, %s, %s, NULL, NULL, '', ''"
            f" FROM {T['claim']} cl WHERE cl.status_changed_at = %s"
            f" AND cl.id IN ({AFFECTED.format(comp=T['comp'])})"
            " AND cl.status IN (%s, %s)",
            [
                ClaimStatus.AWAITING_COMPENSATION,
                _db_time(now),
                ActorKind.SYSTEM,
                _db_time(now),
                run_id,
                lo,
                hi,
                ClaimStatus.UNDER_REVIEW,
                ClaimStatus.APPROVED,
            ],
        )
        lifecycle.claims_released(released=released, at=now)
    return len(released)


def reconciliation_start(*, trigger: str, user=None) -> ReconciliationRun:
    """Return the run under way, or a new one over the records not yet counted."""
    with transaction.atomic():
        running = ReconciliationRun.objects.select_for_update().filter(state=RunState.RUNNING)
        if run := running.first():
            return run
        # A record is examined once; one left without a claim is attached when a
        # claim for its shipment is filed later (claims/matching.py).
        pending = MarketplaceCompensation.objects.filter(run=None, claim=None)
        bounds = pending.aggregate(low=Min("pk"), top=Max("pk"))
        return ReconciliationRun.objects.create(
            state=RunState.RUNNING,
            trigger=trigger,
            triggered_by=user,
            started_at=timezone.now(),
            total=pending.count(),
            cursor=(bounds["low"] or 1) - 1,
            upper_bound=bounds["top"] or 0,
        )


def reconciliation_run(*, run_id: int, chunk: int = CHUNK) -> ReconciliationRun:
    """Work through the run's records chunk by chunk from its cursor; return it when done."""
    run = ReconciliationRun.objects.get(pk=run_id)
    while run.state == RunState.RUNNING and run.cursor < run.upper_bound:
        _reconcile_chunk(run_id=run.pk, chunk=chunk)
        run.refresh_from_db()
    if run.state == RunState.RUNNING:
        with transaction.atomic():
            run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
            if run.state == RunState.RUNNING:
                run.unmatched = max(0, run.total - run.matched)
                run.state = RunState.DONE
                run.finished_at = timezone.now()
                run.save()
                transaction.on_commit(lambda: reconciliation_report_make_task.delay(run_id=run_id))
    return run


@transaction.atomic
def _reconcile_chunk(*, run_id: int, chunk: int) -> None:
    run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
    if run.state != RunState.RUNNING or run.cursor >= run.upper_bound:
        return
    lo, hi = run.cursor, min(run.cursor + chunk, run.upper_bound)
    now = timezone.now()
    counts = ChunkCounts(
        processed=MarketplaceCompensation.objects.filter(
            pk__gt=lo, pk__lte=hi, run=None, claim=None
        ).count()
    )
    with connection.cursor() as cursor:
        _link_shipments(cursor, lo, hi)
        counts.discrepancies = _record_discrepancies(cursor, run.pk, lo, hi)
        counts.matched = _match(cursor, run.pk, lo, hi, now)
        if counts.matched and connection.vendor == "postgresql":
            # The planner must know this run's rows exist to pick hash joins below.
            cursor.execute(f"ANALYZE {T['comp']} (run_id, claim_id)")
        if counts.matched:
            _recalculate(cursor, run.pk, lo, hi)
            counts.recoveries = _raise_recoveries(cursor, run.pk, lo, hi, now)
        if counts.matched:
            counts.released = _release(cursor, run.pk, lo, hi, now)
        # What this run examined and left unmatched is not examined again.
        cursor.execute(
            f"UPDATE {T['comp']} SET run_id = %s"
            " WHERE id > %s AND id <= %s AND run_id IS NULL AND claim_id IS NULL",
            [run.pk, lo, hi],
        )
    run.cursor = hi
    run.processed += counts.processed
    run.matched += counts.matched
    run.discrepancies_found += counts.discrepancies
    run.recoveries_raised += counts.recoveries
    run.claims_released += counts.released
    run.save()


def reconciliation_fail(*, run_id: int, error: str) -> None:
    ReconciliationRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(
        state=RunState.FAILED, error=error[:5000], finished_at=timezone.now()
    )
