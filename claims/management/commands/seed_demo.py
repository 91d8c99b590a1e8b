import datetime as dt
import hashlib
import hmac
import json
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from claims.assessment import APPEAL_WINDOW_DAYS
from claims.choices import (
    ClaimSource,
    ClaimStatus,
    CompensationReason,
    CompensationSource,
    ReportSource,
)
from claims.compensation import compensation_match, compensation_record
from claims.filing import claim_file, claim_submit
from claims.jobs import claims_close_due
from claims.lifecycle import (
    claim_approve,
    claim_pay,
    claim_provide_info,
    claim_reject,
    claim_release,
    claim_request_info,
    claim_withdraw,
)
from claims.management.celery import tasks_queued
from claims.management.tariff import demo_tariff
from claims.models import Claim, ClaimTransition
from claims.reports.importing import report_import_create, report_import_run
from policies.actors import Actor
from policies.choices import PERIL_BY_EVENT_KIND, Cover, ShipmentEventKind
from policies.models import (
    Marketplace,
    MarketplaceApiKey,
    Product,
    Seller,
    Shipment,
    User,
)
from policies.services import (
    marketplace_webhook_secret_rotate,
    policy_enrol,
    shipment_event_record,
    shipment_record,
)

PASSWORD = "demo-pass-2026"
SELLERS = [
    ("seller1@demo.local", "WB-100001", "ООО «Северный ветер»", "7708123450", "ru"),
    ("seller2@demo.local", "WB-100002", "ИП Ковалёва Анна Сергеевна", "500100732259", "ru"),
    ("seller3@demo.local", "WB-100003", "Blue Harbour Trading LLC", "7810345670", "en"),
]
STAFF = [
    # Below the cargo limit per item: the larger cargo claims need the senior's sign-off.
    ("adjuster@demo.local", "Adjuster", Decimal("20000.00"), "Ирина", "Урегулировщик"),
    ("senior@demo.local", "Senior adjuster", Decimal("1000000.00"), "Павел", "Старший"),
    ("underwriter@demo.local", "Underwriter", Decimal("0.00"), "Олег", "Андеррайтер"),
]
CATEGORIES = ["Одежда", "Обувь", "Электроника", "Дом и сад", "Игрушки", "Ювелирные изделия"]
WAREHOUSES = ["Коледино", "Электросталь", "Казань", "Краснодар"]
PICKUP_POINTS = [
    "ПВЗ Москва, Тверская 7",
    "ПВЗ Санкт-Петербург, Невский 30",
    "ПВЗ Казань, Баумана 12",
]
REASON_BY_PERIL = {"loss": CompensationReason.LOSS, "damage": CompensationReason.DAMAGE}
# The smallest valid PNG: evidence the demo claims can show.
DEMO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def demo_api_key() -> tuple[str, str]:
    """Return the demo marketplace key's prefix and full key, the same on every run.

    Derived from the (development) secret key, so that running the seed
    again can print the key without storing it anywhere readable.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), b"seed-demo-wb", hashlib.sha256).hexdigest()
    prefix = "demo" + digest[:4]
    return prefix, f"{prefix}.{digest[8:40]}"


def marketplace_description(seller: Seller) -> str:
    with translation.override(seller.language):
        return translation.gettext("Event reported by the marketplace.")


class Command(BaseCommand):
    help = "Load demo data (marketplaces, sellers, a product, policies, shipments, claims)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="where the app is served, to print"
        )

    def handle(self, *args, url, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo loads demo logins with a known password: DEBUG only.")
        prefix, key = demo_api_key()
        if Marketplace.objects.filter(code="wb").exists():
            if not Claim.objects.filter(marketplace__code="wb").exists():
                raise CommandError(
                    "Demo data is incomplete (an earlier run stopped half-way): "
                    "run `manage.py flush` and seed again."
                )
            self.stdout.write("Demo data already present: nothing changed.")
        else:
            with transaction.atomic():
                self._seed(prefix, key)
            self._claims()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self._print_logins(key, url.rstrip("/"))

    def _print_logins(self, key: str, url: str) -> None:
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"sellercover demo — sellers' pages: {url}/",
                    f"adjusters' admin: {url}/admin/",
                    f"Logins (password {PASSWORD}):",
                    *(f"  {'seller':<16} {email}" for email, *_ in SELLERS),
                    *(f"  {group.lower():<16} {email}" for email, group, *_ in STAFF),
                    f"API key of marketplace wb: {key}",
                    f"API docs: {url}/api/docs/",
                    *(
                        [f"Letters the app sends: {settings.EMAIL_FILE_PATH}/"]
                        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
                        else []
                    ),
                    "",
                ]
            )
        )

    def _seed(self, prefix: str, key: str) -> None:
        today = timezone.localdate()
        wb = Marketplace.objects.create(code="wb", name="Wildberries")
        ozon = Marketplace.objects.create(code="ozon", name="Ozon")
        # Never printed: the demo has no endpoint; rotating in the admin shows a new one.
        for marketplace in (wb, ozon):
            marketplace_webhook_secret_rotate(marketplace=marketplace)
        api_key = MarketplaceApiKey(marketplace=wb, name="wb demo integration", prefix=prefix)
        api_key.hashed_key = MarketplaceApiKey.objects.key_generator.hash(key)
        api_key.id = f"{prefix}.{api_key.hashed_key}"
        api_key.save()

        product = Product.objects.create(
            code="standard",
            name="Страхование возвратов и грузов продавца",
            description="Возвратная логистика и груз на пути от склада маркетплейса до ПВЗ.",
        )
        demo_tariff(product)

        for email, group_name, limit, first, last in STAFF:
            user = User.objects.create_user(
                email,
                PASSWORD,
                is_staff=True,
                authority_limit=limit,
                first_name=first,
                last_name=last,
            )
            user.groups.add(Group.objects.get(name=group_name))

        rng = random.Random(2026)
        for email, external_id, legal_name, tax_id, language in SELLERS:
            seller = Seller.objects.create(
                marketplace=wb,
                external_id=external_id,
                legal_name=legal_name,
                tax_id=tax_id,
                email=email,
                language=language,
            )
            User.objects.create_user(email, PASSWORD, seller=seller)
            policy_enrol(
                seller=seller,
                product_code="standard",
                starts_on=today - dt.timedelta(days=120),
                actor=Actor.system(),
            )
            self._shipments(wb, seller, rng, today)

    def _shipments(self, wb, seller, rng, today) -> None:
        for n in range(100):
            shipped_at = timezone.now() - dt.timedelta(
                days=rng.randint(4, 45), hours=rng.randint(0, 23)
            )
            order_id = f"{seller.external_id}-{n // 2:05d}"
            shipment, _ = shipment_record(
                marketplace=wb,
                seller=seller,
                external_id=f"{seller.external_id}.{n:05d}.0",
                order_id=order_id,
                sku=f"SKU-{rng.randint(10000, 99999)}",
                category=rng.choice(CATEGORIES[:-1]),
                declared_value=Decimal(rng.randrange(500, 40000)).quantize(Decimal("1.00")),
                warehouse=rng.choice(WAREHOUSES),
                pickup_point=rng.choice(PICKUP_POINTS),
                shipped_at=shipped_at,
            )
            self._event(shipment, "s", ShipmentEventKind.SHIPPED, shipped_at)
            outcome = rng.choices(
                [
                    ShipmentEventKind.BOUGHT_OUT,
                    ShipmentEventKind.NON_BUYOUT,
                    ShipmentEventKind.REFUSED,
                    ShipmentEventKind.RETURNED,
                    ShipmentEventKind.LOST,
                    ShipmentEventKind.DAMAGED,
                ],
                weights=[60, 16, 6, 8, 5, 5],
            )[0]
            delivered_at = shipped_at + dt.timedelta(days=2)
            self._event(shipment, "d", ShipmentEventKind.DELIVERED, delivered_at)
            amount = None
            if outcome in (ShipmentEventKind.NON_BUYOUT, ShipmentEventKind.REFUSED):
                amount = Decimal("50.00")
            elif outcome == ShipmentEventKind.RETURNED:
                amount = Decimal(rng.choice(["50.00", "75.00", "120.00"]))
            elif outcome == ShipmentEventKind.DAMAGED:
                amount = (shipment.declared_value * Decimal("0.4")).quantize(Decimal("0.01"))
            self._event(shipment, "o", outcome, delivered_at + dt.timedelta(days=1), amount)

    def _event(self, shipment, suffix, kind, at, amount=None):
        shipment_event_record(
            shipment=shipment,
            external_id=f"{shipment.external_id}:{suffix}",
            kind=kind,
            occurred_at=min(at, timezone.now()),
            amount=amount,
        )

    def _claims(self) -> None:
        """File claims through the domain services so each state is reached honestly."""
        wb = Marketplace.objects.get(code="wb")
        adjuster = User.objects.get(email="adjuster@demo.local")
        senior = User.objects.get(email="senior@demo.local")
        for seller in Seller.objects.filter(marketplace=wb).order_by("external_id"):
            seller_user = seller.users.get()
            covered = (
                Shipment.objects.filter(seller=seller, events__kind__in=list(PERIL_BY_EVENT_KIND))
                .prefetch_related("events")
                .distinct()
                .order_by("external_id")
            )
            for shipment in covered:
                event = next(e for e in shipment.events.all() if e.kind in PERIL_BY_EVENT_KIND)
                peril = PERIL_BY_EVENT_KIND[event.kind]
                amount = event.amount or shipment.declared_value
                claim_file(
                    actor=Actor.for_marketplace(wb),
                    seller=seller,
                    shipment=shipment,
                    peril=peril,
                    claimed_amount=amount,
                    event_date=timezone.localdate(event.occurred_at),
                    source=ClaimSource.MARKETPLACE,
                    # A marketplace writes in its seller's language.
                    description=marketplace_description(seller),
                )
            self._work_the_queue(seller, seller_user, adjuster, senior)

    def _rejected_long_ago(self, claims: list[Claim], adjuster) -> None:
        """Reject one of `claims` as if a month ago, then close what is past its appeal window
        as the daily job does: a claim closed after its rejection, its letter, page and log
        all keeping to the one appeal date."""
        days = APPEAL_WINDOW_DAYS + 1
        then = timezone.localdate() - dt.timedelta(days=days)
        claim = next((c for c in claims if c.event_date < then), None)
        if claim is None:
            return
        # One transaction: the letter, made once it commits, reads the rejection's date.
        with transaction.atomic():
            claim_reject(
                claim_id=claim.pk,
                adjuster=adjuster,
                code="insufficient_evidence",
                reason="Повреждение не подтверждено актом ПВЗ.",
            )
            back = dt.timedelta(days=days)
            Claim.objects.filter(pk=claim.pk).update(
                submitted_at=F("submitted_at") - back,
                decided_at=F("decided_at") - back,
                status_changed_at=F("status_changed_at") - back,
            )
            ClaimTransition.objects.filter(claim_id=claim.pk).update(at=F("at") - back)
        claims_close_due(today=timezone.localdate())

    def _work_the_queue(self, seller, seller_user, adjuster, senior) -> None:
        wb = seller.marketplace
        cargo = list(Claim.objects.filter(seller=seller, status=ClaimStatus.AWAITING_COMPENSATION))
        # The marketplace compensates part of some cargo losses; one payout is for a
        # shipment nobody knows, to show up in reconciliation.
        for index, claim in enumerate(cargo[:3]):
            compensation, _ = compensation_record(
                marketplace=wb,
                external_id=f"{seller.external_id}-comp-{index}",
                seller=seller,
                shipment_external_id=claim.shipment.external_id,
                reason=REASON_BY_PERIL[claim.peril],
                amount=(claim.claimed_amount * Decimal("0.3")).quantize(Decimal("0.01")),
                paid_on=timezone.localdate(),
                source=CompensationSource.API,
            )
            compensation_match(compensation_id=compensation.pk)
        compensation_record(
            marketplace=wb,
            external_id=f"{seller.external_id}-comp-unknown",
            seller=seller,
            shipment_external_id="UNKNOWN-0001",
            reason=CompensationReason.LOSS,
            amount=Decimal("1500.00"),
            paid_on=timezone.localdate(),
            source=CompensationSource.API,
        )

        review = list(Claim.objects.filter(seller=seller, status=ClaimStatus.UNDER_REVIEW))
        if len(review) >= 4:
            claim_request_info(
                claim_id=review[0].pk,
                adjuster=adjuster,
                message="Пришлите, пожалуйста, фото упаковки и акт ПВЗ.",
            )
            claim_request_info(
                claim_id=review[1].pk, adjuster=adjuster, message="Уточните дату получения."
            )
            claim_provide_info(
                claim_id=review[1].pk,
                user=seller_user,
                message="Фото упаковки прилагаю.",
                files=[SimpleUploadedFile("package.png", DEMO_PNG, content_type="image/png")],
            )
            claim_reject(
                claim_id=review[2].pk,
                adjuster=adjuster,
                code="insufficient_evidence",
                reason="Повреждение не подтверждено актом ПВЗ.",
            )
            approved = claim_approve(claim_id=review[3].pk, adjuster=senior)
            if approved.status == ClaimStatus.APPROVED and len(review) >= 5:
                claim_approve(claim_id=review[4].pk, adjuster=senior)
                claim_pay(
                    claim_id=review[4].pk,
                    actor=Actor.for_user(senior),
                    reference=f"DEMO-{seller.external_id}",
                )

        if seller.external_id.endswith("1"):
            self._rejected_long_ago(review[5:], adjuster)

        # A seller's own draft, one submitted and not yet triaged, one withdrawn.
        spare = list(
            Shipment.objects.filter(seller=seller, claims=None, policy__isnull=False).order_by(
                "external_id"
            )[:3]
        )
        if len(spare) == 3:
            event_day = timezone.localdate(spare[0].shipped_at) + dt.timedelta(days=3)
            for shipment, submit in ((spare[0], False), (spare[1], True)):
                claim = claim_file(
                    actor=Actor.for_user(seller_user),
                    seller=seller,
                    shipment=shipment,
                    peril="damage",
                    claimed_amount=(shipment.declared_value / 2).quantize(Decimal("0.01")),
                    event_date=max(event_day, timezone.localdate(shipment.shipped_at)),
                    source=ClaimSource.SELLER,
                    description="Коробка пришла вскрытой, товар поцарапан.",
                    submit=False,
                )
                if submit:
                    with tasks_queued():  # triage waits: the demo shows a claim still `submitted`
                        claim_submit(claim_id=claim.pk, actor=Actor.for_user(seller_user))
            withdrawn = claim_file(
                actor=Actor.for_user(seller_user),
                seller=seller,
                shipment=spare[2],
                peril="loss",
                claimed_amount=spare[2].declared_value,
                event_date=timezone.localdate(spare[2].shipped_at) + dt.timedelta(days=1),
                source=ClaimSource.SELLER,
                submit=False,
            )
            claim_withdraw(claim_id=withdrawn.pk, user=seller_user, note="Нашёлся.")

        self._awaiting_signoff(seller, seller_user, adjuster)
        if seller.external_id.endswith("1"):
            self._report_import(seller, seller_user)

        # A late compensation on a paid cargo claim raises a recovery.
        paid = (
            Claim.objects.filter(seller=seller, status=ClaimStatus.PAID, cover=Cover.CARGO)
            .select_related("shipment")
            .first()
        )
        if paid is not None:
            late, _ = compensation_record(
                marketplace=wb,
                external_id=f"{seller.external_id}-comp-late",
                seller=seller,
                shipment_external_id=paid.shipment.external_id,
                reason=REASON_BY_PERIL[paid.peril],
                amount=(paid.loss_amount * Decimal("0.5")).quantize(Decimal("0.01")),
                paid_on=timezone.localdate(),
                source=CompensationSource.API,
            )
            compensation_match(compensation_id=late.pk)

    def _awaiting_signoff(self, seller, seller_user, adjuster) -> None:
        """A cargo loss above the adjuster's authority, filed by the seller, released once the
        compensation wait is over, and approved by the adjuster: it waits for the senior."""
        shipment = (
            Shipment.objects.filter(
                seller=seller,
                claims=None,
                policy__isnull=False,
                declared_value__gt=adjuster.authority_limit + Decimal("1000.00"),
            )
            .order_by("-declared_value", "external_id")
            .first()
        )
        if shipment is None:
            return
        claim = claim_file(
            actor=Actor.for_user(seller_user),
            seller=seller,
            shipment=shipment,
            peril="loss",
            claimed_amount=shipment.declared_value,
            event_date=timezone.localdate(shipment.shipped_at) + dt.timedelta(days=2),
            source=ClaimSource.SELLER,
            description="Товар не доехал до ПВЗ: отслеживание остановилось на сортировке.",
        )
        claim_release(claim_id=claim.pk)
        claim_approve(
            claim_id=claim.pk,
            adjuster=adjuster,
            note="Утрата подтверждена маркетплейсом; компенсации не было.",
        )

    def _report_import(self, seller, seller_user) -> None:
        """The seller's weekly WB report (reportDetailByPeriod v5 rows, field for field as
        the API sends them): reverse-leg fees that open claims, a compensation, a sale."""
        free = list(
            Shipment.objects.filter(seller=seller, claims=None, policy__isnull=False).order_by(
                "external_id"
            )[:3]
        )
        if len(free) < 3:
            return
        day = timezone.localdate() - dt.timedelta(days=3)
        rows = [
            _wb_row(1, free[0], day, "Продажа", "Продажа", pay="1120.50"),
            _wb_row(2, free[1], day, "Логистика", "От клиента при отмене", fee="50.00"),
            _wb_row(3, free[2], day, "Логистика", "От клиента при возврате", fee="75.00"),
        ]
        # A cargo claim still to be decided, the marketplace having paid nothing on it yet.
        waiting = (
            Claim.objects.filter(
                seller=seller,
                cover=Cover.CARGO,
                status__in=(ClaimStatus.AWAITING_COMPENSATION, ClaimStatus.UNDER_REVIEW),
                signoff_requested_by=None,
                compensations=None,
            )
            .select_related("shipment")
            .order_by("number")
            .first()
        )
        if waiting is not None:
            pay = (waiting.claimed_amount * Decimal("0.25")).quantize(Decimal("0.01"))
            rows.append(_wb_row(4, waiting.shipment, day, "Компенсация ущерба", "", pay=str(pay)))
        imported = report_import_create(
            marketplace=seller.marketplace,
            seller=seller,
            content=json.dumps(rows, ensure_ascii=False).encode(),
            filename=f"wb-report-{day:%Y-%m-%d}.json",
            source=ReportSource.UPLOAD,
            user=seller_user,
        )
        report_import_run(import_id=imported.pk)


def _wb_row(n, shipment, day, operation, leg, *, fee="0", pay="0") -> dict:
    """Return one row of WB's reportDetailByPeriod v5 for `shipment`."""
    returns = 1 if leg.startswith("От клиента") else 0
    row = {
        "realizationreport_id": 900_001,
        "rrd_id": 9_000_000 + n,
        "date_from": (day - dt.timedelta(days=day.weekday())).isoformat(),
        "date_to": (day + dt.timedelta(days=6 - day.weekday())).isoformat(),
        "currency_name": "руб",
        "srid": shipment.external_id,
        "doc_type_name": "Продажа",
        "supplier_oper_name": operation,
        "office_name": shipment.warehouse,
        "delivery_amount": 1 - returns if operation == "Логистика" else 0,
        "return_amount": returns,
        "delivery_rub": float(fee),
        "ppvz_for_pay": float(pay),
        "retail_price_withdisc_rub": float(shipment.declared_value),
        "rr_dt": day.isoformat(),
        "sale_dt": f"{day.isoformat()}T00:00:00Z",
    }
    if leg:
        row["bonus_type_name"] = leg
    return row
