from enum import StrEnum

from policies.errors import DomainError


class ClaimErrorCode(StrEnum):
    CLAIM_NOT_ELIGIBLE = "claim_not_eligible"
    OVER_AUTHORITY_LIMIT = "over_authority_limit"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    TOO_MANY_FILES = "too_many_files"
    REASON_REQUIRED = "reason_required"
    MESSAGE_REQUIRED = "message_required"
    ASSESSED_ABOVE_CLAIMED = "assessed_above_claimed"
    NOT_UNDER_REVIEW = "not_under_review"
    NOTHING_PAYABLE = "nothing_payable"
    AWAITING_SIGNOFF = "awaiting_signoff"
    NOT_AWAITING_SIGNOFF = "not_awaiting_signoff"
    OWN_SIGNOFF_REQUEST = "own_signoff_request"
    RECOVERY_ALREADY_RECEIVED = "recovery_already_received"
    RECOVERY_RECEIPT_RECORDED = "recovery_receipt_recorded"
    RECOVERY_RECEIPT_ABOVE_OWED = "recovery_receipt_above_owed"


class PermissionDeniedError(DomainError):
    status = 403


class ClaimNotEligible(DomainError):
    """A hard eligibility rule stops the claim; `reason` is its EligibilityCode."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(ClaimErrorCode.CLAIM_NOT_ELIGIBLE, message, extra={"reason": str(reason)})
        self.reason = str(reason)
