"""Premium arithmetic: pure functions over Decimal, no ORM and no clock."""

from decimal import ROUND_HALF_UP, Decimal

from policies.choices import PremiumBasis

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Return `value` as roubles with two places, rounded half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def premium_for_item(
    *,
    basis: str,
    rate: Decimal,
    fee: Decimal,
    declared_value: Decimal,
    logistics_cost: Decimal | None = None,
) -> Decimal:
    """Return the premium one shipped item earns under one cover's terms."""
    if basis == PremiumBasis.RATE_ON_DECLARED_VALUE:
        return money(declared_value * rate)
    if basis == PremiumBasis.FEE_PER_SHIPMENT:
        return money(fee)
    if basis == PremiumBasis.RATE_ON_LOGISTICS_COST:
        return money((logistics_cost or ZERO) * rate)
    raise ValueError(f"unknown premium basis {basis!r}")


def premium_estimate(
    *, covers, shipments: int, average_value: Decimal, average_logistics_cost: Decimal = ZERO
) -> dict[str, Decimal]:
    """Return the month's premium per cover for `shipments` items of `average_value` each."""
    return {
        terms.cover: money(
            premium_for_item(
                basis=terms.premium_basis,
                rate=terms.premium_rate,
                fee=terms.premium_fee,
                declared_value=average_value,
                logistics_cost=average_logistics_cost,
            )
            * shipments
        )
        for terms in covers
    }
