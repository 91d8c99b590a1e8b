"""The lock order of every write that moves a claim's money: the policy first, then its claims
by primary key, so that two writers on one policy queue up instead of deadlocking and the
limits they read cannot move under them.
"""

from claims.models import (
    Claim,
)
from policies.models import Policy


def policy_lock(*, policy_id: int) -> Policy:
    """Lock the policy row: every change to money on a policy's claims takes it first.

    Locks are always taken policy first, then claim, so that two writers on
    one policy queue up instead of deadlocking, and the limits they read
    cannot move under them.
    """
    return Policy.objects.select_for_update().get(pk=policy_id)


def claim_get_for_update(*, claim_id: int) -> Claim:
    """Return the claim locked for this transaction, with what its rules read."""
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("policy__product_version", "shipment", "seller", "marketplace")
        .get(pk=claim_id)
    )


def claim_lock(*, claim_id: int) -> Claim:
    """Lock the claim's policy, then the claim, and return the claim."""
    policy_id = Claim.objects.values_list("policy_id", flat=True).get(pk=claim_id)
    policy_lock(policy_id=policy_id)
    return claim_get_for_update(claim_id=claim_id)
