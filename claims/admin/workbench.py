"""The adjuster's actions on one claim in the admin: what each asks for and which service
it calls. Which actions a user sees comes from the state machine's permissions; every rule
stays in the lifecycle services."""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from claims.choices import ClaimStatus, RejectionCode
from claims.lifecycle import (
    claim_approve,
    claim_assess,
    claim_assign,
    claim_pay,
    claim_reject,
    claim_reopen,
    claim_request_info,
    claim_send_back,
    claim_sign_off,
    claim_start_review,
    signoff_allowed,
)
from claims.models import Claim
from policies.actors import Actor
from policies.forms import DateField, DecimalField, LineField, TextField
from policies.models import User


class NoteForm(forms.Form):
    note = TextField(
        label=_("Note to the seller"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class MessageForm(forms.Form):
    message = TextField(
        label=_("What the seller must send"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ReasonForm(forms.Form):
    reason = TextField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    code = forms.ChoiceField(label=_("Reason code"), choices=RejectionCode.choices)
    reason = TextField(
        label=_("Explanation for the seller"), widget=forms.Textarea(attrs={"rows": 3})
    )


class AssessForm(forms.Form):
    assessed_amount = DecimalField(
        label=_("Assessed loss, ₽"), max_digits=14, decimal_places=2, min_value=0
    )


class PayForm(forms.Form):
    reference = LineField(
        label=_("Payment reference"),
        required=False,
        max_length=64,
        help_text=_("Left empty, one is generated."),
    )
    paid_on = DateField(
        label=_("Paid on"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )


class SignOffForm(forms.Form):
    note = TextField(
        label=_("Note to the seller"),
        required=False,
        help_text=_("Left empty, the seller reads the note the adjuster wrote."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SendBackForm(forms.Form):
    note = TextField(
        label=_("Note to the adjuster"),
        help_text=_("What to look at again; the seller does not see it."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EmptyForm(forms.Form):
    pass


@dataclass(frozen=True)
class ClaimAction:
    name: str
    label: str
    form: type[forms.Form]
    run: Callable[[Claim, User, dict], Claim]
    danger: bool = False


def _approve(claim: Claim, user: User, data: dict) -> Claim:
    return claim_approve(claim_id=claim.pk, adjuster=user, note=data["note"])


ACTIONS = {
    action.name: action
    for action in (
        ClaimAction(
            "assign",
            _("Assign to me"),
            EmptyForm,
            lambda c, u, d: claim_assign(claim_id=c.pk, adjuster=u),
        ),
        ClaimAction(
            "start_review",
            _("Start review"),
            EmptyForm,
            lambda c, u, d: claim_start_review(claim_id=c.pk, adjuster=u),
        ),
        ClaimAction(
            "assess",
            _("Record the assessed loss"),
            AssessForm,
            lambda c, u, d: claim_assess(
                claim_id=c.pk, adjuster=u, assessed_amount=d["assessed_amount"]
            ),
        ),
        ClaimAction(
            "request_info",
            _("Request information"),
            MessageForm,
            lambda c, u, d: claim_request_info(claim_id=c.pk, adjuster=u, message=d["message"]),
        ),
        ClaimAction("approve", _("Approve"), NoteForm, _approve),
        ClaimAction(
            "sign_off",
            _("Sign off"),
            SignOffForm,
            lambda c, u, d: claim_sign_off(claim_id=c.pk, senior=u, note=d["note"]),
        ),
        ClaimAction(
            "send_back",
            _("Send back"),
            SendBackForm,
            lambda c, u, d: claim_send_back(claim_id=c.pk, senior=u, note=d["note"]),
        ),
        ClaimAction(
            "reject",
            _("Reject"),
            RejectForm,
            lambda c, u, d: claim_reject(
                claim_id=c.pk, adjuster=u, code=d["code"], reason=d["reason"]
            ),
            danger=True,
        ),
        ClaimAction(
            "pay",
            _("Record the payment"),
            PayForm,
            lambda c, u, d: claim_pay(
                claim_id=c.pk,
                actor=Actor.for_user(u),
                reference=d["reference"],
                paid_on=d["paid_on"],
            ),
        ),
        ClaimAction(
            "reopen",
            _("Reopen"),
            ReasonForm,
            lambda c, u, d: claim_reopen(claim_id=c.pk, adjuster=u, reason=d["reason"]),
        ),
    )
}
# Transitions the insurer's staff make by hand; the others belong to the seller or the jobs.
STAFF_TRANSITIONS = {"start_review", "request_info", "approve", "reject", "pay", "reopen"}
ASSIGNABLE = {
    ClaimStatus.SUBMITTED,
    ClaimStatus.AWAITING_COMPENSATION,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.INFO_REQUESTED,
    ClaimStatus.APPROVED,
}


def claim_actions_for(*, claim: Claim, user: User) -> list[ClaimAction]:
    """Return the actions `user` may take on the claim in its present state, in workflow order."""
    names = {t.name for t in claim.get_available_user_status_transitions(user)} & STAFF_TRANSITIONS
    if claim.awaiting_signoff:
        # Approval is asked for already: the sign-off is the senior's, in two actions of its own.
        names.discard("approve")
        if signoff_allowed(claim=claim, user=user):
            names |= {"sign_off", "send_back"}
    if user.has_perm("claims.review_claim"):
        if claim.status in ASSIGNABLE and claim.assignee_id != user.pk:
            names.add("assign")
        if claim.status == ClaimStatus.UNDER_REVIEW:
            names.add("assess")
    return [action for name, action in ACTIONS.items() if name in names]


def outcome_message(*, action: ClaimAction, claim: Claim, user: User) -> tuple[str, bool]:
    """Return what to tell the user after `action`, and whether it is a warning."""
    if action.name == "send_back":
        return (
            gettext("Claim %(number)s is sent back to %(who)s.")
            % {"number": claim.number, "who": claim.assignee},
            False,
        )
    if action.name == "approve" and claim.status != ClaimStatus.APPROVED:
        return (
            gettext(
                "The payable %(payable)s is above your authority limit of %(limit)s: "
                "claim %(number)s waits for the sign-off of a senior adjuster."
            )
            % {
                "payable": claim.payable_amount,
                "limit": user.authority_limit,
                "number": claim.number,
            },
            True,
        )
    return (
        gettext("%(action)s: claim %(number)s is now “%(status)s”.")
        % {"action": action.label, "number": claim.number, "status": claim.get_status_display()},
        False,
    )
