"""The rules of money: pure functions over Decimal, no ORM, no clock.

A claim's payable is its assessed loss less the marketplace's compensation, less the
deductible, and at most the cover's per-claim limit, the per-event limit less what the
event's other claims were paid or hold, and the aggregate limit less what the policy paid
or holds plus the recoveries received. An approved claim holds its payable against both
limits until it is paid or released. Payouts less recoveries plus compensation never
exceed the loss.
"""

from dataclasses import dataclass, fields
from decimal import Decimal

from claims.choices import (
    COVERS_BY_COMPENSATION_REASON,
    ClaimStatus,
    LimitApplied,
    NoPayableReason,
)
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


@dataclass(frozen=True)
class LimitCut:
    """What one limit took off the amount after the deductible."""

    limit: LimitApplied
    amount: Decimal

    @property
    def label(self) -> str:
        return LimitApplied(self.limit).label


# The order the limits cut in: the per-claim limit, what the event's limit still allows,
# what the aggregate limit still allows.
LIMIT_ORDER = (LimitApplied.PER_CLAIM, LimitApplied.PER_EVENT, LimitApplied.AGGREGATE)


def limit_cuts(
    *, after_deductible: Decimal, rooms: tuple[Decimal | None, Decimal | None, Decimal | None]
) -> tuple[LimitCut, ...]:
    """Return what each limit took off, in `LIMIT_ORDER`; a room of None is no limit.

    Each limit cuts what the ones before it left down to its room; one that leaves the amount
    as it is takes nothing and is not named.
    """
    left, cuts = money(after_deductible), []
    for code, room in zip(LIMIT_ORDER, rooms, strict=True):
        if room is not None and money(room) < left:
            cuts.append(LimitCut(limit=code, amount=left - money(room)))
            left = money(room)
    return tuple(cuts)


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
    event_held_by_others: Decimal = ZERO,
    policy_held_by_others: Decimal = ZERO,
    held: Decimal | None = None,
    held_by: str = LimitApplied.NONE,
) -> Calculation:
    """Return the calculation of one claim's payable amount.

    `*_paid_by_others` are the payouts on the other claims of the same event or
    policy; `policy_recovery_received` is what sellers have paid back on the policy,
    which frees aggregate limit again. `*_held_by_others` is what the other approved
    claims of the event or policy hold, unpaid: room no other claim may take.

    `held` is, on an approved claim, the payable its approval holds and `held_by` the limit
    that set it then: the claim's room under that limit stays at most what it holds, so
    it is never paid more than was approved and announced. (Only a limit can have cut it
    below its loss; the loss itself only falls while the claim is approved.)

    The payable is never negative and never exceeds the loss less the marketplace's
    compensation, nor any limit.
    """
    loss, compensation, deductible = money(loss), money(compensation), money(deductible)
    net = max(ZERO, loss - compensation)
    after_deductible = max(ZERO, net - deductible)
    event_room = (
        None
        if per_event_limit is None
        else max(
            ZERO,
            money(per_event_limit) - money(event_paid_by_others) - money(event_held_by_others),
        )
    )
    aggregate_room = max(
        ZERO,
        money(aggregate_limit)
        - money(policy_paid_by_others)
        - money(policy_held_by_others)
        + money(policy_recovery_received),
    )
    if held is not None and held_by == LimitApplied.PER_EVENT and event_room is not None:
        event_room = min(event_room, money(held))
    elif held is not None and held_by == LimitApplied.AGGREGATE:
        aggregate_room = min(aggregate_room, money(held))
    cuts = limit_cuts(
        after_deductible=after_deductible,
        rooms=(money(per_claim_limit), event_room, aggregate_room),
    )
    payable = after_deductible - sum((cut.amount for cut in cuts), ZERO)
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
        limit_applied=cuts[-1].limit if cuts else LimitApplied.NONE,
    )


def recovery_due(*, paid: Decimal, recoveries_raised: Decimal, payable_now: Decimal) -> Decimal:
    """Return what the seller must pay back now that the payable has fallen below the payout."""
    return money(max(ZERO, paid - recoveries_raised - payable_now))


# Claims whose payable is not worked out yet: triage does it right after submission.
NOT_ASSESSED = (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED)

# The claims whose payable is held against the per-event and aggregate limits: approved and
# not yet paid. Leaving the state (paid, rejected, or sent back) releases the hold.
HOLDING = (ClaimStatus.APPROVED,)

# The limits whose room other claims use up; the per-claim limit is the claim's alone.
SHARED_LIMITS = (LimitApplied.PER_EVENT, LimitApplied.AGGREGATE)


def no_payable_reason(*, status: str, closed_from: str, paid: Decimal) -> str:
    """Return why the claim has no payable, or "" if it has one.

    A rejected or withdrawn claim has none, nor a closed one that was never paid: closed
    after its rejection, its withdrawal or an information request left unanswered.
    """
    if status == ClaimStatus.REJECTED:
        return NoPayableReason.REJECTED
    if status == ClaimStatus.WITHDRAWN:
        return NoPayableReason.WITHDRAWN
    if status != ClaimStatus.CLOSED or paid > ZERO:
        return ""
    return {
        ClaimStatus.REJECTED: NoPayableReason.REJECTED,
        ClaimStatus.WITHDRAWN: NoPayableReason.WITHDRAWN,
        ClaimStatus.INFO_REQUESTED: NoPayableReason.UNANSWERED,
    }.get(closed_from, NoPayableReason.CLOSED)


@dataclass(frozen=True)
class MoneyLine:
    """A claim's whole picture of money, as the seller reads it in one line.

    The loss is what the marketplace paid, plus what the insurer paid net of the recoveries
    raised and what it is still to pay, plus what the seller bore (unless the marketplace
    paid more than the loss). What the seller bore is the deductible, what each limit cut
    (named), and `unpaid`: all of it on a claim with no payable, else nothing.
    """

    claimed: Decimal
    loss: Decimal
    marketplace_paid: Decimal
    paid: Decimal
    recovery_raised: Decimal
    recovery_received: Decimal
    insurer_paid: Decimal
    payable: Decimal
    to_pay: Decimal
    seller_bore: Decimal
    deductible: Decimal
    limit_cuts: tuple[LimitCut, ...]
    unpaid: Decimal
    owed_back: Decimal
    no_payable: str
    assessed: bool

    @property
    def has_payable(self) -> bool:
        return self.assessed and not self.no_payable

    @property
    def no_payable_label(self) -> str:
        return NoPayableReason(self.no_payable).label if self.no_payable else ""


def money_line(
    *,
    status: str,
    closed_from: str,
    claimed: Decimal,
    loss: Decimal,
    compensation: Decimal,
    deductible: Decimal,
    payable: Decimal,
    rooms: tuple[Decimal | None, Decimal | None, Decimal | None],
    paid: Decimal,
    recovery_raised: Decimal,
    recovery_received: Decimal,
) -> MoneyLine:
    """Return the claim's money line from its figures.

    `deductible` and `payable` are the claim's as calculated; `rooms` what each limit of
    `LIMIT_ORDER` allowed then (None: no limit, or not known). `paid` is the insurer's
    payout, `recovery_raised` what late compensation made the seller owe back of it, and
    `recovery_received` the part of that paid back. A claim with no payable, or not yet
    assessed, shows none: its payable is zero, whatever was calculated before.
    """
    loss, compensation, paid = money(loss), money(compensation), money(paid)
    recovery_raised, recovery_received = money(recovery_raised), money(recovery_received)
    reason = no_payable_reason(status=status, closed_from=closed_from, paid=paid)
    assessed = status not in NOT_ASSESSED or paid > ZERO
    insurer_paid = max(ZERO, paid - recovery_raised)
    if reason or not assessed:
        deductible, payable, cuts = ZERO, ZERO, ()
    else:
        deductible, payable = money(deductible), money(payable)
        after_deductible = max(ZERO, loss - compensation - deductible)
        cuts = limit_cuts(after_deductible=after_deductible, rooms=rooms)
    # A claim is paid at most once: once paid, the insurer has nothing more to pay.
    to_pay = payable if paid == ZERO else ZERO
    bore = seller_bore(loss=loss, compensation=compensation, payable=insurer_paid + to_pay)
    explained = deductible + sum((cut.amount for cut in cuts), ZERO)
    return MoneyLine(
        claimed=money(claimed),
        loss=loss,
        marketplace_paid=compensation,
        paid=paid,
        recovery_raised=recovery_raised,
        recovery_received=recovery_received,
        insurer_paid=insurer_paid,
        payable=payable,
        to_pay=to_pay,
        seller_bore=bore,
        deductible=deductible,
        limit_cuts=cuts,
        unpaid=max(ZERO, bore - explained),
        owed_back=max(ZERO, recovery_raised - recovery_received),
        no_payable=reason,
        assessed=assessed,
    )


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
