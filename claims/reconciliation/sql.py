"""The statements of one reconciliation chunk, set-based: each touches every row of the chunk
at once, never a query per row.

1. stage: decide for every record its shipment (by the marketplace's shipment id), the
   claim it reduces (the rule of `claims.compensation`) and whether it repeats an earlier
   record, into a temporary table; only reads;
2. write each record once (shipment, claim, run) and its discrepancies: unknown shipment,
   uninsured shipment, above the declared value, duplicate;
3. assess the affected claims, their policies locked: compensation, deductible, payable
   (the SQL form of `calculation.calculate_payable`, with what the other approved claims
   hold) and, for those that waited for compensation, where they go
   (`calculation.triage_target`); then write each claim once;
4. raise a Recovery where a paid claim's payable fell below its payout;
5. log the releases and queue their webhooks, e-mails and payment.

Every step only fills what is empty or recomputes from stored facts, so a chunk killed
anywhere and run again counts nothing twice.
"""

import datetime as dt
import json
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from claims.assessment import RELEASE_CLEARS, claim_due_on
from claims.calculation import HOLDING, SHARED_LIMITS
from claims.choices import (
    COVERS_BY_COMPENSATION_REASON,
    ClaimStatus,
    DiscrepancyKind,
    LimitApplied,
    RecoveryStatus,
    SystemNote,
)
from claims.compensation import PREFERRED_PERIL, UNMATCHABLE_STATUSES
from claims.lifecycle import claims_released, route_note
from claims.models import (
    Claim,
    ClaimTransition,
    Discrepancy,
    MarketplaceCompensation,
    Payout,
    Recovery,
    RecoveryReceipt,
)
from claims.notes import system_note
from claims.outputs.webhooks import StatusChange
from policies.choices import ActorKind, Cover
from policies.models import CoverTerms, Policy, ProductVersion, Shipment

# Released claims are announced in parts of this many (a multiple of the follow-up tasks' sizes).
RELEASE_PART = 10_000

# Notes are written on the release log of this many claims a statement (SQLite's limit of
# parameters is far above it).
NOTE_PART = 900


CENT = Decimal("0.01")


T = {
    "comp": MarketplaceCompensation._meta.db_table,
    "ship": Shipment._meta.db_table,
    "claim": Claim._meta.db_table,
    "disc": Discrepancy._meta.db_table,
    "payout": Payout._meta.db_table,
    "recovery": Recovery._meta.db_table,
    "receipt": RecoveryReceipt._meta.db_table,
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


def _cents(expr: str) -> str:
    """Return the SQL of the sum of money `expr` to the cent, as the Decimal rules have it.

    SQLite adds and subtracts in binary floats, where 1.00 - 0.70 is 0.30000000000000004:
    above a limit or threshold of 0.30 that the rules find equal to it, and a payout of
    0.30 less a payable of 0.29999999999999993 would raise a recovery of 0.00. Rounded,
    it is the very float SQLite keeps for a stored 0.30. PostgreSQL's numeric is exact.
    """
    if connection.vendor == "sqlite":
        return f"ROUND({expr}, 2)"
    return expr


def _reasons_for(cover: str) -> str:
    return _quote_list(r for r, covers in COVERS_BY_COMPENSATION_REASON.items() if cover in covers)


def _fitting_claim(*, shipment: str, reason: str) -> str:
    """SQL predicate: claim `cl` of `shipment` is one a record paid for `reason` may count on."""
    return (
        f"cl.shipment_id = {shipment}"
        f" AND cl.status NOT IN ({_quote_list(UNMATCHABLE_STATUSES)})"
        f" AND (({reason} IN ({_reasons_for(Cover.CARGO)}) AND cl.cover = '{Cover.CARGO}')"
        f" OR ({reason} IN ({_reasons_for(Cover.RETURN_LOGISTICS)})"
        f" AND cl.cover = '{Cover.RETURN_LOGISTICS}'))"
    )


def _preferred_peril(reason: str) -> str:
    whens = " ".join(f"WHEN '{r}' THEN '{peril}'" for r, peril in PREFERRED_PERIL.items())
    return f"CASE {reason} {whens} ELSE '' END"


def _duplicate(alias: str) -> str:
    """SQL predicate: row `alias` repeats an earlier record of the same payout."""
    return (
        f"EXISTS (SELECT 1 FROM {T['comp']} d WHERE d.id < {alias}.id"
        f" AND d.marketplace_id = {alias}.marketplace_id AND d.seller_id = {alias}.seller_id"
        f" AND d.shipment_external_id = {alias}.shipment_external_id"
        f" AND d.reason = {alias}.reason AND d.amount = {alias}.amount"
        f" AND d.paid_on = {alias}.paid_on)"
    )


STAGE, CLAIMS = "reconciliation_stage", "reconciliation_claims"


def stage_records(cursor, lo: int, hi: int) -> None:
    """Decide, for each record of the chunk, its shipment, its claim and what is wrong with it.

    Only reads: the verdicts land in a temporary table, so the records and the
    claims are each written once afterwards.
    """
    fitting = (
        f"SELECT cl.id FROM {T['claim']} cl"
        f" WHERE {_fitting_claim(shipment='x.shipment_id', reason='x.reason')}"
    )
    # The claim of the peril the reason names first, else the oldest fitting one.
    best = (
        f"COALESCE(({fitting} AND cl.peril = {_preferred_peril('x.reason')}"
        f" ORDER BY cl.id LIMIT 1), ({fitting} ORDER BY cl.id LIMIT 1))"
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {STAGE} AS
        WITH x AS MATERIALIZED (
            SELECT c.id, c.reason, c.amount, {_duplicate("c")} AS duplicate,
                   COALESCE(c.shipment_id,
                            (SELECT s.id FROM {T["ship"]} s
                             WHERE s.marketplace_id = c.marketplace_id
                               AND s.external_id = c.shipment_external_id
                               AND s.seller_id = c.seller_id)) AS shipment_id
            FROM {T["comp"]} c
            WHERE c.id > %s AND c.id <= %s AND c.run_id IS NULL AND c.claim_id IS NULL
        )
        SELECT x.id, x.shipment_id, x.amount, x.duplicate, s.policy_id, s.declared_value,
               CASE WHEN x.duplicate THEN NULL ELSE {best} END AS claim_id
        FROM x
        LEFT JOIN {T["ship"]} s ON s.id = x.shipment_id
        """,
        [lo, hi],
    )
    _analyze(cursor, STAGE)


def _analyze(cursor, table: str) -> None:
    if connection.vendor == "postgresql":
        # Temporary tables have no statistics until asked; the joins that read them need them.
        cursor.execute(f"ANALYZE {table}")


def mark_records(cursor, run_id: int, now: dt.datetime) -> None:
    """Write each record's shipment, claim and run in one statement."""
    cursor.execute(
        f"UPDATE {T['comp']} AS c SET shipment_id = st.shipment_id, claim_id = st.claim_id,"
        " matched_at = CASE WHEN st.claim_id IS NULL THEN NULL ELSE %s END, run_id = %s"
        f" FROM {STAGE} st WHERE c.id = st.id AND c.run_id IS NULL AND c.claim_id IS NULL",
        [_db_time(now), run_id],
    )


def record_discrepancies(cursor, run_id: int) -> int:
    kinds = " UNION ALL ".join(
        f"SELECT id, '{kind}' AS kind FROM {STAGE} WHERE {condition}"
        for kind, condition in (
            (DiscrepancyKind.UNKNOWN_SHIPMENT, "shipment_id IS NULL"),
            (DiscrepancyKind.UNINSURED_SHIPMENT, "shipment_id IS NOT NULL AND policy_id IS NULL"),
            (DiscrepancyKind.ABOVE_DECLARED_VALUE, "amount > declared_value"),
            (DiscrepancyKind.DUPLICATE, "duplicate"),
        )
    )
    # SQLite reads ON after a FROM as a join constraint unless a WHERE comes between.
    cursor.execute(
        f"INSERT INTO {T['disc']} (run_id, compensation_id, kind, detail)"
        f" SELECT %s, k.id, k.kind, '' FROM ({kinds}) k WHERE 1 = 1"
        " ON CONFLICT (run_id, compensation_id, kind) DO NOTHING",
        [run_id],
    )
    return max(cursor.rowcount, 0)


def _flags_without(column: str, flag: str) -> tuple[str, str]:
    """Return SQL for the flags in `column` but `flag`, and for "any flag left"."""
    if connection.vendor == "sqlite":
        rest = f"FROM json_each({column}) WHERE value <> '{flag}'"
        return f"(SELECT json_group_array(value) {rest})", f"EXISTS (SELECT 1 {rest})"
    return f"({column} - '{flag}')", f"jsonb_array_length({column} - '{flag}') > 0"


def assess_claims(cursor) -> None:
    """Recompute the money of the claims the chunk's records count on, and route the waiting ones.

    The SQL form of calculation.calculate_payable and calculation.triage_target
    (with the compensation known), both tested against those functions. The claims
    released together are decided at once, not one after another as triage would: those
    of one policy (or event) that the limits' room cannot all hold are approved in the
    order they were filed while the room lasts, and the rest go to a person (`crowded`),
    whose approval works their payable out again.
    """
    greatest, least = _fn("greatest"), _fn("least")
    holding = _quote_list(HOLDING)
    # Every figure compared or written below is to the cent (see _cents).
    compensation = _cents("SUM(c.amount)")
    net = _cents(
        f"{greatest}(0, COALESCE(cl.assessed_amount, cl.claimed_amount) - tg.compensation)"
    )
    event_room = _cents(
        f"{greatest}(0, t.per_event_limit"
        " - ((COALESCE(e.paid, 0) - COALESCE(o.paid, 0))"
        " - (COALESCE(e.recv, 0) - COALESCE(o.recv, 0)))"
        " - (COALESCE(e.held, 0) - COALESCE(o.held, 0)))"
    )
    aggregate_room = _cents(
        f"{greatest}(0, v.aggregate_limit"
        " - (COALESCE(bp.paid, 0) - COALESCE(o.paid, 0))"
        " - (COALESCE(bp.held, 0) - COALESCE(o.held, 0))"
        " + (COALESCE(bp.recv, 0) - COALESCE(o.recv, 0)))"
    )
    # An approved claim keeps to what it holds under the limit that set it (`held`, `held_by`).
    held_under = (
        f"CASE WHEN cl.status IN ({holding}) AND cl.limit_applied = '{{limit}}'"
        f" THEN {least}({{room}}, cl.payable_amount) ELSE {{room}} END"
    )
    event_room = held_under.format(limit=LimitApplied.PER_EVENT, room=event_room)
    aggregate_room = held_under.format(limit=LimitApplied.AGGREGATE, room=aggregate_room)
    after_ded = _cents(f"{greatest}(0, net - deductible)")
    # The flags a release keeps: assessment.release_flags, by the same flag it clears.
    kept_flags, flagged = _flags_without("tg.flags", RELEASE_CLEARS)
    # Only the claims released for approval queue for the room together.
    policy_queue = _cents(
        "SUM(payable) OVER (PARTITION BY policy_id, releasing, triaged ORDER BY id)"
    )
    event_queue = _cents(
        "SUM(payable) OVER (PARTITION BY policy_id, event_key, releasing, triaged ORDER BY id)"
    )
    if connection.vendor == "postgresql":
        # Locked first, policies then claims (claims/locks.py), so the money and the status
        # read below stay as read until the commit and what is decided from them holds
        # (SQLite lets one writer in at a time anyway).
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT id FROM {T['policy']} WHERE id IN"
            f" (SELECT policy_id FROM {T['claim']} WHERE id IN (SELECT claim_id FROM {STAGE}))"
            " ORDER BY id FOR UPDATE) locked"
        )
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT id FROM {T['claim']} WHERE id IN"
            f" (SELECT claim_id FROM {STAGE}) ORDER BY id FOR UPDATE) locked"
        )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {CLAIMS} AS
        WITH targets AS (
            -- A probe per claim: the planner cannot know how many records this run linked.
            SELECT id, number, marketplace_id, policy_id, event_key, status, flags,
                   (SELECT {compensation} FROM {T["comp"]} c
                    WHERE c.claim_id = cl.id) AS compensation
            FROM {T["claim"]} cl
            WHERE id IN (SELECT claim_id FROM {STAGE} WHERE claim_id IS NOT NULL)
        ),
        money AS (
            SELECT m.claim_id, cl.policy_id, cl.event_key,
                   SUM(m.paid) AS paid, SUM(m.recv) AS recv, SUM(m.held) AS held
            FROM (SELECT claim_id, amount AS paid, 0 AS recv, 0 AS held FROM {T["payout"]}
                  WHERE policy_id IN (SELECT DISTINCT policy_id FROM targets)
                  UNION ALL
                  SELECT r.claim_id, 0, rr.amount, 0 FROM {T["receipt"]} rr
                  JOIN {T["recovery"]} r ON r.id = rr.recovery_id
                  UNION ALL
                  SELECT id, 0, 0, payable_amount FROM {T["claim"]}
                  WHERE status IN ({holding})
                    AND policy_id IN (SELECT DISTINCT policy_id FROM targets)) m
            JOIN {T["claim"]} cl ON cl.id = m.claim_id
            WHERE cl.policy_id IN (SELECT DISTINCT policy_id FROM targets)
            GROUP BY m.claim_id, cl.policy_id, cl.event_key
        ),
        by_policy AS (
            SELECT policy_id, SUM(paid) AS paid, SUM(recv) AS recv, SUM(held) AS held
            FROM money GROUP BY policy_id
        ),
        by_event AS (
            SELECT policy_id, event_key, SUM(paid) AS paid, SUM(recv) AS recv,
                   SUM(held) AS held
            FROM money GROUP BY policy_id, event_key
        ),
        base AS (
            SELECT cl.id, tg.compensation, {net} AS net,
                   t.deductible, t.per_claim_limit, v.auto_approve_threshold,
                   CASE WHEN t.per_event_limit IS NULL THEN NULL ELSE {event_room}
                   END AS event_room,
                   {aggregate_room} AS aggregate_room
            FROM targets tg
            JOIN {T["claim"]} cl ON cl.id = tg.id
            LEFT JOIN money o ON o.claim_id = cl.id
            LEFT JOIN by_policy bp ON bp.policy_id = cl.policy_id
            LEFT JOIN by_event e ON e.policy_id = cl.policy_id AND e.event_key = cl.event_key
            JOIN {T["policy"]} pol ON pol.id = cl.policy_id
            JOIN {T["version"]} v ON v.id = pol.product_version_id
            JOIN {T["terms"]} t ON t.product_version_id = v.id AND t.cover = cl.cover
        ),
        stepped AS (
            SELECT id, compensation, net, deductible, per_claim_limit, event_room,
                   aggregate_room, auto_approve_threshold,
                   {after_ded} AS after_ded
            FROM base
        ),
        calc AS (
            SELECT id, compensation, auto_approve_threshold, event_room, aggregate_room,
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
        ),
        routed AS (
            SELECT calc.id, tg.number, tg.marketplace_id, tg.policy_id, tg.event_key,
                   calc.compensation, calc.deductible_applied, calc.payable,
                   calc.limit_applied, calc.event_room, calc.aggregate_room,
                   tg.status = '{ClaimStatus.AWAITING_COMPENSATION}' AS releasing,
                   {kept_flags} AS flags,
                   CASE WHEN {flagged} OR calc.payable <= 0
                             OR calc.payable > calc.auto_approve_threshold
                        THEN '{ClaimStatus.UNDER_REVIEW}' ELSE '{ClaimStatus.APPROVED}'
                   END AS triaged
            FROM calc JOIN targets tg ON tg.id = calc.id
        ),
        queued AS (
            -- What the claims released for approval up to each one would hold together.
            SELECT routed.*, {policy_queue} AS policy_queue, {event_queue} AS event_queue
            FROM routed
        ),
        crowding AS (
            SELECT queued.*,
                   releasing AND triaged = '{ClaimStatus.APPROVED}'
                   AND (policy_queue > aggregate_room
                        OR (event_room IS NOT NULL AND event_queue > event_room)) AS crowded
            FROM queued
        )
        SELECT id, number, marketplace_id, compensation, deductible_applied, payable,
               limit_applied, releasing, flags, crowded,
               CASE WHEN crowded THEN '{ClaimStatus.UNDER_REVIEW}' ELSE triaged END AS target
        FROM crowding
        """
    )
    _analyze(cursor, CLAIMS)


def update_claims(cursor, now: dt.datetime) -> None:
    """Write each assessed claim once: its money, and for a released one its new state."""
    today = timezone.localdate(now)
    due = {
        target: claim_due_on(Claim(status=target, sla_started_on=today, decided_at=now))
        for target in (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED)
    }
    released = "rc.releasing"
    cursor.execute(
        f"""
        UPDATE {T["claim"]} AS cl
        SET compensation_amount = rc.compensation,
            deductible_amount = rc.deductible_applied,
            payable_amount = rc.payable,
            limit_applied = rc.limit_applied,
            status = CASE WHEN {released} THEN rc.target ELSE cl.status END,
            flags = CASE WHEN {released} THEN rc.flags ELSE cl.flags END,
            sla_started_on = CASE WHEN {released} THEN %s ELSE cl.sla_started_on END,
            sla_paused_days = CASE WHEN {released} THEN 0 ELSE cl.sla_paused_days END,
            status_changed_at = CASE WHEN {released} THEN %s ELSE cl.status_changed_at END,
            due_on = CASE WHEN NOT {released} THEN cl.due_on
                          WHEN rc.target = '{ClaimStatus.APPROVED}' THEN %s ELSE %s END,
            decided_at = CASE WHEN {released} AND rc.target = '{ClaimStatus.APPROVED}'
                              THEN %s ELSE cl.decided_at END,
            updated_at = %s
        FROM {CLAIMS} rc WHERE cl.id = rc.id
        """,
        [
            today,
            _db_time(now),
            due[ClaimStatus.APPROVED],
            due[ClaimStatus.UNDER_REVIEW],
            _db_time(now),
            _db_time(now),
        ],
    )


def raise_recoveries(cursor, now: dt.datetime) -> int:
    """Raise, on each assessed claim paid more than its payable, a Recovery of the difference
    (calculation.recovery_due) not yet raised; return how many."""
    due = _cents("p.paid - COALESCE(r.raised, 0) - cl.payable_amount")
    cursor.execute(
        f"""
        INSERT INTO {T["recovery"]}
            (claim_id, compensation_id, amount, status, raised_at)
        SELECT cl.id, last.comp_id, {due}, '{RecoveryStatus.OPEN}', %s
        FROM {T["claim"]} cl
        JOIN (SELECT claim_id, MAX(id) AS comp_id FROM {STAGE}
              WHERE claim_id IS NOT NULL GROUP BY claim_id) last ON last.claim_id = cl.id
        JOIN (SELECT claim_id, amount AS paid FROM {T["payout"]}) p ON p.claim_id = cl.id
        LEFT JOIN (SELECT claim_id, SUM(amount) AS raised FROM {T["recovery"]}
                   GROUP BY claim_id) r ON r.claim_id = cl.id
        WHERE {due} > 0
        """,
        [_db_time(now)],
    )
    return max(cursor.rowcount, 0)


def _note_releases(cursor, now: dt.datetime) -> None:
    """Write on the logged release of each claim a shared limit cut, or that the claims
    released with it crowded out, what the triage of `claims.lifecycle` would say of it.

    Few releases are, so each note (a code and its figures, `claims.notes`) is written on
    its claims in parts.
    """
    cursor.execute(
        f"SELECT id, payable, limit_applied, target, crowded FROM {CLAIMS}"
        f" WHERE releasing AND (crowded OR limit_applied IN ({_quote_list(SHARED_LIMITS)}))"
    )
    noted: dict[str, list[int]] = {}
    for pk, payable, limit_applied, target, crowded in cursor.fetchall():
        note = (
            system_note(SystemNote.CROWDED_OUT)
            if crowded
            else route_note(
                target=target,
                payable=Decimal(str(payable)).quantize(CENT),
                limit_applied=limit_applied,
            )
        )
        if note:
            noted.setdefault(json.dumps(note, sort_keys=True), []).append(pk)
    for note, ids in noted.items():
        for start in range(0, len(ids), NOTE_PART):
            ClaimTransition.objects.filter(
                claim_id__in=ids[start : start + NOTE_PART], transition="release", at=now
            ).update(**json.loads(note))


def log_releases(cursor, now: dt.datetime) -> int:
    """Log the released claims' transitions in one statement and queue what follows them."""
    cursor.execute(
        f"INSERT INTO {T['transition']} (claim_id, transition, source_state, target_state,"
        " at, actor_kind, actor_user_id, actor_marketplace_id, note, internal_note, note_code,"
        " note_params)"
        f" SELECT id, 'release', %s, target, %s, %s, NULL, NULL, '', '', '', '{{}}'"
        f" FROM {CLAIMS} WHERE releasing",
        [ClaimStatus.AWAITING_COMPENSATION, _db_time(now), ActorKind.SYSTEM],
    )
    released = max(cursor.rowcount, 0)
    _note_releases(cursor, now)
    cursor.execute(
        f"SELECT id, number, marketplace_id, payable, target FROM {CLAIMS} WHERE releasing"
    )
    # In parts, so memory holds one part's objects, not the chunk's.
    while rows := cursor.fetchmany(RELEASE_PART):
        changes = [
            StatusChange(
                claim_id=pk,
                number=number,
                # SQLite hands back a float; PostgreSQL a Decimal already.
                payable=Decimal(str(payable)).quantize(CENT),
                marketplace_id=marketplace_id,
                source=ClaimStatus.AWAITING_COMPENSATION,
                target=target,
            )
            for pk, number, marketplace_id, payable, target in rows
        ]
        claims_released(released=changes, at=now)
    return released
