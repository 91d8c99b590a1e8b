from json import dumps
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from claims.api.reports import report_answer
from claims.choices import ReportOutcome, ReportSource
from claims.reports.importing import report_import_create, report_import_run
from claims.templatetags.money import rub
from policies.errors import DomainError
from policies.models import Marketplace, Seller

BAR = 30


class Command(BaseCommand):
    help = (
        "Import a marketplace's finance report file for a seller (WB v5 or finance-API JSON, "
        "the portal's XLSX or CSV, Ozon's transaction list) and print what its rows came to."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--marketplace", required=True, help="The marketplace's code, e.g. wb.")
        parser.add_argument("--seller", required=True, help="The marketplace's seller id.")
        parser.add_argument("--json", action="store_true", help="Print the API's answer object.")

    def handle(self, *args, file: Path, marketplace: str, seller: str, json: bool, **options):
        market = Marketplace.objects.filter(code=marketplace).first()
        if market is None:
            raise CommandError(f"No marketplace with code {marketplace!r}.")
        owner = Seller.objects.filter(marketplace=market, external_id=seller).first()
        if owner is None:
            raise CommandError(f"No seller {seller!r} on {market.code}.")
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            imported = report_import_create(
                marketplace=market,
                seller=owner,
                content=content,
                filename=file.name,
                source=ReportSource.COMMAND,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        imported = report_import_run(
            import_id=imported.pk, progress=None if json else self._progress
        )
        if json:
            answer = report_answer(
                imported, absolute=lambda path: settings.SITE_URL.rstrip("/") + path
            )
            self.stdout.write(dumps(answer, ensure_ascii=False, indent=2))
            return
        self.stderr.write("")
        # The result page's figures, in its words and with its money: a person reads both.
        compensations = imported.outcomes.get(ReportOutcome.COMPENSATION_RECORDED, 0)
        lines = [
            (_("Format"), imported.get_format_display()),
            (_("Rows"), _count(imported.rows)),
            *(
                (label, _count(imported.outcomes.get(code, 0)))
                for code, label in ReportOutcome.choices
            ),
            (
                _("Insured fees found"),
                f"{_count(imported.fees_found)}, "
                + _("for %(amount)s") % {"amount": rub(imported.fees_amount)},
            ),
            (
                _("Compensation counted"),
                f"{_count(compensations)}, "
                + _("for %(amount)s") % {"amount": rub(imported.compensations_amount)},
            ),
        ]
        width = max(len(label) for label, _value in lines) + 2
        for label, value in lines:
            self.stdout.write(f"{label:<{width}}{value}")

    def _progress(self, done: int, total: int) -> None:
        filled = BAR * done // max(total, 1)
        bar = f"[{'#' * filled}{'.' * (BAR - filled)}] {_count(done)}/{_count(total)}"
        self.stderr.write(f"\r{bar}", ending="")
        self.stderr.flush()


def _count(number: int) -> str:
    return number_format(number, use_l10n=True, force_grouping=True)
