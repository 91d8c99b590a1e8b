"""factory-boy factories that keep relations consistent: a claim's shipment and policy share
its seller, and every seller's rows share its marketplace."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from claims.assessment import claim_recalculate, event_key
from claims.choices import (
    ClaimSource,
    ClaimStatus,
    CompensationReason,
    CompensationSource,
    DiscrepancyKind,
    MessageAuthor,
    RecoveryStatus,
)
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
from policies.choices import COVER_BY_PERIL, Cover, DocumentKind, Peril, PolicyStatus, PremiumBasis
from policies.models import (
    CoverTerms,
    Document,
    Marketplace,
    MarketplaceApiKey,
    Policy,
    PolicyTransition,
    Product,
    ProductVersion,
    Seller,
    Shipment,
    ShipmentEvent,
    User,
)

PASSWORD = "test-pass-123"
_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def valid_inn(n: int) -> str:
    """Return a 10-digit tax id with a correct check digit, different for each `n`."""
    base = f"77{n:07d}"
    check = sum(int(d) * w for d, w in zip(base, _INN10_WEIGHTS, strict=True)) % 11 % 10
    return f"{base}{check}"


class MarketplaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Marketplace
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"mp{n}")
    name = factory.LazyAttribute(lambda o: f"Marketplace {o.code}")


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    marketplace = factory.SubFactory(MarketplaceFactory)
    external_id = factory.Sequence(lambda n: f"S-{n:06d}")
    legal_name = factory.Sequence(lambda n: f"ООО «Продавец {n}»")
    tax_id = factory.Sequence(valid_inn)
    email = factory.Sequence(lambda n: f"seller{n}@example.com")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SellerUserFactory(UserFactory):
    seller = factory.SubFactory(SellerFactory)


class StaffFactory(UserFactory):
    """An insurer employee in one of the role groups the data migration makes."""

    is_staff = True
    authority_limit = Decimal("50000.00")

    @factory.post_generation
    def group(obj, create, extracted, **kwargs):
        from django.contrib.auth.models import Group

        if create:
            obj.groups.add(Group.objects.get(name=extracted or "Adjuster"))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"product{n}")
    name = factory.LazyAttribute(lambda o: f"Product {o.code}")


class ProductVersionFactory(factory.django.DjangoModelFactory):
    """The demo programme's terms; both covers unless `covers` says otherwise."""

    class Meta:
        model = ProductVersion
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    version = factory.Sequence(lambda n: n + 1)
    effective_from = dt.date(2020, 1, 1)
    aggregate_limit = Decimal("1000000.00")
    auto_approve_threshold = Decimal("10000.00")
    max_declared_value = Decimal("200000.00")
    excluded_categories = factory.LazyFunction(lambda: ["Ювелирные изделия"])

    @factory.post_generation
    def covers(obj, create, extracted, **kwargs):
        if not create:
            return
        for cover in extracted if extracted is not None else [Cover.RETURN_LOGISTICS, Cover.CARGO]:
            CoverTermsFactory(product_version=obj, cover=cover)


class CoverTermsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoverTerms

    product_version = factory.SubFactory(ProductVersionFactory, covers=[])
    cover = Cover.CARGO
    premium_basis = factory.LazyAttribute(
        lambda o: (
            PremiumBasis.RATE_ON_DECLARED_VALUE
            if o.cover == Cover.CARGO
            else PremiumBasis.FEE_PER_SHIPMENT
        )
    )
    premium_rate = Decimal("0.014")
    premium_fee = Decimal("0.70")
    per_claim_limit = factory.LazyAttribute(
        lambda o: Decimal("50000.00") if o.cover == Cover.CARGO else Decimal("5000.00")
    )
    per_event_limit = factory.LazyAttribute(
        lambda o: Decimal("100000.00") if o.cover == Cover.CARGO else None
    )
    deductible = factory.LazyAttribute(
        lambda o: Decimal("500.00") if o.cover == Cover.CARGO else Decimal("0.00")
    )


class PolicyFactory(factory.django.DjangoModelFactory):
    """An active policy whose year started 100 days ago."""

    class Meta:
        model = Policy

    seller = factory.SubFactory(SellerFactory)
    marketplace = factory.SelfAttribute("seller.marketplace")
    product_version = factory.SubFactory(ProductVersionFactory)
    number = factory.Sequence(lambda n: f"POL-TEST-{n:06d}")
    period_start = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=100))
    period_end = factory.LazyAttribute(lambda o: o.period_start + dt.timedelta(days=364))
    status = PolicyStatus.ACTIVE


class ShipmentFactory(factory.django.DjangoModelFactory):
    """An item shipped 20 days ago, insured under its seller's policy."""

    class Meta:
        model = Shipment

    policy = factory.SubFactory(PolicyFactory)
    seller = factory.SelfAttribute("policy.seller")
    marketplace = factory.SelfAttribute("seller.marketplace")
    external_id = factory.Sequence(lambda n: f"srid-{n:08d}")
    order_id = factory.Sequence(lambda n: f"order-{n:08d}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    category = "Одежда"
    declared_value = Decimal("12000.00")
    warehouse = "Коледино"
    pickup_point = "ПВЗ Москва, Тверская 7"
    shipped_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=20))


class ShipmentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShipmentEvent

    shipment = factory.SubFactory(ShipmentFactory)
    marketplace = factory.SelfAttribute("shipment.marketplace")
    external_id = factory.Sequence(lambda n: f"ev-{n:08d}")
    kind = "damaged"
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))


class ClaimFactory(factory.django.DjangoModelFactory):
    """A submitted cargo damage claim; pass `status` to start elsewhere in the lifecycle."""

    class Meta:
        model = Claim
        skip_postgeneration_save = True

    shipment = factory.SubFactory(ShipmentFactory)
    policy = factory.SelfAttribute("shipment.policy")
    seller = factory.SelfAttribute("shipment.seller")
    marketplace = factory.SelfAttribute("shipment.marketplace")
    number = factory.Sequence(lambda n: f"CL-TEST-{n:06d}")
    peril = Peril.DAMAGE
    cover = factory.LazyAttribute(lambda o: COVER_BY_PERIL[o.peril])
    event_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=10))
    event_key = factory.LazyAttribute(
        lambda o: event_key(shipment=o.shipment, peril=o.peril, event_date=o.event_date)
    )
    source = ClaimSource.SELLER
    claimed_amount = Decimal("12000.00")
    status = ClaimStatus.SUBMITTED
    submitted_at = factory.LazyFunction(timezone.now)
    sla_started_on = factory.LazyFunction(timezone.localdate)

    @factory.post_generation
    def held(obj, create, extracted, **kwargs):
        """An approved claim holds its payable, as its approval would have set it, unless
        `held=False` keeps the payable given (one approved for nothing, say)."""
        if create and extracted is not False and obj.status == ClaimStatus.APPROVED:
            claim_recalculate(claim=obj)
            obj.save()


class CompensationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceCompensation

    shipment = factory.SubFactory(ShipmentFactory)
    seller = factory.SelfAttribute("shipment.seller")
    marketplace = factory.SelfAttribute("shipment.marketplace")
    shipment_external_id = factory.SelfAttribute("shipment.external_id")
    external_id = factory.Sequence(lambda n: f"comp-{n:08d}")
    reason = CompensationReason.DAMAGE
    amount = Decimal("4000.00")
    paid_on = factory.LazyFunction(timezone.localdate)
    source = CompensationSource.API


class PayoutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payout

    claim = factory.SubFactory(ClaimFactory, status=ClaimStatus.PAID)
    policy = factory.SelfAttribute("claim.policy")
    amount = Decimal("7500.00")
    paid_on = factory.LazyFunction(timezone.localdate)
    reference = factory.Sequence(lambda n: f"PAY-TEST-{n:06d}")


class RecoveryReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecoveryReceipt

    recovery = factory.SubFactory("tests.factories.RecoveryFactory")
    amount = Decimal("1000.00")
    received_on = factory.LazyFunction(timezone.localdate)
    reference = factory.Sequence(lambda n: f"RCV-TEST-{n:06d}")


class RecoveryFactory(factory.django.DjangoModelFactory):
    """A recovery still owed; with `status=RecoveryStatus.RECEIVED`, paid back in full on
    `received_on` (today unless given), by one receipt."""

    class Meta:
        model = Recovery
        skip_postgeneration_save = True

    class Params:
        received_on = factory.LazyFunction(timezone.localdate)

    claim = factory.SubFactory(ClaimFactory, status=ClaimStatus.PAID)
    amount = Decimal("1000.00")
    status = RecoveryStatus.OPEN
    raised_at = factory.LazyFunction(timezone.now)
    receipt = factory.Maybe(
        factory.LazyAttribute(lambda o: o.status == RecoveryStatus.RECEIVED),
        yes_declaration=factory.RelatedFactory(
            RecoveryReceiptFactory,
            factory_related_name="recovery",
            amount=factory.SelfAttribute("..amount"),
            received_on=factory.SelfAttribute("..received_on"),
        ),
        no_declaration=None,
    )


class ClaimMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClaimMessage

    claim = factory.SubFactory(ClaimFactory)
    author_kind = MessageAuthor.SELLER
    body = "Фото упаковки прилагаю."


class ReconciliationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReconciliationRun

    trigger = "test"


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    kind = DocumentKind.CLAIM_ACKNOWLEDGEMENT
    owner = factory.SubFactory(ClaimFactory)
    seller = factory.SelfAttribute("owner.seller")
    key = factory.Sequence(lambda n: f"test-document-{n}")
    file = factory.django.FileField(filename="ack.pdf", data=b"%PDF-1.7 test")
    sha256 = "0" * 64


class MarketplaceApiKeyFactory(factory.django.DjangoModelFactory):
    """A key made through the package's manager; `.raw_key` holds the secret, shown once."""

    class Meta:
        model = MarketplaceApiKey

    marketplace = factory.SubFactory(MarketplaceFactory)
    name = "test integration"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, raw_key = model_class.objects.create_key(**kwargs)
        api_key.raw_key = raw_key
        return api_key


class PolicyTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyTransition

    policy = factory.SubFactory(PolicyFactory)
    transition = "activate"
    source_state = PolicyStatus.DRAFT
    target_state = PolicyStatus.ACTIVE
    at = factory.LazyFunction(timezone.now)
    actor_kind = "system"


class ClaimTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClaimTransition

    claim = factory.SubFactory(ClaimFactory)
    transition = "submit"
    source_state = ClaimStatus.DRAFT
    target_state = ClaimStatus.SUBMITTED
    at = factory.LazyFunction(timezone.now)
    actor_kind = "system"


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    claim = factory.SubFactory(ClaimFactory)
    file = factory.django.FileField(filename="photo.pdf", data=b"%PDF-1.7 evidence")
    original_name = "photo.pdf"
    content_type = "application/pdf"
    size = 17
    sha256 = "0" * 64


class DiscrepancyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discrepancy

    run = factory.SubFactory(ReconciliationRunFactory)
    compensation = factory.SubFactory(CompensationFactory)
    kind = DiscrepancyKind.NO_CLAIM


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    claim = factory.SubFactory(ClaimFactory)
    marketplace = factory.SelfAttribute("claim.marketplace")
    event = "claim.status_changed"
    url = "http://127.0.0.1:9/hook"
    payload = factory.LazyAttribute(
        lambda o: {"event": o.event, "claim": o.claim.number, "from": "draft", "to": "submitted"}
    )
    next_attempt_at = factory.LazyFunction(timezone.now)


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookAttempt

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    at = factory.LazyFunction(timezone.now)
    status_code = 500
    error = "HTTP 500"
    duration_ms = 12
