"""Marketplace finance reports in the admin: every import with what its rows came to, each
row with its outcome, and the upload of a report for any seller."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from claims.choices import ReportOutcome
from claims.models import ReportImport, ReportLine
from claims.page_errors import show_domain_error
from claims.pages.forms import REPORT_ACCEPT, ReportUploadForm
from claims.pages.reports import kind_label, line_detail, reason_label
from claims.reports.importing import report_upload_request
from policies.admin import ViewOnlyAdmin
from policies.errors import DomainError
from policies.models import Seller


def _may_view(request, own_permission: str) -> bool:
    # The staff roles were made before reports existed: whoever may look at claims may
    # look at the report rows that opened them.
    return request.user.has_perm(own_permission) or request.user.has_perm("claims.view_claim")


def may_upload_report(user) -> bool:
    # Uploading a report records compensation, as the compensation CSV upload does.
    return user.has_perm("claims.add_reportimport") or user.has_perm(
        "claims.add_marketplacecompensation"
    )


class AdminReportUploadForm(ReportUploadForm):
    seller = forms.ModelChoiceField(
        label=_("Seller"),
        queryset=Seller.objects.select_related("marketplace"),
        widget=AutocompleteSelect(ReportImport._meta.get_field("seller"), admin.site),
        help_text=_("The report is imported for this seller, on the seller's marketplace."),
    )

    field_order = ["seller", "file"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = REPORT_ACCEPT


@admin.register(ReportImport)
class ReportImportAdmin(ViewOnlyAdmin):
    verbose_name_accusative = pgettext_lazy("accusative", "report import")
    list_display = [
        "created_at",
        "seller",
        "marketplace",
        "format",
        "source",
        "status",
        "progress",
        "claims_opened",
        "fees_found",
        "fees_amount",
        "compensations_amount",
        "row_link",
    ]
    list_filter = ["status", "format", "source", "marketplace"]
    list_select_related = ["seller", "marketplace"]
    search_fields = ["seller__legal_name", "=seller__tax_id", "filename"]
    search_help_text = _("Seller name or tax id (INN), or file name.")
    date_hierarchy = "created_at"
    change_list_template = "admin/claims/reportimport/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("seller", "marketplace"),
                    ("format", "source", "uploaded_by"),
                    ("filename", "external_id"),
                    ("period_start", "period_end"),
                    ("status", "progress", "created_at", "finished_at"),
                    "error",
                ]
            },
        ),
        (
            _("What the rows came to"),
            {
                "fields": [
                    "outcome_counts",
                    ("fees_found", "fees_amount", "compensations_amount"),
                    "row_link",
                ]
            },
        ),
    ]
    readonly_fields = ["uploaded_by", "progress", "outcome_counts", "row_link"]

    def has_view_permission(self, request, obj=None):
        return _may_view(request, "claims.view_reportimport")

    @admin.display(description=_("uploaded by"))
    def uploaded_by(self, imported):
        # The model's field carries no name of its own.
        return imported.created_by or "—"

    @admin.display(description=_("progress"))
    def progress(self, imported):
        return f"{imported.percent} % ({imported.processed:,} / {imported.rows:,})"

    @admin.display(description=_("claims opened"))
    def claims_opened(self, imported):
        return imported.outcomes.get(ReportOutcome.CLAIM_OPENED, 0)

    @admin.display(description=_("outcomes"))
    def outcome_counts(self, imported):
        counts = [
            (label, imported.outcomes[code])
            for code, label in ReportOutcome.choices
            if imported.outcomes.get(code)
        ]
        if not counts:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}: {}", counts)

    @admin.display(description=_("rows"))
    def row_link(self, imported):
        url = reverse("admin:claims_reportline_changelist") + f"?report__id__exact={imported.pk}"
        return format_html('<a href="{}">{}</a>', url, _("%(n)s rows") % {"n": imported.rows})

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="claims_reportimport_upload",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"may_upload": may_upload_report(request.user)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def upload_view(self, request):
        """Import a report for any seller, as the seller's own upload would (source: admin)."""
        if not may_upload_report(request.user):
            raise PermissionDenied
        posted = request.method == "POST"
        form = (
            AdminReportUploadForm(request.POST, request.FILES)
            if posted
            else (AdminReportUploadForm())
        )
        if posted and form.is_valid():
            seller = form.cleaned_data["seller"]
            upload = form.cleaned_data["file"]
            try:
                imported = report_upload_request(seller=seller, upload=upload, user=request.user)
            except DomainError as exc:
                show_domain_error(request, exc, form=form, field="file")
            else:
                self.message_user(
                    request,
                    _("The report of %(seller)s is being imported; its progress shows here.")
                    % {"seller": seller.legal_name},
                    messages.SUCCESS,
                )
                return redirect("admin:claims_reportimport_change", imported.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Upload a report"),
            "submit_label": _("Import"),
        }
        return TemplateResponse(request, "admin/claims/reportimport/upload.html", context)


class ReportFilter(admin.SimpleListFilter):
    """The rows of one import, reached from its page; no list of every import is offered."""

    title = _("report")
    parameter_name = "report__id__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value or not value.isdigit():
            return []
        imported = ReportImport.objects.filter(pk=value).first()
        return [(value, str(imported))] if imported else []

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(report_id=value)
        return queryset


@admin.register(ReportLine)
class ReportLineAdmin(ViewOnlyAdmin):
    verbose_name_accusative = pgettext_lazy("accusative", "report row")
    list_display = [
        "line",
        "key",
        "kind_display",
        "shipment_external_id",
        "occurred_on",
        "amount",
        "outcome",
        "reason_display",
        "claim_link",
        "compensation_ref",
        "report_link",
    ]
    list_filter = [ReportFilter, "outcome"]
    list_select_related = ["report", "claim", "compensation"]
    search_fields = ["=key", "=shipment_external_id", "=claim__number"]
    search_help_text = _("Row id, item (srid) or claim number.")
    ordering = ["report", "line", "pk"]
    list_per_page = 100
    fields = [
        "report_link",
        ("line", "key", "kind_display"),
        ("shipment_external_id", "peril", "occurred_on", "amount"),
        ("outcome", "reason_display", "counted"),
        "message",
        ("claim_link", "compensation_ref"),
    ]
    readonly_fields = [
        "report_link",
        "kind_display",
        "reason_display",
        "claim_link",
        "compensation_ref",
    ]

    def has_view_permission(self, request, obj=None):
        return _may_view(request, "claims.view_reportline")

    @admin.display(description=_("operation"), ordering="kind")
    def kind_display(self, line):
        return kind_label(line.kind)

    @admin.display(description=_("reason"), ordering="reason")
    def reason_display(self, line):
        reason, detail = reason_label(line.reason), line_detail(line)
        return " — ".join(part for part in (reason, detail) if part) or "—"

    # The row's relations, labelled and linked: the model's foreign keys carry no names.
    @admin.display(description=_("report"), ordering="report")
    def report_link(self, line):
        url = reverse("admin:claims_reportimport_change", args=[line.report_id])
        return format_html('<a href="{}">{}</a>', url, line.report)

    @admin.display(description=_("claim"), ordering="claim__number")
    def claim_link(self, line):
        if line.claim is None:
            return "—"
        url = reverse("admin:claims_claim_change", args=[line.claim_id])
        return format_html('<a href="{}">{}</a>', url, line.claim.number)

    @admin.display(description=_("compensation"), ordering="compensation__external_id")
    def compensation_ref(self, line):
        if line.compensation is None:
            return "—"
        url = reverse("admin:claims_marketplacecompensation_change", args=[line.compensation_id])
        return format_html('<a href="{}">{}</a>', url, line.compensation.external_id)
