"""The check before filing, in the seller's words: every limit and flag that applies to the
claim, with its figures, and what happens to it once filed. The figures and the rules are
claims.filing.claim_preview's; this only says them."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from claims.choices import ClaimFlag, ClaimStatus, LimitApplied
from claims.filing import ClaimPreview
from claims.templatetags.money import rub
from policies.calculation import ZERO


def _limit_finding(limit: str, *, room, amount) -> str:
    figures = {"room": rub(room), "amount": rub(amount)}
    if limit == LimitApplied.PER_CLAIM:
        return _("Limit per claim of %(room)s: %(amount)s above it is not paid.") % figures
    if limit == LimitApplied.PER_EVENT:
        return (
            _("Limit per event: %(room)s is left for this event, so %(amount)s is not paid.")
            % figures
        )
    return (
        _("Aggregate limit: %(room)s is left on the policy, so %(amount)s is not paid.") % figures
    )


def _flag_finding(flag: str, preview: ClaimPreview) -> str:
    label = ClaimFlag(flag).label
    version = preview.policy.product_version
    shipment = preview.shipment
    claimed = preview.calculation.loss
    detail = ""
    if flag == ClaimFlag.LATE_NOTICE:
        days = version.notification_window_days
        detail = ngettext(
            "a loss is to be reported within %(days)d day of the event.",
            "a loss is to be reported within %(days)d days of the event.",
            days,
        ) % {"days": days}
    elif flag == ClaimFlag.AMOUNT_ABOVE_VALUE and claimed > shipment.declared_value:
        detail = _("%(claimed)s claimed, the item is declared at %(value)s.") % {
            "claimed": rub(claimed),
            "value": rub(shipment.declared_value),
        }
    elif flag == ClaimFlag.VALUE_ABOVE_MAXIMUM and version.max_declared_value is not None:
        detail = _("the item is declared at %(value)s, the product insures up to %(maximum)s.") % {
            "value": rub(shipment.declared_value),
            "maximum": rub(version.max_declared_value),
        }
    elif flag == ClaimFlag.EXCLUDED_CATEGORY:
        detail = shipment.category
    elif flag == ClaimFlag.COMPENSATION_WAIT_PENDING:
        days = version.cargo_compensation_wait_days
        detail = ngettext(
            "the marketplace has %(days)d day from the event to compensate it.",
            "the marketplace has %(days)d days from the event to compensate it.",
            days,
        ) % {"days": days}
    return _("%(flag)s: %(detail)s") % {"flag": label, "detail": detail} if detail else label


def preview_findings(preview: ClaimPreview) -> list[str]:
    """Return, one sentence each, what takes the payable below the amount claimed and every
    judgement flag the claim raises, in the order of the calculation, then of the flags."""
    calc = preview.calculation
    findings = []
    if calc.compensation > ZERO:
        findings.append(
            _("The marketplace's compensation of %(amount)s for the item is taken off.")
            % {"amount": rub(calc.compensation)}
        )
    if calc.deductible > ZERO:
        findings.append(
            _("Deductible: %(amount)s of the loss is yours.") % {"amount": rub(calc.deductible)}
        )
    findings.extend(
        _limit_finding(cut.limit, room=room, amount=cut.amount) for cut, room in preview.limit_cuts
    )
    findings.extend(_flag_finding(flag, preview) for flag in preview.flags)
    if preview.amount_needs_review:
        threshold = preview.policy.product_version.auto_approve_threshold
        findings.append(
            _("Nothing would be payable as claimed.")
            if calc.payable <= ZERO
            else _("The payable is above %(threshold)s, the most paid without an adjuster.")
            % {"threshold": rub(threshold)}
        )
    return findings


def preview_next_step(preview: ClaimPreview) -> str:
    """Return what happens to the claim once filed, as triage would route it now."""
    if preview.next_status == ClaimStatus.AWAITING_COMPENSATION:
        return _(
            "Once filed, it waits for the marketplace's compensation; then it is worked out "
            "again with what the marketplace paid."
        )
    if preview.next_status == ClaimStatus.UNDER_REVIEW:
        return _("Once filed, an adjuster looks at it, for the reasons above.")
    return _("Nothing here needs an adjuster: once filed, it is approved and paid automatically.")
