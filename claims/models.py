import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from claims.choices import (
    ClaimSource,
    ClaimStatus,
    ClaimStep,
    CompensationReason,
    CompensationSource,
    DiscrepancyKind,
    LimitApplied,
    MessageAuthor,
    RecoveryStatus,
    RejectionCode,
    ReportFormat,
    ReportOutcome,
    ReportSource,
    RunState,
    SystemNote,
)
from policies.choices import Cover, Peril, choice_label
from policies.history import audit_history
from policies.models import (
    MONEY,
    ZERO,
    Marketplace,
    Policy,
    Seller,
    Shipment,
    TransitionLog,
    money_field,
    non_negative,
)


def _is_sellers_user(instance: "Claim", user) -> bool:
    return user.is_authenticated and user.seller_id == instance.seller_id


def _has_no_payout(instance: "Claim") -> bool:
    return not Payout.objects.filter(claim_id=instance.pk).exists()


def _nothing_payable_if_approved(instance: "Claim") -> bool:
    return instance.status != ClaimStatus.APPROVED or instance.payable_amount <= 0


class Claim(ConcurrentTransitionMixin, models.Model):
    # Unique by a constraint rather than unique=True, which would add a second
    # (pattern-matching) index that nothing searches with.
    number = models.CharField(_("number"), max_length=32)
    # Foreign keys led by a composite index or constraint need no index of their own:
    # every index is rewritten by the bulk updates of reconciliation.
    marketplace = models.ForeignKey(
        Marketplace,
        verbose_name=_("marketplace"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # NULL, not "", for claims filed in the UI: the unique constraint ignores NULLs.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    seller = models.ForeignKey(
        Seller,
        verbose_name=_("seller"),
        on_delete=models.PROTECT,
        related_name="claims",
        db_index=False,
    )
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        related_name="claims",
        db_index=False,
    )
    shipment = models.ForeignKey(
        Shipment,
        verbose_name=_("shipment"),
        on_delete=models.PROTECT,
        related_name="claims",
        db_index=False,
    )
    cover = models.CharField(_("cover"), max_length=32, choices=Cover.choices)
    peril = models.CharField(_("peril"), max_length=16, choices=Peril.choices)
    event_date = models.DateField(_("event date"))
    event_key = models.CharField(
        _("event"),
        max_length=200,
        help_text=_("Order, peril and day: the claims of one event share its limit."),
    )
    source = models.CharField(_("source"), max_length=16, choices=ClaimSource.choices)
    description = models.TextField(_("description"), blank=True)
    status = FSMField(
        _("status"),
        max_length=32,
        choices=ClaimStatus.choices,
        default=ClaimStatus.DRAFT,
        protected=True,
    )
    flags = models.JSONField(_("flags"), default=list, blank=True)

    claimed_amount = money_field(_("claimed"))
    assessed_amount = money_field(_("assessed loss"), null=True, blank=True)
    compensation_amount = money_field(_("marketplace compensation"), default=ZERO)
    deductible_amount = money_field(_("deductible applied"), default=ZERO)
    payable_amount = money_field(_("payable"), default=ZERO)
    limit_applied = models.CharField(
        _("limit applied"), max_length=16, choices=LimitApplied.choices, blank=True
    )

    # Indexed only where set (see Meta): most claims have neither.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("adjuster"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_claims",
        db_index=False,
    )
    signoff_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sign-off requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    signoff_requested_at = models.DateTimeField(_("sign-off requested"), null=True, blank=True)
    rejection_code = models.CharField(
        _("rejection reason"), max_length=32, choices=RejectionCode.choices, blank=True
    )
    rejection_reason = models.TextField(_("rejection text"), blank=True)

    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("in this status since"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    sla_started_on = models.DateField(_("service clock started"), null=True, blank=True)
    sla_paused_days = models.PositiveIntegerField(_("working days paused"), default=0)
    info_requested_at = models.DateTimeField(_("information requested"), null=True, blank=True)
    due_on = models.DateField(_("due"), null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Generated documents live in policies (the certificate is one); a claim's own are its.
    documents = GenericRelation(
        "policies.Document",
        content_type_field="owner_type",
        object_id_field="owner_id",
        related_query_name="claim",
    )

    # The audit trail of claims, and of their money (payouts, recoveries, compensations):
    # a row for every save(), naming the signed-in user when a request made it (the admin
    # and the services its actions call; HistoryRequestMiddleware), nobody for a Celery
    # task. The bulk writes of ingest, filing and reconciliation (bulk_create, update(),
    # COPY, SQL) are the system's own, by the million, and leave no row; their transitions
    # are in the transition log. History rows are looked up by claim only: another index
    # would be one more write per triage.
    history = audit_history(
        excluded_fields=["updated_at"],
        no_db_index=[
            "marketplace",
            "seller",
            "policy",
            "shipment",
            "assignee",
            "signoff_requested_by",
            "due_on",
        ],
    )

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["created_at", "pk"]
        permissions = [
            ("review_claim", _("Can review claims and ask sellers for information")),
            ("approve_claim", _("Can approve claims within an authority limit")),
            ("reject_claim", _("Can reject claims")),
            ("pay_claim", _("Can record payments")),
            ("reopen_claim", _("Can reopen rejected or closed claims")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="claim_unique_number"),
            models.UniqueConstraint(fields=["shipment", "peril"], name="claim_one_per_item_peril"),
            # Claims filed in the UI have no external id: they need no entry.
            models.UniqueConstraint(
                fields=["marketplace", "external_id"],
                name="claim_unique_external_id",
                condition=Q(external_id__isnull=False),
            ),
            *non_negative(
                "claimed_amount",
                "assessed_amount",
                "compensation_amount",
                "deductible_amount",
                "payable_amount",
                model="claim",
            ),
        ]
        indexes = [
            # The admin's queue, oldest first, unfiltered or by a filter that no index leads.
            models.Index(fields=["created_at", "id"], name="claim_queue"),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["seller", "status"]),
            models.Index(fields=["policy", "event_key"]),
            # The API's claim list: one marketplace's claims by time of change.
            models.Index(fields=["marketplace", "updated_at"]),
            models.Index(
                fields=["assignee"], name="claim_assignee", condition=Q(assignee__isnull=False)
            ),
            models.Index(
                fields=["signoff_requested_by"],
                name="claim_signoff_requested_by",
                condition=Q(signoff_requested_by__isnull=False),
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def loss_amount(self):
        """The loss the calculation starts from: assessed where known, else claimed."""
        return self.claimed_amount if self.assessed_amount is None else self.assessed_amount

    @property
    def is_overdue(self) -> bool:
        """Whether the service level running now (decision or payment) has been missed."""
        return self.due_on is not None and self.due_on < timezone.localdate()

    @property
    def awaiting_signoff(self) -> bool:
        return self.status == ClaimStatus.UNDER_REVIEW and self.signoff_requested_by_id is not None

    # Transition methods only move the state; claims/lifecycle.py does the rest.

    @transition(
        field=status,
        source=ClaimStatus.DRAFT,
        target=ClaimStatus.SUBMITTED,
        permission=_is_sellers_user,
    )
    def submit(self):
        pass

    @transition(
        field=status,
        source=ClaimStatus.SUBMITTED,
        target=RETURN_VALUE(
            ClaimStatus.AWAITING_COMPENSATION, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED
        ),
    )
    def triage(self, target):
        return target

    @transition(
        field=status,
        source=ClaimStatus.AWAITING_COMPENSATION,
        target=RETURN_VALUE(ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED),
    )
    def release(self, target):
        return target

    @transition(
        field=status,
        source=ClaimStatus.SUBMITTED,
        target=ClaimStatus.UNDER_REVIEW,
        permission="claims.review_claim",
    )
    def start_review(self):
        pass

    @transition(
        field=status,
        source=ClaimStatus.UNDER_REVIEW,
        target=ClaimStatus.INFO_REQUESTED,
        permission="claims.review_claim",
    )
    def request_info(self):
        pass

    @transition(
        field=status,
        source=ClaimStatus.INFO_REQUESTED,
        target=ClaimStatus.UNDER_REVIEW,
        permission=_is_sellers_user,
    )
    def provide_info(self):
        pass

    @transition(
        field=status,
        source=ClaimStatus.UNDER_REVIEW,
        target=ClaimStatus.APPROVED,
        permission="claims.approve_claim",
    )
    def approve(self):
        pass

    # An approved claim is rejected only once the marketplace's compensation left it nothing to
    # pay: it must not stay approved for money that will never be paid (brief, section 4).
    @transition(
        field=status,
        source=[
            ClaimStatus.SUBMITTED,
            ClaimStatus.UNDER_REVIEW,
            ClaimStatus.INFO_REQUESTED,
            ClaimStatus.APPROVED,
        ],
        target=ClaimStatus.REJECTED,
        permission="claims.reject_claim",
        conditions=[_nothing_payable_if_approved],
    )
    def reject(self):
        pass

    @transition(
        field=status,
        source=ClaimStatus.APPROVED,
        target=ClaimStatus.PAID,
        permission="claims.pay_claim",
    )
    def pay(self):
        pass

    @transition(
        field=status,
        source=[ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.INFO_REQUESTED],
        target=ClaimStatus.WITHDRAWN,
        permission=_is_sellers_user,
    )
    def withdraw(self):
        pass

    @transition(
        field=status,
        source=[ClaimStatus.REJECTED, ClaimStatus.CLOSED],
        target=ClaimStatus.UNDER_REVIEW,
        permission="claims.reopen_claim",
        # A payout is final: a claim is paid at most once, so a paid claim never reopens.
        conditions=[_has_no_payout],
    )
    def reopen(self):
        pass

    @transition(
        field=status,
        source=[
            ClaimStatus.PAID,
            ClaimStatus.REJECTED,
            ClaimStatus.WITHDRAWN,
            ClaimStatus.INFO_REQUESTED,
        ],
        target=ClaimStatus.CLOSED,
    )
    def close(self):
        pass


# Steps of the senior's sign-off that move no state: logged among the claim's transitions for
# the adjusters, never shown to the seller or the marketplace.
SIGNOFF_STEPS = ("request_signoff", "send_back")


class ClaimTransition(TransitionLog):
    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    # What the system said of the step, put into words when read (claims/notes.py): `note`
    # holds only what a person wrote.
    note_code = models.CharField(
        _("system note"), max_length=32, choices=SystemNote.choices, blank=True
    )
    note_params = models.JSONField(_("system note's figures"), default=dict, blank=True)

    class Meta(TransitionLog.Meta):
        verbose_name = _("claim transition")
        verbose_name_plural = _("claim transitions")
        # A claim's log in order, and its status at a date (the bordereaux).
        indexes = [*TransitionLog.Meta.indexes, models.Index(fields=["claim", "at"])]

    def __str__(self):
        return choice_label(ClaimStep, self.transition)


class ClaimMessage(models.Model):
    """One message of the thread between the seller and the adjuster."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(_("from"), max_length=16, choices=MessageAuthor.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.claim} · {self.get_author_kind_display()}"


def evidence_upload_to(instance: "Evidence", filename: str) -> str:
    return f"evidence/{instance.claim.seller_id}/{instance.claim_id}/{filename}"


class EvidenceArchive(models.Model):
    """A claim's evidence moved to the archive storage once the claim had been closed for the
    retention period; the manifest there lists every file with its digest."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence_archives")
    archived_at = models.DateTimeField(_("archived"))
    manifest = models.CharField(_("manifest"), max_length=300)
    files = models.PositiveIntegerField(_("files"))
    size = models.PositiveBigIntegerField(_("size, bytes"))

    class Meta:
        verbose_name = _("evidence archive")
        verbose_name_plural = _("evidence archives")
        ordering = ["archived_at", "pk"]

    def __str__(self):
        return self.manifest


class Evidence(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence")
    # The file's name in the default storage, or in the archive storage once `archive` is set.
    file = models.FileField(_("file"), upload_to=evidence_upload_to, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size, bytes"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    archive = models.ForeignKey(
        EvidenceArchive,
        verbose_name=_("archived"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
    )

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.original_name


class ReconciliationRun(models.Model):
    state = models.CharField(
        _("state"), max_length=16, choices=RunState.choices, default=RunState.PENDING
    )
    trigger = models.CharField(_("started by"), max_length=32)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("records to reconcile"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    unmatched = models.PositiveIntegerField(_("unmatched"), default=0)
    claims_released = models.PositiveIntegerField(_("claims released"), default=0)
    recoveries_raised = models.PositiveIntegerField(_("recoveries raised"), default=0)
    discrepancies_found = models.PositiveIntegerField(_("discrepancies"), default=0)
    error = models.TextField(_("error"), blank=True)
    # The records of a run are those with an id up to `upper_bound` no run has
    # examined yet (the records say which); `cursor` is the highest id done so far.
    upper_bound = models.BigIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    # Records per chunk, fixed for the run: every driver of it must cut the same chunks.
    chunk = models.PositiveIntegerField(default=200_000)
    # Moved by every chunk's transaction: a running run whose heartbeat stopped lost its
    # worker, and the sweep resumes it (claims/long_tasks.py).
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    documents = GenericRelation(
        "policies.Document",
        content_type_field="owner_type",
        object_id_field="owner_id",
        related_query_name="run",
    )

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state="running"),
                name="reconciliation_one_running",
            )
        ]

    def __str__(self):
        return f"#{self.pk} · {self.get_state_display()}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))


class MarketplaceCompensation(models.Model):
    """A payout the marketplace made to a seller for a shipment; counts at most once."""

    # Leads the composite indexes below; reconciliation rewrites every index of a record.
    marketplace = models.ForeignKey(
        Marketplace,
        verbose_name=_("marketplace"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    external_id = models.CharField(_("external id"), max_length=64)
    seller = models.ForeignKey(
        Seller, verbose_name=_("seller"), on_delete=models.PROTECT, related_name="compensations"
    )
    shipment_external_id = models.CharField(_("shipment id"), max_length=64)
    shipment = models.ForeignKey(
        Shipment,
        verbose_name=_("shipment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="compensations",
    )
    reason = models.CharField(_("reason"), max_length=32, choices=CompensationReason.choices)
    amount = money_field(_("amount"))
    paid_on = models.DateField(_("paid on"))
    source = models.CharField(_("source"), max_length=16, choices=CompensationSource.choices)
    claim = models.ForeignKey(
        Claim,
        verbose_name=_("counted on claim"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="compensations",
    )
    matched_at = models.DateTimeField(_("matched"), null=True, blank=True)
    # The run that examined the record; indexed only while no run has (see Meta).
    # Only reconciliation writes it, with the run it holds: a database check would
    # cost a lookup per record of every run, for nothing.
    run = models.ForeignKey(
        ReconciliationRun,
        verbose_name=_("reconciliation run"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = audit_history()

    class Meta:
        verbose_name = _("marketplace compensation")
        verbose_name_plural = _("marketplace compensations")
        ordering = ["-paid_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["marketplace", "external_id"], name="compensation_unique_external_id"
            ),
            *non_negative("amount", model="compensation"),
        ]
        indexes = [
            models.Index(fields=["marketplace", "shipment_external_id"]),
            models.Index(
                fields=["created_at"], name="compensation_unmatched", condition=Q(claim=None)
            ),
            # What the next reconciliation run takes: small however many records are stored.
            models.Index(
                fields=["id"], name="compensation_pending", condition=Q(run=None, claim=None)
            ),
        ]

    def __str__(self):
        return self.external_id


class Discrepancy(models.Model):
    # Leads the unique constraint below; written only by its run (see the records' run).
    run = models.ForeignKey(
        ReconciliationRun,
        verbose_name=_("reconciliation run"),
        on_delete=models.CASCADE,
        related_name="discrepancies",
        db_index=False,
        db_constraint=False,
    )
    compensation = models.ForeignKey(
        MarketplaceCompensation,
        verbose_name=_("compensation"),
        on_delete=models.CASCADE,
        related_name="discrepancies",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=DiscrepancyKind.choices)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "compensation", "kind"], name="discrepancy_once_per_run"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.compensation}"


class Payout(models.Model):
    """Money the insurer paid on a claim: at most one per claim."""

    claim = models.OneToOneField(
        Claim, verbose_name=_("claim"), on_delete=models.PROTECT, related_name="payout"
    )
    # The claim's policy, kept on the row so a policy's or a seller's payouts sum from one
    # index without reading the claims (the covering index below).
    policy = models.ForeignKey(
        Policy,
        verbose_name=_("policy"),
        on_delete=models.PROTECT,
        related_name="payouts",
        db_index=False,
        editable=False,
    )
    amount = money_field(_("amount"))
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("payment reference"), max_length=64, unique=True)
    # The settlement act prints the calculation as it stood when the money left.
    calculation = models.JSONField(_("calculation"), default=dict, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    history = audit_history()

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        indexes = [
            models.Index(fields=["policy"], include=["amount"], name="payout_policy_amount"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self):
        return self.reference


class Recovery(models.Model):
    """Money the seller owes back: the marketplace compensated after the insurer paid."""

    claim = models.ForeignKey(
        Claim, verbose_name=_("claim"), on_delete=models.PROTECT, related_name="recoveries"
    )
    compensation = models.ForeignKey(
        MarketplaceCompensation,
        verbose_name=_("compensation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recoveries",
    )
    amount = money_field(_("amount"))
    # Follows the receipts (`recovery_receive`): open, partly received, received in full.
    status = models.CharField(
        _("status"), max_length=16, choices=RecoveryStatus.choices, default=RecoveryStatus.OPEN
    )
    raised_at = models.DateTimeField(_("raised"))

    history = audit_history()

    class Meta:
        verbose_name = _("recovery")
        verbose_name_plural = _("recoveries")
        ordering = ["raised_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_amount_positive"),
        ]

    def __str__(self):
        return f"{self.claim} · {self.amount}"


class RecoveryReceipt(models.Model):
    """One payment the seller made towards a recovery; several may settle it."""

    recovery = models.ForeignKey(
        Recovery, verbose_name=_("recovery"), on_delete=models.PROTECT, related_name="receipts"
    )
    amount = money_field(_("amount"))
    received_on = models.DateField(_("received on"))
    reference = models.CharField(_("payment reference"), max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    history = audit_history()

    class Meta:
        verbose_name = _("recovery receipt")
        verbose_name_plural = _("recovery receipts")
        ordering = ["received_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="recovery_receipt_amount_positive"
            ),
            # A payment is recorded once: the same reference again is a replay.
            models.UniqueConstraint(
                fields=["recovery", "reference"], name="recovery_receipt_reference_once"
            ),
        ]

    def __str__(self):
        return f"{self.reference} · {self.amount}"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed: retries exhausted")


class WebhookAttemptState(models.TextChoices):
    SENDING = "sending", _("Sending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")
    # Its worker died during the request: the receiver may have had it.
    INTERRUPTED = "interrupted", _("Interrupted: outcome unknown")


class WebhookDelivery(models.Model):
    """One notification to a marketplace's endpoint, retried with backoff until it lands."""

    marketplace = models.ForeignKey(
        Marketplace, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="webhook_deliveries")
    # What a receiver drops repeats by: the same on every attempt of the delivery, and
    # random, so it stays unique after a database is restored or rebuilt.
    uid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("event"), max_length=64)
    url = models.URLField(_("endpoint"))
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due",
                condition=Q(status="pending"),
            )
        ]

    def __str__(self):
        return f"{self.event} · {self.claim_id} · {self.get_status_display()}"


class WebhookAttempt(models.Model):
    """One attempt at a delivery, recorded (`sending`) before the request goes out."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(_("at"))
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=WebhookAttemptState.choices,
        default=WebhookAttemptState.SENDING,
    )
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration, ms"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["at", "pk"]

    def __str__(self):
        outcome = self.status_code or self.error[:40] or self.get_state_display()
        return f"{self.at:%Y-%m-%d %H:%M:%S} · {outcome}"


class ReportImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Reading")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


def report_upload_to(instance: "ReportImport", filename: str) -> str:
    return f"reports/{instance.seller_id}/{filename}"


class ReportImport(models.Model):
    """One marketplace finance report read for a seller, with every row's outcome kept."""

    marketplace = models.ForeignKey(
        Marketplace, verbose_name=_("marketplace"), on_delete=models.PROTECT, related_name="+"
    )
    seller = models.ForeignKey(
        Seller, verbose_name=_("seller"), on_delete=models.PROTECT, related_name="report_imports"
    )
    # NULL for uploads: the unique constraint ignores NULLs.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"), max_length=64, null=True, blank=True
    )
    format = models.CharField(_("format"), max_length=24, choices=ReportFormat.choices)
    source = models.CharField(_("source"), max_length=16, choices=ReportSource.choices)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    file = models.FileField(_("file"), upload_to=report_upload_to, max_length=300, blank=True)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReportImportStatus.choices,
        default=ReportImportStatus.PENDING,
    )
    period_start = models.DateField(_("period from"), null=True, blank=True)
    period_end = models.DateField(_("period to"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    processed = models.PositiveIntegerField(_("rows read"), default=0)
    # Moved by every chunk's transaction, as a reconciliation run's.
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    outcomes = models.JSONField(_("outcomes"), default=dict)
    fees_found = models.PositiveIntegerField(_("insured fees found"), default=0)
    fees_amount = models.DecimalField(_("insured fees, ₽"), default=0, **MONEY)
    compensations_amount = models.DecimalField(_("compensation counted, ₽"), default=0, **MONEY)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("report import")
        verbose_name_plural = _("report imports")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["marketplace", "external_id"], name="reportimport_unique_external_id"
            )
        ]
        indexes = [models.Index(fields=["seller", "-created_at"])]

    def __str__(self):
        return f"{self.get_format_display()} · {self.filename or self.external_id or self.pk}"

    @property
    def percent(self) -> int:
        return 100 if not self.rows else min(100, round(100 * self.processed / self.rows))


class ReportLine(models.Model):
    """What one row of a report came to; `counted` marks the one row of a key that counts."""

    report = models.ForeignKey(ReportImport, on_delete=models.CASCADE, related_name="lines")
    marketplace = models.ForeignKey(
        Marketplace, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    line = models.PositiveIntegerField(_("line"))
    key = models.CharField(_("row id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=32)
    outcome = models.CharField(_("outcome"), max_length=24, choices=ReportOutcome.choices)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    shipment_external_id = models.CharField(_("item"), max_length=64, blank=True)
    peril = models.CharField(_("peril"), max_length=16, blank=True)
    occurred_on = models.DateField(_("date"), null=True, blank=True)
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="report_lines"
    )
    compensation = models.ForeignKey(
        MarketplaceCompensation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="report_lines",
    )
    counted = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("report row")
        verbose_name_plural = _("report rows")
        ordering = ["report", "line", "pk"]
        constraints = [
            # Each row of a marketplace counts once, whatever report brings it again.
            models.UniqueConstraint(
                fields=["marketplace", "key"],
                condition=Q(counted=True),
                name="reportline_counted_once",
            )
        ]
        indexes = [models.Index(fields=["report", "outcome"])]

    def __str__(self):
        return f"{self.key} · {self.get_outcome_display()}"
