"""The seller's pages: own data only, every other seller's a 404, input checked, queries bounded."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.lifecycle import claim_pay, claim_request_info, claim_start_review
from claims.models import Claim, Evidence
from policies.actors import Actor
from policies.choices import DocumentKind, PolicyStatus
from policies.models import Policy
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def claim_of(user, **kwargs) -> Claim:
    return factories.ClaimFactory(shipment__policy__seller=user.seller, **kwargs)


def upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


# Sign in and who gets in


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("seller:claims"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_staff_without_a_seller_are_sent_to_the_admin(client, adjuster):
    client.force_login(adjuster)

    response = client.get(reverse("seller:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_sign_in_with_email_and_password_opens_the_dashboard(client, seller_user):
    response = client.post(
        reverse("login"),
        {"username": seller_user.email, "password": factories.PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("seller:dashboard")
    assert seller_user.seller.legal_name in response.content.decode()


def test_a_wrong_password_is_refused_with_a_message(client, seller_user):
    response = client.post(reverse("login"), {"username": seller_user.email, "password": "nope"})

    assert response.status_code == 200
    assert response.context["form"].errors


def test_password_reset_sends_a_link_by_email(client, seller_user):
    response = client.post(reverse("password_reset"), {"email": seller_user.email})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


# Another seller's things are a 404


def test_another_sellers_claim_is_a_404_by_number(signed_in):
    other = factories.ClaimFactory()

    assert signed_in.get(reverse("seller:claim", args=[other.number])).status_code == 404


def test_another_sellers_shipment_is_a_404(signed_in):
    other = factories.ShipmentFactory()

    assert signed_in.get(reverse("seller:shipment", args=[other.pk])).status_code == 404


def test_another_sellers_evidence_is_a_404(signed_in, seller_user):
    mine = claim_of(seller_user)
    other = factories.ClaimFactory()
    evidence = Evidence.objects.create(
        claim=other, original_name="x.png", content_type="image/png", size=1, sha256="0" * 64
    )

    url = reverse("seller:evidence", args=[mine.number, evidence.pk])

    assert signed_in.get(url).status_code == 404


def test_another_sellers_claim_cannot_be_withdrawn(signed_in):
    other = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)

    response = signed_in.post(reverse("seller:claim_withdraw", args=[other.number]))

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == ClaimStatus.SUBMITTED


def test_lists_show_only_the_sellers_own_rows(signed_in, seller_user):
    mine = claim_of(seller_user)
    other = factories.ClaimFactory()

    claims = signed_in.get(reverse("seller:claims")).content.decode()
    shipments = signed_in.get(reverse("seller:shipments")).content.decode()

    assert mine.number in claims and other.number not in claims
    assert mine.shipment.external_id in shipments
    assert other.shipment.external_id not in shipments


# Dashboard


def test_dashboard_shows_the_policy_money_and_what_waits_for_the_seller(signed_in, seller_user):
    policy = factories.PolicyFactory(seller=seller_user.seller)
    waiting = factories.ClaimFactory(shipment__policy=policy, status=ClaimStatus.INFO_REQUESTED)
    paid = factories.ClaimFactory(shipment__policy=policy, status=ClaimStatus.PAID)
    factories.PayoutFactory(claim=paid, amount=D("7500.00"))

    page = signed_in.get(reverse("seller:dashboard")).content.decode().replace("\xa0", " ")

    assert waiting.number in page
    assert "7 500,00 ₽" in page
    assert policy.number in page


# Enrolment


def test_enrolment_shows_terms_and_an_estimate_then_makes_an_active_policy(
    signed_in, seller_user, django_capture_on_commit_callbacks
):
    version = factories.ProductVersionFactory(product__name="Стандарт")
    page = signed_in.get(
        reverse("seller:enrol"), {"shipments": "1000", "average_value": "2500"}
    ).content.decode()
    assert "Стандарт" in page
    assert "35 000,00" in page.replace("\xa0", " ")  # 1.4 % of 2,500 ₽ × 1,000 shipments

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("seller:enrol"),
            {"product": version.product.code, "starts_on": timezone.localdate(), "accept": "on"},
        )

    assert response.status_code == 302
    policy = Policy.objects.get(seller=seller_user.seller)
    assert policy.status == PolicyStatus.ACTIVE
    assert policy.documents.filter(kind=DocumentKind.POLICY_CERTIFICATE).exists()


def test_enrolment_without_accepting_the_terms_is_refused_next_to_the_field(signed_in):
    version = factories.ProductVersionFactory()

    response = signed_in.post(
        reverse("seller:enrol"),
        {"product": version.product.code, "starts_on": timezone.localdate()},
    )

    assert response.status_code == 200
    assert "accept" in response.context["form"].errors
    assert not Policy.objects.exists()


# Filing a claim


def claim_post(shipment, **extra):
    return {
        "shipment": shipment.external_id,
        "peril": "damage",
        "event_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "claimed_amount": "12000,00",
        "description": "Коробка смята",
        **extra,
    }


def test_checking_a_claim_shows_the_eligibility_and_stores_nothing(signed_in, shipment):
    response = signed_in.post(reverse("seller:claim_new"), claim_post(shipment, check="1"))

    preview = response.context["preview"]
    assert preview.calculation.payable == D("11500.00")
    assert "not_marketplace_verified" in preview.flags
    assert not Claim.objects.exists()


def test_checking_an_ineligible_claim_names_the_rule(signed_in, shipment):
    Policy.objects.filter(pk=shipment.policy_id).update(status=PolicyStatus.CANCELLED)

    response = signed_in.post(reverse("seller:claim_new"), claim_post(shipment, check="1"))

    assert response.context["preview"] is None
    assert [m.message for m in response.context["messages"]]


def test_submitting_a_claim_with_files_files_it_and_keeps_the_files(
    signed_in, shipment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("seller:claim_new"),
            claim_post(shipment, submit="1", evidence=[upload("box.png", PNG)]),
        )

    claim = Claim.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("seller:claim", args=[claim.number])
    assert claim.status != ClaimStatus.DRAFT
    assert claim.claimed_amount == D("12000.00")
    assert claim.evidence.get().content_type == "image/png"
    assert claim.documents.filter(kind=DocumentKind.CLAIM_ACKNOWLEDGEMENT).exists()


def test_a_file_that_is_not_an_image_or_pdf_files_nothing(signed_in, shipment):
    response = signed_in.post(
        reverse("seller:claim_new"),
        claim_post(shipment, submit="1", evidence=[upload("photo.jpg", b"MZ\x90 not an image")]),
    )

    assert response.status_code == 200
    assert "photo.jpg" in response.content.decode()
    assert not Claim.objects.exists()


def test_an_unknown_shipment_is_an_error_next_to_the_field(signed_in):
    response = signed_in.post(
        reverse("seller:claim_new"), claim_post(factories.ShipmentFactory(), check="1")
    )

    assert "shipment" in response.context["form"].errors


# Following a claim


def test_claim_page_shows_timeline_thread_documents_and_calculation(signed_in, seller_user):
    # The figures as the triage's calculation left them: the page shows them, never its own.
    claim = claim_of(
        seller_user,
        status=ClaimStatus.INFO_REQUESTED,
        deductible_amount=D("500.00"),
        payable_amount=D("11500.00"),
    )
    factories.ClaimMessageFactory(claim=claim, body="Пришлите фото упаковки")

    page = signed_in.get(reverse("seller:claim", args=[claim.number])).content.decode()

    assert "Пришлите фото упаковки" in page
    assert "11\xa0500,00\xa0₽" in page
    assert reverse("seller:claim_answer", args=[claim.number]) in page


def test_answering_an_info_request_sends_the_claim_back_with_the_files(
    signed_in, seller_user, adjuster
):
    claim = claim_of(seller_user, status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")

    signed_in.post(
        reverse("seller:claim_answer", args=[claim.number]),
        {"message": "Вот фото", "evidence": [upload("a.png", PNG)]},
    )

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.evidence.count() == 1
    assert claim.messages.filter(body="Вот фото").exists()


def test_withdrawing_a_claim(signed_in, seller_user):
    claim = claim_of(seller_user, status=ClaimStatus.SUBMITTED)

    signed_in.post(reverse("seller:claim_withdraw", args=[claim.number]))

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN


def test_withdrawing_a_paid_claim_is_refused_with_a_message(signed_in, seller_user):
    claim = claim_of(seller_user, status=ClaimStatus.PAID)

    response = signed_in.post(reverse("seller:claim_withdraw", args=[claim.number]), follow=True)

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert [m.message for m in response.context["messages"]]


def test_own_evidence_downloads_with_its_type(signed_in, seller_user, adjuster):
    claim = claim_of(seller_user, status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")
    signed_in.post(
        reverse("seller:claim_answer", args=[claim.number]),
        {"message": "Вот", "evidence": [upload("a.png", PNG)]},
    )
    evidence = claim.evidence.get()

    response = signed_in.get(reverse("seller:evidence", args=[claim.number, evidence.pk]))

    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG


# E-mail on status changes


def test_a_status_change_that_concerns_the_seller_is_emailed_in_their_language(
    seller_user, adjuster, django_capture_on_commit_callbacks
):
    claim = claim_of(seller_user, status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)

    with django_capture_on_commit_callbacks(execute=True):
        claim_request_info(claim_id=claim.pk, adjuster=adjuster, message="Фото?")

    [message] = [m for m in mail.outbox if claim.number in m.subject]
    assert message.to == [seller_user.email]
    assert "Запрошена информация" in message.subject
    assert reverse("seller:claim", args=[claim.number]) in message.body


def test_moves_inside_the_insurers_queue_are_not_emailed(
    seller_user, adjuster, django_capture_on_commit_callbacks
):
    claim = claim_of(seller_user, status=ClaimStatus.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        claim_start_review(claim_id=claim.pk, adjuster=adjuster)

    assert not [m for m in mail.outbox if claim.number in m.subject]


# A constant number of queries


@pytest.mark.parametrize("name", ["seller:claims", "seller:shipments", "seller:dashboard"])
def test_list_pages_make_a_bounded_number_of_queries(
    signed_in, seller_user, name, django_assert_max_num_queries
):
    policy = factories.PolicyFactory(seller=seller_user.seller)
    shipments = factories.ShipmentFactory.create_batch(150, policy=policy)
    for shipment in shipments[:120]:
        factories.ClaimFactory(shipment=shipment)

    # However many rows: the dashboard's policy card sums its payouts, recoveries and holds.
    with django_assert_max_num_queries(13):
        assert signed_in.get(reverse(name)).status_code == 200


def test_claim_page_makes_a_bounded_number_of_queries(
    signed_in, seller_user, django_assert_max_num_queries
):
    claim = claim_of(seller_user, status=ClaimStatus.INFO_REQUESTED)
    factories.ClaimMessageFactory.create_batch(50, claim=claim)

    with django_assert_max_num_queries(25):
        assert signed_in.get(reverse("seller:claim", args=[claim.number])).status_code == 200


def test_the_language_switch_changes_the_page_language(signed_in):
    signed_in.post(reverse("set_language"), {"language": "en", "next": "/"})

    assert "Overview" in signed_in.get(reverse("seller:dashboard")).content.decode()


def test_signing_in_picks_the_sellers_language_until_the_user_chooses(client):
    user = factories.SellerUserFactory(seller__language="en")

    client.post(reverse("login"), {"username": user.email, "password": factories.PASSWORD})

    assert "Overview" in client.get(reverse("seller:dashboard")).content.decode()


# A control character in the query is a 400 (tests/test_bad_input_pages.py).
@pytest.mark.parametrize("query", ["?shipment=abc", "?page=zzz", "?status=nonsense&q=%27%22%FF"])
def test_odd_query_strings_are_not_server_errors(signed_in, query):
    for name in ("seller:claim_new", "seller:claims", "seller:shipments"):
        assert signed_in.get(reverse(name) + query).status_code == 200


def test_the_policy_page_offers_the_certificate_and_not_the_claims_documents(
    signed_in, seller_user, adjuster, django_capture_on_commit_callbacks
):
    version = factories.ProductVersionFactory()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(
            reverse("seller:enrol"),
            {"product": version.product.code, "starts_on": timezone.localdate(), "accept": "on"},
        )
    policy = Policy.objects.get(seller=seller_user.seller)
    claim = factories.ClaimFactory(shipment__policy=policy, status=ClaimStatus.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        claim_pay(claim_id=claim.pk, actor=Actor.for_user(adjuster))

    page = signed_in.get(reverse("seller:policies")).content.decode()

    certificate = policy.documents.get(kind=DocumentKind.POLICY_CERTIFICATE)
    act = claim.documents.get(kind=DocumentKind.SETTLEMENT_ACT)
    assert reverse("document-download", args=[certificate.pk]) in page
    assert reverse("document-download", args=[act.pk]) not in page
