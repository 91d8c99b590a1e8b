"""The seller's figures month by month: the claims' money lines summed, so that the months
add up to exactly what the claims show one by one; read in a fixed number of queries; one
seller's alone."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.choices import ClaimStatus, LimitApplied
from claims.compensation import recovery_receive
from claims.selectors import (
    claim_money_line,
    month_start,
    policy_usage,
    seller_claim_get,
    seller_figures,
)
from policies.actors import Actor
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = dt.date(2026, 3, 15)
FIELDS = ("loss", "marketplace_paid", "insurer_paid", "to_pay", "owed_back")


def _claim(seller, *, on: dt.date, **fields):
    return factories.ClaimFactory(shipment__policy__seller=seller, event_date=on, **fields)


def _recovery(claim, amount: Decimal, *, received: bool = False) -> None:
    """Raise a recovery on the paid claim; with `received`, the seller has paid it back."""
    recovery = factories.RecoveryFactory(claim=claim, amount=amount)
    if received:
        recovery_receive(
            recovery_id=recovery.pk,
            amount=amount,
            received_on=TODAY,
            reference=f"BACK-{recovery.pk}",
            actor=Actor.system(),
        )


def _lines_of(seller, claims) -> dict[dt.date, list]:
    """Return each claim's money line as its own page reads it, by the month of its loss."""
    lines: dict[dt.date, list] = {}
    for claim in claims:
        read = seller_claim_get(seller_id=seller.pk, number=claim.number)
        lines.setdefault(month_start(claim.event_date), []).append(claim_money_line(read))
    return lines


def _assert_months_add_up(figures, lines: dict[dt.date, list]) -> None:
    for month in [*figures.months, figures.total]:
        month_lines = (
            [line for group in lines.values() for line in group]
            if month.month is None
            else lines.get(month.month, [])
        )
        assert month.claims == len(month_lines)
        for name in FIELDS:
            assert getattr(month, name) == sum((getattr(x, name) for x in month_lines), D(0))
        # What the claims list shows as borne: nothing on a claim not assessed yet.
        assert month.seller_bore == sum((x.seller_bore for x in month_lines if x.assessed), D(0))


def _mixed_claims(seller):
    """Claims in every money situation, over three months."""
    paid = _claim(
        seller,
        on=dt.date(2026, 1, 20),
        status=ClaimStatus.PAID,
        claimed_amount=D("80000.00"),
        compensation_amount=D("35000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("44500.00"),
        limit_applied=LimitApplied.PER_CLAIM,
    )
    factories.PayoutFactory(claim=paid, amount=D("50000.00"))
    _recovery(paid, D("5500.00"))
    received = _claim(
        seller, on=dt.date(2026, 1, 3), status=ClaimStatus.PAID, payable_amount=D("7500.00")
    )
    factories.PayoutFactory(claim=received, amount=D("7500.00"))
    _recovery(received, D("1000.00"), received=True)
    approved = _claim(
        seller,
        on=dt.date(2026, 2, 10),
        status=ClaimStatus.APPROVED,
        compensation_amount=D("2000.00"),
        deductible_amount=D("500.00"),
        payable_amount=D("9500.00"),
    )
    rejected = _claim(
        seller, on=dt.date(2026, 2, 11), status=ClaimStatus.REJECTED, payable_amount=D("11500.00")
    )
    submitted = _claim(seller, on=dt.date(2026, 3, 1), status=ClaimStatus.SUBMITTED)
    review = _claim(
        seller,
        on=dt.date(2026, 3, 2),
        status=ClaimStatus.UNDER_REVIEW,
        assessed_amount=D("9000.00"),
        compensation_amount=D("10000.00"),
    )
    return [paid, received, approved, rejected, submitted, review]


def test_the_months_add_up_to_the_lines_of_their_claims(seller_user):
    claims = _mixed_claims(seller_user.seller)

    figures = seller_figures(seller_id=seller_user.seller_id, today=TODAY)

    _assert_months_add_up(figures, _lines_of(seller_user.seller, claims))
    january = figures.months[-3]
    assert january.month == dt.date(2026, 1, 1)
    # 80 000 and 12 000 lost; the marketplace paid 35 000 of the first; the insurer paid
    # 50 000 and 7 500, less the 5 500 and 1 000 raised back; 5 500 is still owed.
    assert january.loss == D("92000.00")
    assert january.marketplace_paid == D("35000.00")
    assert january.insurer_paid == D("44500.00") + D("6500.00")
    assert january.owed_back == D("5500.00")
    assert figures.total.claims == 6


def test_every_month_of_the_period_is_there_oldest_first_even_without_claims(seller_user):
    figures = seller_figures(seller_id=seller_user.seller_id, today=TODAY)

    assert [m.month for m in figures.months][:2] == [dt.date(2025, 4, 1), dt.date(2025, 5, 1)]
    assert figures.months[-1].month == dt.date(2026, 3, 1)
    assert len(figures.months) == 12
    assert figures.total.claims == 0


def test_drafts_and_losses_outside_the_months_are_left_out(seller_user):
    seller = seller_user.seller
    _claim(seller, on=dt.date(2026, 3, 5), status=ClaimStatus.DRAFT)
    _claim(seller, on=dt.date(2025, 3, 31), status=ClaimStatus.SUBMITTED)
    _claim(seller, on=dt.date(2026, 4, 1), status=ClaimStatus.SUBMITTED)
    kept = _claim(seller, on=dt.date(2025, 4, 1), status=ClaimStatus.SUBMITTED)

    figures = seller_figures(seller_id=seller_user.seller_id, today=TODAY)

    assert figures.total.claims == 1
    assert figures.months[0].loss == kept.claimed_amount


def test_the_claims_are_counted_by_status_in_the_month_of_their_loss(seller_user):
    _mixed_claims(seller_user.seller)

    figures = seller_figures(seller_id=seller_user.seller_id, today=TODAY)

    assert figures.months[-2].by_status == {ClaimStatus.APPROVED: 1, ClaimStatus.REJECTED: 1}
    assert figures.total.by_status == {
        ClaimStatus.PAID: 2,
        ClaimStatus.APPROVED: 1,
        ClaimStatus.REJECTED: 1,
        ClaimStatus.SUBMITTED: 1,
        ClaimStatus.UNDER_REVIEW: 1,
    }


def test_a_seller_sees_only_its_own_figures(seller_user):
    _mixed_claims(seller_user.seller)
    other = factories.SellerUserFactory()
    _mixed_claims(other.seller)
    _claim(other.seller, on=dt.date(2026, 3, 3), claimed_amount=D("999.00"))

    mine = seller_figures(seller_id=seller_user.seller_id, today=TODAY)
    theirs = seller_figures(seller_id=other.seller_id, today=TODAY)

    assert mine.total.claims == 6
    assert theirs.total.claims == 7
    assert {use.policy.seller_id for use in mine.policies} == {seller_user.seller_id}


def test_the_figures_are_read_in_the_same_few_queries_however_many_claims(
    seller_user, django_assert_num_queries
):
    seller = seller_user.seller
    _mixed_claims(seller)
    with django_assert_num_queries(2):
        seller_figures(seller_id=seller.pk, today=TODAY)
    for n in range(15):
        claim = _claim(seller, on=dt.date(2026, 2, 1 + n), status=ClaimStatus.PAID)
        factories.PayoutFactory(claim=claim)

    with django_assert_num_queries(2):
        figures = seller_figures(seller_id=seller.pk, today=TODAY)
    assert figures.total.claims == 21


def test_each_policy_shows_its_aggregate_limit_used_as_the_policy_usage_counts_it(seller_user):
    claims = _mixed_claims(seller_user.seller)

    figures = seller_figures(seller_id=seller_user.seller_id, today=TODAY)

    assert len(figures.policies) == len(claims)
    for use in figures.policies:
        usage = policy_usage(policy_id=use.policy.pk)
        assert use.used == usage.net
        assert use.held == usage.held
        assert use.limit == use.policy.product_version.aggregate_limit
    received = next(u for u in figures.policies if u.policy.pk == claims[1].policy_id)
    # 7 500 paid, 1 000 of it received back: 6 500 of the limit used.
    assert received.used == D("6500.00")


AMOUNT = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)


@st.composite
def claim_specs(draw):
    claimed = draw(st.decimals(min_value=1, max_value=100000, places=2))
    paid = draw(st.one_of(st.just(D(0)), st.decimals(min_value=1, max_value=60000, places=2)))
    return {
        "status": draw(st.sampled_from([s for s in ClaimStatus.values if s != "draft"])),
        "claimed_amount": claimed,
        "compensation_amount": draw(AMOUNT),
        "deductible_amount": draw(st.sampled_from([D(0), D("500.00")])),
        "payable_amount": draw(AMOUNT),
        "limit_applied": draw(st.sampled_from(LimitApplied.values)),
        "day": draw(st.integers(min_value=0, max_value=364)),
        "paid": paid,
        "recovery": draw(st.sampled_from([None, "open", "received"])) if paid else None,
    }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=st.lists(claim_specs(), min_size=1, max_size=6))
def test_whatever_the_claims_the_months_add_up_to_their_lines(specs):
    seller = factories.SellerFactory()
    claims = []
    for spec in specs:
        paid, recovery = spec.pop("paid"), spec.pop("recovery")
        claim = _claim(seller, on=TODAY - dt.timedelta(days=spec.pop("day")), **spec)
        if paid:
            factories.PayoutFactory(claim=claim, amount=paid)
        if recovery:
            _recovery(claim, min(paid, D("1000.00")), received=recovery == "received")
        claims.append(claim)

    figures = seller_figures(seller_id=seller.pk, today=TODAY)

    kept = [c for c in claims if c.event_date >= month_start(TODAY, back=11)]
    _assert_months_add_up(figures, _lines_of(seller, kept))
