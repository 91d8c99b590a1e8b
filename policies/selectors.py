"""Reads of the policy side for a seller's own pages, scoped and with their joins done."""

import datetime as dt

from django.db.models import Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from policies.choices import PolicyStatus
from policies.models import CoverTerms, Policy, Product, Shipment, ShipmentEvent


def products_on_sale() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("name")


def seller_policies(*, seller_id: int) -> QuerySet[Policy]:
    """Return the seller's policies, newest first, with their product terms prefetched."""
    return (
        Policy.objects.filter(seller_id=seller_id)
        .select_related("product_version__product")
        .prefetch_related(
            Prefetch("product_version__covers", queryset=CoverTerms.objects.order_by("cover"))
        )
        .order_by("-period_start", "-pk")
    )


def seller_policy_in_force(*, seller_id: int) -> Policy | None:
    return seller_policies(seller_id=seller_id).filter(status=PolicyStatus.ACTIVE).first()


def seller_next_policy_start(*, seller_id: int, today: dt.date) -> dt.date:
    """Return the first day from `today` that no policy of the seller holds: the start the
    enrolment proposes, which the overlap rule of `policy_create` then accepts."""
    last_end = Policy.objects.filter(
        seller_id=seller_id,
        status__in=(PolicyStatus.DRAFT, PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED),
        period_end__gte=today,
    ).aggregate(end=Max("period_end"))["end"]
    return last_end + dt.timedelta(days=1) if last_end else today


def seller_shipments(
    *, seller_id: int, search: str = "", last_event: str = "", insured: str = ""
) -> QuerySet[Shipment]:
    """Return the seller's shipments, newest first, each with the kind of its latest event.

    `search` matches an order or shipment id exactly or by prefix; `insured` is
    "yes" or "no".
    """
    latest = ShipmentEvent.objects.filter(shipment=OuterRef("pk")).order_by("-occurred_at", "-pk")
    shipments = (
        Shipment.objects.filter(seller_id=seller_id)
        .select_related("policy")
        .annotate(last_event=Subquery(latest.values("kind")[:1]))
        .order_by("-shipped_at", "-pk")
    )
    if search := search.strip():
        shipments = shipments.filter(
            Q(order_id__startswith=search) | Q(external_id__startswith=search)
        )
    if last_event:
        shipments = shipments.filter(last_event=last_event)
    if insured == "yes":
        shipments = shipments.filter(policy__isnull=False)
    elif insured == "no":
        shipments = shipments.filter(policy__isnull=True)
    return shipments


def seller_shipment_get(*, seller_id: int, pk: int) -> Shipment:
    """Return the seller's shipment with its timeline; 404 for anyone else's."""
    return get_object_or_404(
        Shipment.objects.filter(seller_id=seller_id)
        .select_related("policy__product_version__product")
        .prefetch_related(
            Prefetch("events", queryset=ShipmentEvent.objects.order_by("occurred_at", "pk"))
        ),
        pk=pk,
    )


def seller_shipment_find(*, seller_id: int, reference: str) -> Shipment | None:
    """Return the seller's shipment with this shipment id, or the only one of this order id."""
    reference = reference.strip()
    mine = Shipment.objects.filter(seller_id=seller_id)
    if shipment := mine.filter(external_id=reference).first():
        return shipment
    by_order = list(mine.filter(order_id=reference)[:2])
    return by_order[0] if len(by_order) == 1 else None


def shipment_timeline(*, shipment_id: int) -> QuerySet[ShipmentEvent]:
    """Return the shipment's events in the order they happened."""
    return ShipmentEvent.objects.filter(shipment_id=shipment_id).order_by("occurred_at", "pk")
