"""The senior's sign-off of an approval above the adjuster's authority limit: who may sign off
or send back, what each leaves on the claim and in its log, and what the seller never sees."""

from decimal import Decimal

import pytest

from claims.choices import ClaimStatus
from claims.lifecycle import (
    claim_approve,
    claim_send_back,
    claim_sign_off,
    signoff_allowed,
)
from claims.selectors import claim_list_for_marketplace, seller_claim_get
from policies.errors import DomainError
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def waiting(adjuster):
    """A claim of 11 500,00 ₽ payable that an adjuster with a 5 000 ₽ limit asked to approve."""
    adjuster.authority_limit = D("5000.00")
    adjuster.save()
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    return claim_approve(claim_id=claim.pk, adjuster=adjuster, note="Акт ПВЗ подтверждает ущерб")


def code_of(excinfo) -> str:
    return excinfo.value.code


def test_approval_above_the_limit_asks_for_a_sign_off_and_logs_the_request(waiting, adjuster):
    assert waiting.status == ClaimStatus.UNDER_REVIEW
    assert waiting.signoff_requested_by == adjuster
    asked = waiting.transitions.get(transition="request_signoff")
    assert (asked.source_state, asked.target_state) == ("under_review", "under_review")
    assert asked.actor_user == adjuster


def test_an_approve_on_a_claim_awaiting_sign_off_says_it_awaits_it(waiting, adjuster, senior):
    for user in (adjuster, senior):
        with pytest.raises(DomainError) as excinfo:
            claim_approve(claim_id=waiting.pk, adjuster=user)
        assert code_of(excinfo) == "awaiting_signoff"


def test_a_senior_signs_off_with_the_adjusters_note_for_the_seller(waiting, adjuster, senior):
    claim = claim_sign_off(claim_id=waiting.pk, senior=senior)

    assert claim.status == ClaimStatus.APPROVED
    assert claim.signoff_requested_by is None
    approved = claim.transitions.get(transition="approve")
    assert approved.actor_user == senior
    assert approved.note == "Акт ПВЗ подтверждает ущерб"
    assert adjuster.email in approved.internal_note


def test_the_adjuster_who_asked_cannot_sign_off_their_own_request(waiting, adjuster):
    adjuster.authority_limit = D("1000000.00")
    adjuster.save()

    with pytest.raises(DomainError) as excinfo:
        claim_sign_off(claim_id=waiting.pk, senior=adjuster)

    assert code_of(excinfo) == "own_signoff_request"
    assert not signoff_allowed(claim=waiting, user=adjuster)


def test_a_senior_whose_limit_does_not_cover_the_payable_cannot_sign_off(waiting, senior):
    senior.authority_limit = D("10000.00")
    senior.save()

    for act in (
        lambda: claim_sign_off(claim_id=waiting.pk, senior=senior),
        lambda: claim_send_back(claim_id=waiting.pk, senior=senior, note="Проверьте акт"),
    ):
        with pytest.raises(DomainError) as excinfo:
            act()
        assert code_of(excinfo) == "over_authority_limit"
    waiting.refresh_from_db()
    assert waiting.awaiting_signoff
    assert not signoff_allowed(claim=waiting, user=senior)


def test_staff_without_the_approve_permission_cannot_sign_off(waiting):
    underwriter = factories.StaffFactory(group="Underwriter", authority_limit=D("1000000"))

    with pytest.raises(DomainError) as excinfo:
        claim_sign_off(claim_id=waiting.pk, senior=underwriter)

    assert code_of(excinfo) == "permission_denied"
    assert not signoff_allowed(claim=waiting, user=underwriter)


def test_a_claim_awaiting_no_sign_off_cannot_be_signed_off_or_sent_back(senior):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW)

    with pytest.raises(DomainError) as excinfo:
        claim_sign_off(claim_id=claim.pk, senior=senior)
    assert code_of(excinfo) == "not_awaiting_signoff"
    with pytest.raises(DomainError) as excinfo:
        claim_send_back(claim_id=claim.pk, senior=senior, note="Проверьте акт")
    assert code_of(excinfo) == "not_awaiting_signoff"


def test_send_back_needs_a_note(waiting, senior):
    with pytest.raises(DomainError) as excinfo:
        claim_send_back(claim_id=waiting.pk, senior=senior, note="  ")

    assert code_of(excinfo) == "reason_required"
    assert excinfo.value.fields == {"note": [excinfo.value.message]}
    waiting.refresh_from_db()
    assert waiting.awaiting_signoff


def test_send_back_returns_the_claim_to_the_adjuster_who_asked_with_the_note_logged(
    waiting, adjuster, senior
):
    other = factories.StaffFactory(email="other@test.local")
    waiting.assignee = other
    waiting.save()

    claim = claim_send_back(claim_id=waiting.pk, senior=senior, note="Сверьте акт ПВЗ с фото")

    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert (claim.signoff_requested_by, claim.signoff_requested_at) == (None, None)
    assert claim.assignee == adjuster
    sent_back = claim.transitions.get(transition="send_back")
    assert (sent_back.actor_user, sent_back.internal_note, sent_back.note) == (
        senior,
        "Сверьте акт ПВЗ с фото",
        "",
    )
    # Back with the adjuster, the claim can be approved (or asked about) again.
    assert claim_approve(claim_id=claim.pk, adjuster=adjuster).awaiting_signoff


def test_the_seller_and_the_marketplace_never_see_the_sign_off_steps(waiting, senior):
    claim_send_back(claim_id=waiting.pk, senior=senior, note="Сверьте акт ПВЗ с фото")

    for read in (
        seller_claim_get(seller_id=waiting.seller_id, number=waiting.number),
        claim_list_for_marketplace(marketplace=waiting.marketplace).get(pk=waiting.pk),
    ):
        assert {t.transition for t in read.transitions.all()}.isdisjoint(
            {"request_signoff", "send_back"}
        )
