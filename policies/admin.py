from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey
from simple_history.admin import SimpleHistoryAdmin

from policies.forms import DateField, DecimalField
from policies.models import (
    CoverTerms,
    Marketplace,
    MarketplaceApiKey,
    OutboxMessage,
    Policy,
    PolicyTransition,
    Product,
    ProductVersion,
    Seller,
    Shipment,
    ShipmentEvent,
    User,
)
from policies.outbox import outbox_resend
from policies.services import (
    marketplace_webhook_secret_rotate,
    product_version_copy,
    product_version_in_use,
)
from policies.validators import field_rules

# Keys belong to a marketplace here; the package's unscoped model stays unused.
admin.site.unregister(APIKey)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows written only through the domain services (API, jobs, seller pages)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InputRulesMixin:
    """Model forms held to the shared input rules (policies/validators.py), as the API and
    the seller pages are: amounts and dates typed with the digits 0-9, dates in range, no
    control or invisible characters in names."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", DecimalField)
        elif type(db_field) is models.DateField:
            kwargs.setdefault("form_class", DateField)
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            rules = [rule for rule in field_rules(db_field) if rule not in formfield.validators]
            formfield.validators.extend(rules)
        return formfield


class AuditedAdmin(InputRulesMixin, SimpleHistoryAdmin):
    """An admin whose History page lists each recorded change: who, when, before and after."""

    def history_view_title(self, request, obj):
        return _("Change history: %s") % obj

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert would save an old row as it stood, past the services' rules (a claim's
        # state machine, terms in use): an old version is shown, never written back.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "seller", "is_staff", "authority_limit"]
    list_filter = ["is_staff", "is_active", "groups"]
    list_select_related = ["seller"]
    search_fields = ["email", "first_name", "last_name", "seller__legal_name"]
    autocomplete_fields = ["seller"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "seller"]}),
        (
            _("Permissions"),
            {
                "fields": [
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "authority_limit",
                    "groups",
                    "user_permissions",
                ]
            },
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]


class MarketplaceApiKeyInline(ReadOnlyInline):
    model = MarketplaceApiKey
    fields = ["prefix", "name", "created", "last_used_at", "revoked"]
    readonly_fields = fields


@admin.register(Marketplace)
class MarketplaceAdmin(AuditedAdmin):
    list_display = ["code", "name", "webhook_url", "is_active"]
    search_fields = ["code", "name"]
    # Whoever holds the signing secret can forge the webhooks: it is shown once, to whoever
    # makes or rotates it, and no form, list or history carries it.
    exclude = ["webhook_secret"]
    readonly_fields = ["webhook_secret_set"]
    actions = ["rotate_webhook_secret"]
    inlines = [MarketplaceApiKeyInline]

    @admin.display(boolean=True, description=_("webhook secret set"))
    def webhook_secret_set(self, marketplace):
        return bool(marketplace.webhook_secret)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self._show_secret(request, obj, marketplace_webhook_secret_rotate(marketplace=obj))

    @admin.action(description=_("Rotate webhook secret"), permissions=["change"])
    def rotate_webhook_secret(self, request, queryset):
        for marketplace in queryset:
            secret = marketplace_webhook_secret_rotate(marketplace=marketplace)
            self.log_change(request, marketplace, _("Rotated the webhook secret."))
            self._show_secret(request, marketplace, secret)

    def _show_secret(self, request, marketplace, secret):
        self.message_user(
            request,
            _(
                "New webhook signing secret of %(marketplace)s: %(secret)s. Copy it now for "
                "the marketplace's engineers: it is not shown again."
            )
            % {"marketplace": marketplace, "secret": secret},
            messages.WARNING,
        )


@admin.register(MarketplaceApiKey)
class MarketplaceApiKeyAdmin(AuditedAdmin, APIKeyModelAdmin):
    list_display = ["prefix", "name", "marketplace", "created", "last_used_at", "revoked"]
    list_filter = ["marketplace", "revoked"]
    list_select_related = ["marketplace"]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "marketplace") if obj is not None else fields


@admin.register(Seller)
class SellerAdmin(AuditedAdmin):
    list_display = ["legal_name", "tax_id", "marketplace", "external_id", "email", "language"]
    list_filter = ["marketplace", "language"]
    list_select_related = ["marketplace"]
    search_fields = ["legal_name", "tax_id", "external_id", "email"]


class ProductVersionInline(ReadOnlyInline):
    model = ProductVersion
    fields = ["version", "effective_from", "aggregate_limit", "auto_approve_threshold"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = ["code", "name", "is_active"]
    inlines = [ProductVersionInline]


class CoverTermsInline(InputRulesMixin, admin.TabularInline):
    model = CoverTerms
    extra = 0
    # Each cover's page carries its history.
    show_change_link = True

    def _in_use(self, obj):
        return obj is not None and product_version_in_use(obj)

    def has_add_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_delete_permission(request, obj)


@admin.register(ProductVersion)
class ProductVersionAdmin(AuditedAdmin):
    list_display = ["__str__", "effective_from", "aggregate_limit", "auto_approve_threshold"]
    list_filter = ["product"]
    list_select_related = ["product"]
    inlines = [CoverTermsInline]

    def has_change_permission(self, request, obj=None):
        # Terms a policy was sold on are never edited in place.
        if obj is not None and product_version_in_use(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and product_version_in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name="policies_productversion_new_version",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_copy": self.has_add_permission(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @transaction.atomic
    def new_version_view(self, request, object_id):
        """Copy a version's terms into a new version on sale from today, to be edited."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ProductVersion, pk=object_id)
        copy = product_version_copy(version=version, effective_from=timezone.localdate())
        self.message_user(
            request,
            _("Version %(version)s made from %(source)s: edit its terms before it goes on sale.")
            % {"version": copy.version, "source": version},
            messages.SUCCESS,
        )
        return redirect("admin:policies_productversion_change", copy.pk)


class PolicyTransitionInline(ReadOnlyInline):
    model = PolicyTransition
    fields = ["at", "transition", "source_state", "target_state", "actor_label", "note"]
    readonly_fields = fields


@admin.register(CoverTerms)
class CoverTermsAdmin(AuditedAdmin, ViewOnlyAdmin):
    """A cover's terms, changed only on its version's page, with their history."""

    list_display = ["__str__", "premium_basis", "premium_rate", "per_claim_limit", "deductible"]
    list_filter = ["cover", "product_version__product"]
    list_select_related = ["product_version__product"]


@admin.register(Policy)
class PolicyAdmin(AuditedAdmin, ViewOnlyAdmin):
    list_display = ["number", "seller", "product_version", "period_start", "period_end", "status"]
    list_filter = ["status", "marketplace", "product_version__product"]
    list_select_related = ["seller", "product_version__product"]
    search_fields = ["number", "seller__legal_name", "seller__tax_id", "external_id"]
    inlines = [PolicyTransitionInline]


class ShipmentEventInline(ReadOnlyInline):
    model = ShipmentEvent
    fields = ["occurred_at", "kind", "amount", "external_id"]
    readonly_fields = fields


@admin.register(Shipment)
class ShipmentAdmin(ViewOnlyAdmin):
    list_display = [
        "external_id",
        "order_id",
        "seller",
        "sku",
        "declared_value",
        "shipped_at",
        "policy",
    ]
    list_filter = ["marketplace", "fulfilment"]
    list_select_related = ["seller", "policy"]
    search_fields = ["external_id", "order_id", "sku", "seller__legal_name"]
    date_hierarchy = "shipped_at"
    inlines = [ShipmentEventInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ViewOnlyAdmin):
    """The follow-ups of committed changes: what waits, what runs, what was given up."""

    list_display = ["task", "status", "attempts", "created_at", "dispatched_at", "finished_at"]
    list_filter = ["status", "task"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.action(description=_("Send the selected follow-ups again now"))
    def send_again(self, request, queryset):
        if not request.user.is_superuser:
            raise PermissionDenied
        sent = outbox_resend(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(count)s sent to the workers.") % {"count": sent})
