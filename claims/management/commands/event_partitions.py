from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from claims.retention import event_partitions_prune
from policies.partitions import (
    event_partitions,
    event_partitions_create,
    event_partitions_missing,
    partition_name,
    partitioned,
)


class Command(BaseCommand):
    help = (
        "Make the shipment events' monthly partitions ahead; with --detach or --drop, take out"
        " those older than the retention, except any holding events of an open claim"
        " (PostgreSQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ahead",
            type=int,
            default=None,
            help="months to have made after this one (default: EVENT_PARTITIONS_AHEAD_MONTHS)",
        )
        parser.add_argument(
            "--keep-months",
            type=int,
            default=None,
            help="months kept, this one included (default: EVENT_RETENTION_MONTHS)",
        )
        removal = parser.add_mutually_exclusive_group()
        removal.add_argument(
            "--detach",
            action="store_true",
            help="detach the old partitions: their rows stay, as tables of their own",
        )
        removal.add_argument("--drop", action="store_true", help="drop the old partitions")
        parser.add_argument("--dry-run", action="store_true", help="say what would be done")

    def handle(self, *args, ahead, keep_months, detach, drop, dry_run, **options):
        if not partitioned():
            raise CommandError("Shipment events are partitioned on PostgreSQL only.")
        ahead = settings.EVENT_PARTITIONS_AHEAD_MONTHS if ahead is None else ahead
        keep = settings.EVENT_RETENTION_MONTHS if keep_months is None else keep_months
        if ahead < 0 or keep < 1:
            raise CommandError("--ahead cannot be negative, and --keep-months is at least 1.")
        today = timezone.localdate()
        would = "would " if dry_run else ""
        if dry_run:
            made = [partition_name(m) for m in event_partitions_missing(today=today, ahead=ahead)]
        else:
            made = event_partitions_create(today=today, ahead=ahead)
        for name in made:
            self.stdout.write(f"{would}make      {name}")
        if detach or drop:
            action = "detach" if detach else "drop"
            for outcome in event_partitions_prune(
                today=today, keep_months=keep, detach=detach, dry_run=dry_run
            ):
                partition = outcome.partition
                said = (
                    f"{would}{action}" if outcome.removed else "keep (holds events of open claims)"
                )
                self.stdout.write(f"{partition.name}  ~{partition.rows:,} events  {said}")
        for partition in event_partitions():
            self.stdout.write(f"partition {partition.name}  ~{partition.rows:,} events")
