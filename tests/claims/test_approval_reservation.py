"""Approval holds the money: an approved claim holds its payable against the per-event and
aggregate limits until it is paid or released, so that no claim stays approved (and
announced) for money the policy can no longer pay."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from claims.assessment import claim_calculate
from claims.choices import ClaimStatus, LimitApplied, RejectionCode
from claims.compensation import compensation_match, compensation_record
from claims.filing import claim_file
from claims.lifecycle import claim_approve, claim_pay, claim_reject, claim_triage
from claims.models import Claim, ClaimTransition, Payout, RecoveryReceipt, WebhookDelivery
from claims.notes import transition_note
from claims.tasks import (
    claim_pay_task,
    claims_pay_task,
    claims_triage_task,
    webhook_deliver_task,
)
from policies import outbox
from policies.actors import Actor
from policies.calculation import ZERO
from policies.errors import DomainError
from policies.models import OutboxMessage
from tests import factories

D = Decimal
AMOUNT = D("4999.00")


def insured_policy(*, aggregate_limit: str, per_event_limit: str | None = None, items: int):
    """Return a policy whose return-logistics cover pays up to 5,000 a claim, and its items
    (their fees above 4,999, so a non-buyout of 4,999 is paid in full)."""
    policy = factories.PolicyFactory(
        product_version__aggregate_limit=D(aggregate_limit),
        product_version__covers=[],
        seller__marketplace__webhook_url="https://hooks.test.local/sellercover",
    )
    factories.CoverTermsFactory(
        product_version=policy.product_version,
        cover="return_logistics",
        per_event_limit=None if per_event_limit is None else D(per_event_limit),
    )
    shipments = [
        factories.ShipmentFactory(policy=policy, order_id=f"order-{n // 2}") for n in range(items)
    ]
    return policy, shipments


def non_buyout(shipment, amount: Decimal = AMOUNT) -> Claim:
    """File the marketplace's non-buyout of `shipment` and triage it, as its events do."""
    claim = claim_file(
        actor=Actor.for_marketplace(shipment.marketplace),
        seller=shipment.seller,
        shipment=shipment,
        peril="non_buyout",
        claimed_amount=amount,
        event_date=timezone.localdate() - dt.timedelta(days=3),
        source="marketplace",
    )
    return claim_triage(claim_id=claim.pk)


def held_and_paid(policy, **claims) -> Decimal:
    """Return what the policy's `claims` were paid, net of money received back, plus what
    its approved ones hold."""
    mine = {f"claim__{name}": value for name, value in claims.items()}
    paid = Payout.objects.filter(claim__policy=policy, **mine).aggregate(s=Sum("amount"))["s"]
    received = RecoveryReceipt.objects.filter(
        recovery__claim__policy=policy, **{f"recovery__{name}": v for name, v in mine.items()}
    ).aggregate(s=Sum("amount"))["s"]
    held = Claim.objects.filter(policy=policy, status=ClaimStatus.APPROVED, **claims).aggregate(
        s=Sum("payable_amount")
    )["s"]
    return (paid or ZERO) - (received or ZERO) + (held or ZERO)


def compensate(shipment, amount: Decimal, external_id: str = "comp-1") -> None:
    record, _ = compensation_record(
        marketplace=shipment.marketplace,
        external_id=external_id,
        seller=shipment.seller,
        shipment_external_id=shipment.external_id,
        reason="transport_costs",
        amount=amount,
        paid_on=timezone.localdate(),
        source="api",
    )
    compensation_match(compensation_id=record.pk)


def last_note(claim: Claim) -> str:
    """The note of the claim's last step, as an English reader reads it."""
    step = ClaimTransition.objects.filter(claim=claim).order_by("-at", "-pk").first()
    with translation.override("en"):
        return transition_note(step)


@pytest.mark.django_db
def test_approvals_hold_the_room_the_next_gets_what_is_left_and_the_rest_go_to_a_person():
    # given: room for four non-buyouts of 4,999 and 4.00 more
    policy, shipments = insured_policy(aggregate_limit="20000.00", items=7)

    # when
    with translation.override("en"):
        claims = [non_buyout(shipment) for shipment in shipments]

    # then
    assert [(c.status, c.payable_amount) for c in claims] == [
        *[(ClaimStatus.APPROVED, AMOUNT)] * 4,
        (ClaimStatus.APPROVED, D("4.00")),
        (ClaimStatus.UNDER_REVIEW, ZERO),
        (ClaimStatus.UNDER_REVIEW, ZERO),
    ]
    assert claims[4].limit_applied == LimitApplied.AGGREGATE
    assert last_note(claims[4]) == (
        "Approved for 4.00\xa0₽: what the policy's aggregate limit still allows."
    )
    assert last_note(claims[5]) == "Nothing is left of the policy's aggregate limit for this claim."
    assert all(last_note(claim) == "" for claim in claims[:4])
    assert held_and_paid(policy) == D("20000.00")


@pytest.mark.django_db
def test_the_per_event_limit_is_held_too():
    # given: two items of one order, one event, whose limit is 6,000
    _, shipments = insured_policy(aggregate_limit="1000000.00", per_event_limit="6000", items=2)

    # when
    first, second = (non_buyout(shipment) for shipment in shipments)

    # then
    assert (first.status, first.payable_amount) == (ClaimStatus.APPROVED, AMOUNT)
    assert (second.status, second.payable_amount, second.limit_applied) == (
        ClaimStatus.APPROVED,
        D("1001.00"),
        LimitApplied.PER_EVENT,
    )


@pytest.mark.django_db
def test_the_webhook_announces_the_payable_the_approval_holds():
    _, shipments = insured_policy(aggregate_limit="6000.00", items=2)

    first, second = (non_buyout(shipment) for shipment in shipments)

    announced = {
        delivery.claim_id: delivery.payload
        for delivery in WebhookDelivery.objects.filter(payload__to=ClaimStatus.APPROVED)
    }
    assert announced[first.pk]["payable"] == "4999.00"
    assert announced[second.pk]["payable"] == "1001.00"
    # Each leaves through the outbox.
    queued = {
        message.kwargs["delivery_id"]
        for message in OutboxMessage.objects.filter(task=webhook_deliver_task.name)
    }
    assert {
        delivery.pk for delivery in WebhookDelivery.objects.filter(payload__to="approved")
    } <= queued


@pytest.mark.django_db
def test_payment_pays_what_the_approval_holds_and_never_more(senior):
    _, shipments = insured_policy(aggregate_limit="6000.00", items=3)
    _, second, third = (non_buyout(shipment) for shipment in shipments)
    # Room comes free once the marketplace pays the first; the second still holds only 1,001.
    compensate(shipments[0], AMOUNT)

    claim_pay(claim_id=second.pk, actor=Actor.system())

    assert Payout.objects.get(claim=second).amount == D("1001.00")
    assert third.status == ClaimStatus.UNDER_REVIEW


@pytest.mark.django_db
def test_compensation_on_an_approved_claim_frees_what_it_held_for_a_person_to_approve(senior):
    policy, shipments = insured_policy(aggregate_limit="4999.00", items=2)
    first, second = (non_buyout(shipment) for shipment in shipments)
    assert (second.status, second.payable_amount) == (ClaimStatus.UNDER_REVIEW, ZERO)
    with pytest.raises(DomainError) as refused:
        claim_approve(claim_id=second.pk, adjuster=senior)
    assert refused.value.code == "nothing_payable"

    # when: the marketplace pays the first claim's whole fee after its approval
    compensate(shipments[0], AMOUNT)
    approved = claim_approve(claim_id=second.pk, adjuster=senior)

    # then: the first holds nothing, and a person may now reject it (nothing will be paid)
    first.refresh_from_db()
    assert (first.status, first.payable_amount) == (ClaimStatus.APPROVED, ZERO)
    assert (approved.status, approved.payable_amount) == (ClaimStatus.APPROVED, AMOUNT)
    assert held_and_paid(policy) == AMOUNT
    claim_reject(
        claim_id=first.pk,
        adjuster=senior,
        code=RejectionCode.NOT_COVERED,
        reason="The marketplace paid the whole fee.",
    )
    first.refresh_from_db()
    assert first.status == ClaimStatus.REJECTED


@pytest.mark.django_db
def test_an_approved_claim_with_money_to_pay_is_not_rejected(senior):
    _, shipments = insured_policy(aggregate_limit="100000.00", items=1)
    claim = non_buyout(shipments[0])
    assert claim.status == ClaimStatus.APPROVED

    with pytest.raises(DomainError) as refused:
        claim_reject(
            claim_id=claim.pk, adjuster=senior, code=RejectionCode.NOT_COVERED, reason="No."
        )

    assert refused.value.code == "transition_not_allowed"
    claim.refresh_from_db()
    assert (claim.status, claim.payable_amount) == (ClaimStatus.APPROVED, AMOUNT)


@pytest.mark.django_db
def test_a_person_approving_gets_what_is_left_and_the_log_says_so(senior):
    policy, shipments = insured_policy(aggregate_limit="7000.00", items=2)
    first = non_buyout(shipments[0])
    second = claim_file(
        actor=Actor.for_user(factories.SellerUserFactory(seller=policy.seller)),
        seller=policy.seller,
        shipment=shipments[1],
        peril="non_buyout",
        claimed_amount=AMOUNT,
        event_date=timezone.localdate() - dt.timedelta(days=3),
        source="seller",
    )
    second = claim_triage(claim_id=second.pk)
    assert (first.status, second.status) == (ClaimStatus.APPROVED, ClaimStatus.UNDER_REVIEW)

    with translation.override("en"):
        approved = claim_approve(claim_id=second.pk, adjuster=senior, note="Checked.")

    assert (approved.status, approved.payable_amount) == (ClaimStatus.APPROVED, D("2001.00"))
    assert last_note(approved) == (
        "Checked.\nApproved for 2,001.00\xa0₽: what the policy's aggregate limit still allows."
    )


# Any sequence of filings, approvals, payments and rejections on one policy.

LIMIT = D("9000.00")
EVENT_LIMIT = D("6000.00")
ITEMS = 6
steps = st.lists(
    st.tuples(
        # Filing (with triage) twice as often: the limits are reached within a few steps.
        st.sampled_from(["file", "file", "approve", "pay", "reject", "compensate"]),
        st.integers(0, ITEMS - 1),
        # Large amounts often, so a few claims fill the limits.
        st.sampled_from([D("2500.00"), D("4000.00"), D("4999.00")])
        | st.decimals(min_value=1, max_value=5000, places=2),
    ),
    max_size=12,
)


class Rollback(Exception):
    pass


def step(kind, shipment, amount, senior, counter):
    claim = Claim.objects.filter(shipment=shipment).first()
    if kind == "file":
        non_buyout(shipment, amount)
    elif claim is None:
        return
    elif kind == "approve":
        claim_approve(claim_id=claim.pk, adjuster=senior)
    elif kind == "pay":
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(senior))
    elif kind == "reject":
        claim_reject(
            claim_id=claim.pk, adjuster=senior, code=RejectionCode.NOT_COVERED, reason="No."
        )
    else:
        counter[0] += 1
        compensate(shipment, amount, external_id=f"comp-{counter[0]}")


def assert_nothing_held_beyond_the_limits(policy):
    assert held_and_paid(policy) <= LIMIT
    for event in Claim.objects.filter(policy=policy).values_list("event_key", flat=True):
        assert held_and_paid(policy, event_key=event) <= EVENT_LIMIT
    for claim in Claim.objects.filter(policy=policy, status=ClaimStatus.APPROVED):
        # Payment would pay exactly what was announced. (Compensation the marketplace paid
        # later may leave it nothing, for a person to reject.)
        assert claim_calculate(claim=claim).payable == claim.payable_amount


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=steps)
# Three items, two of them one event: the event's limit, then the policy's, run short.
@example(sequence=[("file", n, AMOUNT) for n in range(3)])
# One paid, one compensated (releasing what it held), then more filed than what is left.
@example(
    sequence=[
        ("file", 2, AMOUNT),
        ("file", 4, AMOUNT),
        ("pay", 2, AMOUNT),
        ("compensate", 4, AMOUNT),
        *(("file", n, AMOUNT) for n in (0, 1, 5)),
    ]
)
@pytest.mark.django_db
def test_paid_and_held_never_exceed_the_aggregate_limit(sequence, senior):
    try:
        with transaction.atomic():
            policy, shipments = insured_policy(
                aggregate_limit=str(LIMIT), per_event_limit=str(EVENT_LIMIT), items=ITEMS
            )
            counter = [0]
            for kind, index, amount in sequence:
                try:
                    with transaction.atomic():
                        step(kind, shipments[index], amount, senior, counter)
                except DomainError:
                    # Refused (not allowed now, nothing payable): it must leave no trace.
                    pass
                assert_nothing_held_beyond_the_limits(policy)
            raise Rollback
    except Rollback:
        pass


# Many at once, on PostgreSQL.

CLIENTS = 4
PER_CLIENT = 15


def _at_once(jobs):
    """Run the jobs at the same moment, each in a thread with its own connection; return
    what each raised."""
    barrier = threading.Barrier(len(jobs))
    raised = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            job()
        # Any failure, reported by the caller's assertion rather than lost in the thread.
        except Exception as exc:
            raised[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_bulks_of_non_buyouts_never_approve_beyond_the_limit(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are PostgreSQL's: runs in its pass")
    # given: room for 20 non-buyouts of 4,999 and 20.00 more; 60 pushed by four clients
    policy, shipments = insured_policy(aggregate_limit="100000.00", items=CLIENTS * PER_CLIENT)
    key = factories.MarketplaceApiKeyFactory(marketplace=policy.marketplace)
    occurred = (timezone.now() - dt.timedelta(days=3)).isoformat()
    # Triage runs as the bulks commit; payment waits for its own worker, as it does when the
    # workers are busy: what the approvals announce is what counts.
    dispatch = outbox.outbox_dispatch
    triage = {claims_triage_task.name}

    def triage_only(*, ids):
        return dispatch(
            ids=list(
                OutboxMessage.objects.filter(pk__in=ids, task__in=triage).values_list(
                    "pk", flat=True
                )
            )
        )

    monkeypatch.setattr(outbox, "outbox_dispatch", triage_only)

    def client(part):
        def push():
            api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")
            items = [
                {
                    "external_id": f"nb-{shipment.pk}",
                    "shipment": shipment.external_id,
                    "kind": "non_buyout",
                    "occurred_at": occurred,
                    "amount": str(AMOUNT),
                }
                for shipment in part
            ]
            answer = api.post("/api/v1/shipment-events/bulk/", {"items": items}, format="json")
            assert answer.status_code == 200, answer.content

        return push

    parts = [shipments[n::CLIENTS] for n in range(CLIENTS)]

    # when: the bulks at once, then the payments at once
    assert _at_once([client(part) for part in parts]) == [None] * CLIENTS
    payments = list(
        OutboxMessage.objects.filter(task__in={claim_pay_task.name, claims_pay_task.name})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    pay = [lambda ids=payments[n::CLIENTS]: dispatch(ids=ids) for n in range(CLIENTS)]
    assert _at_once(pay) == [None] * CLIENTS

    # then
    claims = Claim.objects.filter(policy=policy)
    assert claims.count() == CLIENTS * PER_CLIENT
    assert not claims.filter(status=ClaimStatus.APPROVED).exists()
    paid = sorted(Payout.objects.filter(claim__policy=policy).values_list("amount", flat=True))
    assert paid == sorted([AMOUNT] * 20 + [D("20.00")])
    assert held_and_paid(policy) == D("100000.00")
    announced = [
        D(payload["payable"])
        for payload in WebhookDelivery.objects.filter(
            claim__policy=policy, payload__to=ClaimStatus.APPROVED
        ).values_list("payload", flat=True)
    ]
    assert sum(announced) == D("100000.00")
    referred = claims.filter(status=ClaimStatus.UNDER_REVIEW)
    assert referred.count() == CLIENTS * PER_CLIENT - 21
    assert set(referred.values_list("payable_amount", flat=True)) == {ZERO}
