from django.conf import settings
from django.core.management.base import BaseCommand

from claims.reconciliation.run import CHUNK, reconciliation_run, reconciliation_start


class Command(BaseCommand):
    help = "Run one reconciliation now (or resume the one under way) and print its counts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK,
            help="records per transaction of a new run (a run under way keeps its own)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="chunks at once on PostgreSQL (default: RECONCILIATION_WORKERS)",
        )

    def handle(self, *args, chunk, workers, **options):
        run = reconciliation_start(trigger="command", chunk=chunk)
        run = reconciliation_run(run_id=run.pk, workers=workers or settings.RECONCILIATION_WORKERS)
        for label, value in (
            ("run", run.pk),
            ("state", run.state),
            ("records", run.total),
            ("matched", run.matched),
            ("unmatched", run.unmatched),
            ("claims released", run.claims_released),
            ("recoveries raised", run.recoveries_raised),
            ("discrepancies", run.discrepancies_found),
        ):
            self.stdout.write(f"{label:<18} {value}")
