"""Bad input on the seller pages and in the admin: refused on the form or as a 404/400,
never a 500 (PostgreSQL cannot compare a NUL), by the rules the API holds to."""

import datetime as dt

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from claims.admin.workbench import AssessForm, PayForm
from claims.csv_import import parse_amount, parse_date
from claims.pages.forms import ClaimForm
from policies.models import Product, ProductVersion
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    ["/claims/%00/", "/claims/%00/evidence/1/", "/claims/CL%1B[31m/", "/shipments/%00/"],
)
def test_a_control_character_in_a_page_path_is_a_404(signed_in, seller_user, path):
    factories.ClaimFactory(shipment__policy__seller=seller_user.seller)

    assert signed_in.get(path).status_code == 404


def test_a_control_character_in_a_posted_page_path_is_a_404(signed_in):
    assert signed_in.post("/claims/%00/withdraw/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [{"status__exact": "\x00"}, {"status__exact": "\x1b"}, {"q": "CL\x00"}],
)
def test_a_control_character_in_an_admin_filter_is_a_400(superuser_client, query):
    factories.ClaimFactory()

    response = superuser_client.get(reverse("admin:claims_claim_changelist"), query)

    assert response.status_code == 400


def test_a_control_character_in_a_page_search_is_a_400(signed_in):
    assert signed_in.get(reverse("seller:claims"), {"q": "\x00"}).status_code == 400


def claim_form(**fields) -> ClaimForm:
    data = {
        "shipment": "srid-00000001",
        "peril": "damage",
        "event_date": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "claimed_amount": "1500,00",
        "description": "Коробка вскрыта.\r\nТовар разбит.",
        **fields,
    }
    return ClaimForm(data=data)


def test_a_plain_claim_form_is_valid():
    assert claim_form().is_valid(), claim_form().errors


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("shipment", "srid-\u202e1"),
        ("shipment", "srid-\u200b1"),
        ("description", "Коробка\u202eвскрыта"),
        ("event_date", "0001-01-01"),
        ("event_date", "1999-12-31"),
        ("event_date", "٢٠٢٦-١١-٢٠"),
        ("claimed_amount", "１５００"),
        ("claimed_amount", "١٥٠٠"),
    ],
)
def test_the_claim_form_holds_its_fields_to_the_shared_rules(name, value):
    form = claim_form(**{name: value})

    assert not form.is_valid()
    assert list(form.errors) == [name]


def test_the_claim_form_bounds_the_description():
    assert list(claim_form(description="Ж" * 2001).errors) == ["description"]


def test_the_adjusters_forms_hold_amounts_and_dates_to_the_shared_rules():
    assert list(PayForm(data={"paid_on": "9999-12-31"}).errors) == ["paid_on"]
    assert list(AssessForm(data={"assessed_amount": "١٠٠"}).errors) == ["assessed_amount"]
    zero = AssessForm(data={"assessed_amount": "-0.00"})
    assert zero.is_valid() and str(zero.cleaned_data["assessed_amount"]) == "0.00"


def admin_form(model, data: dict):
    request = RequestFactory().get("/")
    request.user = factories.UserFactory(is_staff=True, is_superuser=True)
    form_class = admin.site._registry[model].get_form(request)
    return form_class(data=data)


def test_the_admins_model_forms_hold_names_and_dates_to_the_shared_rules():
    product = admin_form(Product, {"code": "standard", "name": "Стандарт\u202e", "is_active": "on"})
    version = admin_form(
        ProductVersion,
        {
            "product": factories.ProductFactory().pk,
            "version": "2",
            "effective_from": "9999-12-31",
            "policy_period_months": "12",
            "aggregate_limit": "１０００",
            "notification_window_days": "30",
            "cargo_compensation_wait_days": "14",
            "auto_approve_threshold": "0",
            "excluded_categories": "[]",
        },
    )

    assert list(product.errors) == ["name"]
    assert set(version.errors) == {"effective_from", "aggregate_limit"}


@pytest.mark.parametrize(
    ("parse", "raw"),
    [(parse_amount, "١٠٠,٠٠"), (parse_date, "01.01.0001"), (parse_date, "٢٠٢٦-١١-٢٠")],
)
def test_a_compensation_csv_cell_is_held_to_the_shared_rules(parse, raw):
    with pytest.raises(ValidationError):
        parse(raw)


def test_a_compensation_csv_amount_of_minus_zero_is_zero():
    assert str(parse_amount("-0,00")) == "0.00"
