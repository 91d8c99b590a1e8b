"""The shipment events' monthly partitions on PostgreSQL: the same unique key and replays as
one table, months made ahead and late, old months taken out (policies/partitions.py,
claims/retention.py, the event_partitions command)."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from claims.choices import ClaimStatus
from policies.ingest import (
    CREATED,
    ERROR,
    UNCHANGED,
    insert_rows,
    shipment_events_record_bulk,
)
from policies.models import ShipmentEvent
from policies.partitions import (
    DEFAULT,
    TABLE,
    add_months,
    event_partitions,
    event_partitions_create,
    month_of,
    partition_name,
)
from policies.tasks import event_partitions_create_task
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the events are partitioned on PostgreSQL only")


def this_month() -> dt.date:
    return month_of(timezone.localdate())


def months_ago(n: int) -> dt.datetime:
    """Return the middle of the month `n` months before this one."""
    month = add_months(this_month(), -n)
    return timezone.make_aware(dt.datetime.combine(month.replace(day=15), dt.time(12)))


def partition_of(event: ShipmentEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def received(event: ShipmentEvent, at: dt.datetime) -> ShipmentEvent:
    """Move the event to the month `at` (an UPDATE: the row changes partition)."""
    ShipmentEvent.objects.filter(pk=event.pk).update(created_at=at)
    event.refresh_from_db()
    return event


def old_month_with_event(months: int, **event_fields) -> tuple[dt.date, ShipmentEvent]:
    month = add_months(this_month(), -months)
    event_partitions_create(today=month, ahead=0)
    return month, received(factories.ShipmentEventFactory(**event_fields), months_ago(months))


def send_again(event: ShipmentEvent, **changes):
    [result] = shipment_events_record_bulk(
        marketplace=event.marketplace,
        items=[
            {
                "external_id": event.external_id,
                "shipment": event.shipment.external_id,
                "kind": event.kind,
                "occurred_at": event.occurred_at,
                "amount": event.amount,
                **changes,
            }
        ],
    )
    return result


def run(*args) -> str:
    out = io.StringIO()
    call_command("event_partitions", *args, stdout=out)
    return out.getvalue()


# One table to the code, a partition per month underneath


def test_an_event_is_stored_in_the_partition_of_the_month_it_arrived():
    event = factories.ShipmentEventFactory()

    assert partition_of(event) == partition_name(this_month())


def test_an_event_sent_again_after_its_month_is_answered_from_its_partition():
    _, event = old_month_with_event(2)

    assert send_again(event).status == UNCHANGED
    assert send_again(event, kind="lost").status == ERROR
    assert ShipmentEvent.objects.filter(external_id=event.external_id).count() == 1


def test_an_event_id_stored_in_another_month_cannot_be_stored_again():
    _, event = old_month_with_event(2)

    with (
        pytest.raises(IntegrityError, match="shipmentevent_unique_external_id"),
        transaction.atomic(),
    ):
        factories.ShipmentEventFactory(shipment=event.shipment, external_id=event.external_id)


def test_an_event_id_deleted_can_be_sent_again():
    event = factories.ShipmentEventFactory()
    ShipmentEvent.objects.filter(pk=event.pk).delete()

    assert send_again(event).status == CREATED


# Months made ahead, and late


def test_the_beat_job_makes_the_missing_months_ahead(settings):
    settings.EVENT_PARTITIONS_AHEAD_MONTHS = 6
    have = {p.name for p in event_partitions()}

    made = event_partitions_create_task()

    expected = {partition_name(add_months(this_month(), n)) for n in range(7)}
    assert {p.name for p in event_partitions()} == have | expected
    assert made == len(expected - have)
    assert event_partitions_create_task() == 0


def test_a_month_made_late_takes_its_events_from_the_default_partition():
    far = add_months(this_month(), 9)
    event = received(factories.ShipmentEventFactory(), months_ago(-9))
    assert partition_of(event) == DEFAULT

    event_partitions_create(today=far, ahead=0)

    assert partition_of(event) == partition_name(far)
    assert send_again(event).status == UNCHANGED


# Old months out


def test_dropping_an_old_month_forgets_its_events_and_their_ids():
    month, event = old_month_with_event(30)

    output = run("--drop", "--keep-months", "25")

    assert f"{partition_name(month)}  ~0 events  drop" in output
    assert partition_name(month) not in {p.name for p in event_partitions()}
    assert not ShipmentEvent.objects.filter(pk=event.pk).exists()
    assert send_again(event).status == CREATED


def test_detaching_an_old_month_keeps_its_rows_in_a_table_of_their_own():
    month, event = old_month_with_event(30)

    run("--detach", "--keep-months", "25")

    assert not ShipmentEvent.objects.filter(pk=event.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id FROM {partition_name(month)}")
        assert cursor.fetchall() == [(event.external_id,)]


@pytest.mark.parametrize("status", [ClaimStatus.DRAFT, ClaimStatus.UNDER_REVIEW])
def test_an_old_month_holding_events_of_an_open_claim_is_kept(status):
    month, event = old_month_with_event(30)
    factories.ClaimFactory(shipment=event.shipment, status=status)

    output = run("--drop", "--keep-months", "25")

    assert f"{partition_name(month)}  ~0 events  keep (holds events of open claims)" in output
    assert ShipmentEvent.objects.filter(pk=event.pk).exists()


def test_an_old_month_whose_claims_are_settled_is_dropped():
    month, event = old_month_with_event(30)
    factories.ClaimFactory(shipment=event.shipment, status=ClaimStatus.CLOSED)

    run("--drop", "--keep-months", "25")

    assert partition_name(month) not in {p.name for p in event_partitions()}


def test_a_dry_run_says_what_it_would_do_and_does_nothing():
    month, event = old_month_with_event(30)
    have = [p.name for p in event_partitions()]

    output = run("--drop", "--keep-months", "25", "--ahead", "8", "--dry-run")

    assert f"{partition_name(month)}  ~0 events  would drop" in output
    assert f"would make      {partition_name(add_months(this_month(), 8))}" in output
    assert [p.name for p in event_partitions()] == have
    assert ShipmentEvent.objects.filter(pk=event.pk).exists()


def test_the_months_kept_are_at_least_one():
    with pytest.raises(CommandError, match="--keep-months"):
        run("--drop", "--keep-months", "0")


def test_ingests_insert_skips_an_event_whose_id_another_month_holds_and_stores_the_rest():
    _, stored = old_month_with_event(2)
    taken = ShipmentEvent(
        marketplace=stored.marketplace,
        external_id=stored.external_id,
        shipment=factories.ShipmentFactory(marketplace=stored.marketplace),
        kind="lost",
        occurred_at=timezone.now(),
    )
    new = ShipmentEvent(
        marketplace=stored.marketplace,
        external_id="ev-new",
        shipment=stored.shipment,
        kind="delivered",
        occurred_at=timezone.now(),
    )

    skipped = insert_rows(ShipmentEvent, [taken, new])

    assert skipped == [taken]
    assert ShipmentEvent.objects.get(external_id=stored.external_id).pk == stored.pk
    assert partition_of(ShipmentEvent.objects.get(pk=new.pk)) == partition_name(this_month())
    assert send_again(new).status == UNCHANGED
