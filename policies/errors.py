"""The one base error of the domain layer and the policy app's codes.

Services raise `DomainError`; each interface (API, admin, pages) maps it once
to its own way of telling the user, keeping the code intact.
"""

from enum import StrEnum
from typing import Any


class DomainError(Exception):
    """A business rule refused an action.

    `code` is machine-readable and stable; `message` is for people; `fields`
    maps input field names to messages when the problem lies in one input.
    """

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = str(message)
        self.fields = fields or {}
        self.extra = extra or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ErrorCode(StrEnum):
    """The codes every interface shares, whatever the rule behind them."""

    VALIDATION_ERROR = "validation_error"
    CONFLICT = "conflict"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    REQUEST_TOO_LARGE = "request_too_large"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"
    INVALID_FILE = "invalid_file"
    # Field-level codes of the input rules in policies/validators.py.
    DATE_OUT_OF_RANGE = "date_out_of_range"
    INVALID_CHARACTERS = "invalid_characters"
    NON_ASCII_DIGITS = "non_ascii_digits"
    # Field-level codes of the amounts people type (policies/money_input.py).
    INVALID_AMOUNT = "invalid_amount"
    AMOUNT_GROUPING = "amount_grouping"
    AMOUNT_SEPARATORS = "amount_separators"
    AMOUNT_DECIMAL_PLACES = "amount_decimal_places"
    NEGATIVE_AMOUNT = "negative_amount"


class ConflictError(DomainError):
    """The request clashes with what is already stored (a replay with other content)."""

    status = 409


class PolicyErrorCode(StrEnum):
    INVALID_TAX_ID = "invalid_tax_id"
    PRODUCT_NOT_FOUND = "product_not_found"
    PRODUCT_VERSION_IN_USE = "product_version_in_use"
    PRODUCT_HAS_NO_VERSION = "product_has_no_version"
    POLICY_OVERLAP = "policy_overlap"
    SELLER_MISMATCH = "seller_mismatch"
    START_IN_PAST = "start_in_past"
    START_TOO_FAR_AHEAD = "start_too_far_ahead"
