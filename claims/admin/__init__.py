import csv
import datetime as dt
import itertools
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
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
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

import claims.admin.reports  # noqa: F401  (registers the report imports' admins)
from claims.admin.workbench import claim_actions_for, outcome_message
from claims.assessment import claim_calculate, claim_sla_clock
from claims.choices import OPEN_STATUSES, ClaimFlag, ClaimStatus, ClaimStep, RunTrigger
from claims.compensation import (
    compensation_link,
    compensation_link_allowed,
    recovery_receive,
    recovery_receive_allowed,
)
from claims.csv_import import compensations_import_csv
from claims.errors import ClaimErrorCode
from claims.lifecycle import claim_assign, signoff_allowed
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
    RecoveryReceipt,
    WebhookAttempt,
    WebhookDelivery,
)
from claims.notes import transition_note
from claims.outputs.bordereaux import bordereaux_request
from claims.page_errors import show_domain_error
from claims.pages.files import evidence_file
from claims.reconciliation.run import reconciliation_request
from claims.selectors import (
    claim_ids_found,
    claim_money_line,
    claim_sla_breached,
    claims_open_assigned_count,
    claims_with_money_line,
    recoveries_with_receipts,
    sla_breached_q,
)
from claims.templatetags.money import day, rub
from claims.thread import claim_message_post
from policies.actors import Actor
from policies.admin import AuditedAdmin, ReadOnlyInline, ViewOnlyAdmin
from policies.choices import EVENT_KIND_BY_PERIL, choice_label
from policies.errors import DomainError
from policies.forms import DateField, DecimalField, LineField, TextField
from policies.models import Document, Marketplace
from policies.selectors import shipment_timeline


def money_display(model, field: str, description=None):
    """Return an admin column (or read-only field) showing `field` as `1 500,00 ₽`."""

    def show(obj):
        return rub(getattr(obj, field))

    # Named for the field: the list keeps its column classes (`field-payable_amount`).
    show.__name__ = field
    return admin.display(
        description=description or model._meta.get_field(field).verbose_name, ordering=field
    )(show)


claim_claimed = money_display(Claim, "claimed_amount")
claim_assessed = money_display(Claim, "assessed_amount")
claim_compensation = money_display(Claim, "compensation_amount")
claim_deductible = money_display(Claim, "deductible_amount")
claim_payable = money_display(Claim, "payable_amount")
claim_recovery_raised = money_display(
    Claim, "recovery_raised_total", pgettext_lazy("amount", "Recoveries raised")
)
claim_recovery_received = money_display(
    Claim, "recovery_received_total", pgettext_lazy("amount", "Recoveries received")
)
recovery_amount = money_display(Recovery, "amount")
recovery_received = money_display(Recovery, "received_total", pgettext_lazy("recovery", "received"))
recovery_owed = money_display(Recovery, "owed_total", _("still owed"))


@admin.display(description=_("payments received"))
def recovery_receipts(recovery: Recovery) -> str:
    """Each payment the seller made towards the recovery: amount, date, reference."""
    receipts = recovery.receipts.all()
    if not receipts:
        return "—"
    return format_html_join(
        mark_safe("<br>"),
        "{} · {} · {}",
        ((rub(r.amount), day(r.received_on), r.reference) for r in receipts),
    )


@admin.display(description=_("by"))
def transition_actor(transition: ClaimTransition) -> str:
    return transition.actor_label


@admin.display(description=_("step"))
def transition_step(transition: ClaimTransition) -> str:
    return choice_label(ClaimStep, transition.transition)


@admin.display(description=pgettext_lazy("state", "from"))
def transition_source(transition: ClaimTransition) -> str:
    # The first step has no state before it.
    return choice_label(ClaimStatus, transition.source_state) if transition.source_state else "—"


@admin.display(description=pgettext_lazy("state", "to"))
def transition_target(transition: ClaimTransition) -> str:
    return choice_label(ClaimStatus, transition.target_state)


@admin.display(description=_("note"))
def transition_note_shown(transition: ClaimTransition) -> str:
    return transition_note(transition)


class ClaimTransitionInline(ReadOnlyInline):
    model = ClaimTransition
    fields = [
        "at",
        transition_step,
        transition_source,
        transition_target,
        transition_actor,
        transition_note_shown,
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
    fields = ["external_id", "reason", money_display(MarketplaceCompensation, "amount")]
    fields += ["paid_on", "source", "matched_at"]
    readonly_fields = fields


class PayoutInline(ReadOnlyInline):
    model = Payout
    fields = [money_display(Payout, "amount"), "paid_on", "reference", "created_by", "created_at"]
    readonly_fields = fields


class RecoveryInline(ReadOnlyInline):
    model = Recovery
    fields = [recovery_amount, "status", "raised_at", recovery_received, recovery_owed]
    fields += [recovery_receipts]
    readonly_fields = fields

    def get_queryset(self, request):
        return recoveries_with_receipts(super().get_queryset(request))


@admin.display(description=_("file"))
def document_link(document: Document) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("document-download", args=[document.pk]),
        document.file.name.rsplit("/", 1)[-1],
    )


@admin.display(description=_("about"))
def document_about(document: Document) -> str:
    """The claim or run the document is about (its number), else its policy's number."""
    return str(document.owner or document.policy or "—")


class DocumentInline(ReadOnlyInline, GenericTabularInline):
    model = Document
    ct_field, ct_fk_field = "owner_type", "owner_id"
    fields = ["kind", document_link, "created_at", "sha256"]
    readonly_fields = fields


class RunTriggerFilter(admin.SimpleListFilter):
    title = _("started by")
    parameter_name = "trigger"

    def lookups(self, request, model_admin):
        return RunTrigger.choices

    def queryset(self, request, queryset):
        return queryset.filter(trigger=self.value()) if self.value() else queryset


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


class StatusFilter(admin.SimpleListFilter):
    """The claims by status: the open ones unless another status, or all, is chosen.

    A search looks through every status: a number looked up may be of a closed claim.
    """

    title = _("status")
    # The parameter of the status field's own filter, which the index's links use.
    parameter_name = "status__exact"
    OPEN, ALL = "open", "all"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.searching = bool(request.GET.get(SEARCH_VAR, "").strip())

    def lookups(self, request, model_admin):
        return [
            (self.OPEN, pgettext_lazy("claims", "Open")),
            *ClaimStatus.choices,
            (self.ALL, pgettext_lazy("claims", "All")),
        ]

    def chosen(self) -> str:
        if self.value():
            return self.value()
        return self.ALL if self.searching else self.OPEN

    def choices(self, changelist):
        chosen = self.chosen()
        # Counted per status only when the adjuster asks for the admin's counts ("facets").
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else {}
        for i, (lookup, title) in enumerate(self.lookup_choices):
            if f"{i}__c" in counts:
                title = f"{title} ({counts[f'{i}__c']})"
            yield {
                "selected": chosen == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        chosen = self.chosen()
        if chosen == self.OPEN:
            return queryset.filter(status__in=OPEN_STATUSES)
        if chosen in ClaimStatus.values:
            return queryset.filter(status=chosen)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("adjuster")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        mine = claims_open_assigned_count(user=request.user)
        return [
            ("me", _("Assigned to me (%(count)s open)") % {"count": mine}),
            ("nobody", _("Unassigned")),
        ]

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


@admin.display(description=_("flags"))
def claim_flag_labels(claim: Claim) -> str:
    return "; ".join(choice_label(ClaimFlag, flag) for flag in claim.flags) or "—"


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
        claim_claimed,
        claim_payable,
        claim_recovery_raised,
        claim_recovery_received,
        "age",
        "sla_missed",
        "assignee",
    ]
    list_filter = [
        StatusFilter,
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
                    "description",
                    claim_flag_labels,
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    (claim_claimed, claim_assessed),
                    (claim_compensation, claim_deductible),
                    (claim_payable, "limit_applied"),
                    (claim_recovery_raised, claim_recovery_received),
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

    readonly_fields = [
        claim_claimed,
        claim_assessed,
        claim_compensation,
        claim_deductible,
        claim_payable,
        claim_recovery_raised,
        claim_recovery_received,
        claim_flag_labels,
    ]

    def get_queryset(self, request):
        return claims_with_money_line(super().get_queryset(request))

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
                # The seller's one line, to read the claim as the seller does.
                "line": claim_money_line(claim),
                "recoveries_to_settle": [
                    recovery
                    for recovery in recoveries_with_receipts(claim.recoveries.all())
                    if recovery.owed_total > 0
                ]
                if recovery_receive_allowed(request.user)
                else [],
                "flag_labels": [ClaimFlag(f).label for f in claim.flags if f in ClaimFlag.values],
                "claim_actions": [
                    (action, action.form(prefix=action.name))
                    for action in claim_actions_for(claim=claim, user=request.user)
                ],
                "reply_form": ReplyForm(),
                "can_reply": request.user.has_perm("claims.add_claimmessage"),
                # The approval is asked for: the user who cannot sign it off is told so.
                "approve_waiting": claim.awaiting_signoff
                and request.user.has_perm("claims.approve_claim")
                and not signoff_allowed(claim=claim, user=request.user),
                "sla": claim_sla_clock(claim, today=timezone.localdate()),
                "timeline": [
                    (event, event.kind == EVENT_KIND_BY_PERIL.get(claim.peril))
                    for event in shipment_timeline(shipment_id=claim.shipment_id)
                ],
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
    verbose_name_accusative = pgettext_lazy("accusative", "marketplace compensation")
    list_display = ["external_id", "marketplace", "seller", "shipment_external_id", "reason"]
    list_display += [money_display(MarketplaceCompensation, "amount"), "paid_on", "claim"]
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
    verbose_name_accusative = pgettext_lazy("accusative", "payout")
    list_display = ["reference", "claim", money_display(Payout, "amount"), "paid_on", "created_by"]
    list_select_related = ["claim", "created_by"]
    search_fields = ["reference", "claim__number"]


class RecoveryReceiptInline(ReadOnlyInline):
    model = RecoveryReceipt
    fields = [money_display(RecoveryReceipt, "amount"), "received_on", "reference"]
    fields += ["recorded_by", "recorded_at"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # A receipt is part of its recovery: whoever may see the recovery sees its payments.
        return request.user.has_perm("claims.view_recovery")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


class RecoveryReceiveForm(forms.Form):
    amount = DecimalField(
        label=_("Amount received, ₽"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Less than is owed is a part payment: the rest stays owed."),
    )
    received_on = DateField(
        label=_("Received on"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    reference = LineField(
        label=_("Payment reference"),
        max_length=64,
        help_text=_("As on the bank statement; each payment is recorded once."),
    )


@admin.register(Recovery)
class RecoveryAdmin(AuditedAdmin):
    """Recoveries are raised by reconciliation; staff who may change them record the money
    the seller pays back (`recovery_receive`), all at once or in parts. Nothing else is
    edited here."""

    list_display = ["claim", recovery_amount, recovery_received, recovery_owed]
    list_display += ["status", "raised_at"]
    list_filter = ["status"]
    list_select_related = ["claim"]
    search_fields = ["claim__number", "receipts__reference"]
    fields = ["claim", "compensation", recovery_amount, "status", "raised_at"]
    fields += [recovery_received, recovery_owed]
    readonly_fields = fields
    inlines = [RecoveryReceiptInline]
    actions = ["receive"]

    def get_queryset(self, request):
        return recoveries_with_receipts(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return recovery_receive_allowed(request.user)

    def get_list_display(self, request):
        if self.has_change_permission(request):
            return [*self.list_display, "receive_link"]
        return self.list_display

    @admin.display(description=_("money received"))
    def receive_link(self, recovery):
        if recovery.owed_total <= 0:
            return ""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:claims_recovery_receive", args=[recovery.pk]),
            _("Record money received"),
        )

    @admin.action(
        description=_("Record money received on the selected recovery"), permissions=["change"]
    )
    def receive(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(
                request, _("Select one recovery to record money on at a time."), messages.WARNING
            )
            return None
        return redirect("admin:claims_recovery_receive", ids[0])

    def get_urls(self):
        return [
            path(
                "<path:object_id>/receive/",
                self.admin_site.admin_view(self.receive_view),
                name="claims_recovery_receive",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: a receipt is the only change, made on its own page.
        extra = {
            "show_save": False,
            "show_save_and_continue": False,
            "receive_allowed": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def receive_view(self, request, object_id):
        """Record a payment the seller made towards the recovery: all it owes, or a part."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        recovery = self.get_object(request, object_id)
        if recovery is None:
            raise Http404
        if request.method == "POST":
            form = RecoveryReceiveForm(request.POST)
        else:
            form = RecoveryReceiveForm(
                initial={"amount": recovery.owed_total, "received_on": timezone.localdate()}
            )
        if request.method == "POST" and form.is_valid():
            try:
                receipt = recovery_receive(
                    recovery_id=recovery.pk, actor=Actor.for_user(request.user), **form.cleaned_data
                )
            except DomainError as exc:
                show_domain_error(request, exc, form=form)
            else:
                recovery = self.get_object(request, object_id)
                self.message_user(
                    request,
                    _(
                        "%(amount)s received on claim %(number)s; still owed on this recovery: "
                        "%(owed)s."
                    )
                    % {
                        "amount": rub(receipt.amount),
                        "number": recovery.claim.number,
                        "owed": rub(recovery.owed_total),
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:claims_recovery_change", recovery.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "recovery": recovery,
            "title": _("Record money received"),
            "submit_label": _("Record money received"),
        }
        return TemplateResponse(request, "admin/claims/recovery/receive.html", context)


class DiscrepancyInline(ReadOnlyInline):
    model = Discrepancy
    fields = ["kind", "compensation", "detail"]
    readonly_fields = fields


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ViewOnlyAdmin):
    verbose_name_accusative = pgettext_lazy("accusative", "reconciliation run")
    list_display = [
        "number",
        "state",
        "progress",
        "started_by",
        "started_at",
        "finished_at",
        "total",
        "matched",
        "unmatched",
        "claims_released",
        "recoveries_raised",
        "discrepancies_found",
    ]
    list_filter = ["state", RunTriggerFilter]
    # The driver's bookkeeping (upper bound, cursor, chunk size) is no adjuster's reading.
    fields = [
        ("state", "progress", "report"),
        ("started_by", "started_at", "finished_at", "heartbeat_at"),
        ("total", "processed", "matched", "unmatched"),
        ("claims_released", "recoveries_raised", "discrepancies_found"),
        "error",
    ]
    readonly_fields = ["progress", "report", "started_by"]
    inlines = [DiscrepancyInline]
    change_list_template = "admin/claims/reconciliationrun/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("triggered_by")

    @admin.display(description=pgettext_lazy("reconciliation run", "run"), ordering="pk")
    def number(self, run):
        return f"#{run.pk}"

    @admin.display(description=_("started by"), ordering="trigger")
    def started_by(self, run):
        """What started the run, and the adjuster's name when it was one."""
        trigger = choice_label(RunTrigger, run.trigger)
        return f"{trigger}: {run.triggered_by}" if run.triggered_by_id else trigger

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
    # The key and the owner's type and id are codes the documents are made and found by; a
    # reader knows a document by its kind, what it is about and its file.
    list_display = ["kind", document_about, "seller", document_link, "created_at"]
    list_filter = ["kind", "language"]
    search_fields = ["key", "seller__legal_name", "claim__number", "policy__number"]
    date_hierarchy = "created_at"
    list_select_related = ["seller", "policy"]
    fields = [
        ("kind", "language", "period"),
        (document_about, "seller", "policy"),
        (document_link, "created_at"),
        "sha256",
    ]
    readonly_fields = [document_about, document_link]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("owner")

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
    verbose_name_accusative = pgettext_lazy("accusative", "webhook delivery")
    list_display = ["event", "claim", "marketplace", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "marketplace", "event"]
    list_select_related = ["claim", "marketplace"]
    search_fields = ["claim__number", "url"]
    readonly_fields = ["uid"]
    inlines = [WebhookAttemptInline]
