"""Policies, products, sellers and shipments: the policy side of the domain."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from policies import services
from policies.actors import Actor
from policies.calendar import add_working_days, is_working_day, working_days_between
from policies.choices import PolicyStatus
from policies.errors import ConflictError, DomainError
from policies.ingest import shipment_events_record_bulk
from policies.models import Policy, PolicyTransition, ProductVersion
from policies.validators import is_valid_inn
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def product():
    version = factories.ProductVersionFactory(product__code="standard")
    return version.product


def test_enrol_makes_an_active_policy_for_twelve_months(product):
    seller = factories.SellerFactory()

    policy = services.policy_enrol(
        seller=seller,
        product_code="standard",
        starts_on=dt.date(2026, 3, 15),
        actor=Actor.system(),
    )

    assert policy.status == PolicyStatus.ACTIVE
    assert (policy.period_start, policy.period_end) == (dt.date(2026, 3, 15), dt.date(2027, 3, 14))
    assert policy.product_version.product == product
    assert list(policy.transitions.values_list("source_state", "target_state")) == [
        ("draft", "active")
    ]


def test_enrol_in_an_unknown_product_is_refused():
    with pytest.raises(DomainError) as excinfo:
        services.policy_enrol(
            seller=factories.SellerFactory(),
            product_code="nope",
            starts_on=dt.date(2026, 1, 1),
            actor=Actor.system(),
        )

    assert excinfo.value.code == "product_not_found"


def test_a_second_policy_overlapping_the_first_is_refused(product):
    seller = factories.SellerFactory()
    services.policy_enrol(
        seller=seller, product_code="standard", starts_on=dt.date(2026, 1, 1), actor=Actor.system()
    )

    with pytest.raises(DomainError) as excinfo:
        services.policy_create(
            seller=seller, product_code="standard", starts_on=dt.date(2026, 6, 1)
        )

    assert excinfo.value.code == "policy_overlap"
    assert Policy.objects.filter(seller=seller).count() == 1


@pytest.mark.parametrize(
    ("service", "source", "target"),
    [
        ("policy_suspend", PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED),
        ("policy_resume", PolicyStatus.SUSPENDED, PolicyStatus.ACTIVE),
        ("policy_cancel", PolicyStatus.ACTIVE, PolicyStatus.CANCELLED),
    ],
)
def test_policy_transitions_are_logged(service, source, target):
    policy = factories.PolicyFactory(status=source)

    policy = getattr(services, service)(policy_id=policy.pk, actor=Actor.system(), note="why")

    assert policy.status == target
    log = PolicyTransition.objects.get(policy=policy)
    assert (log.source_state, log.target_state, log.note) == (source, target, "why")


def test_a_cancelled_policy_cannot_be_resumed():
    policy = factories.PolicyFactory(status=PolicyStatus.CANCELLED)

    with pytest.raises(TransitionNotAllowed):
        services.policy_resume(policy_id=policy.pk, actor=Actor.system())


def test_policies_expire_after_their_period_and_not_before():
    ended = factories.PolicyFactory(period_end=timezone.localdate() - dt.timedelta(days=1))
    running = factories.PolicyFactory()

    assert services.policies_expire_due(today=timezone.localdate()) == 1

    assert Policy.objects.get(pk=ended.pk).status == PolicyStatus.EXPIRED
    assert Policy.objects.get(pk=running.pk).status == PolicyStatus.ACTIVE


def test_a_version_held_by_a_policy_cannot_be_edited():
    policy = factories.PolicyFactory()

    with pytest.raises(DomainError) as excinfo:
        services.product_version_update(version=policy.product_version, aggregate_limit=D("1"))

    assert excinfo.value.code == "product_version_in_use"
    assert ProductVersion.objects.get(pk=policy.product_version_id).aggregate_limit != D("1")


def test_a_version_nobody_holds_can_be_edited():
    version = factories.ProductVersionFactory()

    services.product_version_update(version=version, aggregate_limit=D("500000"))

    assert ProductVersion.objects.get(pk=version.pk).aggregate_limit == D("500000.00")


def test_a_new_version_copies_the_terms():
    version = factories.ProductVersionFactory(version=1)

    copy = services.product_version_copy(version=version, effective_from=dt.date(2027, 1, 1))

    assert copy.version == 2
    assert copy.pk != version.pk
    assert sorted(copy.covers.values_list("cover", "per_claim_limit")) == sorted(
        version.covers.values_list("cover", "per_claim_limit")
    )


def test_seller_upsert_creates_updates_and_leaves_unchanged():
    marketplace = factories.MarketplaceFactory()
    values = {
        "marketplace": marketplace,
        "external_id": "S-1",
        "legal_name": "ООО «Ромашка»",
        "tax_id": "7708123450",
        "email": "a@example.com",
    }

    _, first = services.seller_upsert(**values)
    _, second = services.seller_upsert(**values)
    seller, third = services.seller_upsert(**{**values, "email": "b@example.com"})

    assert (first, second, third) == ("created", "unchanged", "updated")
    assert seller.email == "b@example.com"


def test_a_seller_with_a_wrong_tax_id_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        services.seller_upsert(
            marketplace=factories.MarketplaceFactory(),
            external_id="S-1",
            legal_name="ООО «Ромашка»",
            tax_id="7708123451",
            email="a@example.com",
        )

    assert "tax_id" in excinfo.value.message_dict


SHIPPED_AT = timezone.now() - dt.timedelta(days=1)


def record_shipment(policy, **overrides):
    values = {
        "marketplace": policy.marketplace,
        "seller": policy.seller,
        "external_id": "srid-1",
        "order_id": "order-1",
        "sku": "SKU",
        "declared_value": D("10000.00"),
        "shipped_at": SHIPPED_AT,
    }
    return services.shipment_record(**{**values, **overrides})


def test_a_shipment_is_insured_under_the_policy_in_force_and_earns_its_premium():
    policy = factories.PolicyFactory()

    shipment, created = record_shipment(policy)

    assert created
    assert shipment.policy == policy
    # 1.4 % of 10 000 for cargo and a 0.70 fee for return logistics.
    assert shipment.premium == D("140.70")


def test_a_shipment_without_a_policy_is_stored_uninsured():
    policy = factories.PolicyFactory(status=PolicyStatus.CANCELLED)

    shipment, _ = record_shipment(policy)

    assert shipment.policy is None
    assert shipment.premium == D("0.00")


def test_replaying_a_shipment_changes_nothing_and_other_content_conflicts():
    policy = factories.PolicyFactory()
    first, _ = record_shipment(policy)

    again, created = record_shipment(policy)
    with pytest.raises(ConflictError) as excinfo:
        record_shipment(policy, declared_value=D("999.00"))

    assert (again.pk, created) == (first.pk, False)
    assert list(excinfo.value.fields) == ["declared_value"]


def test_a_reverse_leg_fee_is_kept_on_the_shipment():
    shipment = factories.ShipmentFactory()

    services.shipment_event_record(
        shipment=shipment,
        external_id="ev-1",
        kind="non_buyout",
        occurred_at=timezone.now(),
        amount=D("50.00"),
    )

    shipment.refresh_from_db()
    assert shipment.reverse_logistics_fee == D("50.00")


def test_a_fee_the_item_already_holds_is_not_written_again():
    shipment = factories.ShipmentFactory(reverse_logistics_fee=D("50.00"))
    item = {"external_id": "ev-1", "shipment": shipment, "kind": "non_buyout"}
    later = {"external_id": "ev-2", "shipment": shipment, "kind": "returned"}
    at = timezone.now()

    with CaptureQueriesContext(connection) as same:
        shipment_events_record_bulk(
            marketplace=shipment.marketplace, items=[{**item, "occurred_at": at, "amount": D("50")}]
        )
    shipment_events_record_bulk(
        marketplace=shipment.marketplace, items=[{**later, "occurred_at": at, "amount": D("70")}]
    )

    assert not [q for q in same.captured_queries if q["sql"].startswith("UPDATE")]
    shipment.refresh_from_db()
    assert shipment.reverse_logistics_fee == D("70.00")


def test_the_role_groups_carry_their_permissions():
    adjuster = Group.objects.get(name="Adjuster")
    underwriter = Group.objects.get(name="Underwriter")

    adjuster_perms = set(adjuster.permissions.values_list("codename", flat=True))
    underwriter_perms = set(underwriter.permissions.values_list("codename", flat=True))

    assert {"approve_claim", "reject_claim", "pay_claim", "view_claim"} <= adjuster_perms
    assert "change_productversion" in underwriter_perms
    assert "approve_claim" not in underwriter_perms
    assert Group.objects.filter(name="Senior adjuster").exists()


@pytest.mark.parametrize("inn", ["7708123450", "500100732259", "7736543217"])
def test_valid_tax_ids(inn):
    assert is_valid_inn(inn)


@pytest.mark.parametrize("inn", ["7708123451", "500100732258", "77081234", "77O8123450", ""])
def test_invalid_tax_ids(inn):
    assert not is_valid_inn(inn)


def test_working_days_skip_weekends_and_the_new_year_holidays():
    assert not is_working_day(dt.date(2026, 1, 5))
    assert not is_working_day(dt.date(2026, 11, 21))
    assert is_working_day(dt.date(2026, 11, 23))
    # From Wednesday 31 December 2025 the next working day is Monday 12 January 2026.
    assert add_working_days(dt.date(2025, 12, 31), 1) == dt.date(2026, 1, 12)
    assert working_days_between(dt.date(2026, 11, 20), dt.date(2026, 11, 27)) == 5
