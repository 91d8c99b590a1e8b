"""The demo's tariff (the brief's section 3), shared by the demo data, the soak and the smoke
run, so that what they drive is one set of terms."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from policies.choices import Cover, PremiumBasis
from policies.models import CoverTerms, Product, ProductVersion


def demo_tariff(
    product: Product,
    *,
    aggregate_limit: Decimal = Decimal("1000000.00"),
    effective_days_ago: int = 400,
) -> ProductVersion:
    """Make `product`'s first version: return logistics at 0.70 ₽ a shipment up to 5,000 ₽ a
    claim, cargo at 1.4 % of the declared value up to 50,000 ₽ a claim and 100,000 ₽ an
    event with a 500 ₽ deductible; straight through up to 10,000 ₽."""
    version = ProductVersion.objects.create(
        product=product,
        version=1,
        effective_from=timezone.localdate() - dt.timedelta(days=effective_days_ago),
        aggregate_limit=aggregate_limit,
        auto_approve_threshold=Decimal("10000.00"),
        max_declared_value=Decimal("200000.00"),
        excluded_categories=["Ювелирные изделия"],
    )
    CoverTerms.objects.create(
        product_version=version,
        cover=Cover.RETURN_LOGISTICS,
        premium_basis=PremiumBasis.FEE_PER_SHIPMENT,
        # 1.4 % of WB's fixed 50 ₽ reverse-leg fee.
        premium_fee=Decimal("0.70"),
        per_claim_limit=Decimal("5000.00"),
    )
    CoverTerms.objects.create(
        product_version=version,
        cover=Cover.CARGO,
        premium_basis=PremiumBasis.RATE_ON_DECLARED_VALUE,
        premium_rate=Decimal("0.014"),
        per_claim_limit=Decimal("50000.00"),
        per_event_limit=Decimal("100000.00"),
        deductible=Decimal("500.00"),
    )
    return version
