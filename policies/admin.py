from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import HistoricalChanges

from policies.choices import PolicyStatus, PolicyStep, choice_label
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


class CaseTitlesMixin:
    """Page titles that name the model in the accusative, as Russian's "Выберите …",
    "Добавить …", "Изменить …" and "Просмотреть …" want ("Выберите выплату"): Django puts
    the nominative verbose name in them.

    `verbose_name_accusative` is that form, `pgettext_lazy("accusative", <verbose name>)`;
    a name whose accusative is its nominative (полис, документ) needs none.
    """

    verbose_name_accusative = None

    def _title(self, text: str) -> str:
        return text % (self.verbose_name_accusative or self.opts.verbose_name)

    def changelist_view(self, request, extra_context=None):
        # Django's own choice of title, and its own wording.
        if IS_POPUP_VAR in request.GET:
            title = self._title(gettext("Select %s"))
        elif self.has_change_permission(request):
            title = self._title(gettext("Select %s to change"))
        else:
            title = self._title(gettext("Select %s to view"))
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if add:
            context["title"] = self._title(gettext("Add %s"))
        elif self.has_change_permission(request, obj):
            context["title"] = self._title(gettext("Change %s"))
        else:
            context["title"] = self._title(gettext("View %s"))
        return super().render_change_form(request, context, add, change, form_url, obj)


class ViewOnlyAdmin(CaseTitlesMixin, admin.ModelAdmin):
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


class AuditedAdmin(CaseTitlesMixin, InputRulesMixin, SimpleHistoryAdmin):
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


# The apps whose permissions a person may be given one by one (of their models today, not of
# a model long moved away); roles are groups (the claims migration 0003_roles).
PRODUCT_APPS = ("claims", "policies")


@admin.register(User)
class UserAdmin(CaseTitlesMixin, DjangoUserAdmin):
    verbose_name_accusative = pgettext_lazy("accusative", "user")
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

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Roles come through groups; a permission given one by one is one of the product's
        # own, never a library's (whose names no one here translates or needs).
        if db_field.name == "user_permissions":
            models = [
                model
                for name in PRODUCT_APPS
                for model in apps.get_app_config(name).get_models()
                # The audit's copies are read through their model's history page.
                if not issubclass(model, HistoricalChanges)
            ]
            kinds = ContentType.objects.get_for_models(*models).values()
            kwargs["queryset"] = Permission.objects.filter(content_type__in=kinds).select_related(
                "content_type"
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# The package's key fields carry no verbose names: labelled here, in the reader's language.
API_KEY_LABELS = {
    "prefix": _("prefix"),
    "name": _("name"),
    "created": _("created"),
    "revoked": _("revoked"),
    "expiry_date": _("expires"),
}


class MarketplaceApiKeyForm(forms.ModelForm):
    class Meta:
        model = MarketplaceApiKey
        fields = ["name", "revoked", "expiry_date"]
        # The admin labels its read-only fields from these too.
        labels = API_KEY_LABELS
        help_texts = {
            "name": _("Any name that tells the key apart; it need not be unique."),
            "revoked": _("A revoked key no longer works; this cannot be undone."),
            "expiry_date": _("Once the key has expired, it no longer works."),
        }


def api_key_column(name: str, **kwargs):
    """Return a list column showing the package's field `name` under its label."""

    def show(key):
        return getattr(key, name)

    show.__name__ = name
    return admin.display(description=API_KEY_LABELS[name], ordering=name, **kwargs)(show)


class ApiKeyRevokedFilter(admin.BooleanFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = API_KEY_LABELS["revoked"]


class MarketplaceApiKeyInline(ReadOnlyInline):
    model = MarketplaceApiKey
    form = MarketplaceApiKeyForm
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
    form = MarketplaceApiKeyForm
    list_display = [api_key_column("prefix"), api_key_column("name"), "marketplace"]
    list_display += [api_key_column("created"), "last_used_at"]
    list_display += [api_key_column("revoked", boolean=True)]
    list_filter = ["marketplace", ("revoked", ApiKeyRevokedFilter)]
    list_select_related = ["marketplace"]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "marketplace") if obj is not None else fields


@admin.register(Seller)
class SellerAdmin(AuditedAdmin):
    verbose_name_accusative = pgettext_lazy("accusative", "seller")
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
    verbose_name_accusative = pgettext_lazy("accusative", "product version")
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
    fields = ["at", "step", "source", "target", "actor", "note"]
    readonly_fields = fields

    @admin.display(description=_("step"))
    def step(self, transition):
        return choice_label(PolicyStep, transition.transition)

    @admin.display(description=pgettext_lazy("state", "from"))
    def source(self, transition):
        return choice_label(PolicyStatus, transition.source_state)

    @admin.display(description=pgettext_lazy("state", "to"))
    def target(self, transition):
        return choice_label(PolicyStatus, transition.target_state)

    @admin.display(description=_("by"))
    def actor(self, transition):
        return transition.actor_label


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

    verbose_name_accusative = pgettext_lazy("accusative", "outbox message")
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
