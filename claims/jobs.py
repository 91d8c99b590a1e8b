"""The scheduled jobs over many claims: release after the compensation wait, service-level
flags, closing after the appeal and reply windows.
"""

import datetime as dt

from django.core.mail import send_mass_mail
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from claims.assessment import (
    INFO_REPLY_WINDOW_DAYS,
    appeal_window_passed_before,
    compensation_wait_over,
)
from claims.choices import ClaimFlag, ClaimStatus
from claims.lifecycle import claim_close, claim_release
from claims.models import (
    Claim,
)


def claims_release_waiting(*, today: dt.date) -> int:
    """Release cargo claims whose compensation wait passed with nothing paid; return how many."""
    waiting = Claim.objects.filter(status=ClaimStatus.AWAITING_COMPENSATION).annotate(
        wait=F("policy__product_version__cargo_compensation_wait_days")
    )
    released = 0
    for claim_id, event_date, wait in waiting.values_list("pk", "event_date", "wait").iterator():
        if compensation_wait_over(event_date=event_date, wait_days=wait, on=today):
            claim_release(claim_id=claim_id)
            released += 1
    return released


def claims_flag_sla_breaches(*, today: dt.date) -> int:
    """Flag the claims whose decision or payment is overdue and tell their adjuster.

    Return how many were flagged now; a claim already flagged is not told twice.
    """
    overdue = Claim.objects.filter(
        status__in=(ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED),
        due_on__lt=today,
    ).select_related("assignee")
    newly = [claim for claim in overdue if ClaimFlag.SLA_BREACHED not in claim.flags]
    for claim in newly:
        claim.flags = [*claim.flags, ClaimFlag.SLA_BREACHED]
    Claim.objects.bulk_update(newly, ["flags"], batch_size=1000)
    by_adjuster: dict[str, list[str]] = {}
    for claim in newly:
        if claim.assignee_id and claim.assignee.email:
            by_adjuster.setdefault(claim.assignee.email, []).append(
                f"{claim.number} ({claim.get_status_display()}, due {claim.due_on:%d.%m.%Y})"
            )
    send_mass_mail(
        [
            (
                _("Claims past their service level"),
                "\n".join(numbers),
                None,
                [email],
            )
            for email, numbers in by_adjuster.items()
        ],
        fail_silently=True,
    )
    return len(newly)


def claims_close_due(*, today: dt.date) -> int:
    """Close claims past the appeal window and info requests with no reply; return how many."""
    settled_before = appeal_window_passed_before(today=today)
    unanswered_before = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=INFO_REPLY_WINDOW_DAYS), dt.time.min)
    )
    due = Claim.objects.filter(
        Q(
            status__in=(ClaimStatus.PAID, ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN),
            status_changed_at__lt=settled_before,
        )
        | Q(status=ClaimStatus.INFO_REQUESTED, status_changed_at__lt=unanswered_before)
    ).values_list("pk", flat=True)
    closed = 0
    for claim_id in list(due):
        claim_close(claim_id=claim_id)
        closed += 1
    return closed
