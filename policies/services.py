"""Every write of the policy side: sellers, products, policies, shipments and their events."""

import calendar
import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.actors import Actor
from policies.choices import PolicyStatus
from policies.errors import DomainError, ErrorCode, PolicyErrorCode
from policies.ingest import (
    CREATED,
    ERROR,
    UNCHANGED,
    ItemResult,
    bulk_write,
    by_external_id,
    conflict,
    differing_fields,
    ensure_valid,
    item_seller,
    sellers_upsert_bulk,
    shipment_events_record_bulk,
    shipments_record_bulk,
    unknown_seller,
)
from policies.models import (
    CoverTerms,
    Marketplace,
    Policy,
    PolicyTransition,
    Product,
    ProductVersion,
    Seller,
    Shipment,
    ShipmentEvent,
)
from policies.outbox import outbox_enqueue
from policies.tasks import policy_certificate_make_task

# Crockford's base32 alphabet: no I, L, O or U to misread over the phone.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(prefix: str, *, today: dt.date | None = None) -> str:
    """Return a fresh human-readable reference such as `CL-261123-7K3M9Q2P`; a batch gives
    `today` (its local date, worked out once)."""
    # A byte per character: 256 is a multiple of the alphabet's 32, so each is as likely.
    # (get_random_string asks the OS once per character: a report files thousands.)
    tail = "".join(
        REFERENCE_ALPHABET[byte % len(REFERENCE_ALPHABET)] for byte in secrets.token_bytes(8)
    )
    return f"{prefix}-{today or timezone.localdate():%y%m%d}-{tail}"


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


@transaction.atomic
def marketplace_webhook_secret_rotate(*, marketplace: Marketplace) -> str:
    """Give the marketplace a new random webhook signing secret and return it.

    The return value is the only time it is readable: it signs with HMAC, so it is stored
    as it is, and no staff page shows it.
    """
    marketplace.webhook_secret = secrets.token_urlsafe(32)
    marketplace.save(update_fields=["webhook_secret"])
    return marketplace.webhook_secret


@transaction.atomic
def seller_upsert(
    *,
    marketplace: Marketplace,
    external_id: str,
    legal_name: str,
    tax_id: str,
    email: str,
    language: str = "ru",
) -> tuple[Seller, str]:
    """Create or update the marketplace's seller; return it and created/updated/unchanged."""
    [result] = sellers_upsert_bulk(
        marketplace=marketplace,
        items=[
            {
                "external_id": external_id,
                "legal_name": legal_name,
                "tax_id": tax_id,
                "email": email,
                "language": language,
            }
        ],
    )
    if result.status == ERROR:
        raise ValidationError(result.errors)
    return result.obj, result.status


def product_version_in_use(version: ProductVersion) -> bool:
    return version.policies.exists()


@transaction.atomic
def product_version_update(*, version: ProductVersion, **fields: Any) -> ProductVersion:
    """Change the terms of a version nobody holds yet; sold terms never change."""
    if product_version_in_use(version):
        raise DomainError(
            PolicyErrorCode.PRODUCT_VERSION_IN_USE,
            _("Version %(version)s is held by policies: make a new version instead.")
            % {"version": version},
        )
    for name, value in fields.items():
        setattr(version, name, value)
    version.full_clean()
    version.save()
    return version


@transaction.atomic
def product_version_copy(*, version: ProductVersion, effective_from: dt.date) -> ProductVersion:
    """Return a new version of the product with the same terms, to be edited before sale."""
    latest = (
        ProductVersion.objects.select_for_update()
        .filter(product=version.product)
        .order_by("-version")
        .first()
    )
    copy = ProductVersion.objects.get(pk=version.pk)
    covers = list(copy.covers.all())
    copy.pk = None
    copy._state.adding = True
    copy.version = latest.version + 1
    copy.effective_from = effective_from
    copy.full_clean()
    copy.save()
    for cover in covers:
        cover.pk = None
        cover.product_version = copy
    CoverTerms.objects.bulk_create(covers)
    return copy


def product_current_version(*, product: Product, on: dt.date) -> ProductVersion:
    version = (
        product.versions.filter(effective_from__lte=on).order_by("-effective_from", "-version")
    ).first()
    if version is None:
        raise DomainError(
            PolicyErrorCode.PRODUCT_HAS_NO_VERSION,
            _("Product %(product)s has no version on sale on %(date)s.")
            % {"product": product.code, "date": on.isoformat()},
        )
    return version


def _policy_log(*, policy: Policy, source: str, name: str, actor: Actor, note: str = "") -> None:
    PolicyTransition.objects.create(
        policy=policy,
        transition=name,
        source_state=source,
        target_state=policy.status,
        at=timezone.now(),
        note=note,
        **actor.log_fields(),
    )


def _policy_transition(*, policy_id: int, name: str, actor: Actor, note: str = "") -> Policy:
    policy = Policy.objects.select_for_update().get(pk=policy_id)
    source = policy.status
    getattr(policy, name)()
    if name == "activate":
        policy.activated_at = timezone.now()
    policy.save()
    _policy_log(policy=policy, source=source, name=name, actor=actor, note=note)
    if name == "activate":
        outbox_enqueue(task=policy_certificate_make_task, policy_id=policy.pk)
    return policy


@transaction.atomic
def policy_create(
    *,
    seller: Seller,
    product_code: str,
    starts_on: dt.date,
    external_id: str | None = None,
) -> Policy:
    """Return a draft policy of the seller on the product's version on sale at `starts_on`."""
    product = Product.objects.filter(code=product_code, is_active=True).first()
    if product is None:
        raise DomainError(
            PolicyErrorCode.PRODUCT_NOT_FOUND,
            _("No product on sale with code %(code)s.") % {"code": product_code},
            fields={"product": [_("Unknown product.")]},
        )
    version = product_current_version(product=product, on=starts_on)
    Seller.objects.select_for_update().get(pk=seller.pk)
    period_end = add_months(starts_on, version.policy_period_months) - dt.timedelta(days=1)
    overlapping = Policy.objects.filter(
        seller=seller,
        status__in=(PolicyStatus.DRAFT, PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED),
        period_start__lte=period_end,
        period_end__gte=starts_on,
    )
    if overlapping.exists():
        raise DomainError(
            PolicyErrorCode.POLICY_OVERLAP,
            _("The seller already has a policy for part of this period."),
            fields={"starts_on": [_("Overlaps an existing policy.")]},
        )
    policy = Policy(
        number=new_reference("POL"),
        marketplace=seller.marketplace,
        external_id=external_id,
        seller=seller,
        product_version=version,
        period_start=starts_on,
        period_end=period_end,
    )
    policy.full_clean(exclude=["status"])
    policy.save()
    return policy


@transaction.atomic
def policy_activate(*, policy_id: int, actor: Actor) -> Policy:
    return _policy_transition(policy_id=policy_id, name="activate", actor=actor)


@transaction.atomic
def policy_enrol(
    *,
    seller: Seller,
    product_code: str,
    starts_on: dt.date,
    actor: Actor,
    external_id: str | None = None,
) -> Policy:
    """Create the seller's policy and put it in force at once."""
    policy = policy_create(
        seller=seller, product_code=product_code, starts_on=starts_on, external_id=external_id
    )
    return policy_activate(policy_id=policy.pk, actor=actor)


@transaction.atomic
def policy_suspend(*, policy_id: int, actor: Actor, note: str = "") -> Policy:
    return _policy_transition(policy_id=policy_id, name="suspend", actor=actor, note=note)


@transaction.atomic
def policy_resume(*, policy_id: int, actor: Actor, note: str = "") -> Policy:
    return _policy_transition(policy_id=policy_id, name="resume", actor=actor, note=note)


@transaction.atomic
def policy_cancel(*, policy_id: int, actor: Actor, note: str = "") -> Policy:
    return _policy_transition(policy_id=policy_id, name="cancel", actor=actor, note=note)


def policies_expire_due(*, today: dt.date) -> int:
    """Expire every policy whose period ended before `today`; return how many."""
    due = Policy.objects.filter(
        status__in=(PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED), period_end__lt=today
    ).values_list("pk", flat=True)
    expired = 0
    for policy_id in due.iterator():
        with transaction.atomic():
            _policy_transition(policy_id=policy_id, name="expire", actor=Actor.system())
        expired += 1
    return expired


def single_result(result: ItemResult) -> tuple[Any, bool]:
    """Return a batch-of-one's object and whether it was created, or raise its error."""
    if result.status == ERROR:
        raise result.refusal or DomainError(
            ErrorCode.VALIDATION_ERROR, _("Invalid input."), fields=result.errors
        )
    return result.obj, result.status == CREATED


@transaction.atomic
def shipment_record(
    *,
    marketplace: Marketplace,
    seller: Seller,
    external_id: str,
    order_id: str,
    sku: str,
    declared_value: Decimal,
    shipped_at: dt.datetime,
    category: str = "",
    warehouse: str = "",
    pickup_point: str = "",
    fulfilment: str = "marketplace",
) -> tuple[Shipment, bool]:
    """Store one shipped item, insured under the policy in force when it shipped.

    Return the shipment and whether it was created; a replay with the same
    content returns the stored row, one with other content is a conflict.
    """
    if seller.marketplace_id != marketplace.pk:
        raise DomainError(PolicyErrorCode.SELLER_MISMATCH, _("Unknown seller."))
    [result] = shipments_record_bulk(
        marketplace=marketplace,
        items=[
            {
                "external_id": external_id,
                "seller": seller,
                "order_id": order_id,
                "sku": sku,
                "category": category,
                "declared_value": declared_value,
                "warehouse": warehouse,
                "pickup_point": pickup_point,
                "fulfilment": fulfilment,
                "shipped_at": shipped_at,
            }
        ],
    )
    return single_result(result)


@transaction.atomic
def shipment_event_record(
    *,
    shipment: Shipment,
    external_id: str,
    kind: str,
    occurred_at: dt.datetime,
    amount: Decimal | None = None,
) -> tuple[ShipmentEvent, bool]:
    """Store one event of a shipment's timeline; return it and whether it was created."""
    ensure_valid(
        ShipmentEvent(
            marketplace_id=shipment.marketplace_id,
            shipment=shipment,
            external_id=external_id,
            kind=kind,
            occurred_at=occurred_at,
            amount=amount,
        )
    )
    [result] = shipment_events_record_bulk(
        marketplace=shipment.marketplace,
        items=[
            {
                "external_id": external_id,
                "shipment": shipment,
                "kind": kind,
                "occurred_at": occurred_at,
                "amount": amount,
            }
        ],
    )
    return single_result(result)


def policies_enrol_bulk(*, marketplace: Marketplace, items: list[dict]) -> list[ItemResult]:
    """Enrol the marketplace's sellers by the marketplace's own policy id, one item at a time.

    Enrolment is rare next to shipments, so each item goes through
    `policy_enrol` in its own savepoint: a refused item leaves the others.
    The sellers are locked as they are read, in one order, as enrolment locks
    each: a concurrent batch enrolling the same sellers waits for this one's
    commit, then reads its policies as stored, as a replay sent after it.
    """
    sellers = by_external_id(
        Seller.objects.select_for_update().order_by("pk"),
        marketplace=marketplace,
        ids={i["seller"] for i in items if not isinstance(i["seller"], Seller)},
    )

    def item_values(item):
        seller = item_seller(item, sellers=sellers, marketplace=marketplace)
        if seller is None:
            return ItemResult.error(item["external_id"], unknown_seller())
        return {"seller": seller, "period_start": item["starts_on"], "product": item["product"]}

    def replay(*, external_id, stored, values, earlier):
        # An earlier item of the batch is enrolled at once: its policy, too, is stored.
        differing = differing_fields(
            stored, {"seller": values["seller"], "period_start": values["period_start"]}
        )
        if stored.product_version.product.code != values["product"]:
            differing["product"] = [_("Differs from the stored policy's product.")]
        if differing:
            return conflict(external_id, differing)
        return ItemResult(external_id, UNCHANGED, stored)

    def enrol(item, values):
        try:
            with transaction.atomic():
                return policy_enrol(
                    seller=values["seller"],
                    product_code=values["product"],
                    starts_on=values["period_start"],
                    actor=Actor.for_marketplace(marketplace),
                    external_id=item["external_id"],
                )
        except DomainError as exc:
            return ItemResult.refused(item["external_id"], exc)

    return bulk_write(
        marketplace=marketplace,
        items=items,
        stored=Policy.objects.select_related("seller", "product_version__product"),
        values=item_values,
        new=enrol,
        replay=replay,
    )
