from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from rest_framework_api_key.models import AbstractAPIKey

from policies.choices import (
    ActorKind,
    Cover,
    DocumentKind,
    Fulfilment,
    Language,
    OutboxStatus,
    PolicyStatus,
    PolicyStep,
    PremiumBasis,
    ShipmentEventKind,
    choice_label,
)
from policies.history import audit_history
from policies.validators import validate_inn

ZERO = Decimal("0.00")
MONEY = {"max_digits": 14, "decimal_places": 2}


def money_field(verbose_name, **kwargs):
    """Return a non-negative rouble amount field; callers add the DB check."""
    return models.DecimalField(
        verbose_name, validators=[MinValueValidator(ZERO)], **MONEY, **kwargs
    )


def non_negative(*field_names: str, model: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{name}__gte": 0}) | Q(**{f"{name}__isnull": True}),
            name=f"{model}_{name}_non_negative",
        )
        for name in field_names
    ]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: a seller's user (with `seller`) or insurer staff."""

    username = None
    email = models.EmailField(_("e-mail"), unique=True)
    seller = models.ForeignKey(
        "policies.Seller",
        verbose_name=_("seller"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    authority_limit = models.DecimalField(
        _("authority limit"),
        help_text=_("Largest payable this adjuster may approve alone."),
        validators=[MinValueValidator(ZERO)],
        default=ZERO,
        **MONEY,
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [*non_negative("authority_limit", model="user")]

    def __str__(self):
        return self.email


class Marketplace(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    webhook_secret = models.CharField(_("webhook signing secret"), max_length=128, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # The signing secret stays out of the history: its pages show every old value.
    history = audit_history(excluded_fields=["webhook_secret"])

    class Meta:
        verbose_name = _("marketplace")
        verbose_name_plural = _("marketplaces")
        ordering = ["code"]

    def __str__(self):
        return self.name


class MarketplaceApiKey(AbstractAPIKey):
    """An integration credential; stored hashed, scoped to one marketplace."""

    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    # A key's use is no staff change (and is written with update(), which the history
    # does not see): one row per key made, renamed or revoked.
    history = audit_history(excluded_fields=["last_used_at"])

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("marketplace API key")
        verbose_name_plural = _("marketplace API keys")


class Seller(models.Model):
    marketplace = models.ForeignKey(
        Marketplace,
        verbose_name=_("marketplace"),
        on_delete=models.PROTECT,
        related_name="sellers",
    )
    external_id = models.CharField(_("marketplace seller id"), max_length=64)
    legal_name = models.CharField(_("legal name"), max_length=300)
    tax_id = models.CharField(_("tax id (ИНН)"), max_length=12, validators=[validate_inn])
    email = models.EmailField(_("contact e-mail"))
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.RU
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = audit_history(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("seller")
        verbose_name_plural = _("sellers")
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["marketplace", "external_id"], name="seller_unique_external_id"
            ),
        ]

    def __str__(self):
        return self.legal_name


class Product(models.Model):
    """A tariff; its terms live in versions so that sold terms never change."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("on sale"), default=True)

    history = audit_history()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]

    def __str__(self):
        return self.name


class ProductVersion(models.Model):
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="versions",
    )
    version = models.PositiveIntegerField(_("version"))
    effective_from = models.DateField(_("on sale from"))
    policy_period_months = models.PositiveSmallIntegerField(_("policy period, months"), default=12)
    aggregate_limit = money_field(_("aggregate limit per policy period"))
    notification_window_days = models.PositiveIntegerField(
        _("notification window, days"), default=30
    )
    cargo_compensation_wait_days = models.PositiveIntegerField(
        _("cargo compensation wait, days"), default=14
    )
    auto_approve_threshold = money_field(_("auto-approve threshold"), default=ZERO)
    max_declared_value = money_field(_("maximum declared value per item"), null=True, blank=True)
    excluded_categories = models.JSONField(_("excluded categories"), default=list, blank=True)
    forward_leg_covered = models.BooleanField(
        _("forward leg of a non-bought-out delivery covered"), default=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = audit_history()

    class Meta:
        verbose_name = _("product version")
        verbose_name_plural = _("product versions")
        ordering = ["product", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="product_version_unique"),
            *non_negative("aggregate_limit", "auto_approve_threshold", model="productversion"),
        ]

    def __str__(self):
        return _("%(product)s, version %(version)s") % {
            "product": self.product.name,
            "version": self.version,
        }


class CoverTerms(models.Model):
    """The terms of one cover within a product version."""

    product_version = models.ForeignKey(
        ProductVersion,
        verbose_name=_("product version"),
        on_delete=models.CASCADE,
        related_name="covers",
    )
    cover = models.CharField(_("cover"), max_length=32, choices=Cover.choices)
    premium_basis = models.CharField(
        _("premium basis"), max_length=32, choices=PremiumBasis.choices
    )
    premium_rate = models.DecimalField(
        _("premium rate"),
        max_digits=7,
        decimal_places=5,
        default=Decimal("0"),
        help_text=_("0.014 is 1.4 %."),
        validators=[MinValueValidator(Decimal("0"))],
    )
    premium_fee = money_field(_("premium fee per shipment"), default=ZERO)
    per_claim_limit = money_field(_("limit per claim (item)"))
    per_event_limit = money_field(_("limit per event"), null=True, blank=True)
    deductible = money_field(_("deductible per claim"), default=ZERO)

    history = audit_history()

    class Meta:
        verbose_name = _("cover terms")
        verbose_name_plural = _("cover terms")
        constraints = [
            models.UniqueConstraint(
                fields=["product_version", "cover"], name="coverterms_one_per_cover"
            ),
            *non_negative(
                "premium_rate",
                "premium_fee",
                "per_claim_limit",
                "per_event_limit",
                "deductible",
                model="coverterms",
            ),
        ]

    def __str__(self):
        return f"{self.product_version} · {self.get_cover_display()}"


class Policy(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    marketplace = models.ForeignKey(
        Marketplace,
        verbose_name=_("marketplace"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # NULL, not "", for policies enrolled in the UI: the unique constraint ignores NULLs.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    seller = models.ForeignKey(
        Seller,
        verbose_name=_("seller"),
        on_delete=models.PROTECT,
        related_name="policies",
    )
    product_version = models.ForeignKey(
        ProductVersion,
        verbose_name=_("product version"),
        on_delete=models.PROTECT,
        related_name="policies",
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = FSMField(
        _("status"),
        max_length=16,
        choices=PolicyStatus.choices,
        default=PolicyStatus.DRAFT,
        protected=True,
    )
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = audit_history(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["-period_start", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["marketplace", "external_id"], name="policy_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="policy_period_ordered",
            ),
        ]
        indexes = [models.Index(fields=["seller", "status", "period_start"])]

    def __str__(self):
        return self.number

    @transition(field=status, source=PolicyStatus.DRAFT, target=PolicyStatus.ACTIVE)
    def activate(self):
        pass

    @transition(field=status, source=PolicyStatus.ACTIVE, target=PolicyStatus.SUSPENDED)
    def suspend(self):
        pass

    @transition(field=status, source=PolicyStatus.SUSPENDED, target=PolicyStatus.ACTIVE)
    def resume(self):
        pass

    @transition(
        field=status,
        source=[PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED],
        target=PolicyStatus.EXPIRED,
    )
    def expire(self):
        pass

    @transition(
        field=status,
        source=[PolicyStatus.DRAFT, PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED],
        target=PolicyStatus.CANCELLED,
    )
    def cancel(self):
        pass


class TransitionLog(models.Model):
    """Who moved an object from one state to another, when and why.

    django-fsm-log records only a user, through signals; transitions here are
    also made by integrations and the system and carry a note the seller
    sees and an internal one, so each service writes its log row itself.
    """

    transition = models.CharField(_("transition"), max_length=32)
    source_state = models.CharField(_("from"), max_length=32)
    target_state = models.CharField(_("to"), max_length=32)
    at = models.DateTimeField(_("at"))
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=ActorKind.choices)
    # Indexed only where set (see Meta): the system's many releases name no actor.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_marketplace = models.ForeignKey(
        Marketplace,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    note = models.TextField(_("note"), blank=True)
    internal_note = models.TextField(_("internal note"), blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "pk"]
        indexes = [
            models.Index(
                fields=["actor_user"],
                name="%(class)s_user",
                condition=Q(actor_user__isnull=False),
            ),
            models.Index(
                fields=["actor_marketplace"],
                name="%(class)s_marketplace",
                condition=Q(actor_marketplace__isnull=False),
            ),
        ]

    @property
    def actor_label(self) -> str:
        if self.actor_kind == ActorKind.USER and self.actor_user_id:
            return str(self.actor_user)
        if self.actor_kind == ActorKind.INTEGRATION and self.actor_marketplace_id:
            return str(self.actor_marketplace)
        return str(ActorKind(self.actor_kind).label)


class PolicyTransition(TransitionLog):
    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )

    class Meta(TransitionLog.Meta):
        verbose_name = _("policy transition")
        verbose_name_plural = _("policy transitions")
        # A policy's log in order, and its status at a date (the bordereaux).
        indexes = [*TransitionLog.Meta.indexes, models.Index(fields=["policy", "at"])]

    def __str__(self):
        return choice_label(PolicyStep, self.transition)


class Shipment(models.Model):
    """One item of one marketplace order."""

    # Marketplace and seller lead the composite indexes below: an index of their own
    # would only slow every ingest write.
    marketplace = models.ForeignKey(
        Marketplace,
        verbose_name=_("marketplace"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    external_id = models.CharField(_("shipment id"), max_length=64)
    seller = models.ForeignKey(
        Seller,
        verbose_name=_("seller"),
        on_delete=models.PROTECT,
        related_name="shipments",
        db_index=False,
    )
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("insured under"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="shipments",
    )
    order_id = models.CharField(_("order id"), max_length=64)
    sku = models.CharField(_("SKU"), max_length=64)
    category = models.CharField(_("category"), max_length=200, blank=True)
    declared_value = money_field(_("declared value"))
    warehouse = models.CharField(_("warehouse"), max_length=200, blank=True)
    pickup_point = models.CharField(_("pickup point"), max_length=200, blank=True)
    fulfilment = models.CharField(
        _("fulfilment"),
        max_length=16,
        choices=Fulfilment.choices,
        default=Fulfilment.MARKETPLACE,
    )
    shipped_at = models.DateTimeField(_("shipped"))
    reverse_logistics_fee = money_field(_("reverse-logistics fee"), null=True, blank=True)
    premium = money_field(_("premium"), default=ZERO)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-shipped_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["marketplace", "external_id"],
                name="shipment_unique_external_id",
            ),
            *non_negative("declared_value", "reverse_logistics_fee", "premium", model="shipment"),
        ]
        indexes = [
            models.Index(fields=["seller", "order_id"]),
            models.Index(fields=["seller", "-shipped_at"]),
            # The admin's claim search by order id, which names no seller.
            models.Index(fields=["order_id"], name="shipment_order_id"),
        ]

    def __str__(self):
        return self.external_id

    @property
    def is_insured(self) -> bool:
        return self.policy_id is not None


class ShipmentEvent(models.Model):
    # Both lead a composite index below (the ingest's write path pays for every index).
    marketplace = models.ForeignKey(
        Marketplace, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    external_id = models.CharField(_("event id"), max_length=64)
    shipment = models.ForeignKey(
        Shipment,
        verbose_name=_("shipment"),
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ShipmentEventKind.choices)
    occurred_at = models.DateTimeField(_("occurred"))
    amount = money_field(_("amount"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("shipment event")
        verbose_name_plural = _("shipment events")
        ordering = ["occurred_at", "pk"]
        constraints = [
            # On PostgreSQL the events are partitioned by month and this key is held by a
            # table of its own under the same name (policies/partitions.py).
            models.UniqueConstraint(
                fields=["marketplace", "external_id"],
                name="shipmentevent_unique_external_id",
            ),
            *non_negative("amount", model="shipmentevent"),
        ]
        indexes = [models.Index(fields=["shipment", "kind"])]

    def __str__(self):
        return f"{self.shipment} · {self.get_kind_display()}"


def document_upload_to(instance: "Document", filename: str) -> str:
    return f"documents/{instance.kind}/{filename}"


class Document(models.Model):
    """A generated PDF or CSV, kept with its hash; `key` makes generation idempotent.

    `owner` is what the document is about beyond its seller and policy (a claim, a
    reconciliation run), so this app keeps every document without knowing those models.
    """

    kind = models.CharField(_("kind"), max_length=32, choices=DocumentKind.choices)
    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    seller = models.ForeignKey(
        Seller,
        verbose_name=_("seller"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    owner_type = models.ForeignKey(
        ContentType,
        verbose_name=_("about (kind of record)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    owner_id = models.PositiveBigIntegerField(_("about (record number)"), null=True, blank=True)
    owner = GenericForeignKey("owner_type", "owner_id")
    period = models.DateField(_("month"), null=True, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.RU
    )
    file = models.FileField(_("file"), upload_to=document_upload_to, max_length=300)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner_type", "owner_id"], name="document_owner")]

    def __str__(self):
        # The key names the event in codes; the reader knows a document by its kind.
        return f"{self.get_kind_display()} #{self.pk}"


class OutboxMessage(models.Model):
    """A follow-up task, written in the transaction of the change that calls for it.

    The dispatcher hands it to Celery once that transaction commits; the sweep sends
    again what was never sent (the broker was down) or never finished (the worker died).
    """

    task = models.CharField(_("task"), max_length=200)
    kwargs = models.JSONField(_("arguments"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("times sent"), default=0)
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    # The request that wrote the row: its task's log lines carry the same id.
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["created_at", "pk"]
        indexes = [
            # The sweep and the admin's depth read only the rows not yet done.
            models.Index(
                fields=["created_at"],
                name="outbox_open",
                condition=Q(status__in=["pending", "dispatched"]),
            )
        ]

    def __str__(self):
        return f"{self.task} #{self.pk} · {self.get_status_display()}"
