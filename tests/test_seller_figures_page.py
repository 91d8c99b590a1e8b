"""The seller's figures page and its CSV, in Russian and English: months named as the reader
names them, money as `1 500,00 ₽`, charts drawn as SVG with their names and legend, and only
the seller's own claims."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from claims.choices import ClaimStatus
from claims.pages.figures import money_chart
from claims.selectors import MonthFigures, month_start
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
RU_MONTHS = "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь"
EN_MONTHS = "January February March April May June July August September October November December"
HEADERS = {
    "ru": [
        "Месяц",
        "Заявления",
        "Убыток, ₽",
        "Маркетплейс выплатил, ₽",
        "Страховщик выплатил, ₽",
        "Страховщик ещё выплатит, ₽",
        "На вас, ₽",
        "Осталось вернуть, ₽",
    ],
    "en": [
        "Month",
        "Claims",
        "Loss, ₽",
        "Marketplace paid, ₽",
        "Insurer paid, ₽",
        "Insurer still to pay, ₽",
        "You bore, ₽",
        "Still owed back, ₽",
    ],
}


def _in(client, language: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _paid_claim(seller, *, claimed: str, paid: str, days_ago: int = 3):
    claim = factories.ClaimFactory(
        shipment__policy__seller=seller,
        status=ClaimStatus.PAID,
        claimed_amount=D(claimed),
        payable_amount=D(paid),
        event_date=timezone.localdate() - dt.timedelta(days=days_ago),
    )
    factories.PayoutFactory(claim=claim, amount=D(paid))
    return claim


def _this_month(language: str) -> str:
    today = timezone.localdate()
    names = (RU_MONTHS if language == "ru" else EN_MONTHS).split()
    return f"{names[today.month - 1]} {today.year}"


@pytest.mark.parametrize(
    ("language", "amount"), [("ru", "1\xa0500,00\xa0₽"), ("en", "1,500.00\xa0₽")]
)
def test_the_figures_page_shows_the_months_money_in_the_readers_language(
    signed_in, seller_user, language, amount
):
    _paid_claim(seller_user.seller, claimed="1500.00", paid="1500.00", days_ago=0)

    page = _in(signed_in, language).get(reverse("seller:figures")).content.decode()

    assert _this_month(language) in page
    assert amount in page
    assert page.count('<svg class="bars"') == 2
    assert page.count("<title id=") == 2
    assert 'class="legend"' in page
    # The CSP allows no inline script or style: the charts are styled by classes alone.
    assert "style=" not in page
    assert "<script>" not in page


def test_the_figures_page_shows_each_policys_aggregate_limit_used(signed_in, seller_user):
    claim = _paid_claim(seller_user.seller, claimed="12000.00", paid="11500.00")
    aggregate = claim.policy.product_version.aggregate_limit

    page = _in(signed_in, "ru").get(reverse("seller:figures")).content.decode()

    assert claim.policy.number in page
    assert "11\xa0500,00\xa0₽ из 1\xa0000\xa0000,00\xa0₽ использовано" in page
    assert aggregate == D("1000000.00")
    assert 'class="used" x="0" y="0" width="1.15%"' in page


def test_a_seller_sees_only_its_own_figures_on_the_page_and_in_the_csv(signed_in, seller_user):
    _paid_claim(seller_user.seller, claimed="1500.00", paid="1500.00")
    other = factories.SellerFactory()
    stranger = _paid_claim(other, claimed="98765.00", paid="43210.00")

    page = _in(signed_in, "en").get(reverse("seller:figures")).content.decode()
    body = signed_in.get(reverse("seller:figures_csv")).content.decode("utf-8-sig")

    for text in ("98,765.00", "43,210.00", stranger.policy.number):
        assert text not in page
    assert "98765" not in body
    assert "43210" not in body
    assert "1500.00" in body


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_csv_has_a_bom_a_header_in_the_readers_language_and_decimal_points(
    signed_in, seller_user, language
):
    _paid_claim(seller_user.seller, claimed="12500.00", paid="12000.00", days_ago=0)

    response = _in(signed_in, language).get(reverse("seller:figures_csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADERS[language]
    assert len(rows) == 1 + 12 + 1
    this_month = month_start(timezone.localdate()).strftime("%Y-%m")
    assert rows[-2] == [this_month, "1", "12500.00", "0.00", "12000.00", "0.00", "500.00", "0.00"]
    assert rows[-1][0] == ("Итого" if language == "ru" else "Total")
    assert rows[-1][1:3] == ["1", "12500.00"]


def test_the_figures_page_says_so_when_there_are_no_claims(signed_in, seller_user):
    page = _in(signed_in, "en").get(reverse("seller:figures")).content.decode()

    assert "No claims in these months." in page
    assert '<svg class="bars"' not in page


def test_the_figures_page_is_for_signed_in_sellers_only(client):
    response = client.get(reverse("seller:figures"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_busiest_month_fills_its_bar_and_each_part_is_its_share():
    quiet = MonthFigures(month=dt.date(2026, 2, 1))
    busy = MonthFigures(
        month=dt.date(2026, 3, 1),
        claims=2,
        loss=D("10000.00"),
        marketplace_paid=D("2500.00"),
        insurer_paid=D("5000.00"),
        seller_bore=D("2500.00"),
    )
    half = MonthFigures(month=dt.date(2026, 4, 1), claims=1, loss=D("5000.00"), to_pay=D("5000"))

    with translation.override("ru"):
        chart = money_chart([quiet, busy, half])

    empty, full, second = chart.rows
    assert (empty.label, empty.figure, empty.segments) == ("февраль 2026", "нет заявлений", ())
    assert [(s.key, s.x, s.width) for s in full.segments] == [
        ("marketplace_paid", 0.0, 25.0),
        ("insurer_paid", 25.0, 50.0),
        ("seller_bore", 75.0, 25.0),
    ]
    assert full.segments[1].title == "Страховщик выплатил: 5\xa0000,00\xa0₽"
    assert [(s.key, s.width) for s in second.segments] == [("to_pay", 50.0)]
    assert second.bar_y == full.bar_y + chart.height // 3
