from django.core.management.base import BaseCommand

from claims.reconciliation import reconciliation_run, reconciliation_start


class Command(BaseCommand):
    help = "Run one reconciliation now (or resume the one under way) and print its counts."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=50_000, help="records per transaction")

    def handle(self, *args, chunk, **options):
        run = reconciliation_run(run_id=reconciliation_start(trigger="command").pk, chunk=chunk)
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
