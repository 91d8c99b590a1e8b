"""Beat schedules of reconciliation, service-level flags and the monthly bordereaux."""

import json

from django.db import migrations

# (task, name, crontab minute, hour, day of month) in the project's time zone.
SCHEDULES = [
    ("claims.tasks.reconciliation_nightly_task", "Reconcile marketplace compensation", "0", "2", "*"),
    ("claims.tasks.claims_flag_sla_breaches_task", "Flag claims past their service level", "0", "7", "*"),
    ("claims.tasks.bordereaux_monthly_task", "Monthly premium and claims bordereaux", "0", "3", "1"),
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, name, minute, hour, day in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month=day,
            month_of_year="*",
            timezone="Europe/Moscow",
        )
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "kwargs": json.dumps({})}
        )


def drop_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for _, name, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0007_lean_claim_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, drop_schedules)]
