"""Filing a claim on the seller's page: the amount typed as people type money, in both
languages, and a check that names every limit and flag that applies before filing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.models import Claim
from policies.choices import Peril
from policies.errors import ErrorCode
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
NBSP = "\u00a0"


@pytest.fixture(params=["ru", "en"])
def language(request, client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = request.param
    return request.param


def claim_post(shipment, *, amount="12 000,00", peril=Peril.DAMAGE, days_ago=2, **extra):
    return {
        "shipment": shipment.external_id,
        "peril": peril,
        "event_date": (timezone.localdate() - dt.timedelta(days=days_ago)).isoformat(),
        "claimed_amount": amount,
        "description": "Коробка смята",
        **extra,
    }


def check(client, shipment, **fields):
    response = client.post(reverse("seller:claim_new"), claim_post(shipment, check="1", **fields))
    assert response.status_code == 200
    return response


def money(amount: str) -> str:
    """Return an amount as the Russian page prints it: `24 500,00 ₽`."""
    return amount.replace(" ", NBSP) + NBSP + "₽"


# The amount as people type it


@pytest.mark.parametrize(
    "typed", ["12 500,00", "12 500", "12\u00a0500,00", "12\u202f500", "12500,00"]
)
def test_a_claim_typed_the_apps_way_is_filed_for_its_amount(
    signed_in, shipment, language, typed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("seller:claim_new"), claim_post(shipment, amount=typed, submit="1")
        )

    assert response.status_code == 302
    claim = Claim.objects.get()
    assert claim.claimed_amount == D("12500.00")
    assert str(claim.claimed_amount) == "12500.00"


@pytest.mark.parametrize("typed", ["12 500,00", "12 500"])
def test_checking_a_claim_typed_the_apps_way_shows_the_preview(
    signed_in, shipment, typed, language
):
    response = check(signed_in, shipment, amount=typed)

    assert response.context["form"].errors == {}
    assert response.context["preview"].calculation.loss == D("12500.00")


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("12.500,00", ErrorCode.AMOUNT_SEPARATORS, {"ru": "одной запятой", "en": "single comma"}),
        ("12 50", ErrorCode.AMOUNT_GROUPING, {"ru": "по три", "en": "in threes"}),
        ("1e4", ErrorCode.INVALID_AMOUNT, {"ru": "цифрами", "en": "in digits"}),
        ("12 500,0055", ErrorCode.AMOUNT_DECIMAL_PLACES, {"ru": "2 цифр", "en": "2 digits"}),
        ("-500", ErrorCode.NEGATIVE_AMOUNT, {"ru": "отрицательной", "en": "negative"}),
    ],
)
def test_a_malformed_amount_is_refused_on_the_field_with_its_reason(
    signed_in, shipment, language, typed, code, message
):
    response = check(signed_in, shipment, amount=typed)

    form = response.context["form"]
    assert [error.code for error in form.errors.as_data()["claimed_amount"]] == [code]
    assert message[language] in form.errors["claimed_amount"][0]
    assert message[language] in response.content.decode()
    assert response.context["preview"] is None
    assert not Claim.objects.exists()


def test_the_amount_field_is_typed_as_text_with_a_decimal_keypad(signed_in):
    page = signed_in.get(reverse("seller:claim_new")).content.decode()

    assert 'name="claimed_amount"' in page
    assert 'inputmode="decimal"' in page
    assert 'type="number"' not in page


def test_the_premium_estimate_reads_a_grouped_average_value(signed_in):
    factories.ProductVersionFactory()

    response = signed_in.get(
        reverse("seller:enrol"), {"shipments": "1000", "average_value": "2 500,00"}
    )

    assert response.context["estimate_form"].cleaned_data["average_value"] == D("2500.00")
    assert response.context["offers"][0]["total"] == D("35700.00")


# The check before filing


@pytest.fixture
def big_item(seller_user):
    """The issue's example: an item declared at 38 143 ₽."""
    return factories.ShipmentFactory(
        policy__seller=seller_user.seller, declared_value=D("38143.00")
    )


def test_the_check_of_a_claim_above_the_limit_and_the_items_value_names_both(signed_in, big_item):
    response = check(signed_in, big_item, amount="75 000,00")

    page = response.content.decode()
    preview = response.context["preview"]
    assert preview.calculation.payable == D("50000.00")
    assert "Лимит на случай (не более " + money("50 000,00") + ")" in page
    assert "−" + money("24 500,00") in page
    assert (
        "Лимит на случай "
        + money("50 000,00")
        + ": сверх него "
        + money("24 500,00")
        + " не выплачивается."
        in page
    )
    assert "Заявленная сумма выше ценности товара или тарифа" in page
    assert (
        "заявлено " + money("75 000,00") + ", а объявленная ценность товара — " + money("38 143,00")
        in page
    )
    assert "Франшиза: " + money("500,00") in page
    assert 'class="preview attention"' in page


def test_the_check_in_english_names_the_limit_and_the_items_value(signed_in, big_item, client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = check(signed_in, big_item, amount="75,000.00").content.decode()

    assert f"Limit per claim of 50,000.00{NBSP}₽: 24,500.00{NBSP}₽ above it is not paid." in page
    assert "Claimed amount above the item&#x27;s value or fee" in page
    assert f"75,000.00{NBSP}₽ claimed, the item is declared at 38,143.00{NBSP}₽." in page


def test_the_check_shows_what_the_aggregate_limit_keeps(signed_in, shipment):
    page = check(signed_in, shipment, amount="12 000").content.decode()

    assert "Агрегатный лимит после этого заявления" in page
    assert money("988 500,00") in page
    assert "из " + money("1 000 000,00") in page


def test_the_check_names_the_aggregate_limit_when_it_cuts(signed_in, shipment):
    factories.PayoutFactory(claim__shipment__policy=shipment.policy, amount=D("995000.00"))

    response = check(signed_in, shipment, amount="12 000")

    assert response.context["preview"].calculation.payable == D("5000.00")
    page = response.content.decode()
    assert (
        "Агрегатный лимит: по полису осталось "
        + money("5 000,00")
        + ", поэтому "
        + money("6 500,00")
        + " не выплачивается."
        in page
    )
    assert "Агрегатный лимит (не более " + money("5 000,00") + ")" in page


def test_the_check_names_the_limit_per_event_when_it_cuts(signed_in, shipment):
    event_date = timezone.localdate() - dt.timedelta(days=2)
    sibling = factories.ShipmentFactory(policy=shipment.policy, order_id=shipment.order_id)
    factories.PayoutFactory(
        claim__shipment=sibling, claim__event_date=event_date, amount=D("95000.00")
    )

    response = check(signed_in, shipment, amount="12 000")

    assert response.context["preview"].calculation.payable == D("5000.00")
    assert (
        "Лимит на событие: для этого события осталось "
        + money("5 000,00")
        + ", поэтому "
        + money("6 500,00")
        + " не выплачивается."
        in response.content.decode()
    )


def test_the_check_names_the_compensation_taken_off(signed_in, shipment):
    factories.CompensationFactory(shipment=shipment, amount=D("4000.00"))

    response = check(signed_in, shipment, amount="12 000")

    assert response.context["preview"].calculation.payable == D("7500.00")
    assert "Компенсация маркетплейса " + money("4 000,00") in response.content.decode()


def test_the_check_names_a_late_notice_with_the_window(signed_in, seller_user):
    shipment = factories.ShipmentFactory(
        policy__seller=seller_user.seller, shipped_at=timezone.now() - dt.timedelta(days=60)
    )

    page = check(signed_in, shipment, days_ago=40).content.decode()

    assert "Сообщено после окончания срока уведомления: " in page
    assert "30 дней" in page


def test_the_check_names_an_excluded_category(signed_in, seller_user):
    shipment = factories.ShipmentFactory(
        policy__seller=seller_user.seller, category="Ювелирные изделия"
    )

    page = check(signed_in, shipment).content.decode()

    assert "Категория исключена продуктом: Ювелирные изделия" in page


def test_the_check_names_a_value_above_the_products_maximum(signed_in, seller_user):
    shipment = factories.ShipmentFactory(
        policy__seller=seller_user.seller, declared_value=D("250000.00")
    )

    page = check(signed_in, shipment).content.decode()

    assert "Объявленная ценность выше максимума продукта" in page
    assert money("200 000,00") in page


def test_the_check_of_a_loss_says_it_waits_for_the_marketplaces_compensation(signed_in, shipment):
    response = check(signed_in, shipment, peril=Peril.LOSS)

    assert response.context["preview"].next_status == ClaimStatus.AWAITING_COMPENSATION
    page = response.content.decode()
    assert "Утрата заявлена до окончания срока ожидания компенсации маркетплейса: " in page
    assert "14 дней" in page
    assert "ждёт компенсации маркетплейса" in page


@pytest.fixture
def verified(seller_user):
    """A damaged item the marketplace reported, past the marketplace's compensation wait."""
    shipment = factories.ShipmentFactory(
        policy__seller=seller_user.seller, shipped_at=timezone.now() - dt.timedelta(days=30)
    )
    factories.ShipmentEventFactory(shipment=shipment, kind="damaged")
    return shipment


def test_a_clean_verified_claim_under_the_threshold_is_said_to_be_paid_automatically(
    signed_in, verified
):
    response = check(signed_in, verified, amount="8 000", days_ago=15)

    preview = response.context["preview"]
    assert (preview.flags, preview.limit_cuts, preview.amount_needs_review) == ([], (), False)
    page = response.content.decode()
    assert 'class="preview"' in page
    assert "одобряется и выплачивается автоматически" in page


def test_the_check_says_an_adjuster_looks_at_a_payable_above_the_threshold(signed_in, verified):
    response = check(signed_in, verified, amount="12 000", days_ago=15)

    assert response.context["preview"].next_status == ClaimStatus.UNDER_REVIEW
    page = response.content.decode()
    assert "К выплате больше " + money("10 000,00") in page
    assert "урегулировщик" in page


def test_the_check_names_an_unverified_event(signed_in, shipment):
    page = check(signed_in, shipment).content.decode()

    assert "Маркетплейс не сообщал об этом событии" in page
