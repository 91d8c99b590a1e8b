"""Ozon's seller transactions, /v3/finance/transaction/list, operation by operation.

A non-bought-out or returned posting carries two operations of one return type: one with
the forward leg's services, one with the reverse leg's. Paying by operation type would pay
the forward leg too, so a return operation is read by its services: the insured fee is the
sum of the reverse-leg and return-processing services, and the processing service names
the peril.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from claims.choices import CompensationReason, ReportIgnoredReason
from claims.reports.rows import ErrorReason, ReportRow, RowKind, error_row
from claims.reports.values import ZERO, clean_text, parse_date, parse_id, parse_money
from policies.choices import Peril

# Operations that hold return logistics; what they are depends on their services.
RETURN_OPERATIONS = frozenset(
    {
        "OperationItemReturn",
        "OperationReturnGoodsFBSofRMS",
        "MarketplaceServiceItemReturnFlowLogistic",
        "MarketplaceServiceItemRedistributionReturnsPVZ",
    }
)
# Services of the leg from the buyer back to Ozon: the insured fee.
REVERSE_LEG_SERVICES = frozenset(
    {
        "MarketplaceServiceItemReturnFlowLogistic",
        "MarketplaceServiceItemRedistributionReturnsPVZ",
        "MarketplaceServiceItemReturnFlowTrans",
    }
)
# Processing of the returned item: part of the fee (priced 0 in March 2026, counted when
# not), and the service that names the peril.
PROCESSING_SERVICES: dict[str, str] = {
    "MarketplaceServiceItemReturnAfterDelivToCustomer": Peril.RETURN,
    "MarketplaceServiceItemReturnNotDelivToCustomer": Peril.REFUSAL,
    "MarketplaceServiceItemReturnPartGoodsCustomer": Peril.NON_BUYOUT,
}
# Services of the forward leg to the buyer (charged again when the item is not bought out).
FORWARD_LEG_SERVICES = frozenset(
    {
        "MarketplaceServiceItemDirectFlowLogistic",
        "MarketplaceServiceItemDirectFlowLogisticVDC",
        "MarketplaceServiceItemDirectFlowTrans",
        "MarketplaceServiceItemDelivToCustomer",
        "MarketplaceServiceItemRedistributionLastMileCourier",
        "MarketplaceServiceItemDropoffPVZ",
        "MarketplaceServiceItemDropoffSC",
        "MarketplaceServiceItemDropoffFF",
        "MarketplaceServiceItemRedistributionDropOffApvz",
        "MarketplaceServiceItemFulfillment",
        "MarketplaceServiceItemPickup",
    }
)

SALE_OPERATIONS = frozenset({"OperationAgentDeliveredToCustomer"})
SALE_RETURN_OPERATIONS = frozenset({"ClientReturnAgentOperation"})
SALE_STORNO_OPERATIONS = frozenset({"OperationAgentStornoDeliveredToCustomer"})

# Compensation accruals. The Accrual… types are those of real data; the others are
# Ozon's documented types, read when they appear.
COMPENSATIONS: dict[str, CompensationReason] = {
    "AccrualInternalClaim": CompensationReason.LOSS,  # «Потеря по вине Ozon в логистике»
    "AccrualConsigWriteOff": CompensationReason.LOSS,  # «Потеря по вине Ozon на складе»
    "AccrualConsigDefectiveWriteOff": CompensationReason.DAMAGE,  # «Брак по вине Ozon на складе»
    "OperationLackWriteOff": CompensationReason.LOSS,
    "OperationDefectiveWriteOff": CompensationReason.DAMAGE,
    "MarketplaceSellerCompensationLossOfGoodsOperation": CompensationReason.LOSS,
    "MarketplaceSellerCompensationOperation": CompensationReason.OTHER,
    "OperationClaim": CompensationReason.OTHER,
}
CORRECTIONS = frozenset({"MarketplaceSellerCorrectionOperation"})

# The seller's own removal of stock from Ozon's warehouse: not insured.
NOT_INSURED_OPERATIONS = frozenset({"SellerReturnsDeliveryToPickupPoint"})
NOT_INSURED_PREFIXES = ("OperationSellerReturnsCargo",)
CHARGE_OPERATIONS = frozenset(
    {
        "MarketplaceRedistributionOfAcquiringOperation",
        "StarsMembership",
        "OperationMarketplacePackageMaterialsProvision",
        "OperationMarketplacePackageRedistribution",
        "OperationMarketplaceItemTemporaryStorageRedistribution",
        "OperationMarketplaceServiceStorage",
    }
)
# Fines. «DefectFineCancellation» («Превышение индекса ошибок: отмена») is one too: a
# storno is told by its type's ending, never by a word in its name.
CHARGE_PREFIXES = ("DefectFine",)
STORNO_SUFFIXES = ("Cancelled", "Canceled")
# Rows whose accruals_for_sale is the item's price.
VALUED_KINDS = frozenset({RowKind.SALE, RowKind.SALE_RETURN, RowKind.STORNO})


class _Problem(Exception):
    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _money(value: object, *, field: str) -> Decimal:
    try:
        return parse_money(value)
    except ValueError:
        raise _Problem(
            ErrorReason.BAD_NUMBER,
            _("%(column)s: “%(value)s” is not a number.") % {"column": field, "value": value},
        ) from None


def _services(operation: dict) -> list[tuple[str, Decimal]]:
    services = operation.get("services") or []
    if not isinstance(services, list):
        raise _Problem(
            ErrorReason.BAD_SHAPE, _("%(column)s is not a list.") % {"column": "services"}
        )
    priced = []
    for index, service in enumerate(services):
        if not isinstance(service, dict):
            raise _Problem(
                ErrorReason.BAD_SHAPE,
                _("%(column)s is not an object.") % {"column": f"services[{index}]"},
            )
        name = clean_text(service.get("name"))
        priced.append((name, _money(service.get("price"), field=f"services[{index}].price")))
    return priced


def _checked_amount(
    operation: dict, services: list[tuple[str, Decimal]]
) -> tuple[Decimal, Decimal]:
    """Return (amount, accruals_for_sale), the amount checked where it has parts.

    On every operation with accruals or services, amount = accruals_for_sale +
    sale_commission + the services' prices. Compensations, corrections and fines carry
    only an amount, and are taken as given.
    """
    amount = _money(operation.get("amount"), field="amount")
    accruals = _money(operation.get("accruals_for_sale"), field="accruals_for_sale")
    commission = _money(operation.get("sale_commission"), field="sale_commission")
    if not (accruals or commission or services):
        return amount, accruals
    parts = accruals + commission + sum((price for _name, price in services), ZERO)
    if parts != amount:
        raise _Problem(
            ErrorReason.AMOUNT_MISMATCH,
            _(
                "amount %(amount)s is not accruals_for_sale + sale_commission + services "
                "(%(parts)s)."
            )
            % {"amount": amount, "parts": parts},
        )
    return amount, accruals


@dataclass(frozen=True)
class _Meaning:
    kind: RowKind
    amount: Decimal
    peril: str | None = None
    reason: str | None = None
    cancels: RowKind | None = None


def _meaning(
    operation_type: str, category: str, services: list[tuple[str, Decimal]], amount: Decimal
) -> _Meaning:
    """Return what the operation is, from its type and, for returns, its services."""
    if operation_type.endswith(STORNO_SUFFIXES):
        suffix = next(s for s in STORNO_SUFFIXES if operation_type.endswith(s))
        base = _meaning(operation_type.removesuffix(suffix), category, services, -amount)
        return _Meaning(
            RowKind.STORNO, abs(amount), peril=base.peril, reason=base.reason, cancels=base.kind
        )
    if operation_type in SALE_STORNO_OPERATIONS:
        return _Meaning(RowKind.STORNO, abs(amount), cancels=RowKind.SALE)
    if operation_type in SALE_OPERATIONS:
        return _Meaning(RowKind.SALE, amount)
    if operation_type in SALE_RETURN_OPERATIONS:
        return _Meaning(RowKind.SALE_RETURN, amount)
    if operation_type in RETURN_OPERATIONS:
        return _return_leg(operation_type, services, amount)
    if operation_type in COMPENSATIONS:
        return _Meaning(RowKind.COMPENSATION, amount, reason=COMPENSATIONS[operation_type])
    if operation_type in CORRECTIONS:
        return _Meaning(RowKind.CORRECTION, amount)
    if operation_type in NOT_INSURED_OPERATIONS or operation_type.startswith(NOT_INSURED_PREFIXES):
        return _Meaning(RowKind.IGNORED, amount, reason=ReportIgnoredReason.NOT_INSURED)
    if operation_type in CHARGE_OPERATIONS or operation_type.startswith(CHARGE_PREFIXES):
        return _Meaning(RowKind.IGNORED, amount, reason=ReportIgnoredReason.CHARGE)
    if category == "compensation":
        return _Meaning(RowKind.COMPENSATION, amount, reason=CompensationReason.OTHER)
    return _Meaning(RowKind.IGNORED, amount, reason=ReportIgnoredReason.UNKNOWN_OPERATION)


def _return_leg(
    operation_type: str, services: list[tuple[str, Decimal]], amount: Decimal
) -> _Meaning:
    reverse = [p for n, p in services if n in REVERSE_LEG_SERVICES or n in PROCESSING_SERVICES]
    forward = [p for n, p in services if n in FORWARD_LEG_SERVICES]
    perils = {PROCESSING_SERVICES[n] for n, _p in services if n in PROCESSING_SERVICES}
    peril = perils.pop() if len(perils) == 1 else None
    if reverse:
        # Only the reverse leg is insured: forward services on the same operation (not
        # seen in real data) stay out of the fee.
        return _Meaning(RowKind.REVERSE_FEE, -sum(reverse, ZERO), peril=peril)
    if forward:
        return _Meaning(RowKind.FORWARD_FEE, -sum(forward, ZERO))
    if not services and operation_type in REVERSE_LEG_SERVICES:
        # A reverse-leg service booked as an operation of its own carries only its amount.
        return _Meaning(RowKind.REVERSE_FEE, -amount, peril=peril)
    return _Meaning(RowKind.IGNORED, amount, reason=ReportIgnoredReason.UNKNOWN_OPERATION)


def _item(operation: dict) -> tuple[str | None, str | None, str | None]:
    """Return (shipment_id, order_id, sku): the item only when the operation names one."""
    posting = operation.get("posting") if isinstance(operation.get("posting"), dict) else {}
    posting_number = parse_id(posting.get("posting_number"))
    items = operation.get("items") if isinstance(operation.get("items"), list) else []
    skus = {parse_id(item.get("sku")) for item in items if isinstance(item, dict)} - {None}
    if posting_number and len(skus) == 1:
        sku = next(iter(skus))
        return f"{posting_number}:{sku}", posting_number, sku
    # Several items: how Ozon splits one operation's cost between them is not known, so
    # the row names the posting only and an adjuster links it.
    return None, posting_number, None


def _operation_row(operation: dict, *, line: int) -> ReportRow:
    key = parse_id(operation.get("operation_id"))
    operation_type = clean_text(operation.get("operation_type"))
    if key is None:
        raise _Problem(
            ErrorReason.MISSING_VALUE, _("%(column)s is empty.") % {"column": "operation_id"}
        )
    if not operation_type:
        raise _Problem(
            ErrorReason.MISSING_VALUE, _("%(column)s is empty.") % {"column": "operation_type"}
        )
    services = _services(operation)
    amount, accruals = _checked_amount(operation, services)
    meaning = _meaning(operation_type, clean_text(operation.get("type")), services, amount)
    try:
        occurred_on = parse_date(operation.get("operation_date"))
    except ValueError:
        raise _Problem(
            ErrorReason.BAD_DATE,
            _("%(column)s: “%(value)s” is not a date.")
            % {"column": "operation_date", "value": operation.get("operation_date")},
        ) from None
    shipment_id, order_id, sku = _item(operation)
    item_value = abs(accruals) if accruals and meaning.kind in VALUED_KINDS else None
    return ReportRow(
        key=key,
        line=line,
        kind=meaning.kind,
        amount=meaning.amount,
        peril=meaning.peril,
        reason=meaning.reason,
        cancels=meaning.cancels,
        shipment_id=shipment_id,
        order_id=order_id,
        sku=sku,
        occurred_on=occurred_on,
        item_value=item_value,
        raw_kind=operation_type,
        raw_detail=clean_text(operation.get("operation_type_name")),
    )


def ozon_rows(operations: Sequence[object]) -> Iterator[ReportRow]:
    """Yield the rows of a list of operations, each checked on its own."""
    for line, operation in enumerate(operations, start=1):
        if not isinstance(operation, dict):
            yield error_row(
                key="",
                line=line,
                reason=ErrorReason.NOT_AN_OBJECT,
                message=_("Row %(line)s is not an object.") % {"line": line},
            )
            continue
        try:
            yield _operation_row(operation, line=line)
        except _Problem as problem:
            yield error_row(
                key=parse_id(operation.get("operation_id")) or "",
                line=line,
                reason=problem.reason,
                message=problem.message,
                raw_kind=clean_text(operation.get("operation_type")),
            )
