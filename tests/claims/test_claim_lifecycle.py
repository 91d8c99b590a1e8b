"""The claim lifecycle: each transition allowed, and refused where it must be."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_fsm import ConcurrentTransition

from claims.choices import ClaimStatus
from claims.compensation import compensation_match
from claims.filing import claim_file, claim_submit
from claims.jobs import claims_close_due, claims_release_waiting
from claims.lifecycle import (
    claim_approve,
    claim_assess,
    claim_pay,
    claim_provide_info,
    claim_reject,
    claim_reopen,
    claim_request_info,
    claim_sign_off,
    claim_start_review,
    claim_triage,
    claim_withdraw,
)
from claims.models import Claim, ClaimTransition, Payout
from policies.actors import Actor
from policies.errors import DomainError
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def last_log(claim) -> ClaimTransition:
    return claim.transitions.order_by("-at", "-pk").first()


def code_of(excinfo) -> str:
    return excinfo.value.code


def file_claim(user, shipment, *, peril="damage", amount="12000.00", submit=True, days_ago=5):
    return claim_file(
        actor=Actor.for_user(user),
        seller=user.seller,
        shipment=shipment,
        peril=peril,
        claimed_amount=D(amount),
        event_date=timezone.localdate() - dt.timedelta(days=days_ago),
        source="seller",
        submit=submit,
    )


def under_review(**kwargs) -> Claim:
    return factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, **kwargs)


# submit and triage


def test_submit_by_the_sellers_user_moves_draft_to_submitted_and_logs_it(seller_user, shipment):
    claim = file_claim(seller_user, shipment, submit=False)

    claim = claim_submit(claim_id=claim.pk, actor=Actor.for_user(seller_user))

    assert claim.status == ClaimStatus.SUBMITTED
    log = last_log(claim)
    assert (log.source_state, log.target_state, log.actor_user) == (
        "draft",
        "submitted",
        seller_user,
    )


def test_submit_by_another_sellers_user_is_refused(seller_user, shipment):
    claim = file_claim(seller_user, shipment, submit=False)
    stranger = factories.SellerUserFactory()

    with pytest.raises(DomainError) as excinfo:
        claim_submit(claim_id=claim.pk, actor=Actor.for_user(stranger))

    assert code_of(excinfo) == "permission_denied"
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.DRAFT


def test_submit_queues_triage_which_sends_cargo_to_wait(
    seller_user, shipment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        claim = file_claim(seller_user, shipment)

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.AWAITING_COMPENSATION
    assert claim.due_on is None


def test_triage_approves_and_pays_a_clean_verified_return_claim(
    django_capture_on_commit_callbacks,
):
    shipment = factories.ShipmentFactory()
    factories.ShipmentEventFactory(shipment=shipment, kind="non_buyout", amount=D("50.00"))
    marketplace = Actor.for_marketplace(shipment.marketplace)

    with django_capture_on_commit_callbacks(execute=True):
        claim = claim_file(
            actor=marketplace,
            seller=shipment.seller,
            shipment=shipment,
            peril="non_buyout",
            claimed_amount=D("50.00"),
            event_date=timezone.localdate() - dt.timedelta(days=2),
            source="marketplace",
        )

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert Payout.objects.get(claim=claim).amount == D("50.00")
    assert [t.transition for t in claim.transitions.all()] == [
        "create",
        "submit",
        "triage",
        "pay",
    ]


def test_triage_sends_a_flagged_claim_to_review_never_rejects(django_capture_on_commit_callbacks):
    shipment = factories.ShipmentFactory(shipped_at=timezone.now() - dt.timedelta(days=60))
    user = factories.SellerUserFactory(seller=shipment.seller)

    with django_capture_on_commit_callbacks(execute=True):
        claim = file_claim(user, shipment, peril="non_buyout", amount="50.00", days_ago=40)

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert "late_notice" in claim.flags
    assert "not_marketplace_verified" in claim.flags


def test_triage_above_the_auto_approve_threshold_goes_to_review():
    shipment = factories.ShipmentFactory(declared_value=D("20000"))
    factories.ShipmentEventFactory(shipment=shipment, kind="returned", amount=D("4000.00"))
    shipment.policy.product_version.auto_approve_threshold = D("1000")
    shipment.policy.product_version.save()
    claim = factories.ClaimFactory(
        shipment=shipment, peril="return", claimed_amount=D("4000"), source="marketplace"
    )

    claim = claim_triage(claim_id=claim.pk)

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.payable_amount == D("4000.00")


def test_triage_twice_changes_nothing_the_second_time():
    claim = factories.ClaimFactory()
    claim_triage(claim_id=claim.pk)
    logs = ClaimTransition.objects.count()

    again = claim_triage(claim_id=claim.pk)

    assert again.status == ClaimStatus.AWAITING_COMPENSATION
    assert ClaimTransition.objects.count() == logs


# release


def test_compensation_for_a_waiting_claim_releases_it_with_the_payable_reduced():
    claim = factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION, source="marketplace")
    factories.ShipmentEventFactory(shipment=claim.shipment, kind="damaged")
    compensation = factories.CompensationFactory(
        shipment=claim.shipment, amount=D("4000.00"), reason="damage"
    )

    compensation_match(compensation_id=compensation.pk)

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert claim.compensation_amount == D("4000.00")
    assert claim.payable_amount == D("7500.00")
    assert last_log(claim).transition == "release"


def test_waiting_claims_are_released_when_the_wait_has_passed_and_not_before():
    old = factories.ClaimFactory(
        status=ClaimStatus.AWAITING_COMPENSATION,
        event_date=timezone.localdate() - dt.timedelta(days=15),
    )
    recent = factories.ClaimFactory(
        status=ClaimStatus.AWAITING_COMPENSATION,
        event_date=timezone.localdate() - dt.timedelta(days=3),
    )

    released = claims_release_waiting(today=timezone.localdate())

    assert released == 1
    assert Claim.objects.get(pk=old.pk).status in (ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED)
    assert Claim.objects.get(pk=recent.pk).status == ClaimStatus.AWAITING_COMPENSATION


# review, information, decision


def test_start_review_assigns_the_adjuster(adjuster):
    claim = factories.ClaimFactory()

    claim = claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.assignee == adjuster


def test_start_review_by_staff_without_the_role_is_refused():
    claim = factories.ClaimFactory()
    clerk = factories.UserFactory(is_staff=True)

    with pytest.raises(DomainError) as excinfo:
        claim_start_review(claim_id=claim.pk, adjuster=clerk)

    assert code_of(excinfo) == "permission_denied"


def test_request_info_needs_a_message(adjuster):
    claim = under_review()

    with pytest.raises(DomainError) as excinfo:
        claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="  ")

    assert code_of(excinfo) == "message_required"
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.UNDER_REVIEW


def test_request_info_pauses_the_clock_and_writes_to_the_seller(adjuster):
    claim = under_review()

    claim = claim_request_info(
        claim_id=claim.pk, adjuster=adjuster, message="Пришлите фото упаковки."
    )

    assert claim.status == ClaimStatus.INFO_REQUESTED
    assert claim.due_on is None
    assert claim.messages.get().body == "Пришлите фото упаковки."


def test_provide_info_resumes_review_and_counts_the_paused_working_days(adjuster):
    claim = under_review()
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")
    Claim.objects.filter(pk=claim.pk).update(
        info_requested_at=timezone.now() - dt.timedelta(days=14)
    )
    user = factories.SellerUserFactory(seller=claim.seller)

    claim = claim_provide_info(
        claim_id=claim.pk,
        user=user,
        message="Прилагаю",
        files=[SimpleUploadedFile("box.png", PNG, content_type="image/png")],
    )

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.sla_paused_days >= 8
    assert claim.due_on is not None
    assert claim.evidence.get().content_type == "image/png"


def test_provide_info_by_another_seller_is_refused(adjuster):
    claim = under_review()
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")

    with pytest.raises(DomainError) as excinfo:
        claim_provide_info(claim_id=claim.pk, user=factories.SellerUserFactory(), message="не мой")

    assert code_of(excinfo) == "permission_denied"


def test_provide_info_refuses_a_file_that_is_not_an_image_or_pdf(adjuster):
    claim = under_review()
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")
    user = factories.SellerUserFactory(seller=claim.seller)

    with pytest.raises(DomainError) as excinfo:
        claim_provide_info(
            claim_id=claim.pk,
            user=user,
            files=[SimpleUploadedFile("photo.png", b"MZ not an image", content_type="image/png")],
        )

    assert code_of(excinfo) == "invalid_file"
    assert Claim.objects.get(pk=claim.pk).status == ClaimStatus.INFO_REQUESTED


def test_approve_within_the_authority_limit(adjuster):
    claim = under_review()

    claim = claim_approve(claim_id=claim.pk, adjuster=adjuster)

    assert claim.status == ClaimStatus.APPROVED
    assert claim.payable_amount == D("11500.00")
    assert claim.decided_at is not None
    assert claim.due_on is not None


def test_approve_above_the_authority_limit_waits_for_a_senior(adjuster, senior):
    adjuster.authority_limit = D("5000")
    adjuster.save()
    claim = under_review()

    claim = claim_approve(claim_id=claim.pk, adjuster=adjuster)

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.awaiting_signoff
    with pytest.raises(DomainError) as excinfo:
        claim_approve(claim_id=claim.pk, adjuster=senior)
    assert code_of(excinfo) == "awaiting_signoff"

    claim = claim_sign_off(claim_id=claim.pk, senior=senior)

    assert claim.status == ClaimStatus.APPROVED
    assert not claim.awaiting_signoff
    assert adjuster.email in last_log(claim).internal_note


def test_approve_from_a_state_that_does_not_allow_it_is_a_conflict(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.PAID)

    with pytest.raises(DomainError) as excinfo:
        claim_approve(claim_id=claim.pk, adjuster=adjuster)

    assert code_of(excinfo) == "transition_not_allowed"
    assert excinfo.value.status == 409


def test_assessed_loss_above_the_claimed_amount_is_refused(adjuster):
    claim = under_review()

    with pytest.raises(DomainError) as excinfo:
        claim_assess(claim_id=claim.pk, adjuster=adjuster, assessed_amount=D("20000"))

    assert code_of(excinfo) == "assessed_above_claimed"


@pytest.mark.parametrize(
    "status", [ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.INFO_REQUESTED]
)
def test_reject_with_a_reason_from_each_allowed_state(adjuster, status):
    claim = factories.ClaimFactory(status=status)

    claim = claim_reject(claim_id=claim.pk, adjuster=adjuster, code="no_loss", reason="Товар цел.")

    assert claim.status == ClaimStatus.REJECTED
    assert (claim.rejection_code, claim.rejection_reason) == ("no_loss", "Товар цел.")


def test_reject_without_a_reason_is_refused(adjuster):
    claim = under_review()

    with pytest.raises(DomainError) as excinfo:
        claim_reject(claim_id=claim.pk, adjuster=adjuster, code="no_loss", reason="")

    assert code_of(excinfo) == "reason_required"


def test_reject_an_approved_claim_is_not_possible(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)

    with pytest.raises(DomainError) as excinfo:
        claim_reject(claim_id=claim.pk, adjuster=adjuster, code="other", reason="x")

    assert code_of(excinfo) == "transition_not_allowed"


# payment


def test_pay_makes_one_payout_of_the_payable(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)

    claim = claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster), reference="PP-1")

    assert claim.status == ClaimStatus.PAID
    payout = Payout.objects.get(claim=claim)
    assert (payout.amount, payout.reference, payout.policy_id) == (
        D("11500.00"),
        "PP-1",
        claim.policy_id,
    )


def test_pay_twice_is_refused(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    with pytest.raises(DomainError) as excinfo:
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    assert code_of(excinfo) == "transition_not_allowed"
    assert Payout.objects.filter(claim=claim).count() == 1


def test_pay_with_nothing_payable_is_refused(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    factories.CompensationFactory(shipment=claim.shipment, claim=claim, amount=D("12000"))

    with pytest.raises(DomainError) as excinfo:
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    assert code_of(excinfo) == "nothing_payable"
    assert not Payout.objects.filter(claim=claim).exists()


def test_late_compensation_after_payment_raises_a_recovery(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    factories.CompensationFactory(shipment=claim.shipment, claim=claim, amount=D("4000"))
    claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))
    late = factories.CompensationFactory(shipment=claim.shipment, amount=D("6000"))

    compensation_match(compensation_id=late.pk)

    claim.refresh_from_db()
    assert claim.payout.amount == D("7500.00")
    assert claim.payable_amount == D("1500.00")
    assert claim.recoveries.get().amount == D("6000.00")


# withdraw, reopen, close


@pytest.mark.parametrize(
    "status", [ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.INFO_REQUESTED]
)
def test_withdraw_by_the_seller(status):
    claim = factories.ClaimFactory(status=status)
    user = factories.SellerUserFactory(seller=claim.seller)

    claim = claim_withdraw(claim_id=claim.pk, user=user)

    assert claim.status == ClaimStatus.WITHDRAWN


def test_withdraw_under_review_is_not_possible():
    claim = under_review()
    user = factories.SellerUserFactory(seller=claim.seller)

    with pytest.raises(DomainError) as excinfo:
        claim_withdraw(claim_id=claim.pk, user=user)

    assert code_of(excinfo) == "transition_not_allowed"


def test_reopen_a_rejected_claim_needs_a_reason_and_restarts_the_clock(adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.REJECTED, rejection_code="no_loss")

    with pytest.raises(DomainError) as excinfo:
        claim_reopen(claim_id=claim.pk, adjuster=adjuster, reason="")
    assert code_of(excinfo) == "reason_required"

    claim = claim_reopen(claim_id=claim.pk, adjuster=adjuster, reason="Апелляция")

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.rejection_code == ""
    assert claim.sla_started_on == timezone.localdate()


def test_a_closed_claim_that_was_paid_cannot_be_reopened(adjuster):
    payout = factories.PayoutFactory(claim__status=ClaimStatus.CLOSED)

    with pytest.raises(DomainError) as excinfo:
        claim_reopen(claim_id=payout.claim_id, adjuster=adjuster, reason="ещё раз")

    assert code_of(excinfo) == "transition_not_allowed"


def test_close_due_closes_after_the_windows_and_not_before():
    long_ago = timezone.now() - dt.timedelta(days=31)
    paid = factories.ClaimFactory(status=ClaimStatus.PAID, status_changed_at=long_ago)
    silent = factories.ClaimFactory(status=ClaimStatus.INFO_REQUESTED, status_changed_at=long_ago)
    fresh = factories.ClaimFactory(status=ClaimStatus.REJECTED, status_changed_at=timezone.now())
    open_claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, status_changed_at=long_ago)

    closed = claims_close_due(today=timezone.localdate())

    assert closed == 2
    statuses = dict(Claim.objects.values_list("pk", "status"))
    assert statuses[paid.pk] == statuses[silent.pk] == ClaimStatus.CLOSED
    assert statuses[fresh.pk] == ClaimStatus.REJECTED
    assert statuses[open_claim.pk] == ClaimStatus.UNDER_REVIEW


# the state field


def test_the_state_field_cannot_be_assigned_directly():
    claim = factories.ClaimFactory()

    with pytest.raises(AttributeError):
        claim.status = ClaimStatus.PAID


def test_two_loaded_copies_cannot_both_transition():
    claim = under_review()
    first, second = Claim.objects.get(pk=claim.pk), Claim.objects.get(pk=claim.pk)
    first.approve()
    first.save()

    second.reject()
    with pytest.raises(ConcurrentTransition):
        second.save()
