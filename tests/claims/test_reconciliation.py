"""Reconciliation: set-based matching, its consequences, discrepancies, and safe re-runs."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from claims.assessment import claim_calculate, claim_due_on
from claims.calculation import triage_target
from claims.choices import ClaimFlag, ClaimStatus, RunState
from claims.filing import claim_file
from claims.models import Claim, Discrepancy, MarketplaceCompensation, Recovery, WebhookDelivery
from claims.reconciliation import sql
from claims.reconciliation.run import _reconcile_chunk, reconciliation_run, reconciliation_start
from policies.actors import Actor
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


def reconcile(chunk: int = 50_000):
    run = reconciliation_start(trigger="test", chunk=chunk)
    return reconciliation_run(run_id=run.pk)


def unlinked(shipment, **kwargs):
    """A record as the marketplace sends it: naming the shipment by its external id only."""
    return factories.CompensationFactory(
        shipment=None,
        shipment_external_id=shipment.external_id,
        seller=shipment.seller,
        marketplace=shipment.marketplace,
        **kwargs,
    )


def test_a_run_counts_compensation_and_releases_the_waiting_claim_with_its_payable():
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION, source="marketplace")
    unlinked(claim.shipment, amount=D("4000.00"))

    run = reconcile()

    claim.refresh_from_db()
    assert (run.state, run.total, run.matched, run.claims_released) == (RunState.DONE, 1, 1, 1)
    assert claim.compensation_amount == D("4000.00")
    assert claim.payable_amount == D("7500.00")
    assert claim.status == ClaimStatus.APPROVED
    assert claim.transitions.filter(transition="release", actor_kind="system").count() == 1


def test_a_release_tells_the_marketplace_the_new_status_and_payable():
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION, source="marketplace")
    claim.marketplace.webhook_url = "https://marketplace.example/hooks"
    claim.marketplace.save()
    unlinked(claim.shipment, amount=D("4000.00"))

    reconcile()

    [delivery] = WebhookDelivery.objects.filter(claim=claim)
    assert {k: delivery.payload[k] for k in ("claim", "from", "to", "payable")} == {
        "claim": claim.number,
        "from": "awaiting_compensation",
        "to": "approved",
        "payable": "7500.00",
    }


def test_releases_are_announced_in_parts_and_none_is_left_out(monkeypatch):
    monkeypatch.setattr(sql, "RELEASE_PART", 2)
    marketplace = factories.MarketplaceFactory(webhook_url="https://marketplace.example/hooks")
    claims = [
        factories.ClaimFactory(
            status=ClaimStatus.AWAITING_COMPENSATION,
            source="marketplace",
            marketplace=marketplace,
            shipment__marketplace=marketplace,
        )
        for _ in range(3)
    ]
    for claim in claims:
        unlinked(claim.shipment, amount=D("4000.00"))

    run = reconcile()

    assert run.claims_released == 3
    assert set(WebhookDelivery.objects.values_list("claim_id", flat=True)) == {c.pk for c in claims}


def test_a_released_claim_shows_as_changed_to_a_marketplace_polling_for_changes():
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION, source="marketplace")
    before = timezone.now()
    Claim.objects.filter(pk=claim.pk).update(updated_at=before - dt.timedelta(days=1))
    unlinked(claim.shipment, amount=D("4000.00"))

    reconcile()

    assert Claim.objects.filter(pk=claim.pk, updated_at__gte=before).exists()


def test_the_set_based_payable_agrees_with_the_calculation_rule():
    policy = factories.PolicyFactory(product_version__aggregate_limit=D("30000.00"))
    paid = factories.ClaimFactory(
        status=ClaimStatus.PAID,
        shipment=factories.ShipmentFactory(policy=policy, order_id="o-1"),
    )
    factories.PayoutFactory(claim=paid, amount=D("20000.00"))
    claims = [
        factories.ClaimFactory(
            status=ClaimStatus.UNDER_REVIEW,
            shipment=factories.ShipmentFactory(policy=policy, order_id="o-1"),
            claimed_amount=amount,
        )
        for amount in (D("60000.00"), D("3000.00"), D("12000.00"))
    ]
    for claim, amount in zip(claims, ("1000.00", "2999.99", "0.01"), strict=True):
        unlinked(claim.shipment, amount=D(amount))

    reconcile()

    for claim in Claim.objects.filter(pk__in=[c.pk for c in claims]):
        expected = claim_calculate(claim=claim)
        assert claim.payable_amount == expected.payable
        assert claim.deductible_amount == expected.deductible
        assert claim.limit_applied == expected.limit_applied


@pytest.mark.parametrize(
    ("flags", "claimed", "compensation"),
    [
        ([ClaimFlag.COMPENSATION_WAIT_PENDING], "12000.00", "4000.00"),
        ([ClaimFlag.COMPENSATION_WAIT_PENDING, ClaimFlag.LATE_NOTICE], "12000.00", "4000.00"),
        ([], "30000.00", "1000.00"),
        ([], "12000.00", "12000.00"),
    ],
)
def test_the_set_based_release_routes_as_the_triage_rule(flags, claimed, compensation):
    claim = factories.ClaimFactory(
        status=ClaimStatus.AWAITING_COMPENSATION, flags=flags, claimed_amount=D(claimed)
    )
    unlinked(claim.shipment, amount=D(compensation))

    reconcile()

    claim.refresh_from_db()
    kept = [f for f in flags if f != ClaimFlag.COMPENSATION_WAIT_PENDING]
    expected = triage_target(
        cover=claim.cover,
        flags=kept,
        payable=claim.payable_amount,
        auto_approve_threshold=claim.policy.product_version.auto_approve_threshold,
        compensation_known=True,
    )
    assert (claim.status, claim.flags) == (expected, kept)
    assert claim.due_on == claim_due_on(claim)
    [logged] = claim.transitions.all()
    assert (logged.source_state, logged.target_state) == (
        ClaimStatus.AWAITING_COMPENSATION,
        expected,
    )


def test_compensation_arriving_after_payment_raises_a_recovery_once():
    claim = factories.ClaimFactory(status=ClaimStatus.PAID)
    factories.PayoutFactory(claim=claim, amount=D("11500.00"))
    unlinked(claim.shipment, amount=D("6000.00"))

    reconcile()
    reconcile()

    assert list(Recovery.objects.values_list("claim_id", "amount")) == [(claim.pk, D("6000.00"))]


def test_discrepancies_are_recorded_by_kind():
    insured = factories.ShipmentFactory(declared_value=D("1000.00"))
    uninsured = factories.ShipmentFactory(policy=None, seller=insured.seller)
    factories.CompensationFactory(
        shipment=None,
        shipment_external_id="nobody-knows",
        seller=insured.seller,
        marketplace=insured.marketplace,
    )
    unlinked(uninsured)
    unlinked(insured, amount=D("1500.00"), external_id="first")
    unlinked(insured, amount=D("1500.00"), external_id="again")

    run = reconcile()

    kinds = sorted(Discrepancy.objects.filter(run=run).values_list("kind", flat=True))
    assert kinds == [
        "above_declared_value",
        "above_declared_value",
        "duplicate",
        "uninsured_shipment",
        "unknown_shipment",
    ]


def test_a_second_run_examines_nothing_again():
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION)
    unlinked(claim.shipment)
    factories.CompensationFactory(
        shipment=None,
        shipment_external_id="unknown",
        seller=claim.seller,
        marketplace=claim.marketplace,
    )
    reconcile()

    again = reconcile()

    assert (again.total, again.matched, again.discrepancies_found) == (0, 0, 0)


def test_a_record_without_a_claim_counts_when_the_claim_is_filed_later():
    shipment = factories.ShipmentFactory()
    unlinked(shipment, amount=D("4000.00"))
    reconcile()

    claim = claim_file(
        actor=Actor.system(),
        seller=shipment.seller,
        shipment=shipment,
        peril="damage",
        claimed_amount=D("12000.00"),
        event_date=timezone.localdate(shipment.shipped_at),
        source="seller",
    )

    assert claim.compensation_amount == D("4000.00")
    assert MarketplaceCompensation.objects.get().claim == claim


def test_an_interrupted_run_resumes_and_counts_nothing_twice():
    claims = [factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW) for _ in range(4)]
    for claim in claims:
        unlinked(claim.shipment, amount=D("100.00"))
    run = reconciliation_start(trigger="test", chunk=1)
    first, second = MarketplaceCompensation.objects.order_by("pk").values_list("pk", flat=True)[:2]
    # Two chunks of one record, the second one twice (a redelivered task beside a live
    # one), then the worker "dies"; the task runs again.
    for pk in (first, second, second):
        _reconcile_chunk(run_id=run.pk, cell=pk - 1, chunk=1)

    run = reconciliation_run(run_id=run.pk)

    assert (run.state, run.matched, run.processed) == (RunState.DONE, 4, 4)
    assert {c.compensation_amount for c in Claim.objects.all()} == {D("100.00")}


def test_a_run_inside_a_transaction_works_its_chunks_on_its_own_connection():
    # The test's transaction is uncommitted: another connection would see no run at all.
    claims = [factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION) for _ in range(3)]
    for claim in claims:
        unlinked(claim.shipment, amount=D("100.00"))
    run = reconciliation_start(trigger="test", chunk=1)

    run = reconciliation_run(run_id=run.pk, workers=2)

    assert (run.state, run.processed, run.matched) == (RunState.DONE, 3, 3)


def test_a_run_keeps_the_chunk_it_was_started_with():
    unlinked(factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION).shipment)
    started = reconciliation_start(trigger="test", chunk=7)

    resumed = reconciliation_start(trigger="command", chunk=50)

    assert (resumed.pk, resumed.chunk) == (started.pk, 7)
