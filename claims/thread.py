"""The message thread between a claim's seller and its adjuster."""

from django.utils.translation import gettext as _

from claims.choices import MessageAuthor
from claims.errors import ClaimErrorCode, PermissionDeniedError
from claims.models import (
    Claim,
    ClaimMessage,
)
from policies.errors import DomainError, ErrorCode
from policies.models import User


def claim_message_post(*, claim_id: int, user: User, body: str) -> ClaimMessage:
    """Add a message to the thread; the seller's own users and staff only."""
    text = (body or "").strip()
    if not text:
        raise DomainError(
            ClaimErrorCode.MESSAGE_REQUIRED,
            _("The message is empty."),
            fields={"body": [_("The message is empty.")]},
        )
    claim = Claim.objects.get(pk=claim_id)
    if user.is_staff:
        author = MessageAuthor.ADJUSTER
    elif user.seller_id == claim.seller_id:
        author = MessageAuthor.SELLER
    else:
        raise PermissionDeniedError(
            ErrorCode.PERMISSION_DENIED, _("You may not write on this claim.")
        )
    return ClaimMessage.objects.create(claim=claim, author_kind=author, author=user, body=text)
