"""Heartbeats of the long tasks and their sweep on the beat schedule; a webhook delivery's
id and the state of each attempt, recorded before its request goes out."""

import json
import uuid

from django.db import migrations, models

SWEEP_NAME = "Resume reconciliation runs and report imports whose worker died"
SWEEP_EVERY_SECONDS = 60


def fill_delivery_ids(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("UPDATE claims_webhookdelivery SET uid = gen_random_uuid()")
        return
    WebhookDelivery = apps.get_model("claims", "WebhookDelivery")
    for pk in WebhookDelivery.objects.values_list("pk", flat=True).iterator():
        WebhookDelivery.objects.filter(pk=pk).update(uid=uuid.uuid4())


def settle_past_attempts(apps, schema_editor):
    # Attempts logged before this migration were logged with their outcome.
    WebhookAttempt = apps.get_model("claims", "WebhookAttempt")
    WebhookAttempt.objects.filter(error="").update(state="succeeded")
    WebhookAttempt.objects.exclude(error="").update(state="failed")


def create_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP_EVERY_SECONDS, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "task": "claims.tasks.long_tasks_resume_stale_task",
            "interval": every,
            "kwargs": json.dumps({}),
        },
    )


def drop_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0015_history"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="reconciliationrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last sign of life"),
        ),
        migrations.AddField(
            model_name="reportimport",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last sign of life"),
        ),
        migrations.AddField(
            model_name="webhookattempt",
            name="state",
            field=models.CharField(
                choices=[
                    ("sending", "Sending"),
                    ("succeeded", "Delivered"),
                    ("failed", "Failed"),
                    ("interrupted", "Interrupted: outcome unknown"),
                ],
                default="sending",
                max_length=16,
                verbose_name="state",
            ),
        ),
        migrations.AlterField(
            model_name="webhookattempt",
            name="duration_ms",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="duration, ms"),
        ),
        migrations.RunPython(settle_past_attempts, migrations.RunPython.noop),
        # Added empty and filled row by row: a default would give every existing row one id.
        migrations.AddField(
            model_name="webhookdelivery",
            name="uid",
            field=models.UUIDField(editable=False, null=True, verbose_name="delivery id"),
        ),
        migrations.RunPython(fill_delivery_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="uid",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="delivery id"
            ),
        ),
        migrations.RunPython(create_sweep, drop_sweep),
    ]
