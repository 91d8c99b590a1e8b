"""Claim states, sources, flags and reason codes.

The values are stored, sent in the API and its webhooks, and named in reports: they never
change; the labels may.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from policies.choices import Cover


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    AWAITING_COMPENSATION = "awaiting_compensation", _("Awaiting marketplace compensation")
    UNDER_REVIEW = "under_review", _("Under review")
    INFO_REQUESTED = "info_requested", _("Information requested")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.AWAITING_COMPENSATION,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.INFO_REQUESTED,
    ClaimStatus.APPROVED,
)


class ClaimStep(models.TextChoices):
    """The steps of a claim's log (`ClaimTransition.transition`): its transitions by name,
    and the sign-off steps, which move no state."""

    CREATE = "create", pgettext_lazy("claim step", "Created")
    SUBMIT = "submit", pgettext_lazy("claim step", "Submitted")
    TRIAGE = "triage", pgettext_lazy("claim step", "Triaged")
    RELEASE = "release", pgettext_lazy("claim step", "Released after the compensation wait")
    START_REVIEW = "start_review", pgettext_lazy("claim step", "Review started")
    REQUEST_INFO = "request_info", pgettext_lazy("claim step", "Information requested")
    PROVIDE_INFO = "provide_info", pgettext_lazy("claim step", "Information provided")
    REQUEST_SIGNOFF = "request_signoff", pgettext_lazy("claim step", "Sent for sign-off")
    SIGN_OFF = "sign_off", pgettext_lazy("claim step", "Signed off")
    SEND_BACK = "send_back", pgettext_lazy("claim step", "Sent back by the senior adjuster")
    APPROVE = "approve", pgettext_lazy("claim step", "Approved")
    REJECT = "reject", pgettext_lazy("claim step", "Rejected")
    PAY = "pay", pgettext_lazy("claim step", "Paid")
    WITHDRAW = "withdraw", pgettext_lazy("claim step", "Withdrawn")
    REOPEN = "reopen", pgettext_lazy("claim step", "Reopened")
    CLOSE = "close", pgettext_lazy("claim step", "Closed")


class RunTrigger(models.TextChoices):
    """What started a reconciliation run (`ReconciliationRun.trigger`)."""

    SCHEDULE = "schedule", _("The schedule")
    ADMIN = "admin", _("An adjuster, in the admin")
    COMMAND = "command", _("The reconcile command")
    SMOKE = "smoke", _("The smoke test")
    BENCHMARK = "benchmark", _("A benchmark")


class ClaimSource(models.TextChoices):
    SELLER = "seller", _("Seller")
    MARKETPLACE = "marketplace", _("Marketplace")
    REPORT = "report", _("Finance report")


class ClaimFlag(models.TextChoices):
    """Judgement rules: each sends a claim to a person, none rejects it."""

    LATE_NOTICE = "late_notice", _("Notified after the notification window")
    VALUE_ABOVE_MAXIMUM = "value_above_maximum", _("Declared value above the product's maximum")
    EXCLUDED_CATEGORY = "excluded_category", _("Category excluded by the product")
    COMPENSATION_WAIT_PENDING = (
        "compensation_wait_pending",
        _("Loss reported before the marketplace's compensation wait passed"),
    )
    AMOUNT_ABOVE_VALUE = "amount_above_value", _("Claimed amount above the item's value or fee")
    NOT_MARKETPLACE_VERIFIED = (
        "not_marketplace_verified",
        _("The marketplace has not reported this event"),
    )
    SLA_BREACHED = "sla_breached", _("Service level missed")


class EligibilityCode(models.TextChoices):
    """Hard rules: each stops a claim from being filed."""

    SHIPMENT_NOT_OWNED = "shipment_not_owned", _("The shipment belongs to another seller")
    NO_ACTIVE_POLICY = (
        "no_active_policy",
        _("No policy of the seller was active on the event date"),
    )
    COVER_NOT_IN_PRODUCT = (
        "cover_not_in_product",
        _("The policy's product does not include this cover"),
    )
    DUPLICATE_CLAIM = "duplicate_claim", _("A claim for this item and peril already exists")
    EVENT_BEFORE_COVER = (
        "event_before_cover",
        _("The event happened before cover started (the item had not left the warehouse)"),
    )
    EVENT_IN_FUTURE = "event_in_future", _("The event date is in the future")
    AMOUNT_NOT_POSITIVE = "amount_not_positive", _("The claimed amount must be above zero")


class RejectionCode(models.TextChoices):
    NOT_COVERED = "not_covered", _("The loss is not covered by the policy")
    EXCLUDED_CATEGORY = "excluded_category", _("The category is excluded")
    NO_LOSS = "no_loss", _("No loss was shown")
    FULLY_COMPENSATED = "fully_compensated", _("The marketplace compensated the loss in full")
    INSUFFICIENT_EVIDENCE = "insufficient_evidence", _("The evidence does not support the claim")
    LATE_NOTICE_PREJUDICE = (
        "late_notice_prejudice",
        _("Late notice prevented the insurer from assessing the loss"),
    )
    FRAUD = "fraud", _("Misrepresentation")
    OTHER = "other", _("Other")


class CompensationReason(models.TextChoices):
    LOSS = "loss", _("Loss")
    DAMAGE = "damage", _("Damage")
    DEFECT = "defect", _("Defect")
    SUBSTITUTION = "substitution", _("Substitution")
    TRANSPORT_COSTS = "transport_costs", _("Transport costs")
    OTHER = "other", _("Other")


# Which cover's loss a marketplace payout reduces. `other` is not tied to a
# cover and so offsets whichever cover the shipment's claim is under.
COVERS_BY_COMPENSATION_REASON = {
    CompensationReason.LOSS: (Cover.CARGO,),
    CompensationReason.DAMAGE: (Cover.CARGO,),
    CompensationReason.DEFECT: (Cover.CARGO,),
    CompensationReason.SUBSTITUTION: (Cover.CARGO,),
    CompensationReason.TRANSPORT_COSTS: (Cover.RETURN_LOGISTICS,),
    CompensationReason.OTHER: (Cover.CARGO, Cover.RETURN_LOGISTICS),
}


class CompensationSource(models.TextChoices):
    API = "api", _("API")
    CSV = "csv", _("CSV upload")
    REPORT = "report", _("Seller's finance report")


class RecoveryStatus(models.TextChoices):
    OPEN = "open", _("Owed by the seller")
    PARTLY_RECEIVED = "partly_received", _("Partly received")
    RECEIVED = "received", _("Received")


class LimitApplied(models.TextChoices):
    NONE = "", _("None")
    PER_CLAIM = "per_claim", _("Limit per claim")
    PER_EVENT = "per_event", _("Limit per event")
    AGGREGATE = "aggregate", _("Aggregate limit")


class NoPayableReason(models.TextChoices):
    """Why a claim shows no payable amount."""

    REJECTED = "rejected", _("Nothing is payable: the claim was rejected.")
    WITHDRAWN = "withdrawn", _("Nothing is payable: the claim was withdrawn.")
    UNANSWERED = (
        "unanswered",
        _("Nothing is payable: the claim was closed when the information asked for did not come."),
    )
    CLOSED = "closed", _("Nothing is payable: the claim was closed without payment.")


class MessageAuthor(models.TextChoices):
    SELLER = "seller", _("Seller")
    ADJUSTER = "adjuster", _("Adjuster")
    SYSTEM = "system", _("System")


class RunState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DiscrepancyKind(models.TextChoices):
    UNKNOWN_SHIPMENT = "unknown_shipment", _("Compensation for an unknown shipment")
    UNINSURED_SHIPMENT = "uninsured_shipment", _("Compensation for an uninsured shipment")
    ABOVE_DECLARED_VALUE = "above_declared_value", _("Compensation above the declared value")
    DUPLICATE = "duplicate", _("Duplicate compensation")
    NO_CLAIM = "no_claim", _("Compensation with no matching claim")


class ReportFormat(models.TextChoices):
    WB_V5 = "wb_v5", _("Wildberries: realization report (statistics API v5)")
    WB_FINANCE = "wb_finance", _("Wildberries: detailed report (finance API)")
    WB_XLSX = "wb_xlsx", _("Wildberries: weekly report (XLSX)")
    WB_CSV = "wb_csv", _("Wildberries: weekly report (CSV)")
    OZON_TRANSACTIONS = "ozon_transactions", _("Ozon: finance transactions")


class ReportSource(models.TextChoices):
    UPLOAD = "upload", _("Uploaded by the seller")
    ADMIN = "admin", _("Uploaded by staff")
    API = "api", _("Pushed by the marketplace")
    COMMAND = "command", _("Imported on the command line")


class ReportOutcome(models.TextChoices):
    CLAIM_OPENED = "claim_opened", _("Claim opened")
    CLAIM_UPDATED = "claim_updated", _("Claim updated")
    COMPENSATION_RECORDED = "compensation_recorded", _("Compensation recorded")
    NETTED = "netted", _("Netted against another row")
    DUPLICATE = "duplicate", _("Already counted")
    IGNORED = "ignored", _("Ignored")
    ERROR = "error", _("Error")


class ReportIgnoredReason(models.TextChoices):
    """Why a row of a report opened nothing; shown to the seller and the adjuster."""

    NOT_COVERED = "not_covered", _("Not a row the insurance covers")
    UNINSURED = "uninsured", _("The item is not insured")
    OUTSIDE_POLICY_PERIOD = "outside_policy_period", _("Outside the policy period")
    FORWARD_LEG_NOT_COVERED = "forward_leg_not_covered", _("Forward leg: not covered")
    NOT_ELIGIBLE = "not_eligible", _("The claim is not eligible")
    NO_ITEM = "no_item", _("The row names no item")
    NOTHING_TO_CANCEL = "nothing_to_cancel", _("Cancels nothing counted before")
    NO_CLAIM = "no_claim", _("No claim of this item to add the leg to")
    REVERSAL = "reversal", _("A compensation taken back")
    CURRENCY = "currency", _("Not in roubles")
    # WB «Возмещение издержек по перевозке…»: a charge to the seller (its money is in
    # rebill_logistic_cost and the payout is 0), never a marketplace compensation.
    REBILL_LOGISTICS = "rebill_logistics", _("A transport cost charged to the seller")
    # Logistics the cover excludes: the forward delivery of a sale, seller-initiated
    # returns, defect and unidentified-goods returns, the seller's removal of stock.
    NOT_INSURED = "not_insured", _("Logistics the insurance excludes")
    # Commission, acquiring, storage, fines, packaging and the like.
    CHARGE = "charge", _("A marketplace charge")
    UNKNOWN_OPERATION = "unknown_operation", _("An operation of unknown kind")


class SystemNote(models.TextChoices):
    """What the system writes on a claim's log; each label is the note's wording, with
    its parameters (claims/notes.py)."""

    APPROVED_PER_EVENT_ROOM = (
        "approved_per_event_room",
        _("Approved for %(payable)s: what the per-event limit still allows."),
    )
    APPROVED_AGGREGATE_ROOM = (
        "approved_aggregate_room",
        _("Approved for %(payable)s: what the policy's aggregate limit still allows."),
    )
    NO_PER_EVENT_ROOM = (
        "no_per_event_room",
        _("Nothing is left of the per-event limit for this claim."),
    )
    NO_AGGREGATE_ROOM = (
        "no_aggregate_room",
        _("Nothing is left of the policy's aggregate limit for this claim."),
    )
    CROWDED_OUT = (
        "crowded_out",
        _(
            "The claims of the policy released with this one take the room of its limits "
            "first: it goes to an adjuster."
        ),
    )
    PAID = "paid", _("Paid %(amount)s, reference %(reference)s.")
    CLOSED_NO_REPLY = (
        "closed_no_reply",
        _("Closed: the information asked for did not come within %(days)s days."),
    )
    CLOSED_APPEAL_OVER = "closed_appeal_over", _("Closed: the time to appeal has run out.")
    FEE_CANCELLED = "fee_cancelled", _("The marketplace cancelled the fee (report row %(row)s).")
