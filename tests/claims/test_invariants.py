"""The audit of the invariants finds each kind of break it names, and none where all holds."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from claims.choices import ClaimStatus, RunState
from claims.invariants import follow_up_breaks, money_invariant_breaks
from claims.models import Claim
from claims.tasks import claim_pay_task
from policies.outbox import outbox_enqueue
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


def checks(breaks) -> list[str]:
    return sorted(b.check for b in breaks)


def money_checks(**claims) -> list[str]:
    return checks(money_invariant_breaks(claims=Claim.objects.filter(**claims)))


def test_a_claim_paid_as_its_calculation_says_breaks_nothing():
    payout = factories.PayoutFactory(claim__claimed_amount=D("8000.00"), amount=D("7500.00"))

    assert money_checks(pk=payout.claim_id) == []


def test_a_payout_recorded_under_another_policy_breaks_its_policy():
    payout = factories.PayoutFactory(policy=factories.PolicyFactory())

    assert money_checks(pk=payout.claim_id) == ["payout_policy"]


def test_a_payout_above_the_loss_breaks_indemnity():
    payout = factories.PayoutFactory(claim__claimed_amount=D("3000.00"), amount=D("3000.01"))

    assert money_checks(pk=payout.claim_id) == ["indemnity"]


def test_compensation_counted_on_top_of_a_full_payout_breaks_indemnity():
    payout = factories.PayoutFactory(
        claim__claimed_amount=D("5000.00"), claim__compensation_amount=D("1000.00")
    )
    factories.CompensationFactory(
        shipment=payout.claim.shipment, claim=payout.claim, amount=D("1000.00")
    )
    payout.amount = D("4500.00")
    payout.save()

    assert money_checks(pk=payout.claim_id) == ["indemnity"]


def test_a_claim_counting_compensation_no_record_gives_it_breaks_counted_once():
    claim = factories.ClaimFactory(compensation_amount=D("1000.00"))

    assert money_checks(pk=claim.pk) == ["compensation_once"]


def test_a_record_counted_on_another_items_claim_breaks_counted_once():
    claim = factories.ClaimFactory(compensation_amount=D("4000.00"))
    factories.CompensationFactory(shipment__policy=claim.policy, claim=claim)

    assert money_checks(pk=claim.pk) == ["compensation_once"]


def test_a_payout_above_the_per_claim_limit_breaks_it():
    payout = factories.PayoutFactory(
        claim__peril="non_buyout", claim__claimed_amount=D("6000.00"), amount=D("5000.01")
    )

    assert money_checks(pk=payout.claim_id) == ["per_claim_limit"]


def test_one_events_claims_paid_above_its_limit_break_it():
    first = factories.PayoutFactory(claim__claimed_amount=D("50000.00"), amount=D("40000.00")).claim
    for _ in range(2):
        factories.PayoutFactory(
            claim__shipment__policy=first.policy,
            claim__event_key=first.event_key,
            claim__claimed_amount=D("50000.00"),
            amount=D("40000.00"),
        )

    assert money_checks(policy=first.policy) == ["per_event_limit"]


def test_a_policy_paid_above_its_aggregate_limit_breaks_it():
    policy = factories.PolicyFactory(product_version__aggregate_limit=D("10000.00"))
    for _ in range(3):
        factories.PayoutFactory(claim__shipment__policy=policy, amount=D("4000.00"))

    assert money_checks(policy=policy) == ["aggregate_limit"]


def test_money_received_back_makes_room_under_the_aggregate_limit():
    policy = factories.PolicyFactory(product_version__aggregate_limit=D("10000.00"))
    payouts = [
        factories.PayoutFactory(claim__shipment__policy=policy, amount=D("6000.00"))
        for _ in range(2)
    ]
    factories.RecoveryFactory(claim=payouts[0].claim, amount=D("2000.00"), status="received")

    assert money_checks(policy=policy) == []


def test_claims_waiting_for_the_system_or_approved_for_nothing_are_left_waiting():
    submitted = factories.ClaimFactory()
    approved = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    factories.ClaimTransitionFactory(
        claim=approved, transition="triage", source_state="submitted", target_state="approved"
    )
    by_adjuster, for_nothing = (
        factories.ClaimFactory(status=ClaimStatus.APPROVED, payable_amount=payable, held=False)
        for payable in (D("4000.00"), D("0.00"))
    )
    for claim in (by_adjuster, for_nothing):
        factories.ClaimTransitionFactory(
            claim=claim,
            transition="approve",
            source_state="under_review",
            target_state="approved",
            actor_kind="user",
        )
    queued = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    factories.ClaimTransitionFactory(
        claim=queued, transition="triage", source_state="submitted", target_state="approved"
    )
    outbox_enqueue(task=claim_pay_task, claim_id=queued.pk)

    breaks = follow_up_breaks(claims=Claim.objects.all(), since=timezone.now())

    assert sorted(b.subject for b in breaks if b.check == "left_waiting") == sorted(
        [submitted.number, approved.number, for_nothing.number]
    )


def test_a_transition_announced_never_or_twice_breaks_announced_once():
    marketplace = factories.MarketplaceFactory(webhook_url="http://127.0.0.1:9/hook")
    claims = [
        factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, shipment__marketplace=marketplace)
        for _ in range(3)
    ]
    for claim, deliveries in zip(claims, [0, 1, 2], strict=True):
        factories.ClaimTransitionFactory(claim=claim)
        factories.WebhookDeliveryFactory.create_batch(deliveries, claim=claim, status="delivered")

    breaks = follow_up_breaks(claims=Claim.objects.all(), since=timezone.now())

    assert sorted(b.subject for b in breaks if b.check == "announced_once") == sorted(
        [claims[0].number, claims[2].number]
    )


def test_an_open_follow_up_an_undelivered_webhook_and_a_running_run_are_unfinished():
    since = timezone.now() - dt.timedelta(minutes=1)
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)
    outbox_enqueue(task=claim_pay_task, claim_id=claim.pk)
    factories.WebhookDeliveryFactory(claim=claim, status="failed")
    factories.ReconciliationRunFactory(state=RunState.RUNNING)

    breaks = follow_up_breaks(claims=Claim.objects.all(), since=since)

    assert checks(breaks) == ["outbox_finished", "run_finished", "webhook_delivered"]
