"""What the benchmarks share: a marketplace of their own for each run, timed floors."""

import secrets
import time
from collections.abc import Callable

from django.core.management.base import CommandError
from django.db import connection, transaction

from policies.ingest import sellers_upsert_bulk
from policies.models import Marketplace, Seller


def bench_marketplace(*, prefix: str, name: str, sellers: int) -> tuple[Marketplace, list[Seller]]:
    """Return a new marketplace, coded `prefix` and random hex, with `sellers` sellers.

    The sellers' ids are `<code>-seller-<n>`, n from 0, so SQL can name them.
    """
    code = f"{prefix}{secrets.token_hex(3)}"
    marketplace = Marketplace.objects.create(code=code, name=f"{name} {code}")
    results = sellers_upsert_bulk(
        marketplace=marketplace,
        items=[
            {
                "external_id": f"{code}-seller-{n}",
                "legal_name": f"ООО «Бенч {n}»",
                "tax_id": "7708123450",
                "email": f"s{n}@example.com",
                "language": "ru",
            }
            for n in range(sellers)
        ],
    )
    return marketplace, [result.obj for result in results]


class _RolledBack(Exception):
    pass


def seconds_rolled_back(work: Callable) -> float:
    """Return the seconds `work(cursor)` takes, foreign keys checked, in a transaction that
    is then rolled back: a floor measured on the real tables leaves nothing behind."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            work(cursor)
            # Deferred keys are checked at the commit: check them inside the timing.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            raise _RolledBack(time.perf_counter() - started)
    except _RolledBack as done:
        return done.args[0]


def require_postgresql(command: str) -> None:
    """Refuse to measure anything but PostgreSQL, which the benchmarks' targets name."""
    if connection.vendor != "postgresql":
        raise CommandError(f"{command} measures PostgreSQL: set DATABASE_URL=postgres://…")
