"""Input and output shapes of the claims side of the integration API.

Marketplaces code against these shapes: fields may be added, none renamed or dropped.
"""

from rest_framework import serializers

from claims.choices import CompensationReason
from claims.models import Claim, MarketplaceCompensation
from policies.api.serializers import (
    EXTERNAL_ID,
    MONEY,
    DateField,
    DateTimeField,
    DecimalField,
    LineField,
    OutputSerializer,
    TextField,
)
from policies.choices import Peril
from policies.validators import MAX_DESCRIPTION_CHARS

AMOUNT = {"max_digits": 14, "decimal_places": 2}


class CompensationInput(serializers.Serializer):
    external_id = LineField(**EXTERNAL_ID)
    seller = LineField(max_length=64, help_text="The marketplace's seller id.")
    shipment = LineField(max_length=64, help_text="The shipment's external id.")
    reason = serializers.ChoiceField(choices=CompensationReason.choices)
    amount = DecimalField(**MONEY)
    paid_on = DateField()


class CompensationOutput(OutputSerializer):
    seller = serializers.CharField(source="seller.external_id")
    shipment = serializers.CharField(source="shipment_external_id")
    claim = serializers.CharField(source="claim.number", allow_null=True, default=None)

    class Meta:
        model = MarketplaceCompensation
        fields = [
            "id",
            "external_id",
            "seller",
            "shipment",
            "reason",
            "amount",
            "paid_on",
            "claim",
            "matched_at",
        ]


class ClaimInput(serializers.Serializer):
    external_id = LineField(**EXTERNAL_ID)
    shipment = LineField(max_length=64, help_text="The shipment's external id.")
    peril = serializers.ChoiceField(choices=Peril.choices)
    claimed_amount = DecimalField(**MONEY)
    event_date = DateField()
    description = TextField(
        max_length=MAX_DESCRIPTION_CHARS, required=False, default="", allow_blank=True
    )


class TransitionOutput(serializers.Serializer):
    """A transition as the seller and the marketplace see it: never the internal note."""

    # `from` is a Python keyword, so the field is added through the class namespace.
    locals()["from"] = serializers.CharField(source="source_state")
    to = serializers.CharField(source="target_state")
    at = DateTimeField()
    actor = serializers.CharField(source="actor_label")
    note = serializers.CharField()


class AmountsOutput(serializers.Serializer):
    claimed = DecimalField(source="claimed_amount", **AMOUNT)
    assessed = DecimalField(source="loss_amount", **AMOUNT)
    compensation = DecimalField(source="compensation_amount", **AMOUNT)
    deductible = DecimalField(source="deductible_amount", **AMOUNT)
    payable = DecimalField(source="payable_amount", **AMOUNT)
    paid = DecimalField(source="paid_total", **AMOUNT)
    # `recovered` is the first name of `recovery_raised`, kept for the clients that read it.
    recovered = DecimalField(
        source="recovery_raised_total",
        help_text="The recoveries raised: what the seller owes back, received or not. "
        "The same as `recovery_raised`.",
        **AMOUNT,
    )
    recovery_raised = DecimalField(
        source="recovery_raised_total",
        help_text="The recoveries raised: what a late compensation left the seller owing "
        "back of the payout, received or not.",
        **AMOUNT,
    )
    recovery_received = DecimalField(
        source="recovery_received_total",
        help_text="The part of the recoveries raised that the seller has paid back.",
        **AMOUNT,
    )
    seller_bore = DecimalField(**AMOUNT)


class ClaimOutput(OutputSerializer):
    shipment = serializers.CharField(source="shipment.external_id")
    seller = serializers.CharField(source="seller.external_id")
    amounts = AmountsOutput(source="*")
    transitions = TransitionOutput(many=True)

    class Meta:
        model = Claim
        fields = [
            "number",
            "external_id",
            "status",
            "cover",
            "peril",
            "source",
            "shipment",
            "seller",
            "event_date",
            "flags",
            "amounts",
            "due_on",
            "created_at",
            "updated_at",
            "transitions",
        ]
