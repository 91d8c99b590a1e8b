"""Migration 0020 gives every payout already paid its claim's policy."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import factories

BEFORE = [("claims", "0019_verbose_names_and_system_notes")]
AFTER = [("claims", "0020_payout_policy")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


# Serialized like every test here that commits, so the flush after it leaves the content
# types for the next such test to restore.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_payouts_paid_before_the_migration_carry_their_claims_policy():
    payouts = [factories.PayoutFactory(), factories.PayoutFactory()]
    apps = _migrate(BEFORE)
    try:
        old_payout = apps.get_model("claims", "Payout")
        assert not any(f.name == "policy" for f in old_payout._meta.get_fields())
        apps = _migrate(AFTER)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    payout = apps.get_model("claims", "Payout")
    assert {p.pk: p.policy_id for p in payout.objects.all()} == {
        p.pk: p.claim.policy_id for p in payouts
    }
