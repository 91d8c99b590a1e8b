from django.core.management.base import BaseCommand, CommandError

from policies.models import Marketplace, MarketplaceApiKey


class Command(BaseCommand):
    help = "Create an API key for a marketplace and print it once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("marketplace", help="the marketplace's code, e.g. wb")
        parser.add_argument("--name", default="", help="a label to tell keys apart")

    def handle(self, *args, marketplace, name, **options):
        market = Marketplace.objects.filter(code=marketplace).first()
        if market is None:
            known = ", ".join(Marketplace.objects.values_list("code", flat=True)) or "none"
            raise CommandError(f"No marketplace with code {marketplace!r} (known: {known}).")
        _, key = MarketplaceApiKey.objects.create_key(
            marketplace=market, name=name or f"{market.code} integration"
        )
        self.stdout.write(key)
