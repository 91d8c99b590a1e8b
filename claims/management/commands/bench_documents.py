"""Benchmark: render settlement acts the way the payment task does, and time each one.

Pays --count claims of a fresh bench seller (with the follow-up tasks held back),
then makes each claim's settlement act through `settlement_act_make`: load,
render with WeasyPrint, hash and store. Prints the median and 95th percentile
milliseconds per document, the pages of the first act and the peak RSS.
"""

import datetime as dt
import resource
import secrets
import statistics
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from claims.choices import ClaimStatus
from claims.filing import ClaimSpec, claims_file_many
from claims.lifecycle import claim_pay
from claims.management.celery import tasks_queued
from claims.models import Claim
from claims.outputs.documents import settlement_act_make
from policies.actors import Actor
from policies.ingest import sellers_upsert_bulk
from policies.models import Marketplace, Product, Shipment
from policies.services import policy_enrol


class Command(BaseCommand):
    help = "Measure the rendering of --count settlement acts."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200)

    def handle(self, *args, count, **options):
        # The acts are made below, one at a time and timed: nothing renders on the side.
        with tasks_queued(broker_url="memory://"):
            claim_ids = self._paid_claims(count)
        timings = []
        first = None
        for claim_id in claim_ids:
            started = time.perf_counter()
            document = settlement_act_make(claim_id=claim_id)
            timings.append((time.perf_counter() - started) * 1000)
            first = first or document
        timings.sort()
        from pypdf import PdfReader  # a development dependency, as is this benchmark

        with first.file.open("rb") as pdf:
            pages = len(PdfReader(pdf).pages)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(
            "\n".join(
                [
                    f"settlement acts       {len(timings)} ({pages} page(s) each)",
                    f"first act             {first.file.name}",
                    f"median                {statistics.median(timings):.0f} ms",
                    f"95th percentile       {timings[int(len(timings) * 0.95) - 1]:.0f} ms",
                    f"fastest / slowest     {timings[0]:.0f} / {timings[-1]:.0f} ms",
                    f"peak RSS              {rss:.0f} MiB",
                ]
            )
        )

    def _paid_claims(self, count: int) -> list[int]:
        product = Product.objects.filter(is_active=True).order_by("code").first()
        if product is None:
            raise CommandError("No product: run `manage.py seed_demo` first.")
        code = f"doc{secrets.token_hex(3)}"
        marketplace = Marketplace.objects.create(code=code, name=f"Documents bench {code}")
        [seller] = sellers_upsert_bulk(
            marketplace=marketplace,
            items=[
                {
                    "external_id": f"{code}-seller",
                    "legal_name": "ООО «Бенчмарк документов»",
                    "tax_id": "7708123450",
                    "email": "bench@example.com",
                    "language": "ru",
                }
            ],
        )
        seller = seller.obj
        today = timezone.localdate()
        policy = policy_enrol(
            seller=seller,
            product_code=product.code,
            starts_on=today - dt.timedelta(days=30),
            actor=Actor.system(),
        )
        shipped = timezone.now() - dt.timedelta(days=10)
        shipments = Shipment.objects.bulk_create(
            Shipment(
                marketplace=marketplace,
                external_id=f"{code}-srid-{n}",
                seller=seller,
                policy=policy,
                order_id=f"{code}-order-{n}",
                sku=f"SKU-{n}",
                category="Одежда",
                declared_value=Decimal("12000.00"),
                warehouse="Коледино",
                pickup_point="ПВЗ Москва",
                shipped_at=shipped,
            )
            for n in range(count)
        )
        with transaction.atomic():
            claims = claims_file_many(
                actor=Actor.for_marketplace(marketplace),
                submit=True,
                specs=[
                    ClaimSpec(
                        seller=seller,
                        shipment=shipment,
                        peril="damage",
                        claimed_amount=Decimal("2000.00") + n,
                        event_date=today - dt.timedelta(days=5),
                        source="marketplace",
                    )
                    for n, shipment in enumerate(shipments)
                ],
            )
        ids = [claim.pk for claim in claims]
        # Straight to approved: the bench measures documents, not the adjusters' queue.
        Claim.objects.filter(pk__in=ids).update(status=ClaimStatus.APPROVED)
        for claim_id in ids:
            claim_pay(claim_id=claim_id, actor=Actor.system())
        return ids
