"""The adjusters' workbench in the admin: the queue, the buttons each role gets, the sign-off
of approvals above an authority limit, replies, exports and the index's figures."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from claims.admin import EXPORT_COLUMNS
from claims.choices import ClaimFlag, ClaimStatus, RecoveryStatus
from claims.models import Claim, ClaimMessage, Payout
from claims.selectors import claims_queue_summary
from policies.choices import DocumentKind
from policies.models import Document, ProductVersion
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


def change_url(claim) -> str:
    return reverse("admin:claims_claim_change", args=[claim.pk])


def act(client, claim, name, **data):
    fields = {f"{name}-{key}": value for key, value in data.items()}
    return client.post(reverse("admin:claims_claim_act", args=[claim.pk, name]), fields)


def buttons(client, claim) -> set[str]:
    page = client.get(change_url(claim)).content.decode()
    return {
        name
        for name in (
            "assign",
            "start_review",
            "assess",
            "request_info",
            "approve",
            "reject",
            "pay",
            "reopen",
        )
        if f'id="act-{name}"' in page
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


@pytest.fixture
def underwriter(db):
    return factories.StaffFactory(group="Underwriter", email="uw@test.local")


def under_review(**kwargs) -> Claim:
    return factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, **kwargs)


# Buttons: exactly the transitions this user may make in this state


def test_an_adjuster_gets_the_review_buttons_on_a_claim_under_review(client, adjuster):
    client.force_login(adjuster)

    assert buttons(client, under_review(assignee=adjuster)) == {
        "assess",
        "request_info",
        "approve",
        "reject",
    }


def test_an_adjuster_gets_pay_on_an_approved_claim_and_nothing_else(client, adjuster):
    client.force_login(adjuster)

    assert buttons(
        client, factories.ClaimFactory(status=ClaimStatus.APPROVED, assignee=adjuster)
    ) == {"pay"}


def test_a_paid_claim_has_no_buttons(client, adjuster):
    client.force_login(adjuster)

    assert buttons(client, factories.ClaimFactory(status=ClaimStatus.PAID)) == set()


def test_an_underwriter_sees_claims_but_no_buttons_and_cannot_post_one(client, underwriter):
    claim = under_review()
    client.force_login(underwriter)

    assert buttons(client, claim) == set()
    assert act(client, claim, "approve", note="").status_code == 403
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW


def test_only_a_user_with_the_pay_permission_gets_pay(client, roles):
    clerk = factories.UserFactory(is_staff=True)
    clerk.user_permissions.set(roles["Adjuster"].permissions.exclude(codename="pay_claim"))
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED, assignee=clerk)
    client.force_login(clerk)

    assert buttons(client, claim) == set()
    assert act(client, claim, "pay", reference="", paid_on="").status_code == 403
    assert not Payout.objects.filter(claim=claim).exists()


def test_a_transition_the_state_does_not_allow_is_refused(client, adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.PAID)
    client.force_login(adjuster)

    assert act(client, claim, "approve", note="").status_code == 403


# The transitions through the admin


def test_request_info_needs_a_message_and_then_asks_the_seller(client, adjuster):
    claim = under_review(assignee=adjuster)
    client.force_login(adjuster)

    refused = act(client, claim, "request_info", message="")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert messages_of(refused)

    act(client, claim, "request_info", message="Пришлите фото упаковки")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.INFO_REQUESTED
    assert claim.messages.get().body == "Пришлите фото упаковки"


def test_approval_within_the_limit_approves(client, adjuster):
    claim = under_review(assignee=adjuster, claimed_amount=D("12000.00"))
    client.force_login(adjuster)

    act(client, claim, "approve", note="Фото подтверждают повреждение")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED


def test_approval_above_the_limit_waits_for_a_seniors_sign_off(client, adjuster, senior):
    claim = under_review(assignee=adjuster, claimed_amount=D("12000.00"))
    adjuster.authority_limit = D("5000.00")
    adjuster.save()
    client.force_login(adjuster)

    response = act(client, claim, "approve", note="")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.signoff_requested_by == adjuster
    assert any("5000" in m and claim.number in m for m in messages_of(response))
    queue = client.get(reverse("admin:claims_claim_changelist"), {"signoff": "waiting"})
    assert claim.number in queue.content.decode()

    client.force_login(senior)
    mine = client.get(reverse("admin:claims_claim_changelist"), {"signoff": "mine"})
    assert claim.number in mine.content.decode()
    act(client, claim, "sign_off", note="")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED
    assert adjuster.email in claim.transitions.get(transition="approve").internal_note


def test_reject_needs_a_code_and_a_reason(client, adjuster):
    claim = under_review(assignee=adjuster)
    client.force_login(adjuster)

    act(client, claim, "reject", code="", reason="")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW

    act(client, claim, "reject", code="no_loss", reason="Повреждений нет")
    claim.refresh_from_db()
    assert (claim.status, claim.rejection_code) == (ClaimStatus.REJECTED, "no_loss")


def test_the_assessed_loss_is_editable_under_review_and_recalculates(client, adjuster):
    claim = under_review(assignee=adjuster, claimed_amount=D("12000.00"))
    client.force_login(adjuster)

    act(client, claim, "assess", assessed_amount="8000")

    claim.refresh_from_db()
    assert (claim.assessed_amount, claim.payable_amount) == (D("8000.00"), D("7500.00"))


def test_a_domain_error_is_a_message_on_the_claim_page_not_a_server_error(client, adjuster):
    claim = under_review(assignee=adjuster, claimed_amount=D("12000.00"))
    client.force_login(adjuster)

    response = act(client, claim, "assess", assessed_amount="20000")

    claim.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == change_url(claim)
    assert claim.assessed_amount is None
    assert [m.level_tag for m in response.wsgi_request._messages] == ["error"]


def test_the_assessed_loss_cannot_be_changed_once_approved(client, adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED, claimed_amount=D("12000.00"))
    client.force_login(adjuster)

    assert act(client, claim, "assess", assessed_amount="1").status_code == 403


def test_payment_records_one_payout_and_the_settlement_act(
    client, adjuster, django_capture_on_commit_callbacks
):
    claim = factories.ClaimFactory(status=ClaimStatus.APPROVED)
    client.force_login(adjuster)

    with django_capture_on_commit_callbacks(execute=True):
        act(client, claim, "pay", reference="PP-77", paid_on="2026-11-20")

    payout = Payout.objects.get(claim=claim)
    assert (payout.reference, str(payout.paid_on)) == ("PP-77", "2026-11-20")
    assert claim.documents.filter(kind=DocumentKind.SETTLEMENT_ACT).exists()
    page = client.get(change_url(claim)).content.decode()
    assert "settlement-act" in page


def test_a_reply_reaches_the_sellers_thread(client, adjuster):
    claim = under_review(assignee=adjuster)
    client.force_login(adjuster)

    client.post(reverse("admin:claims_claim_reply", args=[claim.pk]), {"body": "Уточните дату"})

    message = ClaimMessage.objects.get(claim=claim)
    assert (message.author_kind, message.body) == ("adjuster", "Уточните дату")


def test_the_change_page_shows_the_calculation(client, adjuster):
    claim = under_review(claimed_amount=D("12000.00"), compensation_amount=D("4000.00"))
    client.force_login(adjuster)

    page = client.get(change_url(claim)).content.decode().replace("\xa0", " ")

    assert "7 500,00 ₽" in page


# The changelist


def test_assign_to_me_and_the_assigned_to_me_filter(client, adjuster):
    claims = [under_review(), under_review()]
    client.force_login(adjuster)

    client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "assign_to_me", "_selected_action": [c.pk for c in claims]},
    )

    mine = client.get(reverse("admin:claims_claim_changelist"), {"assigned": "me"})
    assert all(c.number in mine.content.decode() for c in claims)


def test_the_selection_exports_as_csv(client, adjuster):
    claim = under_review(
        claimed_amount=D("1234.50"),
        assignee=adjuster,
        due_on=timezone.localdate() - dt.timedelta(days=1),
        submitted_at=timezone.now() - dt.timedelta(days=3),
    )
    under_review()
    client.force_login(adjuster)

    response = client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "export_csv", "_selected_action": [claim.pk]},
    )

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header == EXPORT_COLUMNS
    assert dict(zip(header, row, strict=True)) == {
        "number": claim.number,
        "seller": claim.seller.legal_name,
        "tax_id": claim.seller.tax_id,
        "marketplace": claim.marketplace.code,
        "cover": claim.cover,
        "peril": "damage",
        "status": "under_review",
        "claimed": "1234.50",
        "payable": "0.00",
        "recovery_raised": "0.00",
        "recovery_received": "0.00",
        "age_days": "3",
        "sla_missed": "yes",
        "assignee": adjuster.email,
    }


def test_the_claim_page_list_and_export_name_recoveries_raised_apart_from_received(
    client, adjuster
):
    claim = factories.ClaimFactory(status=ClaimStatus.PAID)
    factories.RecoveryFactory(claim=claim, amount=D("1000.00"))
    factories.RecoveryFactory(
        claim=claim,
        amount=D("2500.00"),
        status=RecoveryStatus.RECEIVED,
        received_on=timezone.localdate(),
    )
    client.force_login(adjuster)

    page = client.get(change_url(claim), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # A paid claim is listed among all claims, not in the default queue of open ones.
    every = reverse("admin:claims_claim_changelist") + "?status__exact=all"
    listed = client.get(every, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    response = client.post(every, {"action": "export_csv", "_selected_action": [claim.pk]})

    header, row = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    exported = dict(zip(header, row, strict=True))
    assert (exported["recovery_raised"], exported["recovery_received"]) == ("3500.00", "2500.00")
    for html in (page, listed):
        assert "Recoveries raised" in html
        assert "Recoveries received" in html
    assert "Recovered" not in page


def test_search_finds_a_claim_by_order_id_and_by_tax_id(client, adjuster):
    claim = under_review()
    other = under_review()
    client.force_login(adjuster)

    for term in (claim.shipment.order_id, claim.seller.tax_id, claim.number):
        page = client.get(reverse("admin:claims_claim_changelist"), {"q": term})
        assert claim.number in page.content.decode()
        assert other.number not in page.content.decode()


def test_the_sla_column_and_filter_include_claims_the_daily_job_flagged(client, adjuster):
    flagged = factories.ClaimFactory(status=ClaimStatus.PAID, flags=[ClaimFlag.SLA_BREACHED])
    on_time = under_review(due_on=timezone.localdate() + dt.timedelta(days=5))
    client.force_login(adjuster)

    page = client.get(
        reverse("admin:claims_claim_changelist"), {"sla": "breached", "status__exact": "all"}
    )

    assert flagged.number in page.content.decode()
    assert on_time.number not in page.content.decode()
    assert page.content.decode().count("⚠") == 1


def test_the_sla_filter_lists_claims_past_their_due_date(client, adjuster):
    late = under_review(due_on=timezone.localdate() - dt.timedelta(days=1))
    on_time = under_review(due_on=timezone.localdate() + dt.timedelta(days=5))
    client.force_login(adjuster)

    page = client.get(reverse("admin:claims_claim_changelist"), {"sla": "breached"})

    assert late.number in page.content.decode()
    assert on_time.number not in page.content.decode()


def test_the_changelist_query_count_is_flat_with_a_thousand_claims(
    client, adjuster, django_assert_max_num_queries
):
    policy = factories.PolicyFactory()
    for shipment in factories.ShipmentFactory.create_batch(1000, policy=policy):
        factories.ClaimFactory(shipment=shipment, assignee=adjuster)
    client.force_login(adjuster)

    with django_assert_max_num_queries(14):
        response = client.get(reverse("admin:claims_claim_changelist"), {"all": ""})

    assert response.status_code == 200
    assert response.content.decode().count("CL-TEST-") >= 1000


# The index and the products


@pytest.fixture
def queue(adjuster):
    """Two claims under review (one waiting for sign-off), one waiting on the marketplace,
    one past its due date, one paid claim the daily job flagged, and a recovery owed."""
    under_review()
    under_review(signoff_requested_by=adjuster)
    factories.ClaimFactory(status=ClaimStatus.AWAITING_COMPENSATION)
    factories.ClaimFactory(due_on=timezone.localdate() - dt.timedelta(days=1))
    factories.ClaimFactory(status=ClaimStatus.PAID, flags=[ClaimFlag.SLA_BREACHED])
    factories.RecoveryFactory(claim__status=ClaimStatus.CLOSED, amount=D("700.00"))


def test_the_queue_is_counted_in_one_query_per_table(queue, django_assert_num_queries):
    with django_assert_num_queries(2):
        summary = claims_queue_summary(today=timezone.localdate())

    assert dict((code, n) for code, _, n in summary["statuses"] if n) == {
        "submitted": 1,
        "awaiting_compensation": 1,
        "under_review": 2,
        "paid": 1,
        "closed": 1,
    }
    assert (summary["sla_missed"], summary["waiting_signoff"]) == (2, 1)
    assert summary["awaiting_compensation"] == 1
    assert (summary["recoveries_open"], summary["recoveries_amount"]) == (1, D("700.00"))


def test_the_index_shows_the_queue(client, adjuster, queue):
    client.force_login(adjuster)

    page = client.get(reverse("admin:index")).content.decode()

    assert 'id="queue"' in page
    assert "?status__exact=awaiting_compensation" in page
    assert '?signoff=waiting">' in page
    assert '?sla=breached&amp;status__exact=all">' in page


def test_new_version_copies_a_version_in_use(client, underwriter):
    version = factories.PolicyFactory().product_version
    client.force_login(underwriter)

    response = client.post(reverse("admin:policies_productversion_new_version", args=[version.pk]))

    copy = ProductVersion.objects.get(product=version.product, version=version.version + 1)
    assert response.status_code == 302
    assert sorted(copy.covers.values_list("cover", flat=True)) == sorted(
        version.covers.values_list("cover", flat=True)
    )


def test_an_adjuster_cannot_make_product_versions(client, adjuster):
    version = factories.ProductVersionFactory()
    client.force_login(adjuster)

    response = client.post(reverse("admin:policies_productversion_new_version", args=[version.pk]))

    assert response.status_code == 403


def test_bordereaux_are_made_from_the_admin(client, adjuster, django_capture_on_commit_callbacks):
    factories.ClaimFactory()
    client.force_login(adjuster)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:policies_document_bordereaux"), {"month": "2026-11-15"}
        )

    assert response.status_code == 302
    made = sorted(d.file.name.rsplit(".", 1)[-1] for d in Document.objects.all())
    assert made == ["csv", "csv", "pdf", "pdf"]


def test_a_reconciliation_run_links_its_report(client, adjuster):
    run = factories.ReconciliationRunFactory()
    report = factories.DocumentFactory(
        kind=DocumentKind.RECONCILIATION_REPORT, owner=run, seller=None
    )
    client.force_login(adjuster)

    page = client.get(reverse("admin:claims_reconciliationrun_change", args=[run.pk]))

    assert reverse("document-download", args=[report.pk]) in page.content.decode()


def test_an_odd_search_is_not_a_server_error(client, adjuster):
    client.force_login(adjuster)

    response = client.get(reverse("admin:claims_claim_changelist"), {"q": "CL\x00-1"})

    # Refused before the query is built: PostgreSQL cannot compare a NUL.
    assert response.status_code == 400


def test_evidence_previews_come_through_a_staff_only_view(client, adjuster):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from claims.evidence import evidence_store

    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    claim = under_review()
    (evidence,) = evidence_store(claim=claim, files=[SimpleUploadedFile("a.png", png)], user=None)
    url = reverse("admin:claims_claim_evidence", args=[claim.pk, evidence.pk])

    client.force_login(factories.SellerUserFactory(seller=claim.seller))
    assert client.get(url).status_code == 302  # to the admin's sign-in

    client.force_login(adjuster)
    response = client.get(url)
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png
    assert url in client.get(change_url(claim)).content.decode()
