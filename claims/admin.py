from django.contrib import admin

from claims.models import (
    Claim,
    ClaimMessage,
    ClaimTransition,
    Discrepancy,
    Document,
    Evidence,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
    WebhookAttempt,
    WebhookDelivery,
)
from claims.selectors import claims_with_money
from policies.admin import ReadOnlyInline, ViewOnlyAdmin


class ClaimTransitionInline(ReadOnlyInline):
    model = ClaimTransition
    fields = [
        "at",
        "transition",
        "source_state",
        "target_state",
        "actor_label",
        "note",
        "internal_note",
    ]
    readonly_fields = fields


class ClaimMessageInline(ReadOnlyInline):
    model = ClaimMessage
    fields = ["created_at", "author_kind", "author", "body"]
    readonly_fields = fields


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["original_name", "content_type", "size", "created_at"]
    readonly_fields = fields


class CompensationInline(ReadOnlyInline):
    model = MarketplaceCompensation
    fields = ["external_id", "reason", "amount", "paid_on", "source", "matched_at"]
    readonly_fields = fields


class PayoutInline(ReadOnlyInline):
    model = Payout
    fields = ["amount", "paid_on", "reference", "created_by", "created_at"]
    readonly_fields = fields


class RecoveryInline(ReadOnlyInline):
    model = Recovery
    fields = ["amount", "status", "raised_at", "received_on", "reference"]
    readonly_fields = fields


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ["kind", "created_at", "sha256"]
    readonly_fields = fields


@admin.register(Claim)
class ClaimAdmin(ViewOnlyAdmin):
    list_display = [
        "number",
        "seller",
        "marketplace",
        "cover",
        "peril",
        "status",
        "claimed_amount",
        "payable_amount",
        "due_on",
        "assignee",
    ]
    list_filter = ["status", "cover", "peril", "marketplace", "source"]
    list_select_related = ["seller", "marketplace", "assignee"]
    search_fields = [
        "number",
        "shipment__external_id",
        "shipment__order_id",
        "seller__legal_name",
        "seller__tax_id",
    ]
    ordering = ["created_at", "pk"]
    inlines = [
        ClaimTransitionInline,
        ClaimMessageInline,
        EvidenceInline,
        CompensationInline,
        PayoutInline,
        RecoveryInline,
        DocumentInline,
    ]

    def get_queryset(self, request):
        return claims_with_money(super().get_queryset(request))


@admin.register(MarketplaceCompensation)
class MarketplaceCompensationAdmin(ViewOnlyAdmin):
    list_display = ["external_id", "marketplace", "seller", "shipment_external_id", "reason"]
    list_display += ["amount", "paid_on", "claim"]
    list_filter = ["marketplace", "reason", "source"]
    list_select_related = ["marketplace", "seller", "claim"]
    search_fields = ["external_id", "shipment_external_id", "seller__legal_name"]


@admin.register(Payout)
class PayoutAdmin(ViewOnlyAdmin):
    list_display = ["reference", "claim", "amount", "paid_on", "created_by"]
    list_select_related = ["claim", "created_by"]
    search_fields = ["reference", "claim__number"]


@admin.register(Recovery)
class RecoveryAdmin(ViewOnlyAdmin):
    list_display = ["claim", "amount", "status", "raised_at", "received_on"]
    list_filter = ["status"]
    list_select_related = ["claim"]
    search_fields = ["claim__number", "reference"]


class DiscrepancyInline(ReadOnlyInline):
    model = Discrepancy
    fields = ["kind", "compensation", "detail"]
    readonly_fields = fields


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ViewOnlyAdmin):
    list_display = ["pk", "state", "trigger", "started_at", "finished_at", "matched", "unmatched"]
    list_filter = ["state"]
    inlines = [DiscrepancyInline]


@admin.register(Document)
class DocumentAdmin(ViewOnlyAdmin):
    list_display = ["kind", "key", "seller", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["seller"]


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "error", "duration_ms"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = ["event", "claim", "marketplace", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "marketplace", "event"]
    list_select_related = ["claim", "marketplace"]
    search_fields = ["claim__number", "url"]
    inlines = [WebhookAttemptInline]
