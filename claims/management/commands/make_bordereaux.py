import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from claims.outputs.bordereaux import ROWS, bordereau_make
from claims.outputs.documents import bordereau_pdf_make


class Command(BaseCommand):
    help = "Make a month's premium and claims bordereaux (CSV and PDF); print where they are."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="the month, as YYYY-MM")

    def handle(self, *args, month, **options):
        try:
            first = dt.datetime.strptime(month, "%Y-%m").date()
        except ValueError as exc:
            raise CommandError(f"--month must look like 2026-11, not {month!r}.") from exc
        for kind in ROWS:
            for document in (
                bordereau_make(kind=kind, month=first),
                bordereau_pdf_make(kind=kind, month=first),
            ):
                self.stdout.write(
                    f"{kind:<20} {document.file.name}  sha256 {document.sha256[:16]}…"
                )
