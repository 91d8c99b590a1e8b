"""The outbox: follow-ups commit with the change that calls for them and are never lost."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from claims.choices import ClaimStatus
from claims.models import ClaimTransition
from claims.tasks import claims_triage_task
from policies import outbox
from policies.choices import OutboxStatus
from policies.models import OutboxMessage
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_follow_up_of_a_rolled_back_change_is_neither_kept_nor_sent(
    django_capture_on_commit_callbacks,
):
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        outbox.outbox_enqueue(task=claims_triage_task, claim_ids=[claim.pk])
        transaction.set_rollback(True)

    assert not OutboxMessage.objects.exists()
    assert callbacks == []
    assert not ClaimTransition.objects.filter(claim=claim, transition="triage").exists()


def test_a_committed_follow_up_runs_and_its_row_is_done(django_capture_on_commit_callbacks):
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.outbox_enqueue(task=claims_triage_task, claim_ids=[claim.pk])

    message.refresh_from_db()
    claim.refresh_from_db()
    assert claim.status != ClaimStatus.SUBMITTED
    assert message.status == OutboxStatus.DONE
    assert message.attempts == 1
    assert message.finished_at is not None


@pytest.fixture
def broker_down(monkeypatch):
    """A broker that refuses every publish, as a stopped Redis does."""
    from celery import current_app

    def refuse(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("celery.app.task.Task.apply_async", refuse)
    current_app.conf.task_always_eager = False
    yield
    current_app.conf.task_always_eager = True


def test_a_broker_down_at_commit_leaves_the_row_pending_with_the_reason(
    broker_down, django_capture_on_commit_callbacks
):
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.outbox_enqueue(task=claims_triage_task, claim_ids=[claim.pk])

    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 0
    assert "Connection refused" in message.error


def test_the_sweep_sends_what_was_never_sent_and_leaves_what_is_fresh():
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)
    now = timezone.now()
    old = OutboxMessage.objects.create(
        task=claims_triage_task.name,
        kwargs={"claim_ids": [claim.pk]},
        created_at=now - dt.timedelta(minutes=5),
    )
    fresh = OutboxMessage.objects.create(
        task=claims_triage_task.name, kwargs={"claim_ids": [claim.pk]}, created_at=now
    )

    sent = outbox.outbox_sweep(now=now)

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert sent == 1
    assert old.status == OutboxStatus.DONE
    assert fresh.status == OutboxStatus.PENDING
    assert ClaimTransition.objects.filter(claim=claim, transition="triage").count() == 1


def test_the_sweep_sends_again_a_row_whose_worker_never_finished_it(settings):
    claim = factories.ClaimFactory(status=ClaimStatus.SUBMITTED)
    now = timezone.now()
    stalled = OutboxMessage.objects.create(
        task=claims_triage_task.name,
        kwargs={"claim_ids": [claim.pk]},
        status=OutboxStatus.DISPATCHED,
        attempts=1,
        created_at=now - dt.timedelta(hours=1),
        dispatched_at=now - settings.OUTBOX_REDISPATCH_AFTER - dt.timedelta(seconds=1),
    )

    outbox.outbox_sweep(now=now)

    stalled.refresh_from_db()
    claim.refresh_from_db()
    assert stalled.status == OutboxStatus.DONE
    assert stalled.attempts == 2
    assert claim.status != ClaimStatus.SUBMITTED


def test_the_sweep_leaves_a_follow_up_to_the_retries_celery_is_making(settings, monkeypatch):
    """E-mail retries an I/O error itself, under the same task id: each retry starts the
    sweep's clock again, so the sweep sends no second copy while they go on."""
    from celery import current_app

    from claims.outputs import notifications
    from claims.tasks import claims_status_notify_task

    def smtp_down(**_kwargs):
        raise ConnectionRefusedError("the mail server refused the connection")

    monkeypatch.setattr(notifications, "claims_status_notify", smtp_down)
    long_ago = timezone.now() - settings.OUTBOX_REDISPATCH_AFTER - dt.timedelta(minutes=1)
    sent = OutboxMessage.objects.create(
        task=claims_status_notify_task.name,
        kwargs={"changes": []},
        status=OutboxStatus.DISPATCHED,
        attempts=1,
        created_at=long_ago,
        dispatched_at=long_ago,
    )

    # Run as a worker would, every retry in turn, to the last one's failure (eager retries
    # run nested, each raising unless nothing propagates).
    current_app.conf.task_eager_propagates = False
    try:
        result = claims_status_notify_task.apply(
            kwargs=sent.kwargs, task_id=outbox._task_id(sent.pk, 1)
        )
    finally:
        current_app.conf.task_eager_propagates = True
    resent = outbox.outbox_sweep()

    sent.refresh_from_db()
    assert isinstance(result.result, ConnectionRefusedError)
    assert resent == 0
    assert (sent.status, sent.attempts) == (OutboxStatus.DISPATCHED, 1)
    assert sent.dispatched_at > long_ago + dt.timedelta(minutes=1)


def test_a_row_sent_too_often_is_given_up_for_a_person(settings):
    now = timezone.now()
    stalled = OutboxMessage.objects.create(
        task=claims_triage_task.name,
        kwargs={"claim_ids": []},
        status=OutboxStatus.DISPATCHED,
        attempts=settings.OUTBOX_MAX_ATTEMPTS,
        created_at=now - dt.timedelta(days=1),
        dispatched_at=now - dt.timedelta(days=1),
    )

    assert outbox.outbox_sweep(now=now) == 0

    stalled.refresh_from_db()
    assert stalled.status == OutboxStatus.DEAD
    assert outbox.outbox_depth()["dead"] == 1


def test_finished_rows_are_deleted_after_the_retention(settings):
    now = timezone.now()
    done = OutboxMessage.objects.create(
        task=claims_triage_task.name,
        status=OutboxStatus.DONE,
        finished_at=now - settings.OUTBOX_RETENTION - dt.timedelta(seconds=1),
    )
    recent = OutboxMessage.objects.create(
        task=claims_triage_task.name, status=OutboxStatus.DONE, finished_at=now
    )

    outbox.outbox_sweep(now=now)

    assert not OutboxMessage.objects.filter(pk=done.pk).exists()
    assert OutboxMessage.objects.filter(pk=recent.pk).exists()


def test_the_admin_index_shows_the_outbox_depth_and_its_oldest_row(client):
    OutboxMessage.objects.create(
        task=claims_triage_task.name, created_at=timezone.now() - dt.timedelta(hours=2)
    )
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()

    assert 'id="outbox"' in page
    assert "2\xa0hours" in page or "2 hours" in page or "2\xa0часа" in page
