"""The beat schedule of the periodic jobs, editable afterwards in the admin."""

import json

from django.db import migrations

# (task, name, crontab minute, hour) in the project's time zone.
SCHEDULES = [
    ("claims.tasks.webhooks_retry_due_task", "Retry due webhooks", "*", "*"),
    ("claims.tasks.claims_release_waiting_task", "Release cargo claims after the wait", "15", "*"),
    ("claims.tasks.claims_close_due_task", "Close claims after the appeal window", "30", "2"),
    ("policies.tasks.policies_expire_due_task", "Expire policies at period end", "5", "0"),
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, name, minute, hour in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="Europe/Moscow",
        )
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "kwargs": json.dumps({})}
        )


def drop_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for _, name, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0004_webhooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, drop_schedules)]
