import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from claims.retention import (
    ArchiveError,
    claim_evidence_archive,
    claims_with_evidence_to_archive,
    evidence_size,
    evidence_to_archive,
)


class Command(BaseCommand):
    help = (
        "Move the evidence of claims closed longer than EVIDENCE_RETENTION_DAYS to the archive"
        " storage, with a manifest per claim."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="closed at least this many days ago (default: EVIDENCE_RETENTION_DAYS)",
        )
        parser.add_argument("--dry-run", action="store_true", help="list what would move")

    def handle(self, *args, days, dry_run, **options):
        days = settings.EVIDENCE_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days cannot be negative.")
        now = timezone.now()
        claims = claims_with_evidence_to_archive(closed_before=now - dt.timedelta(days=days))
        moved = files = size = 0
        failed = []
        for claim in claims.iterator(chunk_size=500):
            if dry_run:
                count, nbytes = evidence_to_archive(claim).count(), evidence_size(claim)
                self.stdout.write(f"would move {claim.number}: {count} files, {nbytes:,} bytes")
            else:
                try:
                    record = claim_evidence_archive(claim=claim, at=now)
                except ArchiveError as exc:
                    failed.append(claim.number)
                    self.stderr.write(f"not moved  {claim.number}: {exc}")
                    continue
                if record is None:
                    continue
                count, nbytes = record.files, record.size
                self.stdout.write(
                    f"moved      {claim.number}: {count} files, {nbytes:,} bytes"
                    f" → {record.manifest}"
                )
            moved, files, size = moved + 1, files + count, size + nbytes
        verb = "would move" if dry_run else "moved"
        self.stdout.write(
            f"{verb} the evidence of {moved} claims closed over {days} days ago:"
            f" {files} files, {size:,} bytes"
        )
        if failed:
            raise CommandError(f"{len(failed)} claims not archived: {', '.join(failed)}")
