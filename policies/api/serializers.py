"""Input and output shapes of the integration API: one of each per resource.

Marketplaces code against these shapes: fields may be added, none renamed or dropped.
"""

import re
from decimal import Decimal

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from policies.choices import Fulfilment, Language, ShipmentEventKind
from policies.models import CoverTerms, Policy, Seller, Shipment
from policies.validators import validate_inn


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its UTC offset: a bare time is ambiguous."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well-formed but impossible, such as minute 99
            parsed = None
        if parsed is None:
            return super().to_internal_value(value)
        if parsed.tzinfo is None:
            raise serializers.ValidationError(
                _("Give the time with its UTC offset, e.g. 2026-11-20T14:30:00+03:00.")
            )
        return self.enforce_timezone(parsed)


EXTERNAL_ID = {"max_length": 64, "allow_blank": False}
MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


class SellerInput(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    legal_name = serializers.CharField(max_length=300)
    tax_id = serializers.CharField(max_length=12, validators=[validate_inn])
    email = serializers.EmailField()
    language = serializers.ChoiceField(choices=Language.choices, default=Language.RU)


class SellerOutput(serializers.ModelSerializer):
    class Meta:
        model = Seller
        fields = [
            "id",
            "external_id",
            "legal_name",
            "tax_id",
            "email",
            "language",
            "created_at",
            "updated_at",
        ]


class PolicyInput(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    seller = serializers.CharField(max_length=64, help_text="The marketplace's seller id.")
    product = serializers.SlugField(max_length=32, help_text="The product's code.")
    starts_on = serializers.DateField()


class CoverTermsOutput(serializers.ModelSerializer):
    class Meta:
        model = CoverTerms
        fields = [
            "cover",
            "premium_basis",
            "premium_rate",
            "premium_fee",
            "per_claim_limit",
            "per_event_limit",
            "deductible",
        ]


class PolicyOutput(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.external_id")
    product = serializers.CharField(source="product_version.product.code")
    product_version = serializers.IntegerField(source="product_version.version")
    aggregate_limit = serializers.DecimalField(
        source="product_version.aggregate_limit", max_digits=14, decimal_places=2
    )
    covers = CoverTermsOutput(source="product_version.covers", many=True)

    class Meta:
        model = Policy
        fields = [
            "number",
            "external_id",
            "seller",
            "product",
            "product_version",
            "status",
            "period_start",
            "period_end",
            "aggregate_limit",
            "covers",
        ]


class ShipmentInput(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID, help_text="The item's id, e.g. WB srid.")
    seller = serializers.CharField(max_length=64, help_text="The marketplace's seller id.")
    order_id = serializers.CharField(max_length=64)
    sku = serializers.CharField(max_length=64)
    category = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    declared_value = serializers.DecimalField(**MONEY)
    warehouse = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    pickup_point = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, default=Fulfilment.MARKETPLACE)
    shipped_at = AwareDateTimeField()


class ShipmentOutput(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.external_id")
    policy = serializers.CharField(source="policy.number", allow_null=True, default=None)
    insured = serializers.BooleanField(source="is_insured")

    class Meta:
        model = Shipment
        fields = [
            "id",
            "external_id",
            "seller",
            "order_id",
            "sku",
            "category",
            "declared_value",
            "warehouse",
            "pickup_point",
            "fulfilment",
            "shipped_at",
            "insured",
            "policy",
            "premium",
            "reverse_logistics_fee",
        ]


class ShipmentEventInput(serializers.Serializer):
    external_id = serializers.CharField(**EXTERNAL_ID)
    shipment = serializers.CharField(max_length=64, help_text="The shipment's external id.")
    kind = serializers.ChoiceField(choices=ShipmentEventKind.choices)
    occurred_at = AwareDateTimeField()
    amount = serializers.DecimalField(
        **MONEY,
        required=False,
        allow_null=True,
        default=None,
        help_text="The reverse-logistics fee, or the assessed damage.",
    )

    @classmethod
    def plainly_valid(cls, item: dict) -> dict | None:
        """Return the item as validation would, if it is plainly valid; else None.

        Events are the API's hottest input (1,000 a request, millions a day),
        and the full field machinery costs more than their write. This accepts
        only the unremarkable case; anything else (surrounding spaces,
        non-ASCII ids, an amount given as a number) is left to the full
        validation and its messages. A test holds both to the same answer.
        """
        external_id, shipment, kind = (item.get(k) for k in ("external_id", "shipment", "kind"))
        if not (_plain_id(external_id) and _plain_id(shipment) and kind in _EVENT_KINDS):
            return None
        amount = item.get("amount")
        if amount is not None:
            if not (isinstance(amount, str) and _PLAIN_AMOUNT.fullmatch(amount)):
                return None
            amount = Decimal(amount).quantize(CENT)
        occurred_at = item.get("occurred_at")
        if not isinstance(occurred_at, str):
            return None
        try:
            occurred_at = _OCCURRED_AT.to_internal_value(occurred_at)
        except serializers.ValidationError:
            return None
        return {
            "external_id": external_id,
            "shipment": shipment,
            "kind": kind,
            "occurred_at": occurred_at,
            "amount": amount,
        }


_EVENT_KINDS = frozenset(ShipmentEventKind.values)
_OCCURRED_AT = ShipmentEventInput().fields["occurred_at"]
_PLAIN_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")
CENT = Decimal("0.01")


def _plain_id(value) -> bool:
    """An id of 1 to 64 printable ASCII characters with no surrounding space."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 64
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


class ShipmentEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    shipment = serializers.CharField(source="shipment.external_id")
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
