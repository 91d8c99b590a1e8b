from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from claims.csv_import import compensations_import_csv
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
from claims.reconciliation import reconciliation_start
from claims.selectors import claims_with_money
from claims.tasks import reconciliation_run_task
from policies.admin import ReadOnlyInline, ViewOnlyAdmin
from policies.errors import DomainError
from policies.models import Marketplace


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


@admin.display(description=_("file"))
def document_link(document: Document) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("document-download", args=[document.pk]),
        document.file.name.rsplit("/", 1)[-1],
    )


class DocumentInline(ReadOnlyInline):
    model = Document
    fields = ["kind", document_link, "created_at", "sha256"]
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


class CompensationUploadForm(forms.Form):
    marketplace = forms.ModelChoiceField(queryset=Marketplace.objects.all(), label=_("Marketplace"))
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: external_id, seller, shipment, reason, amount, paid_on; UTF-8; "
            "comma or semicolon; decimal comma accepted."
        ),
    )


@admin.register(MarketplaceCompensation)
class MarketplaceCompensationAdmin(ViewOnlyAdmin):
    list_display = ["external_id", "marketplace", "seller", "shipment_external_id", "reason"]
    list_display += ["amount", "paid_on", "claim"]
    list_filter = ["marketplace", "reason", "source"]
    list_select_related = ["marketplace", "seller", "claim"]
    search_fields = ["external_id", "shipment_external_id", "seller__legal_name"]
    change_list_template = "admin/claims/marketplacecompensation/change_list.html"

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="claims_marketplacecompensation_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not request.user.has_perm("claims.add_marketplacecompensation"):
            raise PermissionDenied
        form = CompensationUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = compensations_import_csv(
                    marketplace=form.cleaned_data["marketplace"],
                    stream=form.cleaned_data["file"],
                )
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                summary = _(
                    "%(rows)s rows: %(created)s new, %(unchanged)s already known, "
                    "%(failed)s rejected."
                )
                level = messages.WARNING if report.failed else messages.SUCCESS
                self.message_user(request, summary % report.__dict__, level)
                for line, message in report.errors[:20]:
                    self.message_user(
                        request,
                        _("Line %(line)s: %(message)s") % {"line": line, "message": message},
                        messages.WARNING,
                    )
                return redirect("admin:claims_marketplacecompensation_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Upload a compensation CSV"),
        }
        return TemplateResponse(request, "admin/claims/upload_compensations.html", context)


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
    list_display = [
        "pk",
        "state",
        "progress",
        "trigger",
        "started_at",
        "finished_at",
        "total",
        "matched",
        "unmatched",
        "claims_released",
        "recoveries_raised",
        "discrepancies_found",
    ]
    list_filter = ["state", "trigger"]
    readonly_fields = ["progress"]
    inlines = [DiscrepancyInline]
    change_list_template = "admin/claims/reconciliationrun/change_list.html"

    @admin.display(description=_("progress"))
    def progress(self, run):
        return f"{run.percent} % ({run.processed:,} / {run.total:,})"

    def get_urls(self):
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="claims_reconciliationrun_start",
            ),
            *super().get_urls(),
        ]

    def start_view(self, request):
        if request.method != "POST" or not request.user.has_perm("claims.add_reconciliationrun"):
            raise PermissionDenied
        run = reconciliation_start(trigger="admin", user=request.user)
        transaction.on_commit(lambda: reconciliation_run_task.delay(run_id=run.pk))
        self.message_user(
            request,
            _("Reconciliation run #%(run)s started; its progress shows here.") % {"run": run.pk},
        )
        return redirect("admin:claims_reconciliationrun_changelist")


@admin.register(Document)
class DocumentAdmin(ViewOnlyAdmin):
    list_display = ["kind", "key", "seller", document_link, "created_at"]
    list_filter = ["kind", "language"]
    search_fields = ["key", "seller__legal_name", "claim__number", "policy__number"]
    date_hierarchy = "created_at"
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
