import csv
import datetime as dt
import itertools
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

import claims.admin.reports  # noqa: F401  (registers the report imports' admins)
from claims.admin.workbench import claim_actions_for, outcome_message
from claims.assessment import claim_calculate
from claims.choices import ClaimFlag, ClaimStatus
from claims.compensation import compensation_link, compensation_link_allowed
from claims.csv_import import compensations_import_csv
from claims.errors import ClaimErrorCode
from claims.lifecycle import claim_assign
from claims.models import (
    Claim,
    ClaimMessage,
    ClaimTransition,
    Discrepancy,
    Evidence,
    MarketplaceCompensation,
    Payout,
    ReconciliationRun,
    Recovery,
    WebhookAttempt,
    WebhookDelivery,
)
from claims.outputs.bordereaux import bordereaux_request
from claims.page_errors import show_domain_error
from claims.pages.files import evidence_file
from claims.reconciliation.run import reconciliation_request
from claims.selectors import (
    claim_ids_found,
    claim_sla_breached,
    claims_with_money,
    sla_breached_q,
)
from claims.thread import claim_message_post
from policies.admin import AuditedAdmin, ReadOnlyInline, ViewOnlyAdmin
from policies.errors import DomainError
from policies.forms import DateField, LineField, TextField
from policies.models import Document, Marketplace


@admin.display(description=_("by"))
def transition_actor(transition: ClaimTransition) -> str:
    return transition.actor_label


class ClaimTransitionInline(ReadOnlyInline):
    model = ClaimTransition
    fields = [
        "at",
        "transition",
        "source_state",
        "target_state",
        transition_actor,
        "note",
        "internal_note",
    ]
    readonly_fields = fields
    ordering = ["at", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user", "actor_marketplace")


class ClaimMessageInline(ReadOnlyInline):
    model = ClaimMessage
    fields = ["created_at", "author_kind", "author", "body"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


def evidence_url(evidence: Evidence) -> str:
    return reverse("admin:claims_claim_evidence", args=[evidence.claim_id, evidence.pk])


@admin.display(description=_("preview"))
def evidence_preview(evidence: Evidence) -> str:
    if evidence.archive_id is not None:
        return _("In the archive (%(manifest)s)") % {"manifest": evidence.archive.manifest}
    if evidence.content_type.startswith("image/"):
        return format_html(
            '<a href="{0}" target="_blank"><img src="{0}" alt="{1}" class="evidence-preview"></a>',
            evidence_url(evidence),
            evidence.original_name,
        )
    return format_html('<a href="{}" target="_blank">PDF</a>', evidence_url(evidence))


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = [evidence_preview, "original_name", "content_type", "size", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("archive")


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


class DocumentInline(ReadOnlyInline, GenericTabularInline):
    model = Document
    ct_field, ct_fk_field = "owner_type", "owner_id"
    fields = ["kind", document_link, "created_at", "sha256"]
    readonly_fields = fields


class SlaFilter(admin.SimpleListFilter):
    title = _("service level")
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("breached", _("Missed")), ("due_soon", _("Due within 3 days"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "breached":
            return queryset.filter(sla_breached_q(today=today))
        if self.value() == "due_soon":
            return queryset.filter(due_on__gte=today, due_on__lte=today + dt.timedelta(days=3))
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("adjuster")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", _("Assigned to me")), ("nobody", _("Unassigned"))]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "nobody":
            return queryset.filter(assignee=None)
        return queryset


class SignoffFilter(admin.SimpleListFilter):
    title = _("sign-off")
    parameter_name = "signoff"

    def lookups(self, request, model_admin):
        return [
            ("waiting", _("Waiting for sign-off")),
            ("mine", _("Within my limit to sign off")),
        ]

    def queryset(self, request, queryset):
        waiting = queryset.filter(
            status=ClaimStatus.UNDER_REVIEW, signoff_requested_by__isnull=False
        )
        if self.value() == "waiting":
            return waiting
        if self.value() == "mine":
            return waiting.filter(payable_amount__lte=request.user.authority_limit).exclude(
                signoff_requested_by=request.user
            )
        return queryset


# The changelist's columns as the CSV export names them: stable codes, whatever the language.
EXPORT_COLUMNS = [
    "number",
    "seller",
    "tax_id",
    "marketplace",
    "cover",
    "peril",
    "status",
    "claimed",
    "payable",
    "recovery_raised",
    "recovery_received",
    "age_days",
    "sla_missed",
    "assignee",
]


def claim_age_days(claim: Claim) -> int:
    return (timezone.now() - (claim.submitted_at or claim.created_at)).days


def claim_export_row(claim: Claim) -> list:
    return [
        claim.number,
        claim.seller.legal_name,
        claim.seller.tax_id,
        claim.marketplace.code,
        claim.cover,
        claim.peril,
        claim.status,
        f"{claim.claimed_amount:.2f}",
        f"{claim.payable_amount:.2f}",
        f"{claim.recovery_raised_total:.2f}",
        f"{claim.recovery_received_total:.2f}",
        claim_age_days(claim),
        "yes" if claim_sla_breached(claim, today=timezone.localdate()) else "",
        claim.assignee.email if claim.assignee else "",
    ]


# Below this many rows the queue's count is exact; above it, the planner's estimate.
ESTIMATED_ABOVE = 10_000


class EstimatedCountPaginator(Paginator):
    """Count exactly only a selection the planner expects to be small.

    The exact count of a queue of a million claims, unfiltered or by a broad filter, reads
    every one of them for each page shown; the planner's estimate reads nothing.
    """

    @cached_property
    def count(self) -> int:
        if connection.vendor == "postgresql":
            [plan] = json.loads(self.object_list.order_by().explain(format="json"))
            if (estimate := int(plan["Plan"]["Plan Rows"])) > ESTIMATED_ABOVE:
                return estimate
        return super().count


class _Echo:
    """A file-like sink for csv.writer that hands each row back for streaming."""

    def write(self, value):
        return value


@admin.register(Claim)
class ClaimAdmin(AuditedAdmin, ViewOnlyAdmin):
    list_display = [
        "number",
        "seller",
        "marketplace",
        "cover",
        "peril",
        "status",
        "claimed_amount",
        "payable_amount",
        "recovery_raised",
        "recovery_received",
        "age",
        "sla_missed",
        "assignee",
    ]
    list_filter = [
        "status",
        "cover",
        "peril",
        "marketplace",
        SlaFilter,
        AssigneeFilter,
        SignoffFilter,
        "source",
    ]
    list_select_related = ["seller", "marketplace", "assignee"]
    search_fields = [
        "=number",
        "=shipment__external_id",
        "=shipment__order_id",
        "seller__legal_name",
        "=seller__tax_id",
    ]
    search_help_text = _("Claim number, order or shipment id, seller name or tax id (INN).")
    ordering = ["created_at", "pk"]
    paginator = EstimatedCountPaginator
    # The total beside a filtered count would count the whole queue on every page.
    show_full_result_count = False
    list_per_page = 50
    list_max_show_all = 2000
    actions = ["assign_to_me", "export_csv"]
    change_form_template = "admin/claims/claim/change_form.html"
    fieldsets = [
        (
            _("Claim"),
            {
                "fields": [
                    ("number", "status", "source"),
                    ("seller", "marketplace", "external_id"),
                    ("policy", "shipment"),
                    ("cover", "peril", "event_date"),
                    "event_key",
                    "description",
                    "flags",
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    ("claimed_amount", "assessed_amount"),
                    ("compensation_amount", "deductible_amount"),
                    ("payable_amount", "limit_applied"),
                    ("recovery_raised", "recovery_received"),
                ]
            },
        ),
        (
            _("Decision and service level"),
            {
                "fields": [
                    ("assignee", "signoff_requested_by", "signoff_requested_at"),
                    ("rejection_code", "rejection_reason"),
                    ("submitted_at", "status_changed_at", "decided_at"),
                    ("sla_started_on", "sla_paused_days", "due_on"),
                    "info_requested_at",
                ]
            },
        ),
    ]
    inlines = [
        ClaimTransitionInline,
        ClaimMessageInline,
        EvidenceInline,
        CompensationInline,
        PayoutInline,
        RecoveryInline,
        DocumentInline,
    ]

    readonly_fields = ["recovery_raised", "recovery_received"]

    def get_queryset(self, request):
        return claims_with_money(super().get_queryset(request))

    def get_ordering(self, request):
        # The claims due within days, soonest first: an adjuster's order for them, and the
        # due-date index's. In queue order the planner would walk the queue from its oldest
        # claim to reach them, the newest, taking them for spread evenly over it.
        if request.GET.get(SlaFilter.parameter_name) == "due_soon":
            return ["due_on", *self.ordering]
        return super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        # The whole term, not word by word: what it matches is an id or a seller's name.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(pk__in=claim_ids_found(term=term)), False

    @admin.display(
        description=pgettext_lazy("amount", "Recoveries raised"), ordering="recovery_raised_total"
    )
    def recovery_raised(self, claim):
        """What a late compensation left the seller owing back, received or not."""
        return claim.recovery_raised_total

    @admin.display(
        description=pgettext_lazy("amount", "Recoveries received"),
        ordering="recovery_received_total",
    )
    def recovery_received(self, claim):
        return claim.recovery_received_total

    @admin.display(description=_("age, days"), ordering="submitted_at")
    def age(self, claim):
        return claim_age_days(claim)

    @admin.display(description=_("SLA"), ordering="due_on")
    def sla_missed(self, claim):
        if not claim_sla_breached(claim, today=timezone.localdate()):
            return ""
        return format_html('<strong class="sla-missed">⚠ {}</strong>', _("missed"))

    @admin.action(description=_("Assign to me"))
    def assign_to_me(self, request, queryset):
        assigned = 0
        for claim_id in queryset.values_list("pk", flat=True):
            try:
                claim_assign(claim_id=claim_id, adjuster=request.user)
            except DomainError as exc:
                show_domain_error(request, exc)
                return
            assigned += 1
        self.message_user(
            request, _("%(count)s claims assigned to you.") % {"count": assigned}, messages.SUCCESS
        )

    @admin.action(description=_("Export the selection as CSV"))
    def export_csv(self, request, queryset):
        writer = csv.writer(_Echo(), delimiter=";")
        claims = queryset.select_related("seller", "marketplace", "assignee").order_by(
            "created_at", "pk"
        )
        rows = itertools.chain(
            [EXPORT_COLUMNS],
            (claim_export_row(claim) for claim in claims.iterator(chunk_size=2000)),
        )
        response = StreamingHttpResponse(
            ("\ufeff" if n == 0 else "") + writer.writerow(row) for n, row in enumerate(rows)
        )
        response["Content-Type"] = "text/csv; charset=utf-8"
        response["Content-Disposition"] = (
            f'attachment; filename="claims-{timezone.localdate():%Y-%m-%d}.csv"'
        )
        return response

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/act/<str:name>/",
                view(self.act_view),
                name="claims_claim_act",
            ),
            path(
                "<path:object_id>/reply/",
                view(self.reply_view),
                name="claims_claim_reply",
            ),
            path(
                "<path:object_id>/evidence/<int:evidence_id>/",
                view(self.evidence_view),
                name="claims_claim_evidence",
            ),
            *super().get_urls(),
        ]

    def _claim(self, request, object_id) -> Claim:
        claim = self.get_object(request, object_id)
        if claim is None or not self.has_view_permission(request, claim):
            raise Http404
        return claim

    def _back(self, claim):
        return redirect("admin:claims_claim_change", claim.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        claim = self.get_object(request, object_id)
        extra = {}
        if claim is not None:
            extra = {
                "calculation": claim_calculate(claim=claim),
                "claim": claim,
                "flag_labels": [ClaimFlag(f).label for f in claim.flags if f in ClaimFlag.values],
                "claim_actions": [
                    (action, action.form(prefix=action.name))
                    for action in claim_actions_for(claim=claim, user=request.user)
                ],
                "reply_form": ReplyForm(),
                "can_reply": request.user.has_perm("claims.add_claimmessage"),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def act_view(self, request, object_id, name):
        claim = self._claim(request, object_id)
        if request.method != "POST":
            return self._back(claim)
        action = next(
            (a for a in claim_actions_for(claim=claim, user=request.user) if a.name == name), None
        )
        if action is None:
            raise PermissionDenied
        form = action.form(request.POST, prefix=name)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    self.message_user(
                        request,
                        _("%(field)s: %(error)s") % {"field": label, "error": error},
                        messages.ERROR,
                    )
            return self._back(claim)
        try:
            claim = action.run(claim, request.user, form.cleaned_data)
        except DomainError as exc:
            show_domain_error(request, exc)
        else:
            text, warning = outcome_message(action=action, claim=claim, user=request.user)
            self.message_user(request, text, messages.WARNING if warning else messages.SUCCESS)
        return self._back(claim)

    def reply_view(self, request, object_id):
        claim = self._claim(request, object_id)
        if request.method != "POST":
            return self._back(claim)
        if not request.user.has_perm("claims.add_claimmessage"):
            raise PermissionDenied
        form = ReplyForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError(ClaimErrorCode.MESSAGE_REQUIRED, _("The message is empty."))
            claim_message_post(claim_id=claim.pk, user=request.user, body=form.cleaned_data["body"])
        except DomainError as exc:
            show_domain_error(request, exc)
        else:
            self.message_user(request, _("Message sent to the seller."), messages.SUCCESS)
        return self._back(claim)

    def evidence_view(self, request, object_id, evidence_id):
        claim = self._claim(request, object_id)
        return evidence_file(get_object_or_404(Evidence, claim=claim, pk=evidence_id))


class ReplyForm(forms.Form):
    body = TextField(label=_("Reply to the seller"), widget=forms.Textarea(attrs={"rows": 3}))


class CompensationLinkFilter(admin.SimpleListFilter):
    title = _("link to a claim")
    parameter_name = "link"

    def lookups(self, request, model_admin):
        return [
            ("unlinked", _("Unlinked, for an adjuster")),
            ("waiting", _("Item known, no claim yet")),
            ("counted", _("Counted on a claim")),
        ]

    def queryset(self, request, queryset):
        # Unlinked: tied to no claim and no known item. An Ozon accrual names no item at all,
        # so reconciliation can never place it: only an adjuster can say which claim it pays.
        if self.value() == "unlinked":
            return queryset.filter(claim=None, shipment=None)
        if self.value() == "waiting":
            return queryset.filter(claim=None, shipment__isnull=False)
        if self.value() == "counted":
            return queryset.filter(claim__isnull=False)
        return queryset


class CompensationLinkForm(forms.Form):
    claim_number = LineField(
        label=_("Claim number"),
        max_length=32,
        help_text=_("A claim of the same seller; the compensation is counted on it."),
    )


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
class MarketplaceCompensationAdmin(AuditedAdmin, ViewOnlyAdmin):
    list_display = ["external_id", "marketplace", "seller", "shipment_external_id", "reason"]
    list_display += ["amount", "paid_on", "claim"]
    list_filter = [CompensationLinkFilter, "marketplace", "reason", "source"]
    list_select_related = ["marketplace", "seller", "claim"]
    search_fields = ["external_id", "shipment_external_id", "seller__legal_name"]
    change_list_template = "admin/claims/marketplacecompensation/change_list.html"
    actions = ["link_to_claim"]

    def get_list_display(self, request):
        if compensation_link_allowed(request.user):
            return [*self.list_display, "link"]
        return self.list_display

    @admin.display(description=_("link"))
    def link(self, compensation):
        if compensation.claim_id is not None:
            return ""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:claims_marketplacecompensation_link", args=[compensation.pk]),
            _("Link to a claim"),
        )

    @admin.action(description=_("Link the selected compensation to a claim"))
    def link_to_claim(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(
                request, _("Select one compensation to link at a time."), messages.WARNING
            )
            return None
        return redirect("admin:claims_marketplacecompensation_link", ids[0])

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="claims_marketplacecompensation_upload",
            ),
            path(
                "<path:object_id>/link/",
                self.admin_site.admin_view(self.link_view),
                name="claims_marketplacecompensation_link",
            ),
            *super().get_urls(),
        ]

    def link_view(self, request, object_id):
        """Count a compensation that names no claim on the claim an adjuster names."""
        if not compensation_link_allowed(request.user):
            raise PermissionDenied
        compensation = self.get_object(request, object_id)
        if compensation is None:
            raise Http404
        posted = request.method == "POST"
        form = CompensationLinkForm(request.POST) if posted else CompensationLinkForm()
        if posted and form.is_valid():
            try:
                claim = compensation_link(
                    compensation_id=compensation.pk,
                    claim_number=form.cleaned_data["claim_number"],
                    user=request.user,
                )
            except DomainError as exc:
                show_domain_error(request, exc, form=form, field="claim_number")
            else:
                self.message_user(
                    request,
                    _(
                        "Compensation %(compensation)s is counted on claim %(number)s: "
                        "payable now %(payable)s."
                    )
                    % {
                        "compensation": compensation.external_id,
                        "number": claim.number,
                        "payable": claim.payable_amount,
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:claims_claim_change", claim.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "compensation": compensation,
            # The seller's claims a payout could count on, newest first, to pick from.
            "candidates": Claim.objects.filter(seller_id=compensation.seller_id)
            .exclude(status__in=(ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN))
            .select_related("shipment")
            .order_by("-created_at", "-pk")[:20],
            "title": _("Link a compensation to a claim"),
            "submit_label": _("Link"),
        }
        return TemplateResponse(request, "admin/claims/marketplacecompensation/link.html", context)

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
                show_domain_error(request, exc, form=form, field="file")
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
            "submit_label": _("Import"),
        }
        return TemplateResponse(request, "admin/claims/form_page.html", context)


@admin.register(Payout)
class PayoutAdmin(AuditedAdmin, ViewOnlyAdmin):
    list_display = ["reference", "claim", "amount", "paid_on", "created_by"]
    list_select_related = ["claim", "created_by"]
    search_fields = ["reference", "claim__number"]


@admin.register(Recovery)
class RecoveryAdmin(AuditedAdmin, ViewOnlyAdmin):
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
    readonly_fields = ["progress", "report"]
    inlines = [DiscrepancyInline]
    change_list_template = "admin/claims/reconciliationrun/change_list.html"

    @admin.display(description=_("report"))
    def report(self, run):
        document = run.documents.order_by("-created_at").first()
        return document_link(document) if document else "—"

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
        run = reconciliation_request(trigger="admin", user=request.user)
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
    change_list_template = "admin/claims/document/change_list.html"

    def get_urls(self):
        return [
            path(
                "bordereaux/",
                self.admin_site.admin_view(self.bordereaux_view),
                name="policies_document_bordereaux",
            ),
            *super().get_urls(),
        ]

    def bordereaux_view(self, request):
        """Make (or find) a month's premium and claims bordereaux, CSV and PDF."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = BordereauForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            month = form.cleaned_data["month"]
            bordereaux_request(month=month)
            self.message_user(
                request,
                _("The bordereaux for %(month)s are being made; they appear in this list shortly.")
                % {"month": f"{month:%m.%Y}"},
                messages.SUCCESS,
            )
            return redirect(
                reverse("admin:policies_document_changelist")
                + f"?period__exact={month.replace(day=1):%Y-%m-%d}"
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Bordereaux for a month"),
            "submit_label": _("Make the bordereaux"),
        }
        return TemplateResponse(request, "admin/claims/form_page.html", context)


class BordereauForm(forms.Form):
    month = DateField(
        label=_("Any day of the month"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["at", "state", "status_code", "error", "duration_ms"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = ["event", "claim", "marketplace", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "marketplace", "event"]
    list_select_related = ["claim", "marketplace"]
    search_fields = ["claim__number", "url"]
    readonly_fields = ["uid"]
    inlines = [WebhookAttemptInline]
