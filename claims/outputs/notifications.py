"""E-mail to the seller's users when a claim of theirs changes status in a way they care about."""

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from claims.choices import ClaimStatus
from claims.models import Claim
from claims.tasks import claims_status_notify_task
from policies.models import User
from policies.outbox import outbox_enqueue_many

# Moves inside the insurer's queue (assignment, review) are not the seller's news.
SELLER_NOTIFIED = frozenset(
    {
        ClaimStatus.SUBMITTED,
        ClaimStatus.AWAITING_COMPENSATION,
        ClaimStatus.INFO_REQUESTED,
        ClaimStatus.APPROVED,
        ClaimStatus.REJECTED,
        ClaimStatus.PAID,
        ClaimStatus.CLOSED,
    }
)


def sellers_notify_later(changes: Iterable[tuple[int, str]]) -> None:
    """Queue, for after the commit, the e-mails for the changes that concern the sellers."""
    due = [(claim_id, target) for claim_id, target in changes if target in SELLER_NOTIFIED]
    outbox_enqueue_many(
        task=claims_status_notify_task,
        calls=({"changes": due[start : start + 500]} for start in range(0, len(due), 500)),
    )


def claims_status_notify(*, changes: list[tuple[int, str]]) -> int:
    """E-mail every active user of each claim's seller about its new status; return how many."""
    claims = Claim.objects.select_related("seller").in_bulk({claim_id for claim_id, _ in changes})
    recipients = defaultdict(list)
    for seller_id, email in User.objects.filter(
        seller_id__in={claim.seller_id for claim in claims.values()}, is_active=True
    ).values_list("seller_id", "email"):
        recipients[seller_id].append(email)
    messages = []
    for claim_id, target in changes:
        claim = claims.get(claim_id)
        if claim is None or not recipients[claim.seller_id]:
            continue
        context = {
            "claim": claim,
            "status": ClaimStatus(target).label,
            "target": target,
            "url": settings.SITE_URL.rstrip("/") + reverse("seller:claim", args=[claim.number]),
        }
        with translation.override(claim.seller.language):
            subject = render_to_string("emails/claim_status_subject.txt", context)
            body = render_to_string("emails/claim_status.txt", context)
        messages.append((" ".join(subject.split()), body, None, recipients[claim.seller_id]))
    return send_mass_mail(messages, fail_silently=False)
