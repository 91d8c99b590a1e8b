"""The money invariants (indemnity, the aggregate limit, one payout per claim, one claim per
compensation record) over random sequences of claims, compensations, payments and money
received back, against the real database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.choices import ClaimStatus
from claims.compensation import compensation_match, compensation_record, recovery_receive
from claims.filing import claim_file
from claims.invariants import money_invariant_breaks
from claims.lifecycle import claim_approve, claim_pay, claim_triage
from claims.models import Claim, MarketplaceCompensation, Recovery
from policies.actors import Actor
from policies.errors import ConflictError, DomainError
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
ITEMS = 6
amounts = st.decimals(min_value=1, max_value=15000, places=2)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("file"), st.integers(0, ITEMS - 1), amounts),
        st.tuples(st.just("compensate"), st.integers(0, ITEMS - 1), amounts),
        st.tuples(st.just("pay"), st.integers(0, ITEMS - 1), st.just(D(0))),
        # A payment back of any amount: all that is owed, a part, or more (refused).
        st.tuples(st.just("receive"), st.integers(0, 3), amounts),
    ),
    max_size=14,
)


class Rollback(Exception):
    pass


def assert_invariants(policy):
    assert money_invariant_breaks(claims=Claim.objects.filter(policy=policy)) == []


def run(operation, policy, shipments, senior, counter):
    kind, index, amount = operation
    shipment = shipments[index]
    if kind == "file":
        claim = claim_file(
            actor=Actor.for_marketplace(shipment.marketplace),
            seller=shipment.seller,
            shipment=shipment,
            peril="damage",
            claimed_amount=amount,
            event_date=timezone.localdate() - dt.timedelta(days=20),
            source="marketplace",
        )
        claim_triage(claim_id=claim.pk)
    elif kind == "compensate":
        counter[0] += 1
        compensation, _ = compensation_record(
            marketplace=shipment.marketplace,
            external_id=f"comp-{counter[0]}",
            seller=shipment.seller,
            shipment_external_id=shipment.external_id,
            reason="damage",
            amount=amount,
            paid_on=timezone.localdate(),
            source="api",
        )
        compensation_match(compensation_id=compensation.pk)
    elif kind == "pay":
        claim = Claim.objects.filter(shipment=shipment).first()
        if claim is None:
            return
        if claim.status == ClaimStatus.UNDER_REVIEW:
            claim_approve(claim_id=claim.pk, adjuster=senior)
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(senior))
    else:
        recovery = Recovery.objects.filter(claim__policy=policy).order_by("pk")[index : index + 1]
        if recovery:
            counter[0] += 1
            recovery_receive(
                recovery_id=recovery[0].pk,
                amount=amount,
                received_on=timezone.localdate(),
                reference=f"rcv-{counter[0]}",
                actor=Actor.for_user(senior),
            )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=operations)
def test_money_invariants_hold_under_any_sequence(operations, senior):
    try:
        with transaction.atomic():
            policy = factories.PolicyFactory(
                product_version__aggregate_limit=D("20000.00"),
                product_version__auto_approve_threshold=D("0.00"),
            )
            shipments = [
                factories.ShipmentFactory(
                    policy=policy, order_id=f"order-{n // 3}", declared_value=D("15000.00")
                )
                for n in range(ITEMS)
            ]
            counter = [0]
            for operation in operations:
                try:
                    with transaction.atomic():
                        run(operation, policy, shipments, senior, counter)
                except DomainError:
                    # A refused step (not eligible, not allowed now) must leave no trace.
                    pass
                assert_invariants(policy)
            raise Rollback
    except Rollback:
        pass


def test_replaying_a_compensation_changes_nothing_and_other_content_conflicts():
    shipment = factories.ShipmentFactory()
    values = {
        "marketplace": shipment.marketplace,
        "external_id": "comp-1",
        "seller": shipment.seller,
        "shipment_external_id": shipment.external_id,
        "reason": "damage",
        "amount": D("4000.00"),
        "paid_on": timezone.localdate(),
        "source": "api",
    }
    first, created = compensation_record(**values)

    again, created_again = compensation_record(**values)
    with pytest.raises(ConflictError) as excinfo:
        compensation_record(**{**values, "amount": D("4100.00")})

    assert created and not created_again
    assert again.pk == first.pk
    assert MarketplaceCompensation.objects.count() == 1
    assert list(excinfo.value.fields) == ["amount"]


def test_matching_a_compensation_twice_counts_it_once():
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    compensation = factories.CompensationFactory(shipment=claim.shipment, amount=D("1000"))

    compensation_match(compensation_id=compensation.pk)
    compensation_match(compensation_id=compensation.pk)

    claim.refresh_from_db()
    assert claim.compensation_amount == D("1000.00")
