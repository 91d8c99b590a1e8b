"""The invariants of the rules of money (DESIGN §4) and of the follow-ups, checked against the
database: what the money test asserts after every step, and what the soak audits after a run
under load and faults.

Each check reads set-based (a few queries however many claims) and returns its breaks, never
raises: an audit reports every break it finds at once.
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from claims.choices import ClaimStatus, RunState
from claims.models import (
    Claim,
    ClaimTransition,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
    RecoveryReceipt,
    WebhookDelivery,
    WebhookStatus,
)
from claims.outputs.webhooks import EVENT_STATUS_CHANGED
from claims.selectors import claims_with_money
from policies.choices import ActorKind, OutboxStatus
from policies.models import ZERO, CoverTerms, OutboxMessage, Policy

_MONEY = DecimalField(max_digits=14, decimal_places=2)

# What each check holds, in the order an audit reports them.
MONEY_CHECKS = {
    "indemnity": "payouts − recoveries + compensation ≤ loss, per claim",
    "one_payout": "at most one payout per claim",
    "compensation_once": "each compensation record counted on at most one claim, once",
    "per_claim_limit": "no claim paid above its per-claim limit",
    "per_event_limit": "no event paid above its per-event limit",
    "aggregate_limit": "no policy over its aggregate limit",
}
FOLLOW_UP_CHECKS = {
    "left_waiting": "no claim left submitted or approved with nothing queued",
    "announced_once": "every transition announced once (one webhook delivery each)",
    "outbox_finished": "every follow-up finished (no outbox row open or given up)",
    "webhook_delivered": "every webhook delivered",
    "run_finished": "every reconciliation run finished",
}


@dataclass(frozen=True)
class InvariantBreak:
    check: str
    subject: str
    detail: str


def _per_claim(queryset: QuerySet, aggregate) -> Subquery:
    return Subquery(
        queryset.filter(claim=OuterRef("pk"))
        .order_by()
        .values("claim")
        .annotate(v=aggregate)
        # One row per claim, so its value is the claim's total.
        .values("v")
    )


def money_invariant_breaks(*, claims: QuerySet[Claim]) -> list[InvariantBreak]:
    """Return every break of the rules of money among `claims` and their policies."""
    rows = claims_with_money(claims).annotate(
        counted=Coalesce(
            _per_claim(MarketplaceCompensation.objects, Sum("amount")),
            Value(ZERO),
            output_field=_MONEY,
        ),
        payouts=Coalesce(_per_claim(Payout.objects, Count("pk")), Value(0)),
        per_claim_limit=Subquery(
            CoverTerms.objects.filter(
                product_version_id=OuterRef("policy__product_version_id"), cover=OuterRef("cover")
            ).values("per_claim_limit")[:1],
            output_field=_MONEY,
        ),
    )
    breaks = []
    for claim in rows.only(
        "number", "claimed_amount", "assessed_amount", "compensation_amount"
    ).iterator():
        loss = claim.loss_amount
        net = claim.paid_total - claim.recovery_raised_total
        # The marketplace may pay more than the loss: only the loss is the insurer's concern.
        if net + min(claim.counted, loss) > loss:
            breaks.append(
                InvariantBreak(
                    "indemnity",
                    claim.number,
                    f"paid {net} net of recoveries and compensated {claim.counted}"
                    f" for a loss of {loss}",
                )
            )
        if claim.payouts > 1:
            breaks.append(InvariantBreak("one_payout", claim.number, f"{claim.payouts} payouts"))
        if claim.compensation_amount != claim.counted:
            breaks.append(
                InvariantBreak(
                    "compensation_once",
                    claim.number,
                    f"counts {claim.compensation_amount} of compensation; its records sum"
                    f" to {claim.counted}",
                )
            )
        if claim.per_claim_limit is not None and claim.paid_total > claim.per_claim_limit:
            breaks.append(
                InvariantBreak(
                    "per_claim_limit",
                    claim.number,
                    f"paid {claim.paid_total} above the limit of {claim.per_claim_limit}",
                )
            )
    breaks += [
        InvariantBreak("payout_policy", number, "paid under a policy not the claim's")
        for number in Payout.objects.filter(claim__in=claims)
        .exclude(policy_id=F("claim__policy_id"))
        .values_list("claim__number", flat=True)
    ]
    breaks += _compensations_elsewhere(claims)
    breaks += _event_limit_breaks(claims)
    breaks += _aggregate_limit_breaks(claims)
    return breaks


def _compensations_elsewhere(claims: QuerySet[Claim]) -> list[InvariantBreak]:
    """A record counted on the claim of another item, or raising more than one recovery."""
    breaks = [
        InvariantBreak("compensation_once", external_id, f"counted on {number}, another item's")
        for external_id, number in MarketplaceCompensation.objects.filter(
            claim__in=claims, shipment__isnull=False
        )
        .exclude(shipment_id=F("claim__shipment_id"))
        .values_list("external_id", "claim__number")
    ]
    breaks += [
        InvariantBreak("compensation_once", external_id, f"raised {n} recoveries")
        for external_id, n in Recovery.objects.filter(claim__in=claims, compensation__isnull=False)
        .values("compensation")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("compensation__external_id", "n")
    ]
    return breaks


def _net_by(claims: QuerySet[Claim], *keys: str) -> dict[tuple, object]:
    """Return payouts less the recoveries received, summed by the claims' `keys`."""
    net = defaultdict(lambda: ZERO)
    for *key, paid in (
        Payout.objects.filter(claim__in=claims)
        .values(*keys)
        .annotate(total=Sum("amount"))
        .values_list(*keys, "total")
    ):
        net[tuple(key)] += paid
    # The receipts, in full or in part, reach their claims through their recoveries.
    via_recovery = [f"recovery__{key}" for key in keys]
    for *key, received in (
        RecoveryReceipt.objects.filter(recovery__claim__in=claims)
        .values(*via_recovery)
        .annotate(total=Sum("amount"))
        .values_list(*via_recovery, "total")
    ):
        net[tuple(key)] -= received
    return net


def _event_limit_breaks(claims: QuerySet[Claim]) -> list[InvariantBreak]:
    limits = {
        (version, cover): limit
        for version, cover, limit in CoverTerms.objects.filter(
            per_event_limit__isnull=False,
            product_version__in=claims.values("policy__product_version"),
        ).values_list("product_version", "cover", "per_event_limit")
    }
    events = _net_by(
        claims,
        "claim__policy__product_version",
        "claim__cover",
        "claim__policy",
        "claim__event_key",
    )
    return [
        InvariantBreak("per_event_limit", event_key, f"paid {net} above the limit of {limit}")
        for (version, cover, _policy, event_key), net in events.items()
        if (limit := limits.get((version, cover))) is not None and net > limit
    ]


def _aggregate_limit_breaks(claims: QuerySet[Claim]) -> list[InvariantBreak]:
    policies = Policy.objects.filter(pk__in=claims.values("policy")).values_list(
        "pk", "number", "product_version__aggregate_limit"
    )
    usage = _net_by(Claim.objects.filter(policy__in=claims.values("policy")), "claim__policy")
    return [
        InvariantBreak("aggregate_limit", number, f"paid {net} net, the limit is {limit}")
        for pk, number, limit in policies
        if (net := usage[(pk,)]) > limit
    ]


def follow_up_breaks(*, claims: QuerySet[Claim], since: dt.datetime) -> list[InvariantBreak]:
    """Return every follow-up of `claims` (and of the outbox and runs since `since`) that was
    lost or never finished: meant for a system whose queues have drained."""
    return [
        *_left_waiting(claims),
        *_announcements(claims),
        *_outbox_unfinished(since),
        *(
            InvariantBreak("webhook_delivered", str(uid), f"{number}: {status}")
            for uid, number, status in WebhookDelivery.objects.filter(claim__in=claims)
            .exclude(status=WebhookStatus.DELIVERED)
            .values_list("uid", "claim__number", "status")
        ),
        *(
            InvariantBreak("run_finished", f"run #{pk}", f"{state} {error}".strip())
            for pk, state, error in ReconciliationRun.objects.filter(created_at__gte=since)
            .exclude(state=RunState.DONE)
            .values_list("pk", "state", "error")
        ),
    ]


def _left_waiting(claims: QuerySet[Claim]) -> list[InvariantBreak]:
    """Submitted claims wait for triage and claims the system approved for their payment,
    each a task in the outbox. A claim an adjuster approved waits for the adjuster's
    payment, unless nothing is payable on it: then no one can ever pay it."""
    queued = set()
    for kwargs in OutboxMessage.objects.filter(
        status__in=(OutboxStatus.PENDING, OutboxStatus.DISPATCHED)
    ).values_list("kwargs", flat=True):
        queued.add(kwargs.get("claim_id"))
        queued.update(kwargs.get("claim_ids", ()))
    approved_by = Subquery(
        ClaimTransition.objects.filter(claim=OuterRef("pk"), target_state=ClaimStatus.APPROVED)
        .order_by("-at", "-pk")
        .values("actor_kind")[:1]
    )
    waiting = claims.filter(status__in=(ClaimStatus.SUBMITTED, ClaimStatus.APPROVED)).annotate(
        approved_by=approved_by
    )
    breaks = []
    for pk, number, status, actor, payable in waiting.values_list(
        "pk", "number", "status", "approved_by", "payable_amount"
    ):
        if pk in queued:
            continue
        if status == ClaimStatus.SUBMITTED or actor == ActorKind.SYSTEM:
            breaks.append(InvariantBreak("left_waiting", number, f"{status}, nothing queued"))
        elif payable <= 0:
            breaks.append(
                InvariantBreak("left_waiting", number, "approved by an adjuster for nothing")
            )
    return breaks


def _announcements(claims: QuerySet[Claim]) -> list[InvariantBreak]:
    """Each transition of a claim whose marketplace has an endpoint has one delivery."""
    announced = claims.exclude(marketplace__webhook_url="")
    # A claim's creation as a draft is not a change of status anyone is told of.
    transitions = Counter(
        ClaimTransition.objects.filter(claim__in=announced)
        .exclude(source_state="")
        .values_list("claim_id", "source_state", "target_state")
    )
    deliveries = Counter(
        WebhookDelivery.objects.filter(claim__in=announced, event=EVENT_STATUS_CHANGED).values_list(
            "claim_id", "payload__from", "payload__to"
        )
    )
    wrong = {
        key: (transitions[key], deliveries[key])
        for key in transitions.keys() | deliveries.keys()
        if transitions[key] != deliveries[key]
    }
    numbers = dict(
        Claim.objects.filter(pk__in={key[0] for key in wrong}).values_list("pk", "number")
    )
    return [
        InvariantBreak(
            "announced_once",
            numbers[claim_id],
            f"{source} → {target}: {made} transition(s), {sent} delivery(ies)",
        )
        for (claim_id, source, target), (made, sent) in sorted(wrong.items())
    ]


def _outbox_unfinished(since: dt.datetime) -> list[InvariantBreak]:
    return [
        InvariantBreak(
            "outbox_finished", f"{task} #{pk}", f"{status} after {attempts} send(s) {error}".strip()
        )
        for pk, task, status, attempts, error in OutboxMessage.objects.filter(created_at__gte=since)
        .exclude(status=OutboxStatus.DONE)
        .values_list("pk", "task", "status", "attempts", "error")
    ]
