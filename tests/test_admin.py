"""The admin serves the demo data to staff, and only to staff."""

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.admin import ReplyForm
from claims.models import Claim, MarketplaceCompensation
from claims.page_errors import show_domain_error
from policies.errors import DomainError, ErrorCode
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_rows():
    claim = factories.ClaimFactory()
    factories.ClaimTransitionFactory(claim=claim)
    factories.ClaimMessageFactory(claim=claim)
    factories.EvidenceFactory(claim=claim)
    factories.PayoutFactory(claim=factories.ClaimFactory(shipment__policy=claim.policy))
    factories.RecoveryFactory()
    factories.DiscrepancyFactory()
    factories.DocumentFactory(owner=claim)
    factories.ShipmentEventFactory(shipment=claim.shipment)
    factories.MarketplaceApiKeyFactory(marketplace=claim.marketplace)
    factories.PolicyTransitionFactory(policy=claim.policy)
    factories.WebhookAttemptFactory(delivery__claim=claim)
    return claim


ADMIN_MODELS = [
    "policies_user",
    "policies_marketplace",
    "policies_marketplaceapikey",
    "policies_seller",
    "policies_product",
    "policies_productversion",
    "policies_coverterms",
    "policies_policy",
    "policies_shipment",
    "claims_claim",
    "claims_marketplacecompensation",
    "claims_payout",
    "claims_recovery",
    "claims_reconciliationrun",
    "policies_document",
    "claims_webhookdelivery",
]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_superuser_sees_every_changelist(client, demo_rows, model):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse(f"admin:{model}_changelist"))

    assert response.status_code == 200


def test_adjuster_opens_a_claim_with_its_history(client, demo_rows, adjuster):
    client.force_login(adjuster)

    response = client.get(reverse("admin:claims_claim_change", args=[demo_rows.pk]))

    assert response.status_code == 200
    assert demo_rows.number in response.content.decode()


def test_claim_changelist_query_count_does_not_grow_with_rows(
    client, adjuster, django_assert_max_num_queries
):
    policy = factories.PolicyFactory()
    factories.ClaimFactory.create_batch(60, shipment__policy=policy)
    client.force_login(adjuster)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:claims_claim_changelist"))

    assert response.status_code == 200
    assert Claim.objects.count() == 60


def test_seller_user_cannot_enter_the_admin(client, demo_rows):
    client.force_login(factories.SellerUserFactory(seller=demo_rows.seller))

    response = client.get(reverse("admin:claims_claim_changelist"))

    assert response.status_code == 302


def test_a_version_held_by_a_policy_is_read_only_for_the_underwriter(client, demo_rows):
    underwriter = factories.StaffFactory(group="Underwriter")
    version = demo_rows.policy.product_version
    client.force_login(underwriter)

    response = client.post(
        reverse("admin:policies_productversion_change", args=[version.pk]),
        {"aggregate_limit": "1.00"},
    )

    version.refresh_from_db()
    assert response.status_code == 403
    assert version.aggregate_limit != 1


def _compensation_csv(shipment, *, encoding: str = "utf-8-sig") -> bytes:
    seller = shipment.seller.external_id
    return (
        "номер;продавец;отправление;причина;сумма;дата выплаты\n"
        f"c-1;{seller};{shipment.external_id};утрата;1 234,50;20.11.2026\n"
        f"c-2;{seller};{shipment.external_id};loss;много;20.11.2026\n"
    ).encode(encoding)


def _upload(client, shipment, content: bytes):
    """Upload `content` as the compensation CSV; return the page shown after."""
    response = client.post(
        reverse("admin:claims_marketplacecompensation_upload"),
        {
            "marketplace": shipment.marketplace.pk,
            "file": SimpleUploadedFile("export.csv", content, content_type="text/csv"),
        },
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    return response


def test_a_compensation_csv_uploaded_twice_is_imported_once_with_its_bad_lines_named(client):
    shipment = factories.ShipmentFactory()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    first = _upload(client, shipment, _compensation_csv(shipment))
    again = _upload(client, shipment, _compensation_csv(shipment))

    record = MarketplaceCompensation.objects.get()
    assert (record.external_id, record.reason, str(record.amount)) == ("c-1", "loss", "1234.50")
    assert record.shipment == shipment
    assert [str(m) for m in first.context["messages"]] == [
        "2 rows: 1 new, 0 already known, 1 rejected.",
        "Line 3: amount is not valid: 'много'",
    ]
    assert [str(m) for m in again.context["messages"]] == [
        "2 rows: 0 new, 1 already known, 1 rejected.",
        "Line 3: amount is not valid: 'много'",
    ]


def test_an_upload_that_is_not_utf8_is_refused_on_the_form_and_stores_nothing(client):
    shipment = factories.ShipmentFactory()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    response = _upload(client, shipment, _compensation_csv(shipment, encoding="cp1251"))

    assert "UTF-8" in str(response.context["form"].errors["file"])
    assert not MarketplaceCompensation.objects.exists()


def test_an_upload_a_rule_refuses_shows_the_rules_message_as_an_error_message(client):
    shipment = factories.ShipmentFactory()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    response = _upload(client, shipment, "номер;сумма\nc-1;10\n".encode())

    message = (
        "The file has no column for: seller, shipment, reason, paid_on. "
        "Expected headers such as seller, shipment, reason, paid_on."
    )
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [("error", message)]
    assert response.context["form"].errors["file"] == [message]


def test_a_domain_error_puts_its_message_on_the_page_and_its_field_messages_on_the_form(rf):
    request = rf.post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    form = ReplyForm({"body": "Hello"})
    form.is_valid()
    refusal = DomainError(
        ErrorCode.VALIDATION_ERROR,
        "Check the reply.",
        fields={"body": ["Too short."], "elsewhere": ["Not on this form."]},
    )

    show_domain_error(request, refusal, form=form)

    assert [(m.level_tag, m.message) for m in request._messages] == [("error", "Check the reply.")]
    assert form.errors == {"body": ["Too short."], "__all__": ["Not on this form."]}
