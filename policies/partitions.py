"""The shipment events' monthly partitions on PostgreSQL (migration 0008); SQLite has none.

The events table is partitioned by `created_at`, the month an event was received: it only
grows at the current month, a partition made ahead is empty until its month begins, and a
month left behind is never written again, so it can be detached or dropped whole. (An
event's own time, `occurred_at`, would scatter late events over old months.) A default
partition catches what arrives when no month's partition exists (the beat job stopped):
ingest never fails for want of one, and making that month's partition later moves the
rows over.

The marketplace's event id stays unique through `policies_shipmentevent_key`, an
unpartitioned table of (marketplace, external id) that triggers on the events table keep in
step (see the migration): PostgreSQL only enforces a unique key on a partitioned table when
it includes the partition key. Only statements on the events table itself fire those
triggers, so every write goes to it, never to a partition directly.
"""

import datetime as dt
import functools
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from policies.models import ShipmentEvent

TABLE = ShipmentEvent._meta.db_table
KEYS = f"{TABLE}_key"
DEFAULT = f"{TABLE}_default"
_MONTH_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")
# DDL on the events table waits for its readers and holds up its writers meanwhile: rather
# than queue ingest behind a long report, give up and leave the work to the next run.
LOCK_TIMEOUT = "5s"


def _ddl_begin(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    # A table with deferred foreign-key checks pending (rows written earlier in the same
    # transaction) cannot be altered: check them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@dataclass(frozen=True)
class Partition:
    name: str
    month: dt.date
    # The planner's estimate, from the last ANALYZE: counting a month would read all of it.
    rows: int


def partitioned() -> bool:
    """Whether the events table is partitioned here: on PostgreSQL once migrated, never on
    SQLite."""
    return connection.vendor == "postgresql" and _partitioned(connection.settings_dict["NAME"])


# Per database, once a process: its schema does not change while the process runs.
@functools.cache
def _partitioned(database: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [TABLE])
        return cursor.fetchone()[0]


def add_months(month: dt.date, months: int) -> dt.date:
    """Return the first day of the month `months` after `month`'s."""
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def month_bound(month: dt.date) -> str:
    """Return the timestamptz literal of the month's first midnight in the project's zone."""
    return dt.datetime.combine(month, dt.time(), tzinfo=ZoneInfo(settings.TIME_ZONE)).isoformat()


def event_partitions() -> list[Partition]:
    """Return the events table's month partitions, oldest first; the default one is not
    among them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        found = []
        for name, rows in cursor.fetchall():
            if match := _MONTH_NAME.match(name):
                month = dt.date(int(match[1]), int(match[2]), 1)
                found.append(Partition(name=name, month=month, rows=max(int(rows), 0)))
    return sorted(found, key=lambda partition: partition.month)


def event_partitions_missing(*, today: dt.date, ahead: int) -> list[dt.date]:
    """Return the months from `today`'s to `ahead` months after it that have no partition."""
    have = {partition.month for partition in event_partitions()}
    first = month_of(today)
    return [m for n in range(ahead + 1) if (m := add_months(first, n)) not in have]


def event_partitions_create(*, today: dt.date, ahead: int) -> list[str]:
    """Make the missing partitions of `today`'s month and the `ahead` months after it;
    return their names. The rows the default partition caught for such a month move in."""
    made = []
    for month in event_partitions_missing(today=today, ahead=ahead):
        _partition_create(month)
        made.append(partition_name(month))
    return made


def _partition_create(month: dt.date) -> None:
    name, start, end = partition_name(month), month_bound(month), month_bound(add_months(month, 1))
    bounds = f"FOR VALUES FROM ('{start}') TO ('{end}')"
    within = f"created_at >= '{start}' AND created_at < '{end}'"
    with transaction.atomic(), connection.cursor() as cursor:
        _ddl_begin(cursor)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE {within})")
        [caught] = cursor.fetchone()
        if not caught:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} {bounds}")
            return
        # A partition cannot be made while the default one holds rows of its range. The
        # rows go straight from the detached default into the partition: no trigger on the
        # events table fires, so their keys stay as they are.
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {DEFAULT}")
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} {bounds}")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE {within} RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        )
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {DEFAULT} DEFAULT")


def event_partitions_older_than(*, today: dt.date, keep_months: int) -> list[Partition]:
    """Return the partitions of the months before the `keep_months` months up to and
    including `today`'s."""
    first_kept = add_months(month_of(today), 1 - keep_months)
    return [partition for partition in event_partitions() if partition.month < first_kept]


def event_partition_remove(partition: Partition, *, detach: bool) -> None:
    """Take the partition out of the events table: detached, its rows stay as a table of its
    own (to archive, then drop); else it is dropped. Its events' ids are forgotten first, so
    a marketplace that sends one again has it stored as new."""
    # The keys go first, in a transaction of their own that holds no lock on the events
    # table: ingest goes on meanwhile, and finds an old id that arrives again among the
    # events until the partition goes. Killed in between, the next run removes it again.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {KEYS} k USING {partition.name} e"
            " WHERE k.marketplace_id = e.marketplace_id AND k.external_id = e.external_id"
        )
    with transaction.atomic(), connection.cursor() as cursor:
        _ddl_begin(cursor)
        if detach:
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {partition.name}")
        else:
            cursor.execute(f"DROP TABLE {partition.name}")
