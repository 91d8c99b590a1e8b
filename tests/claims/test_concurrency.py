"""Two writers at once on PostgreSQL: row locks and the state check let exactly one win."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.errors import ClaimNotEligible
from claims.filing import claim_file
from claims.lifecycle import claim_approve, claim_pay
from claims.models import Claim, ClaimTransition, Payout
from policies.actors import Actor
from policies.errors import DomainError
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks are a PostgreSQL behaviour"
    ),
]


def in_threads(*jobs):
    """Run the jobs at the same moment in threads; return what each raised, if anything."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait()
            job()
        except DomainError as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_adjusters_approving_and_paying_at_once_pay_once(senior):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    other = factories.StaffFactory(group="Senior adjuster", authority_limit=Decimal("1000000"))

    def approve_and_pay(user):
        def job():
            claim_approve(claim_id=claim.pk, adjuster=user)
            claim_pay(claim_id=claim.pk, actor=Actor.for_user(user))

        return job

    outcomes = in_threads(approve_and_pay(senior), approve_and_pay(other))

    assert sum(outcome is None for outcome in outcomes) == 1
    assert Payout.objects.filter(claim=claim).count() == 1
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.PAID
    assert ClaimTransition.objects.filter(claim=claim, transition="pay").count() == 1


def test_paying_two_claims_at_once_never_exceeds_the_aggregate_limit(senior):
    policy = factories.PolicyFactory(product_version__aggregate_limit=Decimal("10000.00"))
    claims = [
        factories.ClaimFactory(
            status=ClaimStatus.APPROVED,
            shipment=factories.ShipmentFactory(policy=policy, declared_value=Decimal("9000")),
            claimed_amount=Decimal("8500.00"),
        )
        for _ in range(2)
    ]

    in_threads(
        *(
            lambda claim=claim: claim_pay(claim_id=claim.pk, actor=Actor.for_user(senior))
            for claim in claims
        )
    )

    paid = sum(p.amount for p in Payout.objects.filter(claim__policy=policy))
    assert paid == Decimal("10000.00")


def test_filing_the_same_item_and_peril_at_once_makes_one_claim():
    shipment = factories.ShipmentFactory()
    errors = []

    def file():
        try:
            claim_file(
                actor=Actor.system(),
                seller=shipment.seller,
                shipment=shipment,
                peril="damage",
                claimed_amount=Decimal("1000"),
                event_date=timezone.localdate(shipment.shipped_at),
                source="seller",
                submit=False,
            )
        except ClaimNotEligible as exc:
            errors.append(exc.reason)

    in_threads(file, file)

    assert Claim.objects.filter(shipment=shipment).count() == 1
    assert errors == ["duplicate_claim"]
