"""Adjusters in a real browser: ask a seller for information, approve within the authority
limit, send one above it for sign-off; a senior adjuster signs it off; the payment is recorded
and the settlement act is there."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from claims.choices import ClaimStatus
from claims.models import Claim
from tests import factories
from tests.browser.conftest import login, screenshot

# The staff roles come from a data migration: keep them across the flushes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

D = Decimal


def admin_sign_in(page, user) -> None:
    login(page, user.email, factories.PASSWORD)
    expect(page.locator("#queue")).to_be_visible()


def run_action(page, claim: Claim, name: str, **fields) -> None:
    page.goto(f"/admin/claims/claim/{claim.pk}/change/")
    form = page.locator(f"#act-{name}")
    if not form.is_visible():
        page.locator(f"details:has(#act-{name}) > summary").click()
    for field, value in fields.items():
        form.locator(f"[name={name}-{field}]").fill(value)
    form.locator("input[type=submit]").click()
    expect(page.locator("ul.messagelist")).to_be_visible()


def test_adjuster_and_senior_work_claims_to_payment(page):
    adjuster = factories.StaffFactory(email="adjuster@test.local", authority_limit=D("10000"))
    senior = factories.StaffFactory(
        email="senior@test.local", group="Senior adjuster", authority_limit=D("1000000")
    )
    policy = factories.PolicyFactory()
    ask, small, large = (
        factories.ClaimFactory(
            shipment__policy=policy,
            status=ClaimStatus.UNDER_REVIEW,
            assignee=adjuster,
            claimed_amount=amount,
        )
        for amount in (D("3000.00"), D("5000.00"), D("40000.00"))
    )
    factories.ClaimFactory.create_batch(6, shipment__policy=policy, status=ClaimStatus.SUBMITTED)
    factories.ClaimFactory.create_batch(
        2, shipment__policy=policy, due_on=timezone.localdate() - dt.timedelta(days=2)
    )

    admin_sign_in(page, adjuster)
    page.goto("/admin/claims/claim/")
    expect(page.locator("#result_list")).to_contain_text(large.number)
    expect(page.locator("#result_list td.field-sla_missed strong")).to_have_count(2)
    screenshot(page, "admin-changelist")

    run_action(page, ask, "request_info", message="Пришлите фото упаковки")
    ask.refresh_from_db()
    assert ask.status == ClaimStatus.INFO_REQUESTED

    run_action(page, small, "approve", note="Фото подтверждают повреждение")
    small.refresh_from_db()
    assert small.status == ClaimStatus.APPROVED

    run_action(page, large, "approve")
    expect(page.locator("ul.messagelist .warning")).to_contain_text("10000")
    large.refresh_from_db()
    assert large.status == ClaimStatus.UNDER_REVIEW
    assert large.signoff_requested_by == adjuster

    admin_sign_in(page, senior)
    page.goto("/admin/claims/claim/?signoff=mine")
    expect(page.locator("#result_list")).to_contain_text(large.number)
    run_action(page, large, "sign_off")
    large.refresh_from_db()
    assert large.status == ClaimStatus.APPROVED

    run_action(page, large, "pay", reference="PP-2026-0042")
    large.refresh_from_db()
    assert large.status == ClaimStatus.PAID
    assert large.payout.reference == "PP-2026-0042"
    expect(page.locator("a[href^='/documents/']").first).to_contain_text("settlement-act")
    screenshot(page, "admin-claim-change")
