"""The normalised row every reader returns, whatever the marketplace and the file.

The codes are stored with the import's per-row outcomes and shown to adjusters: they never
change.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from claims.reports.values import ROUBLES


class RowKind(StrEnum):
    SALE = "sale"  # the buyer bought the item
    SALE_RETURN = "sale_return"  # the sale reversed: the buyer returned or did not buy out
    REVERSE_FEE = "reverse_fee"  # reverse leg from the buyer: the insured fee; has a peril
    RETURN_TO_SELLER_FEE = "return_to_seller_fee"  # leg back to the seller after such an event
    FORWARD_FEE = "forward_fee"  # forward leg of a delivery that was not bought out
    COMPENSATION = "compensation"  # the marketplace pays for a lost or damaged item
    STORNO = "storno"  # cancels a row of kind `cancels`
    CORRECTION = "correction"  # changes a row of kind `cancels` by `amount` (signed)
    IGNORED = "ignored"  # read, understood, not for insurance: `reason` says why
    ERROR = "error"  # could not be read: `reason` is the code, `error` the message


# The fee kinds a claim for return logistics is made of.
FEE_KINDS = frozenset({RowKind.REVERSE_FEE, RowKind.RETURN_TO_SELLER_FEE, RowKind.FORWARD_FEE})


class ErrorReason(StrEnum):
    BAD_NUMBER = "bad_number"
    BAD_DATE = "bad_date"
    MISSING_VALUE = "missing_value"
    NOT_AN_OBJECT = "not_an_object"  # a JSON row that is not an object
    BAD_SHAPE = "bad_shape"  # a JSON field of the wrong type (services not a list)
    AMOUNT_MISMATCH = "amount_mismatch"  # Ozon: amount is not the sum of its parts
    KEY_CONFLICT = "key_conflict"  # the same key twice in one file with other content


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row of a marketplace report, normalised.

    `key` is the marketplace's own id of the row (WB rrd_id, Ozon operation_id), the
    import's idempotency key; `line` is where the row sits in the file (spreadsheet row,
    CSV line, or 1-based position in the JSON list).

    `amount` is in the row's own terms, two places:
    - fees (`FEE_KINDS`): the fee charged to the seller, positive;
    - storno: the amount of the row it cancels, positive;
    - correction: the change to the row it corrects, signed as the report gives it;
    - sale, sale_return, compensation: money to the seller, signed (+ paid, − taken back);
    - ignored: the row's money where the report has a column for it, else None.

    `shipment_id` is the item: WB `srid` (opaque text), Ozon "posting_number:sku" when the
    operation names exactly one item; None when the row names no single item (an Ozon
    compensation accrual, a fine, a multi-item posting): such rows are kept against the
    seller for an adjuster to link. `order_id` is WB's assembly task (`assembly_id`,
    `orderId`) or the Ozon posting number; `sku` is WB `nm_id` or Ozon `sku`.

    `peril` (non_buyout, refusal, return) is set on fees, and on stornos and corrections
    of fees; `reason` is the compensation reason, or the `ReportIgnoredReason` of an ignored
    row (and of the row a storno or correction of a non-insured row cancels), or the
    `ErrorReason` of an error row. `cancels` is the kind a storno or correction applies to.
    `raw_kind` and `raw_detail` are the marketplace's own labels (WB supplier_oper_name and
    bonus_type_name; Ozon operation_type and operation_type_name).
    """

    key: str
    line: int
    kind: RowKind
    amount: Decimal | None = None
    currency: str = ROUBLES
    peril: str | None = None
    reason: str | None = None
    cancels: RowKind | None = None
    shipment_id: str | None = None
    order_id: str | None = None
    sku: str | None = None
    occurred_on: dt.date | None = None
    item_value: Decimal | None = None
    raw_kind: str = ""
    raw_detail: str = ""
    error: str = ""

    @property
    def in_roubles(self) -> bool:
        return self.currency == ROUBLES

    def content(self) -> tuple:
        """Return every field but `line`: two rows with the same content are one row."""
        return (
            self.key,
            self.kind,
            self.amount,
            self.currency,
            self.peril,
            self.reason,
            self.cancels,
            self.shipment_id,
            self.order_id,
            self.sku,
            self.occurred_on,
            self.item_value,
            self.raw_kind,
            self.raw_detail,
            self.error,
        )

    def __reduce__(self):
        # The rows waiting for the netting are pickled (claims/reports/scratch.py): by their
        # fields in order, half the work of pickling a frozen slotted object's state.
        return ReportRow, (self.key, self.line, *self.content()[1:])


def error_row(
    *, key: str, line: int, reason: ErrorReason, message: str, raw_kind: str = ""
) -> ReportRow:
    return ReportRow(
        key=key, line=line, kind=RowKind.ERROR, reason=reason, error=message, raw_kind=raw_kind
    )


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date
    end: dt.date
