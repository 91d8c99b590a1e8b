import os
import sys

from django.core.management.base import BaseCommand, CommandError

from claims.csv_import import compensations_import_csv
from policies.errors import DomainError
from policies.models import Marketplace


class Command(BaseCommand):
    help = "Import a marketplace's compensation CSV export (streamed; safe to repeat)."

    def add_arguments(self, parser):
        parser.add_argument("marketplace", help="the marketplace's code, e.g. wb")
        parser.add_argument("path", help="the CSV file")

    def handle(self, *args, marketplace, path, **options):
        market = Marketplace.objects.filter(code=marketplace).first()
        if market is None:
            raise CommandError(f"No marketplace with code {marketplace!r}.")
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as stream:

                def progress(rows: int) -> None:
                    done = stream.tell() / size if size else 1
                    bar = "#" * int(done * 30)
                    sys.stderr.write(f"\r[{bar:<30}] {done:6.1%}  {rows:,} rows")
                    sys.stderr.flush()

                report = compensations_import_csv(
                    marketplace=market, stream=stream, progress=progress
                )
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        sys.stderr.write("\n")
        self.stdout.write(
            f"rows {report.rows:,}: created {report.created:,}, unchanged {report.unchanged:,},"
            f" rejected {report.failed:,}"
        )
        for line, message in report.errors[:50]:
            self.stdout.write(f"  line {line}: {message}")
        if report.failed > 50:
            self.stdout.write(f"  … and {report.failed - 50:,} more")
