from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

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
from policies.services import product_version_copy, product_version_in_use

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
class MarketplaceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "webhook_url", "is_active"]
    search_fields = ["code", "name"]
    inlines = [MarketplaceApiKeyInline]


@admin.register(MarketplaceApiKey)
class MarketplaceApiKeyAdmin(APIKeyModelAdmin):
    list_display = ["prefix", "name", "marketplace", "created", "last_used_at", "revoked"]
    list_filter = ["marketplace", "revoked"]
    list_select_related = ["marketplace"]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "marketplace") if obj is not None else fields


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
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
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    inlines = [ProductVersionInline]


class CoverTermsInline(admin.TabularInline):
    model = CoverTerms
    extra = 0

    def _in_use(self, obj):
        return obj is not None and product_version_in_use(obj)

    def has_add_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_delete_permission(request, obj)


@admin.register(ProductVersion)
class ProductVersionAdmin(admin.ModelAdmin):
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


@admin.register(Policy)
class PolicyAdmin(ViewOnlyAdmin):
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
