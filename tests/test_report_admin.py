"""Reports in the admin: staff upload a report for any seller and read what its rows came to;
compensation that names no item is listed for an adjuster and linked to a claim by hand,
which recomputes the claim."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.choices import ClaimStatus, CompensationReason, ReportSource
from claims.compensation import compensation_link
from claims.errors import PermissionDeniedError
from claims.models import Claim, MarketplaceCompensation, ReportImport, ReportImportStatus
from policies.errors import DomainError, ErrorCode, PolicyErrorCode
from tests import factories
from tests.claims.reports import json_bytes
from tests.test_report_pages import INSURED_SRID, UNKNOWN_SRID, wb_week

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def insured():
    return factories.ShipmentFactory(external_id=INSURED_SRID)


def admin_upload(client, capture, seller, content: bytes, name="week.json"):
    with capture(execute=True):
        return client.post(
            reverse("admin:claims_reportimport_upload"),
            {"seller": seller.pk, "file": SimpleUploadedFile(name, content)},
            HTTP_ACCEPT_LANGUAGE="en",
        )


# Upload for a seller


def test_staff_upload_a_report_for_a_seller(
    client, adjuster, insured, django_capture_on_commit_callbacks
):
    client.force_login(adjuster)
    seller = insured.seller

    response = admin_upload(
        client, django_capture_on_commit_callbacks, seller, json_bytes(wb_week())
    )

    imported = ReportImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:claims_reportimport_change", args=[imported.pk])
    assert (imported.seller, imported.marketplace) == (seller, seller.marketplace)
    assert (imported.source, imported.created_by) == (ReportSource.ADMIN, adjuster)
    assert imported.status == ReportImportStatus.DONE
    assert Claim.objects.get().shipment == insured

    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Claim opened: 1" in html and "Compensation recorded: 1" in html
    rows_url = reverse("admin:claims_reportline_changelist") + f"?report__id__exact={imported.pk}"
    assert rows_url.replace("&", "&amp;") in html or rows_url in html


def test_the_upload_form_offers_every_seller_and_refuses_a_file_that_is_no_report(
    client, adjuster, django_capture_on_commit_callbacks
):
    client.force_login(adjuster)
    seller = factories.SellerFactory()

    form = client.get(reverse("admin:claims_reportimport_upload"), HTTP_ACCEPT_LANGUAGE="en")
    refused = admin_upload(client, django_capture_on_commit_callbacks, seller, b"<html></html>")

    assert form.status_code == 200
    assert "admin-autocomplete" in form.content.decode()
    assert refused.status_code == 200
    assert "Expected one of" in refused.context["form"].errors["file"][0]
    assert not ReportImport.objects.exists()


def test_staff_without_the_right_cannot_upload(client):
    client.force_login(factories.StaffFactory(group="Underwriter"))

    assert client.get(reverse("admin:claims_reportimport_upload")).status_code == 403


def test_the_import_list_filters_and_searches_by_seller_and_file(
    client, adjuster, insured, django_capture_on_commit_callbacks
):
    client.force_login(adjuster)
    admin_upload(
        client, django_capture_on_commit_callbacks, insured.seller, json_bytes(wb_week()), "w1.json"
    )
    other = factories.SellerFactory(legal_name="ООО «Другой»")
    admin_upload(
        client, django_capture_on_commit_callbacks, other, json_bytes(wb_week()), "w2.json"
    )
    url = reverse("admin:claims_reportimport_changelist")

    def shown(**params):
        response = client.get(url, params, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        return sorted(i.filename for i in response.context["cl"].result_list)

    assert shown() == ["w1.json", "w2.json"]
    assert shown(q="Другой") == ["w2.json"]
    assert shown(q="w1.json") == ["w1.json"]
    assert shown(status__exact="done", source__exact="admin") == ["w1.json", "w2.json"]
    assert shown(status__exact="failed") == []
    assert 'href="/admin/claims/reportimport/upload/"' in client.get(url).content.decode()


def test_the_rows_of_one_import_list_with_their_labels(
    client, adjuster, insured, django_capture_on_commit_callbacks
):
    client.force_login(adjuster)
    admin_upload(client, django_capture_on_commit_callbacks, insured.seller, json_bytes(wb_week()))
    admin_upload(client, django_capture_on_commit_callbacks, insured.seller, json_bytes(wb_week()))
    second = ReportImport.objects.order_by("pk").last()

    response = client.get(
        reverse("admin:claims_reportline_changelist"),
        {"report__id__exact": second.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    lines = list(response.context["cl"].result_list)
    assert response.status_code == 200
    assert {line.report_id for line in lines} == {second.pk}
    # The same rows again count no more.
    assert {line.outcome for line in lines} == {"duplicate"}
    html = response.content.decode()
    assert "Return logistics from the buyer" in html
    assert "Already counted" in html


@pytest.mark.parametrize("model", ["claims_reportimport", "claims_reportline"])
def test_superuser_sees_the_report_changelists(
    client, model, insured, django_capture_on_commit_callbacks
):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    admin_upload(client, django_capture_on_commit_callbacks, insured.seller, json_bytes(wb_week()))
    imported = ReportImport.objects.get()
    line = imported.lines.first()

    assert client.get(reverse(f"admin:{model}_changelist")).status_code == 200
    obj = imported if model == "claims_reportimport" else line
    assert client.get(reverse(f"admin:{model}_change", args=[obj.pk])).status_code == 200


# Compensation that names no item


def unlinked_for(seller, **kwargs) -> MarketplaceCompensation:
    """An Ozon accrual: paid to the seller, naming no item."""
    return factories.CompensationFactory(
        shipment=None,
        seller=seller,
        marketplace=seller.marketplace,
        shipment_external_id="",
        reason=CompensationReason.OTHER,
        **kwargs,
    )


def test_the_unlinked_filter_lists_compensation_that_names_no_item_and_no_claim(client, adjuster):
    client.force_login(adjuster)
    claim = factories.ClaimFactory()
    unlinked = unlinked_for(claim.seller, external_id="ozon-accrual-1")
    factories.CompensationFactory(shipment=claim.shipment, claim=claim, external_id="counted")
    factories.CompensationFactory(external_id="item-known")

    response = client.get(
        reverse("admin:claims_marketplacecompensation_changelist"),
        {"link": "unlinked"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert [c.external_id for c in response.context["cl"].result_list] == [unlinked.external_id]
    html = response.content.decode()
    assert "Unlinked, for an adjuster" in html
    assert reverse("admin:claims_marketplacecompensation_link", args=[unlinked.pk]) in html


def test_linking_a_compensation_to_a_claim_recomputes_the_claim(client, adjuster):
    client.force_login(adjuster)
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, claimed_amount=D("12000.00"))
    compensation = unlinked_for(claim.seller, amount=D("4000.00"))
    url = reverse("admin:claims_marketplacecompensation_link", args=[compensation.pk])

    form = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        url, {"claim_number": f" {claim.number} "}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )

    assert claim.number in form.content.decode()  # offered among the seller's claims
    assert response.redirect_chain[-1][0] == reverse("admin:claims_claim_change", args=[claim.pk])
    compensation.refresh_from_db()
    claim.refresh_from_db()
    assert (compensation.claim, compensation.shipment) == (claim, claim.shipment)
    assert compensation.matched_at is not None
    assert claim.compensation_amount == D("4000.00")
    # 12 000 claimed, less 4 000 compensation and the 500 deductible.
    assert claim.payable_amount == D("7500.00")
    assert any("counted on claim" in str(m) for m in response.context["messages"])


def test_linking_to_another_sellers_claim_is_refused_on_the_form(client, adjuster):
    client.force_login(adjuster)
    compensation = unlinked_for(factories.SellerFactory())
    theirs = factories.ClaimFactory()

    response = client.post(
        reverse("admin:claims_marketplacecompensation_link", args=[compensation.pk]),
        {"claim_number": theirs.number},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert response.context["form"].errors["claim_number"] == [
        "The claim belongs to another seller."
    ]
    compensation.refresh_from_db()
    theirs.refresh_from_db()
    assert compensation.claim is None
    assert theirs.compensation_amount == D("0")


def test_the_link_service_refuses_what_it_must(adjuster):
    claim = factories.ClaimFactory()
    seller_user = factories.SellerUserFactory(seller=claim.seller)
    compensation = unlinked_for(claim.seller)
    named = factories.CompensationFactory(
        seller=claim.seller,
        marketplace=claim.marketplace,
        shipment=None,
        shipment_external_id="srid-of-another-item",
    )

    def refusal(**kwargs):
        with pytest.raises(DomainError) as caught:
            compensation_link(**{"compensation_id": compensation.pk, "user": adjuster, **kwargs})
        return caught.value

    assert isinstance(refusal(claim_number=claim.number, user=seller_user), PermissionDeniedError)
    assert refusal(claim_number="CL-NONE").code == ErrorCode.NOT_FOUND
    other = factories.ClaimFactory()
    assert refusal(claim_number=other.number).code == PolicyErrorCode.SELLER_MISMATCH
    assert refusal(claim_number=claim.number, compensation_id=named.pk).code == (
        ErrorCode.VALIDATION_ERROR
    )
    compensation_link(compensation_id=compensation.pk, claim_number=claim.number, user=adjuster)
    assert refusal(claim_number=claim.number).code == ErrorCode.CONFLICT
    assert MarketplaceCompensation.objects.get(pk=named.pk).claim is None


def test_a_report_compensation_for_an_item_not_known_is_unlinked_too(
    client, adjuster, insured, django_capture_on_commit_callbacks
):
    client.force_login(adjuster)
    admin_upload(client, django_capture_on_commit_callbacks, insured.seller, json_bytes(wb_week()))
    record = MarketplaceCompensation.objects.get()
    assert (record.shipment_external_id, record.shipment, record.claim) == (
        UNKNOWN_SRID,
        None,
        None,
    )

    response = client.get(
        reverse("admin:claims_marketplacecompensation_changelist"), {"link": "unlinked"}
    )

    # Until reconciliation finds its item, or an adjuster links it to that item's claim.
    assert [c.pk for c in response.context["cl"].result_list] == [record.pk]
