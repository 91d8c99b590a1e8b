"""`manage.py soak`, run short: gunicorn, a worker, beat and a Redis of its own under load, a
Redis outage and a killed worker, then the audit of every invariant."""

import os
import shutil
import subprocess
import sys

import pytest
from django.db import connection

from claims.invariants import FOLLOW_UP_CHECKS, MONEY_CHECKS
from tests.workers import ROOT, database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_short_soak_passes_and_prints_its_figures_and_audit():
    if connection.vendor != "postgresql":
        pytest.skip("the soak's servers share the database: runs in CI's PostgreSQL pass")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the soak did not run")

    result = subprocess.run(
        [sys.executable, "manage.py", "soak", "--seconds", "8", "--redelivery", "15"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=170,
    )

    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert "requests/s" in output
    assert "p95 ms" in output
    assert "Redis stopped" in output and "worker killed" in output
    assert "outbox pending" in output
    for check in {**MONEY_CHECKS, **FOLLOW_UP_CHECKS}.values():
        assert check in output
    assert "soak passed" in output
