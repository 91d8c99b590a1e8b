"""Shipment events in monthly partitions on PostgreSQL, made ahead by a beat job.

PostgreSQL enforces a unique key on a partitioned table only when the key includes the
partition key, and the marketplace's event id (marketplace, external_id) holds no date. So
the key moves to `policies_shipmentevent_key`, an unpartitioned table under the
constraint's own name that statement-level triggers on the events table keep in step: an
insert (INSERT, bulk insert or COPY) that repeats a stored id fails with the same unique
violation, at the same statement, as before; a delete or TRUNCATE forgets the ids. Each key
row names its event's id and month, so ingest looks a batch's ids up in that one index and
reads the stored events from their own partitions (`policies.partitions`), instead of
probing an index in every month's partition: the partitions need no index on the pair.
The primary key becomes (id, created_at); ids still come from one identity sequence, and no
foreign key points at an event.

The rows are copied into the new table in this migration's transaction, which locks the
events for its length: on a table of millions, run it in a maintenance window.

SQLite keeps its plain table. Django's model is unchanged: its state is the same on both.
"""

import datetime as dt
import json
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

TABLE = "policies_shipmentevent"
NEW = f"{TABLE}_new"
KEYS = f"{TABLE}_key"
UNIQUE = "shipmentevent_unique_external_id"
AHEAD_MONTHS = 3

SCHEDULE_NAME = "Make the shipment events' partitions of the months ahead"
SCHEDULE_TASK = "policies.tasks.event_partitions_create_task"

KEY_TRIGGERS = f"""
CREATE FUNCTION {KEYS}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A row whose key its statement placed first (ingest's insert that skips the ids
    -- taken, policies/ingest.py) has it already.
    INSERT INTO {KEYS}
    SELECT n.marketplace_id, n.external_id, n.id, n.created_at FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM {KEYS} k WHERE k.marketplace_id = n.marketplace_id
                      AND k.external_id = n.external_id AND k.event_id = n.id);
    RETURN NULL;
END $$;
CREATE FUNCTION {KEYS}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {KEYS} k USING old_rows o
    WHERE k.marketplace_id = o.marketplace_id AND k.external_id = o.external_id;
    RETURN NULL;
END $$;
CREATE FUNCTION {KEYS}_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only the rows whose key, id or month changed: an update of the other columns
    -- leaves the keys alone.
    DELETE FROM {KEYS} k USING old_rows o
    WHERE k.marketplace_id = o.marketplace_id AND k.external_id = o.external_id
      AND NOT EXISTS (SELECT 1 FROM new_rows n
                      WHERE (n.marketplace_id, n.external_id, n.id, n.created_at)
                          = (o.marketplace_id, o.external_id, o.id, o.created_at));
    INSERT INTO {KEYS}
    SELECT n.marketplace_id, n.external_id, n.id, n.created_at FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM old_rows o
                      WHERE (o.marketplace_id, o.external_id, o.id, o.created_at)
                          = (n.marketplace_id, n.external_id, n.id, n.created_at));
    RETURN NULL;
END $$;
CREATE FUNCTION {KEYS}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {KEYS};
    RETURN NULL;
END $$;
CREATE TRIGGER {KEYS}_insert AFTER INSERT ON {TABLE}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {KEYS}_insert();
CREATE TRIGGER {KEYS}_delete AFTER DELETE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {KEYS}_delete();
CREATE TRIGGER {KEYS}_update AFTER UPDATE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {KEYS}_update();
CREATE TRIGGER {KEYS}_truncate AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {KEYS}_truncate();
"""


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def _bound(month: dt.date) -> str:
    return dt.datetime.combine(month, dt.time(), tzinfo=ZoneInfo(settings.TIME_ZONE)).isoformat()


def _definitions(cursor, table: str) -> list[str]:
    """Return the statements that make the table's foreign keys and plain indexes again."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    statements = [f"ALTER TABLE {table} ADD CONSTRAINT {name} {d}" for name, d in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
        [table],
    )
    return statements + [d for (d,) in cursor.fetchall()]


def _copy_rows(cursor, source: str, target: str) -> None:
    cursor.execute(f"INSERT INTO {target} SELECT * FROM {source}")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{target}', 'id'), max(id)) FROM {source}"
        " HAVING max(id) IS NOT NULL"
    )


def _swap(cursor, old: str, new: str) -> list[str]:
    """Drop `old` and give `new` its name and its sequence's; return the statements that
    remake the old table's foreign keys and plain indexes, to run on the new one."""
    remake = _definitions(cursor, old)
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    cursor.execute(f"ALTER SEQUENCE {new}_id_seq RENAME TO {TABLE}_id_seq")
    return remake


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {NEW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY"
            " INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)"
        )
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {NEW} DEFAULT")
        cursor.execute(f"SELECT min(created_at), max(created_at) FROM {TABLE}")
        oldest, newest = cursor.fetchone()
        zone = ZoneInfo(settings.TIME_ZONE)
        today = dt.datetime.now(zone).date()
        first = _month_index(min(oldest.astimezone(zone).date(), today) if oldest else today)
        last = _month_index(max(newest.astimezone(zone).date(), today) if newest else today)
        for index in range(first, last + AHEAD_MONTHS + 1):
            month = _month(index)
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{month:%Y_%m} PARTITION OF {NEW}"
                f" FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(_month(index + 1))}')"
            )
        _copy_rows(cursor, TABLE, NEW)
        remake = _swap(cursor, TABLE, NEW)
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, created_at)")
        for statement in remake:
            cursor.execute(statement)
        cursor.execute(
            f"CREATE TABLE {KEYS} (marketplace_id bigint NOT NULL, external_id varchar(64) NOT NULL,"
            " event_id bigint NOT NULL, created_at timestamptz NOT NULL,"
            f" CONSTRAINT {UNIQUE} PRIMARY KEY (marketplace_id, external_id))"
        )
        cursor.execute(
            f"INSERT INTO {KEYS} SELECT marketplace_id, external_id, id, created_at FROM {TABLE}"
        )
        cursor.execute(KEY_TRIGGERS)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {NEW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY"
            " INCLUDING CONSTRAINTS)"
        )
        _copy_rows(cursor, TABLE, NEW)
        cursor.execute(f"DROP TABLE {KEYS}")
        for kind in ("insert", "delete", "update", "truncate"):
            cursor.execute(f"DROP TRIGGER {KEYS}_{kind} ON {TABLE}")
            cursor.execute(f"DROP FUNCTION {KEYS}_{kind}()")
        remake = _swap(cursor, TABLE, NEW)
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {UNIQUE} UNIQUE (marketplace_id, external_id)")
        for statement in remake:
            cursor.execute(statement)


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Moscow",
    )
    PeriodicTask.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"task": SCHEDULE_TASK, "crontab": crontab, "kwargs": json.dumps({})},
    )


def drop_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0007_senior_adjusters_unlock_sign_ins"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition),
        migrations.RunPython(create_schedule, drop_schedule),
    ]
