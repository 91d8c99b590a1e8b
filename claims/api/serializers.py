"""Input and output shapes of the claims side of the integration API.

Marketplaces code against these shapes: fields may be added, none renamed or dropped.
"""

from rest_framework import serializers

from claims.calculation import MoneyLine
from claims.choices import CompensationReason, LimitApplied, NoPayableReason, RecoveryStatus
from claims.models import Claim, MarketplaceCompensation, Recovery, RecoveryReceipt
from claims.notes import transition_note
from claims.selectors import claim_money_line
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
    # A person's words and the system's note, in the request's language.
    note = serializers.SerializerMethodField()

    def get_note(self, step) -> str:
        return transition_note(step)


class LimitCutOutput(serializers.Serializer):
    limit = serializers.ChoiceField(
        choices=[code for code in LimitApplied.values if code],
        help_text="The limit: `per_claim`, `per_event` (what the event's limit still allowed) "
        "or `aggregate` (what the policy's aggregate limit still allowed).",
    )
    amount = DecimalField(help_text="What the limit took off the claim.", **AMOUNT)


class AmountsOutput(serializers.Serializer):
    """The claim's money in one line: `loss` = `marketplace_paid` + `insurer_paid` + `to_pay` +
    `seller_bore` (unless the marketplace paid more than the loss), and what the seller bore
    is `deductible` + the `limits` + `unpaid`: the same figures as the seller's pages and the
    settlement act show."""

    claimed = DecimalField(**AMOUNT)
    assessed = DecimalField(
        source="loss",
        help_text="The loss the calculation starts from: the assessed loss, or the claimed "
        "amount until it is assessed. The same as `loss`.",
        **AMOUNT,
    )
    loss = DecimalField(
        help_text="The loss: the assessed loss, or the claimed amount until it is assessed.",
        **AMOUNT,
    )
    compensation = DecimalField(
        source="marketplace_paid",
        help_text="What the marketplace paid the seller for this loss. The same as "
        "`marketplace_paid`.",
        **AMOUNT,
    )
    marketplace_paid = DecimalField(
        help_text="What the marketplace paid the seller for this loss.", **AMOUNT
    )
    deductible = DecimalField(
        help_text="The deductible applied; 0.00 on a claim with no payable.", **AMOUNT
    )
    payable = DecimalField(
        help_text="What the insurer pays on the claim as calculated now; 0.00 on a claim with "
        "no payable (see `no_payable_reason`) or not assessed yet (`draft`, `submitted`).",
        **AMOUNT,
    )
    paid = DecimalField(help_text="What the insurer paid out, before recoveries.", **AMOUNT)
    # `recovered` is the first name of `recovery_raised`, kept for the clients that read it.
    recovered = DecimalField(
        source="recovery_raised",
        help_text="The recoveries raised: what the seller owes back, received or not. "
        "The same as `recovery_raised`.",
        **AMOUNT,
    )
    recovery_raised = DecimalField(
        help_text="The recoveries raised: what a late compensation left the seller owing "
        "back of the payout, received or not.",
        **AMOUNT,
    )
    recovery_received = DecimalField(
        help_text="The part of the recoveries raised that the seller has paid back.",
        **AMOUNT,
    )
    insurer_paid = DecimalField(
        help_text="What the insurer paid net of the recoveries raised: `paid` − `recovery_raised`.",
        **AMOUNT,
    )
    to_pay = DecimalField(
        help_text="What the insurer is still to pay: the payable of a claim not paid yet, "
        "else 0.00.",
        **AMOUNT,
    )
    seller_bore = DecimalField(
        help_text="What the loss leaves with the seller: `loss` − `marketplace_paid` − "
        "`insurer_paid` − `to_pay`, never below 0.00.",
        **AMOUNT,
    )
    limits = LimitCutOutput(
        source="limit_cuts",
        many=True,
        help_text="Each limit that cut the claim, in the order they apply, with what it took "
        "off; empty when none did.",
    )
    unpaid = DecimalField(
        help_text="The part of `seller_bore` neither the deductible nor a limit explains: all "
        "of it on a claim with no payable or not assessed yet, else 0.00.",
        **AMOUNT,
    )
    owed_back = DecimalField(
        help_text="What the seller still owes back: `recovery_raised` − `recovery_received`.",
        **AMOUNT,
    )
    no_payable_reason = serializers.ChoiceField(
        source="no_payable",
        choices=NoPayableReason.choices,
        allow_null=True,
        help_text="Why the claim has no payable: `rejected`, `withdrawn`, or closed unpaid "
        "(`unanswered`: closed when the information asked for did not come; `closed`: "
        "otherwise); null when it has one.",
    )

    def get_attribute(self, instance: Claim) -> MoneyLine:
        return claim_money_line(instance)

    def to_representation(self, instance: MoneyLine) -> dict:
        data = super().to_representation(instance)
        data["no_payable_reason"] = instance.no_payable or None
        return data


class RecoveryReceiptOutput(OutputSerializer):
    class Meta:
        model = RecoveryReceipt
        fields = ["amount", "received_on", "reference"]


class RecoveryOutput(OutputSerializer):
    """A recovery: what a late compensation left the seller owing back, and its payments."""

    status = serializers.ChoiceField(
        choices=RecoveryStatus.choices,
        help_text="`open`: nothing received yet; `partly_received`: part of it paid back; "
        "`received`: paid back in full.",
    )
    amount = DecimalField(help_text="What the seller owes back on this recovery.", **AMOUNT)
    received = DecimalField(
        source="received_total", help_text="What the seller has paid back of it.", **AMOUNT
    )
    owed = DecimalField(
        source="owed_total", help_text="What is still owed: `amount` − `received`.", **AMOUNT
    )
    receipts = RecoveryReceiptOutput(
        many=True, help_text="Each payment back, in the order received."
    )

    class Meta:
        model = Recovery
        fields = ["status", "amount", "received", "owed", "raised_at", "receipts"]


class ClaimOutput(OutputSerializer):
    shipment = serializers.CharField(source="shipment.external_id")
    seller = serializers.CharField(source="seller.external_id")
    amounts = AmountsOutput(source="*")
    recoveries = RecoveryOutput(many=True)
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
            "recoveries",
            "due_on",
            "created_at",
            "updated_at",
            "transitions",
        ]
