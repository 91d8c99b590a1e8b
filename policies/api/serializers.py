"""Input and output shapes of the integration API: one of each per resource.

Marketplaces code against these shapes: fields may be added, none renamed or dropped.
The fields below carry the shared input rules (policies/validators.py) into every shape
and, as patterns and limits, into the schema.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.choices import Fulfilment, Language, ShipmentEventKind
from policies.models import CoverTerms, Policy, Seller, Shipment
from policies.validators import (
    EARLIEST_DATE,
    LATEST_DATE,
    LINE_PATTERN,
    TEXT_PATTERN,
    unsigned_zero,
    validate_ascii_digits,
    validate_date_in_range,
    validate_inn,
    validate_line,
    validate_text,
)


def _apply(rule, value) -> None:
    """Run a shared rule inside a field's parsing, answering its refusal as the field's."""
    try:
        rule(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages, code=exc.code) from exc


class RuledCharField(serializers.CharField):
    """Text held to one of the shared character rules: `rule`, written in the schema as
    `pattern`. A JSON integer is taken as its digits, as DRF does: the marketplaces' own APIs
    give some ids (an Ozon sku, a WB nmId) as numbers."""

    rule: Callable[[str], None]
    pattern: str

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(self.rule)

    def to_internal_value(self, data):
        # DRF's CharField also takes floats, as their repr; no id or name is one.
        if not isinstance(data, str | int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class LineField(RuledCharField):
    """One line of text (an id, a name, a reference): no control, invisible or text-direction
    characters; at least one character unless it may be blank."""

    rule = staticmethod(validate_line)
    pattern = LINE_PATTERN

    def __init__(self, **kwargs):
        if not kwargs.get("allow_blank", False):
            kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)


class TextField(RuledCharField):
    """Free text: line breaks and tabs, but no other control or text-direction characters."""

    rule = staticmethod(validate_text)
    pattern = TEXT_PATTERN


class RuledCharFieldSchema(OpenApiSerializerFieldExtension):
    """A text, blank if it may be, or an integer of as many digits as the text may have."""

    target_class = RuledCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        text = {"type": "string", "minLength": max(field.min_length or 0, 1)}
        number = {"type": "integer"}
        if field.max_length is not None:
            text["maxLength"] = field.max_length
            number |= {
                "minimum": -(10 ** (field.max_length - 1) - 1),
                "maximum": 10**field.max_length - 1,
            }
        text["pattern"] = field.pattern
        blank = [{"type": "string", "maxLength": 0}] if field.allow_blank else []
        return {"oneOf": [text, *blank, number]}


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([0-9]{10}|[0-9]{12})$",
        "description": "ИНН: 10 digits (an organisation) or 12 (an entrepreneur), with valid "
        "check digits.",
    }
)
class TaxIdField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=12, validators=[validate_inn], **kwargs)


class DecimalField(serializers.DecimalField):
    """A decimal as the API writes it: a string of the digits 0-9 with a dot (`1500.00`).
    Taken as such a string or as a JSON number; a zero is never signed (`-0.00` is 0.00).

    The schema (DecimalFieldSchema) gives the string's shape and the range, both checked
    here as written: Python's Decimal would also read `1e3`, `1_000`, ` 5 ` or other
    scripts' digits.
    """

    default_error_messages = {
        "shape": _("Give the amount as digits 0-9 with at most %(places)s decimals, e.g. 1500.00.")
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        whole = self.max_digits - self.decimal_places
        self.shape = re.compile(rf"-?[0-9]{{1,{whole}}}(\.[0-9]{{1,{self.decimal_places}}})?")

    def to_internal_value(self, data):
        if isinstance(data, str):
            _apply(validate_ascii_digits, data)
            if not self.shape.fullmatch(data):
                raise serializers.ValidationError(
                    self.error_messages["shape"] % {"places": self.decimal_places}, code="invalid"
                )
        return super().to_internal_value(data)

    def quantize(self, value):
        # Both ways: what is read is stored unsigned, and a calculation's -0.00 answered so.
        return unsigned_zero(super().quantize(value))


class DecimalFieldSchema(OpenApiSerializerFieldExtension):
    """The pattern DecimalField holds strings to, and the range it holds JSON numbers to."""

    target_class = DecimalField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        whole, places = field.max_digits - field.decimal_places, field.decimal_places
        if direction == "response":
            return {
                "type": "string",
                "format": "decimal",
                "pattern": rf"^-?[0-9]{{1,{whole}}}\.[0-9]{{{places}}}$",
            }
        digits = rf"[0-9]{{1,{whole}}}(\.[0-9]{{1,{places}}})?"
        number = {
            "type": "number",
            "maximum": float(Decimal(10) ** whole - Decimal(10) ** -places),
            "multipleOf": float(Decimal(10) ** -places),
        }
        if field.min_value is not None and field.min_value >= 0:
            # Signed zeros are read as zero; any other sign is refused.
            pattern = rf"^(-?0{{1,{whole}}}(\.0{{1,{places}}})?|{digits})$"
            number["minimum"] = float(field.min_value)
        else:
            pattern = rf"^-?{digits}$"
        return {"oneOf": [{"type": "string", "format": "decimal", "pattern": pattern}, number]}


# EARLIEST_DATE to LATEST_DATE as years, for the schema; a test holds the two to each other.
YEARS_PATTERN = r"^(20[0-9]{2}|2100)-"


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": YEARS_PATTERN,
        "description": f"From {EARLIEST_DATE} to {LATEST_DATE}.",
    }
)
class DateField(serializers.DateField):
    """An ISO 8601 date (digits 0-9) from EARLIEST_DATE to LATEST_DATE."""

    def to_internal_value(self, value):
        _apply(validate_ascii_digits, value)
        day = super().to_internal_value(value)
        _apply(validate_date_in_range, day)
        return day


class DateTimeField(serializers.DateTimeField):
    """A time answered in ISO 8601 in the project's zone, or in UTC where that zone's offset
    then had seconds (Moscow's mean time, before 1919): ISO 8601 offsets have none."""

    def to_representation(self, value):
        if isinstance(value, dt.datetime):
            offset = self.enforce_timezone(value).utcoffset()
            if offset % dt.timedelta(minutes=1):
                return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return super().to_representation(value)


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "pattern": YEARS_PATTERN,
        "description": f"With its UTC offset; from {EARLIEST_DATE} to {LATEST_DATE}.",
    }
)
class AwareDateTimeField(DateTimeField):
    """An ISO 8601 time that must carry its UTC offset (a bare time is ambiguous), on a day
    from EARLIEST_DATE to LATEST_DATE."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well-formed but impossible, such as minute 99
            parsed = None
        if parsed is None:
            return super().to_internal_value(value)
        _apply(validate_ascii_digits, value)
        if parsed.tzinfo is None:
            raise serializers.ValidationError(
                _("Give the time with its UTC offset, e.g. 2026-11-20T14:30:00+03:00.")
            )
        # Before the zone conversion, which overflows at the calendar's edges.
        _apply(validate_date_in_range, parsed)
        return self.enforce_timezone(parsed)


# A model's answer, its decimals and times written as the fields above write them. (A
# comment, not a docstring: drf-spectacular would describe every answer with it.)
class OutputSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: DecimalField,
        models.DateTimeField: DateTimeField,
    }


EXTERNAL_ID = {"max_length": 64}
MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


class SellerInput(serializers.Serializer):
    external_id = LineField(**EXTERNAL_ID)
    legal_name = LineField(max_length=300)
    tax_id = TaxIdField()
    email = serializers.EmailField(max_length=254, validators=[validate_line])
    language = serializers.ChoiceField(choices=Language.choices, default=Language.RU)


class SellerOutput(OutputSerializer):
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
    external_id = LineField(**EXTERNAL_ID)
    seller = LineField(max_length=64, help_text="The marketplace's seller id.")
    product = serializers.SlugField(max_length=32, help_text="The product's code.")
    starts_on = DateField()


class CoverTermsOutput(OutputSerializer):
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


class PolicyOutput(OutputSerializer):
    seller = serializers.CharField(source="seller.external_id")
    product = serializers.CharField(source="product_version.product.code")
    product_version = serializers.IntegerField(source="product_version.version")
    aggregate_limit = DecimalField(
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
    external_id = LineField(**EXTERNAL_ID, help_text="The item's id, e.g. WB srid.")
    seller = LineField(max_length=64, help_text="The marketplace's seller id.")
    order_id = LineField(max_length=64)
    sku = LineField(max_length=64)
    category = LineField(max_length=200, required=False, default="", allow_blank=True)
    declared_value = DecimalField(**MONEY)
    warehouse = LineField(max_length=200, required=False, default="", allow_blank=True)
    pickup_point = LineField(max_length=200, required=False, default="", allow_blank=True)
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, default=Fulfilment.MARKETPLACE)
    shipped_at = AwareDateTimeField()


class ShipmentOutput(OutputSerializer):
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
    external_id = LineField(**EXTERNAL_ID)
    shipment = LineField(max_length=64, help_text="The shipment's external id.")
    kind = serializers.ChoiceField(choices=ShipmentEventKind.choices)
    occurred_at = AwareDateTimeField()
    amount = DecimalField(
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
        plain_kind = isinstance(kind, str) and kind in _EVENT_KINDS
        if not (_plain_id(external_id) and _plain_id(shipment) and plain_kind):
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
    occurred_at = DateTimeField()
    amount = DecimalField(max_digits=14, decimal_places=2, allow_null=True)
