"""Reads of the claims side, scoped and with their joins done."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from claims.calculation import HOLDING, MoneyLine, money_line
from claims.choices import (
    OPEN_STATUSES,
    ClaimFlag,
    ClaimStatus,
    LimitApplied,
    RecoveryStatus,
    ReportOutcome,
)
from claims.models import (
    SIGNOFF_STEPS,
    Claim,
    ClaimMessage,
    ClaimTransition,
    Evidence,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
    RecoveryReceipt,
    ReportImport,
    ReportImportStatus,
    ReportLine,
    WebhookAttempt,
    WebhookDelivery,
)
from claims.reports.rows import FEE_KINDS
from policies.calculation import ZERO, money
from policies.choices import ActorKind
from policies.models import CoverTerms, Document, Marketplace, Policy, Seller, Shipment

_MONEY = DecimalField(max_digits=14, decimal_places=2)


def money_sum(queryset: QuerySet, field: str = "amount") -> Decimal:
    """Return the sum of the rows' money in `field`, in the database, as roubles: zero for none."""
    return money(queryset.aggregate(total=Coalesce(Sum(field), Value(ZERO)))["total"])


@dataclass(frozen=True)
class PolicyUsage:
    paid: Decimal
    recovery_received: Decimal
    held: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.paid - self.recovery_received


def _held(claims: QuerySet[Claim]) -> Decimal:
    """Return what the approved, unpaid claims among `claims` hold against the limits."""
    return money_sum(claims.filter(status__in=HOLDING), "payable_amount")


def policy_usage(*, policy_id: int, exclude_claim_id: int | None = None) -> PolicyUsage:
    """Return what the policy's claims were paid, what its approved claims hold and what
    sellers have paid back."""
    payouts = Payout.objects.filter(policy_id=policy_id)
    # What was received, in full or in part: each payment back gives its limit back.
    receipts = RecoveryReceipt.objects.filter(recovery__claim__policy_id=policy_id)
    claims = Claim.objects.filter(policy_id=policy_id)
    if exclude_claim_id is not None:
        payouts = payouts.exclude(claim_id=exclude_claim_id)
        receipts = receipts.exclude(recovery__claim_id=exclude_claim_id)
        claims = claims.exclude(pk=exclude_claim_id)
    return PolicyUsage(
        paid=money_sum(payouts), recovery_received=money_sum(receipts), held=_held(claims)
    )


def event_paid_by_others(*, claim: Claim) -> Decimal:
    """Return what the other claims of the claim's event were paid, net of money received back."""
    paid = money_sum(
        Payout.objects.filter(policy_id=claim.policy_id, claim__event_key=claim.event_key).exclude(
            claim_id=claim.pk
        )
    )
    recovered = money_sum(
        RecoveryReceipt.objects.filter(recovery__claim__policy_id=claim.policy_id)
        .filter(recovery__claim__event_key=claim.event_key)
        .exclude(recovery__claim_id=claim.pk)
    )
    return paid - recovered


def event_held_by_others(*, claim: Claim) -> Decimal:
    """Return what the other approved, unpaid claims of the claim's event hold."""
    return _held(
        Claim.objects.filter(policy_id=claim.policy_id, event_key=claim.event_key).exclude(
            pk=claim.pk
        )
    )


def claim_compensation_total(*, claim_id: int) -> Decimal:
    return money_sum(MarketplaceCompensation.objects.filter(claim_id=claim_id))


def claim_paid(*, claim_id: int) -> Decimal:
    return money_sum(Payout.objects.filter(claim_id=claim_id))


def claim_recoveries_raised(*, claim_id: int) -> Decimal:
    return money_sum(Recovery.objects.filter(claim_id=claim_id))


def recovery_received(*, recovery_id: int) -> Decimal:
    """Return what the seller has paid back of the recovery so far."""
    return money_sum(RecoveryReceipt.objects.filter(recovery_id=recovery_id))


def recoveries_with_receipts(queryset: QuerySet[Recovery]) -> QuerySet[Recovery]:
    """Annotate `received_total` and `owed_total` (what is still owed back) on each recovery,
    and prefetch its receipts in the order they were received."""
    received = Subquery(
        RecoveryReceipt.objects.filter(recovery=OuterRef("pk"))
        .values("recovery")
        .annotate(total=Sum("amount"))
        .values("total"),
        output_field=_MONEY,
    )
    return (
        queryset.annotate(received_total=Coalesce(received, Value(ZERO), output_field=_MONEY))
        .annotate(owed_total=F("amount") - F("received_total"))
        .prefetch_related(
            Prefetch("receipts", queryset=RecoveryReceipt.objects.order_by("received_on", "pk"))
        )
    )


def _per_claim_total(model, **filters) -> Subquery:
    return Subquery(
        model.objects.filter(claim=OuterRef("pk"), **filters)
        .values("claim")
        .annotate(total=Sum("amount"))
        .values("total"),
        output_field=_MONEY,
    )


def claims_with_money(queryset: QuerySet[Claim]) -> QuerySet[Claim]:
    """Annotate `paid_total`, `recovery_raised_total` and `recovery_received_total` without a
    query per row.

    A recovery is raised when a late compensation leaves the seller owing part of a payout
    back, and received once the seller has paid it; only received ones give the aggregate
    limit back.
    """
    return queryset.annotate(
        paid_total=Coalesce(_per_claim_total(Payout), Value(ZERO), output_field=_MONEY),
        recovery_raised_total=Coalesce(
            _per_claim_total(Recovery), Value(ZERO), output_field=_MONEY
        ),
        recovery_received_total=Coalesce(
            Subquery(
                RecoveryReceipt.objects.filter(recovery__claim=OuterRef("pk"))
                .values("recovery__claim")
                .annotate(total=Sum("amount"))
                .values("total"),
                output_field=_MONEY,
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
    )


def claims_with_money_line(queryset: QuerySet[Claim]) -> QuerySet[Claim]:
    """Annotate what `claim_money_line` reads, without a query per row: the money of
    `claims_with_money`, the cover's `per_claim_limit` and, for a closed claim, the state it
    was closed from (`closed_from`)."""
    return claims_with_money(queryset).annotate(
        per_claim_limit=Subquery(
            CoverTerms.objects.filter(
                product_version_id=OuterRef("policy__product_version_id"), cover=OuterRef("cover")
            ).values("per_claim_limit")[:1],
            output_field=_MONEY,
        ),
        closed_from=Coalesce(
            Subquery(
                ClaimTransition.objects.filter(claim=OuterRef("pk"), transition="close")
                .order_by("-at", "-pk")
                .values("source_state")[:1]
            ),
            Value(""),
        ),
    )


def claim_money_line(claim: Claim) -> MoneyLine:
    """Return the claim's money line from its stored figures (`claims_with_money_line`).

    The claim keeps the limit that set its payable, not what the others allowed: that limit
    is known to have allowed exactly the payable, and the per-claim limit is the cover's.
    """
    bound = claim.limit_applied
    return money_line(
        status=claim.status,
        closed_from=claim.closed_from,
        claimed=claim.claimed_amount,
        loss=claim.loss_amount,
        compensation=claim.compensation_amount,
        deductible=claim.deductible_amount,
        payable=claim.payable_amount,
        rooms=(
            claim.payable_amount if bound == LimitApplied.PER_CLAIM else claim.per_claim_limit,
            claim.payable_amount if bound == LimitApplied.PER_EVENT else None,
            claim.payable_amount if bound == LimitApplied.AGGREGATE else None,
        ),
        paid=claim.paid_total,
        recovery_raised=claim.recovery_raised_total,
        recovery_received=claim.recovery_received_total,
    )


def claim_list_for_marketplace(*, marketplace: Marketplace) -> QuerySet[Claim]:
    """Return the marketplace's claims with what their API representation reads, prefetched."""
    return claims_with_money_line(
        Claim.objects.filter(marketplace=marketplace)
        .select_related("shipment", "seller")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=ClaimTransition.objects.exclude(
                    transition__in=SIGNOFF_STEPS
                ).select_related("actor_user", "actor_marketplace"),
            ),
            Prefetch(
                "recoveries",
                queryset=recoveries_with_receipts(Recovery.objects.order_by("raised_at", "pk")),
            ),
        )
    )


def claim_ids_found(*, term: str) -> QuerySet:
    """Return the ids of the claims whose number, shipment id, order id or seller's tax id
    is `term`, or whose seller's name holds it.

    A union of lookups that each have an index: one filter OR-ing columns of the claim, its
    shipment and its seller would read every claim. A shipment id is unique per
    marketplace, so it is looked up under each of them.
    """
    marketplaces = list(Marketplace.objects.values_list("pk", flat=True))
    shipments = Shipment.objects.filter(
        Q(marketplace_id__in=marketplaces, external_id=term) | Q(order_id=term)
    )
    sellers = Seller.objects.filter(Q(tax_id=term) | Q(legal_name__icontains=term))
    return (
        Claim.objects.filter(number=term)
        .order_by()
        .values("pk")
        .union(
            Claim.objects.filter(shipment__in=shipments).order_by().values("pk"),
            Claim.objects.filter(seller__in=sellers).order_by().values("pk"),
        )
    )


def documents_visible_to(*, user) -> QuerySet[Document]:
    """Return the documents `user` may download: staff by permission, a seller's users their own."""
    if not user.is_authenticated or not user.is_active:
        return Document.objects.none()
    if user.is_staff:
        if user.has_perm("claims.view_document"):
            return Document.objects.all()
        return Document.objects.none()
    if user.seller_id is None:
        return Document.objects.none()
    return Document.objects.filter(seller_id=user.seller_id)


def seller_claims(*, seller_id: int) -> QuerySet[Claim]:
    """Return the seller's claims with what their list shows joined in."""
    return Claim.objects.filter(seller_id=seller_id).select_related("shipment", "policy")


def seller_claim_get(*, seller_id: int, number: str) -> Claim:
    """Return the seller's claim by number with its page's relations; 404 for anyone else's."""
    return get_object_or_404(
        claims_with_money_line(seller_claims(seller_id=seller_id))
        .select_related("payout")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=ClaimTransition.objects.exclude(transition__in=SIGNOFF_STEPS).order_by(
                    "at", "pk"
                ),
            ),
            Prefetch("messages", queryset=ClaimMessage.objects.order_by("created_at", "pk")),
            Prefetch("evidence", queryset=Evidence.objects.order_by("created_at", "pk")),
            Prefetch("documents", queryset=Document.objects.order_by("created_at", "pk")),
            Prefetch(
                "recoveries",
                queryset=recoveries_with_receipts(Recovery.objects.order_by("raised_at", "pk")),
            ),
            "compensations",
        ),
        number=number,
    )


@dataclass(frozen=True)
class SellerSummary:
    """What the seller's dashboard shows, each figure read in one aggregate query."""

    by_status: dict[str, int]
    paid: Decimal
    owed_back: Decimal
    waiting_on_seller: int


def seller_summary(*, seller_id: int) -> SellerSummary:
    claims = Claim.objects.filter(seller_id=seller_id)
    by_status = dict(
        claims.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    paid = money_sum(Payout.objects.filter(policy__seller_id=seller_id))
    owed = money_sum(
        recoveries_with_receipts(Recovery.objects.filter(claim__seller_id=seller_id)),
        "owed_total",
    )
    return SellerSummary(
        by_status=by_status,
        paid=paid,
        owed_back=owed,
        waiting_on_seller=by_status.get(ClaimStatus.INFO_REQUESTED, 0),
    )


def sla_breached_q(*, today: dt.date) -> Q:
    """Match the claims that missed a service level: flagged by the daily job, or overdue now."""
    # JSON containment has no SQLite lookup; the flag codes are distinct words, so a text
    # match on the stored list finds exactly the flagged claims on both databases.
    return Q(flags__icontains=ClaimFlag.SLA_BREACHED) | Q(due_on__lt=today)


def claim_sla_breached(claim: Claim, *, today: dt.date) -> bool:
    """Whether the claim already loaded matches `sla_breached_q`."""
    return ClaimFlag.SLA_BREACHED in claim.flags or (
        claim.due_on is not None and claim.due_on < today
    )


def claims_open_assigned_count(*, user) -> int:
    """Return how many open claims `user` is assigned, counted through the index of assigned
    claims: one adjuster's, however long the queue."""
    return Claim.objects.filter(assignee=user, status__in=OPEN_STATUSES).count()


def claims_queue_summary(*, today: dt.date) -> dict:
    """Return the adjusters' queue in figures: claims per status, missed service levels,
    sign-offs waiting and recoveries still owed, each in one aggregate query."""
    per_status = Claim.objects.aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in ClaimStatus.values},
        sla_missed=Count("pk", filter=sla_breached_q(today=today)),
        waiting_signoff=Count(
            "pk",
            filter=Q(status=ClaimStatus.UNDER_REVIEW, signoff_requested_by__isnull=False),
        ),
    )
    recoveries = recoveries_with_receipts(
        Recovery.objects.exclude(status=RecoveryStatus.RECEIVED)
    ).aggregate(
        count=Count("pk"), amount=Coalesce(Sum("owed_total"), Value(ZERO), output_field=_MONEY)
    )
    return {
        "statuses": [(code, label, per_status[code]) for code, label in ClaimStatus.choices],
        "sla_missed": per_status["sla_missed"],
        "waiting_signoff": per_status["waiting_signoff"],
        "awaiting_compensation": per_status[ClaimStatus.AWAITING_COMPENSATION],
        "recoveries_open": recoveries["count"],
        "recoveries_amount": recoveries["amount"],
    }


def seller_report_imports(*, seller_id: int) -> QuerySet[ReportImport]:
    """Return the seller's report imports, newest first."""
    return ReportImport.objects.filter(seller_id=seller_id).order_by("-created_at", "-pk")


def seller_report_import_get(*, seller_id: int, pk: int) -> ReportImport:
    """Return the seller's report import; 404 for anyone else's."""
    return get_object_or_404(seller_report_imports(seller_id=seller_id), pk=pk)


# The rows behind the import's "insured fees" figure, as the importer counts them.
REPORT_FEES = "fees"


def report_import_lines(*, imported: ReportImport, show: str = "") -> QuerySet[ReportLine]:
    """Return the import's rows in file order: all, those of one outcome, or `REPORT_FEES`."""
    lines = (
        ReportLine.objects.filter(report=imported).select_related("claim").order_by("line", "pk")
    )
    if show == REPORT_FEES:
        return lines.filter(
            outcome__in=(ReportOutcome.CLAIM_OPENED, ReportOutcome.CLAIM_UPDATED),
            kind__in=list(FEE_KINDS),
        )
    if show:
        return lines.filter(outcome=show)
    return lines


def report_import_opened_claims(*, imported: ReportImport) -> QuerySet[Claim]:
    """Return the claims the import opened, by number."""
    return Claim.objects.filter(
        pk__in=ReportLine.objects.filter(
            report=imported, outcome=ReportOutcome.CLAIM_OPENED
        ).values("claim_id")
    ).order_by("number")


# The figures behind the metrics (claims/metrics.py), read at every scrape: one grouped query
# each, so every web process answers the same whichever of them Prometheus asks.


def claim_counts() -> list[tuple[str, str, int]]:
    """Return (status, source, claims) for every pair that has claims."""
    return list(Claim.objects.order_by().values_list("status", "source").annotate(n=Count("pk")))


@dataclass(frozen=True)
class StraightThrough:
    decided: int
    straight: int


def claims_straight_through(*, since: dt.datetime) -> StraightThrough:
    """Return how many claims were decided (approved or rejected) since `since`, and how many
    of those the system both approved and paid, no person deciding or paying."""
    by_system = ClaimTransition.objects.filter(claim=OuterRef("pk"), actor_kind=ActorKind.SYSTEM)
    straight = Q(Exists(by_system.filter(target_state=ClaimStatus.APPROVED))) & Q(
        Exists(by_system.filter(transition="pay"))
    )
    counts = Claim.objects.filter(decided_at__gte=since).aggregate(
        decided=Count("pk"), straight=Count("pk", filter=straight)
    )
    return StraightThrough(decided=counts["decided"], straight=counts["straight"])


def reconciliation_runs_by_state() -> dict[str, int]:
    runs = ReconciliationRun.objects.order_by().values_list("state").annotate(n=Count("pk"))
    return dict(runs)


def reconciliation_last_finished() -> ReconciliationRun | None:
    """Return the run that finished last, done or failed."""
    finished = ReconciliationRun.objects.filter(finished_at__isnull=False, started_at__isnull=False)
    return finished.order_by("-finished_at", "-pk").first()


def report_imports_by_status() -> dict[str, int]:
    imports = ReportImport.objects.order_by().values_list("status").annotate(n=Count("pk"))
    return dict(imports)


def report_import_outcomes() -> dict[str, int]:
    """Return the rows of every finished import, by outcome."""
    totals = dict.fromkeys(ReportOutcome.values, 0)
    done = ReportImport.objects.filter(status=ReportImportStatus.DONE)
    for outcomes in done.values_list("outcomes", flat=True).iterator():
        for outcome, rows in outcomes.items():
            totals[outcome] = totals.get(outcome, 0) + rows
    return totals


def webhook_deliveries_by_status() -> dict[str, int]:
    deliveries = WebhookDelivery.objects.order_by().values_list("status").annotate(n=Count("pk"))
    return dict(deliveries)


def webhook_attempts_by_state() -> dict[str, int]:
    attempts = WebhookAttempt.objects.order_by().values_list("state").annotate(n=Count("pk"))
    return dict(attempts)


# The seller's figures month by month (the "Figures" page): every claim's money line summed,
# so that the months add up to exactly what the claims show one by one.


@dataclass
class MonthFigures:
    """The claims of one month, by the month of their loss: their money lines summed, and how
    many of them are in each status now.

    `seller_bore` counts the assessed claims only, as their lines do: a claim not assessed yet
    shows its loss and nothing borne.
    """

    month: dt.date | None
    claims: int = 0
    loss: Decimal = ZERO
    marketplace_paid: Decimal = ZERO
    insurer_paid: Decimal = ZERO
    to_pay: Decimal = ZERO
    seller_bore: Decimal = ZERO
    owed_back: Decimal = ZERO
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, *, status: str, line: MoneyLine) -> None:
        self.claims += 1
        self.loss += line.loss
        self.marketplace_paid += line.marketplace_paid
        self.insurer_paid += line.insurer_paid
        self.to_pay += line.to_pay
        self.seller_bore += line.seller_bore if line.assessed else ZERO
        self.owed_back += line.owed_back
        self.by_status[status] = self.by_status.get(status, 0) + 1


@dataclass(frozen=True)
class PolicyLimitUse:
    """How much of a policy's aggregate limit its claims used (paid less the recoveries
    received, as `policy_usage` counts it) and what its approved, unpaid claims hold."""

    policy: Policy
    limit: Decimal
    used: Decimal
    held: Decimal

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.limit - self.used - self.held)


@dataclass(frozen=True)
class SellerFigures:
    months: list[MonthFigures]
    total: MonthFigures
    policies: list[PolicyLimitUse]


def month_start(day: dt.date, *, back: int = 0) -> dt.date:
    """Return the first day of the month `back` months before the month of `day`."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _total_per(queryset: QuerySet, *, key: str, column: str = "amount") -> Coalesce:
    """Return `column` summed over `queryset` (filtered on an OuterRef) as a subquery."""
    return Coalesce(
        Subquery(
            queryset.order_by().values(key).annotate(total=Sum(column)).values("total"),
            output_field=_MONEY,
        ),
        Value(ZERO),
        output_field=_MONEY,
    )


def seller_policies_limit_use(*, seller_id: int) -> list[PolicyLimitUse]:
    """Return the seller's policies, newest first, each with its aggregate limit used and
    held, in one query."""
    policy = OuterRef("pk")
    policies = (
        Policy.objects.filter(seller_id=seller_id)
        .select_related("product_version")
        .annotate(
            paid=_total_per(Payout.objects.filter(policy=policy), key="policy"),
            received=_total_per(
                Recovery.objects.filter(claim__policy=policy, status=RecoveryStatus.RECEIVED),
                key="claim__policy",
            ),
            held=_total_per(
                Claim.objects.filter(policy=policy, status__in=HOLDING),
                key="policy",
                column="payable_amount",
            ),
        )
        .order_by("-period_start", "-pk")
    )
    return [
        PolicyLimitUse(
            policy=policy,
            limit=money(policy.product_version.aggregate_limit),
            used=money(policy.paid - policy.received),
            held=money(policy.held),
        )
        for policy in policies
    ]


# What the figures read of a claim: its money line's fields and the month of its loss.
_FIGURES_FIELDS = (
    "status",
    "event_date",
    "claimed_amount",
    "assessed_amount",
    "compensation_amount",
    "deductible_amount",
    "payable_amount",
    "limit_applied",
    "policy_id",
)


def seller_figures(*, seller_id: int, today: dt.date, months: int = 12) -> SellerFigures:
    """Return the seller's claims of the last `months` months (this one included) summed
    month by month from their money lines, oldest month first, every month present; their
    total; and the aggregate limit each policy has used.

    A draft is no claim yet and is left out. The claims are read in one query, however many.
    """
    first, end = month_start(today, back=months - 1), month_start(today, back=-1)
    by_month = {
        month_start(today, back=back): MonthFigures(month=month_start(today, back=back))
        for back in range(months - 1, -1, -1)
    }
    total = MonthFigures(month=None)
    claims = claims_with_money_line(
        Claim.objects.filter(seller_id=seller_id, event_date__gte=first, event_date__lt=end)
        .exclude(status=ClaimStatus.DRAFT)
        .only(*_FIGURES_FIELDS)
    ).order_by()
    for claim in claims.iterator(chunk_size=2000):
        line = claim_money_line(claim)
        by_month[month_start(claim.event_date)].add(status=claim.status, line=line)
        total.add(status=claim.status, line=line)
    return SellerFigures(
        months=list(by_month.values()),
        total=total,
        policies=seller_policies_limit_use(seller_id=seller_id),
    )
