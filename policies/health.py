"""Whether this process can serve: the database and broker answer, the schema is migrated, and
the outbox's follow-ups leave.

Each check answers `ok` or `failed` only (the broker's `eager` when tasks run in-process and
there is none): what failed and why goes to the log, never to the unauthenticated probe.
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from policies.outbox import outbox_oldest_pending

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
# Tasks run in the calling process: there is no broker to reach.
EAGER = "eager"


def database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("readiness: the database does not answer: %s", exc)
        # A broken connection is not reused by the next request or check.
        connection.close()
        return FAILED
    return OK


def broker_check() -> str:
    if current_app.conf.task_always_eager:
        return EAGER
    try:
        with current_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=0)
    except (BrokerError, OSError) as exc:
        logger.warning("readiness: the broker does not answer: %s", exc)
        return FAILED
    return OK


def migrations_check() -> str:
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        logger.warning("readiness: the migration state cannot be read: %s", exc)
        return FAILED
    if unapplied:
        logger.warning("readiness: %d migrations are not applied", len(unapplied))
        return FAILED
    return OK


def outbox_check() -> str:
    """Failed when a follow-up has waited unsent longer than `OUTBOX_STALLED_AFTER`: neither
    its commit's dispatch nor the sweep got it to the broker."""
    try:
        oldest = outbox_oldest_pending()
    except DatabaseError as exc:
        logger.warning("readiness: the outbox cannot be read: %s", exc)
        return FAILED
    if oldest is not None and timezone.now() - oldest > settings.OUTBOX_STALLED_AFTER:
        logger.warning("readiness: the outbox is stalled, oldest pending since %s", oldest)
        return FAILED
    return OK


def readiness() -> dict[str, str]:
    """Return every check's name and outcome; those that need the database fail with it,
    without waiting out a connect timeout each."""
    database = database_check()
    checks = {"database": database, "broker": broker_check()}
    for name, check in (("migrations", migrations_check), ("outbox", outbox_check)):
        checks[name] = check() if database == OK else FAILED
    return checks
