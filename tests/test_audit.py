"""Staff changes to money, claims, products, terms, keys and marketplaces are recorded (who,
when, before, after) and shown on the object's History page in the admin."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimSource, ClaimStatus
from claims.filing import ClaimSpec, claims_file_many
from claims.models import Claim
from policies.actors import Actor
from policies.choices import Cover, Peril
from policies.models import CoverTerms, Marketplace, Product
from tests import factories

pytestmark = pytest.mark.django_db


def change_form_data(response, **changes) -> dict:
    """Return what the admin change form in `response` posts back, with `changes` made."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.initial_forms]
    data = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None:
                data[form.add_prefix(name)] = value
    return data | changes


def post_change(client, model_admin_name: str, obj, **changes):
    url = reverse(f"admin:{model_admin_name}_change", args=[obj.pk])
    response = client.post(url, change_form_data(client.get(url), **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def history_table(client, model_admin_name: str, obj) -> str:
    """Return the table of changes on the object's History page (the header names the user)."""
    response = client.get(reverse(f"admin:{model_admin_name}_history", args=[obj.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    return page[page.index('id="change-history"') : page.index("</table>")]


def latest_change(obj):
    """Return the newest history row of `obj` and the fields it changed, old and new."""
    new, old = obj.history.order_by("-history_date", "-history_id")[:2]
    return new, {change.field: (change.old, change.new) for change in new.diff_against(old).changes}


def test_staff_renaming_a_product_is_recorded_with_who_when_and_both_names(client):
    underwriter = factories.StaffFactory(group="Underwriter")
    product = factories.PolicyFactory().product_version.product
    old_name = product.name
    client.force_login(underwriter)
    before = timezone.now()

    post_change(client, "policies_product", product, name="Страхование возвратов 2027")

    record, changes = latest_change(Product.objects.get(pk=product.pk))
    assert record.history_user == underwriter
    assert record.history_date >= before
    assert changes == {"name": (old_name, "Страхование возвратов 2027")}
    page = history_table(client, "policies_product", product)
    assert underwriter.email in page
    assert old_name in page
    assert "Страхование возвратов 2027" in page


def test_staff_change_of_a_marketplace_is_recorded_and_shown(client):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    marketplace = factories.MarketplaceFactory(webhook_url="https://old.example.com/hook")
    client.force_login(superuser)

    post_change(
        client, "policies_marketplace", marketplace, webhook_url="https://new.example.com/hook"
    )

    record, changes = latest_change(Marketplace.objects.get(pk=marketplace.pk))
    assert record.history_user == superuser
    assert changes["webhook_url"] == (
        "https://old.example.com/hook",
        "https://new.example.com/hook",
    )
    page = history_table(client, "policies_marketplace", marketplace)
    assert "https://old.example.com/hook" in page
    assert "https://new.example.com/hook" in page


@pytest.mark.parametrize(
    ("language", "words"), [("ru", ["Кто", "Было → стало"]), ("en", ["Who", "Before → after"])]
)
def test_the_history_page_speaks_the_users_language(client, language, words):
    product = factories.ProductFactory()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    table = history_table(client, "policies_product", product)

    assert all(word in table for word in words)


def test_the_history_keeps_no_webhook_signing_secret():
    # Every old value shows on the History page: a secret there is a secret for all staff.
    stored = [f.name for f in Marketplace.history.model._meta.fields if "secret" in f.name]

    assert stored == []


def test_an_underwriters_change_of_cover_terms_is_in_the_covers_history(client):
    underwriter = factories.StaffFactory(group="Underwriter")
    version = factories.ProductVersionFactory(covers=[Cover.CARGO])
    cover = version.covers.get()
    client.force_login(underwriter)

    post_change(client, "policies_productversion", version, **{"covers-0-premium_rate": "0.02000"})

    record, changes = latest_change(CoverTerms.objects.get(pk=cover.pk))
    assert record.history_user == underwriter
    assert changes == {"premium_rate": (Decimal("0.01400"), Decimal("0.02000"))}
    assert "0.01400 → 0.02000" in history_table(client, "policies_coverterms", cover)


def test_an_adjusters_assessment_in_the_admin_is_in_the_claims_history(client, adjuster):
    claim = factories.ClaimFactory(status=ClaimStatus.UNDER_REVIEW, assignee=adjuster)
    client.force_login(adjuster)

    response = client.post(
        reverse("admin:claims_claim_act", args=[claim.pk, "assess"]),
        {"assess-assessed_amount": "9000.00"},
    )

    assert response.status_code == 302
    record, changes = latest_change(Claim.objects.get(pk=claim.pk))
    assert record.history_user == adjuster
    assert changes["assessed_amount"] == (None, Decimal("9000.00"))
    page = history_table(client, "claims_claim", claim)
    assert adjuster.email in page
    assert "9000" in page


def test_a_staff_change_of_a_seller_is_recorded_with_before_and_after(client):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    seller = factories.SellerFactory(email="old@example.com")
    client.force_login(superuser)

    post_change(client, "policies_seller", seller, email="new@example.com")

    record, changes = latest_change(seller)
    assert record.history_user == superuser
    assert changes == {"email": ("old@example.com", "new@example.com")}


def test_reverting_from_the_history_page_is_refused(client):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    product = factories.ProductFactory(name="Первое имя")
    first = product.history.get()
    product.name = "Второе имя"
    product.save()
    client.force_login(superuser)
    url = reverse("admin:policies_product_simple_history", args=[product.pk, first.pk])

    shown = client.get(url)
    response = client.post(url, {"code": product.code, "name": "Первое имя"})

    product.refresh_from_db()
    assert shown.status_code == 200
    assert response.status_code == 403
    assert product.name == "Второе имя"


def test_claims_filed_in_bulk_leave_no_history_rows():
    # Filing writes claims by the thousand with bulk_create; the history records staff edits.
    shipments = factories.ShipmentFactory.create_batch(3)
    specs = [
        ClaimSpec(
            seller=shipment.seller,
            shipment=shipment,
            peril=Peril.DAMAGE,
            claimed_amount=Decimal("1000.00"),
            event_date=timezone.localdate(),
            source=ClaimSource.MARKETPLACE,
        )
        for shipment in shipments
    ]

    filed = claims_file_many(actor=Actor.system(), specs=specs)

    assert all(isinstance(claim, Claim) for claim in filed)
    assert Claim.objects.count() == 3
    assert Claim.history.count() == 0
