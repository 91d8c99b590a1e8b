from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from claims.verification import stored_files_verify


class Command(BaseCommand):
    help = (
        "Check every stored document, evidence file and report file against its SHA-256;"
        " print the missing and mismatching ones and fail if there is any."
    )

    def handle(self, *args, **options):
        checked, problems = Counter(), Counter()
        for check in stored_files_verify():
            checked[check.file.kind] += 1
            if check.problem is None:
                continue
            problems[check.problem] += 1
            file = check.file
            detail = f" (stored {file.sha256}, found {check.actual})" if check.actual else ""
            self.stdout.write(f"{check.problem:<9} {file.kind} #{file.pk} {file.name}{detail}")
        self.stdout.write(
            "checked "
            + ", ".join(f"{checked[kind]} {kind}" for kind in ("document", "evidence", "report"))
        )
        if problems:
            raise CommandError(
                f"{problems['missing']} missing, {problems['mismatch']} not matching their SHA-256"
            )
        self.stdout.write("every file matches its SHA-256")
