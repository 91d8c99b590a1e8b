"""The outbox's sweep on the beat schedule, editable afterwards in the admin."""

import json

from django.db import migrations

NAME = "Send the outbox's follow-ups that were never sent or never finished"
EVERY_SECONDS = 30


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=EVERY_SECONDS, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": "policies.tasks.outbox_sweep_task",
            "interval": every,
            "kwargs": json.dumps({}),
        },
    )


def drop_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0004_documents_and_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, drop_schedule)]
