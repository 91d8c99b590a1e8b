"""The rules of money: pure functions over Decimal, no ORM, no clock.

A claim's payable is its assessed loss less the marketplace's compensation, less the
deductible, and at most the cover's per-claim limit, the per-event limit less what the
event's other claims were paid, and the aggregate limit less what the policy paid plus the
recoveries received. Payouts less recoveries plus compensation never exceed the loss.
"""

from dataclasses import dataclass, fields
from decimal import Decimal

from claims.choices import COVERS_BY_COMPENSATION_REASON, ClaimStatus, LimitApplied
from policies.calculation import ZERO, money
from policies.choices import COVER_BY_PERIL, Cover


@dataclass(frozen=True)
class Calculation:
    """Every line of one claim's settlement, as the settlement act shows it."""

    loss: Decimal
    compensation: Decimal
    net: Decimal
    deductible: Decimal
    after_deductible: Decimal
    per_claim_limit: Decimal
    event_room: Decimal | None
    aggregate_room: Decimal
    payable: Decimal
    limit_applied: LimitApplied

    @property
    def seller_bore(self) -> Decimal:
        return seller_bore(loss=self.loss, compensation=self.compensation, payable=self.payable)

    def as_record(self) -> dict[str, str | None]:
        """Return every line as text, to keep with the payout exactly as it was paid."""
        return {
            field.name: None if (value := getattr(self, field.name)) is None else str(value)
            for field in fields(self)
        }


def seller_bore(*, loss: Decimal, compensation: Decimal, payable: Decimal) -> Decimal:
    """Return what a loss leaves with the seller once the marketplace and the insurer paid."""
    return money(max(ZERO, loss - compensation - payable))


def calculate_payable(
    *,
    loss: Decimal,
    compensation: Decimal,
    deductible: Decimal,
    per_claim_limit: Decimal,
    per_event_limit: Decimal | None,
    event_paid_by_others: Decimal,
    aggregate_limit: Decimal,
    policy_paid_by_others: Decimal,
    policy_recovery_received: Decimal,
) -> Calculation:
    """Return the calculation of one claim's payable amount.

    `*_paid_by_others` are the payouts on the other claims of the same event or
    policy; `policy_recovery_received` is what sellers have paid back on the policy,
    which frees aggregate limit again. The payable is never negative and never
    exceeds the loss less the marketplace's compensation, nor any limit.
    """
    loss, compensation, deductible = money(loss), money(compensation), money(deductible)
    net = max(ZERO, loss - compensation)
    after_deductible = max(ZERO, net - deductible)
    event_room = (
        None
        if per_event_limit is None
        else max(ZERO, money(per_event_limit) - money(event_paid_by_others))
    )
    aggregate_room = max(
        ZERO,
        money(aggregate_limit) - money(policy_paid_by_others) + money(policy_recovery_received),
    )
    payable, limit_applied = after_deductible, LimitApplied.NONE
    for room, code in (
        (money(per_claim_limit), LimitApplied.PER_CLAIM),
        (event_room, LimitApplied.PER_EVENT),
        (aggregate_room, LimitApplied.AGGREGATE),
    ):
        if room is not None and room < payable:
            payable, limit_applied = room, code
    return Calculation(
        loss=loss,
        compensation=compensation,
        net=money(net),
        deductible=money(min(deductible, net)),
        after_deductible=money(after_deductible),
        per_claim_limit=money(per_claim_limit),
        event_room=event_room,
        aggregate_room=aggregate_room,
        payable=money(payable),
        limit_applied=limit_applied,
    )


def recovery_due(*, paid: Decimal, recoveries_raised: Decimal, payable_now: Decimal) -> Decimal:
    """Return what the seller must pay back now that the payable has fallen below the payout."""
    return money(max(ZERO, paid - recoveries_raised - payable_now))


def compensation_fits(*, reason: str, peril: str) -> bool:
    """Return whether a marketplace payout for `reason` reduces a loss by `peril`."""
    return COVER_BY_PERIL[peril] in COVERS_BY_COMPENSATION_REASON[reason]


def triage_target(
    *,
    cover: str,
    flags: list[str],
    payable: Decimal,
    auto_approve_threshold: Decimal,
    compensation_known: bool,
) -> ClaimStatus:
    """Return where a submitted (or released) claim goes next.

    The system pays automatically and never denies automatically: only a
    clean claim the marketplace verified, with something to pay under the
    threshold, is approved without a person.
    """
    if cover == Cover.CARGO and not compensation_known:
        return ClaimStatus.AWAITING_COMPENSATION
    if flags or payable <= ZERO or payable > auto_approve_threshold:
        return ClaimStatus.UNDER_REVIEW
    return ClaimStatus.APPROVED
