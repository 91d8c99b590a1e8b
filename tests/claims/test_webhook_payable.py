"""The status webhook announces a payable only where the seller's money line shows one."""

from decimal import Decimal

import pytest

from claims.choices import ClaimStatus, RejectionCode
from claims.lifecycle import claim_close, claim_reject, claim_start_review, claim_withdraw
from claims.models import WebhookDelivery
from tests import factories

pytestmark = pytest.mark.django_db


def hooked_claim(**fields):
    """A claim whose marketplace listens for status changes, with a payable on record."""
    claim = factories.ClaimFactory(payable_amount=Decimal("39142.00"), **fields)
    claim.marketplace.webhook_url = "https://marketplace.example/hooks"
    claim.marketplace.save()
    return claim


def announced(claim) -> dict:
    payload = WebhookDelivery.objects.filter(claim=claim).latest("pk").payload
    return {key: payload[key] for key in ("from", "to", "payable")}


def test_a_rejection_announces_no_payable(adjuster):
    claim = hooked_claim(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)

    claim_reject(
        claim_id=claim.pk,
        adjuster=adjuster,
        code=RejectionCode.INSUFFICIENT_EVIDENCE,
        reason="Нет фото упаковки.",
    )

    assert announced(claim) == {"from": "under_review", "to": "rejected", "payable": "0.00"}


def test_closing_a_rejected_claim_announces_no_payable():
    claim = hooked_claim(status=ClaimStatus.REJECTED)

    claim_close(claim_id=claim.pk)

    assert announced(claim) == {"from": "rejected", "to": "closed", "payable": "0.00"}


def test_a_withdrawal_announces_no_payable(seller_user):
    claim = hooked_claim(shipment__policy__seller=seller_user.seller)

    claim_withdraw(claim_id=claim.pk, user=seller_user)

    assert announced(claim) == {"from": "submitted", "to": "withdrawn", "payable": "0.00"}


def test_closing_a_paid_claim_announces_its_payable():
    claim = hooked_claim(status=ClaimStatus.PAID)
    factories.PayoutFactory(claim=claim, amount=claim.payable_amount)

    claim_close(claim_id=claim.pk)

    assert announced(claim) == {"from": "paid", "to": "closed", "payable": "39142.00"}


def test_a_claim_under_review_still_announces_its_payable(adjuster):
    claim = hooked_claim()

    claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    assert announced(claim)["payable"] == "39142.00"
