"""A recovery is paid back in one payment or several: each one is a receipt.

The recoveries already received in full keep their payment as their one receipt.
"""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


def receipts_from_received(apps, schema_editor):
    Recovery = apps.get_model("claims", "Recovery")
    RecoveryReceipt = apps.get_model("claims", "RecoveryReceipt")
    RecoveryReceipt.objects.bulk_create(
        RecoveryReceipt(
            recovery=recovery,
            amount=recovery.amount,
            received_on=recovery.received_on or recovery.raised_at.date(),
            # The reference is what tells a payment from its replay; an old row may lack one.
            reference=recovery.reference or f"recovery-{recovery.pk}",
        )
        for recovery in Recovery.objects.filter(status="received").iterator()
    )


def received_from_receipts(apps, schema_editor):
    Recovery = apps.get_model("claims", "Recovery")
    RecoveryReceipt = apps.get_model("claims", "RecoveryReceipt")
    for receipt in RecoveryReceipt.objects.order_by("pk").iterator():
        Recovery.objects.filter(pk=receipt.recovery_id).update(
            received_on=receipt.received_on, reference=receipt.reference
        )
    Recovery.objects.filter(status="partly_received").update(status="open")


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0017_evidence_archive_queue_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="historicalrecovery",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Owed by the seller"),
                    ("partly_received", "Partly received"),
                    ("received", "Received"),
                ],
                default="open",
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="recovery",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "Owed by the seller"),
                    ("partly_received", "Partly received"),
                    ("received", "Received"),
                ],
                default="open",
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.CreateModel(
            name="HistoricalRecoveryReceipt",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                        verbose_name="amount",
                    ),
                ),
                ("received_on", models.DateField(verbose_name="received on")),
                ("reference", models.CharField(max_length=64, verbose_name="payment reference")),
                (
                    "recorded_at",
                    models.DateTimeField(blank=True, editable=False, verbose_name="recorded"),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="recorded by",
                    ),
                ),
                (
                    "recovery",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="claims.recovery",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical recovery receipt",
                "verbose_name_plural": "historical recovery receipts",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="RecoveryReceipt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.00"))],
                        verbose_name="amount",
                    ),
                ),
                ("received_on", models.DateField(verbose_name="received on")),
                ("reference", models.CharField(max_length=64, verbose_name="payment reference")),
                ("recorded_at", models.DateTimeField(auto_now_add=True, verbose_name="recorded")),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="recorded by",
                    ),
                ),
                (
                    "recovery",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipts",
                        to="claims.recovery",
                    ),
                ),
            ],
            options={
                "verbose_name": "recovery receipt",
                "verbose_name_plural": "recovery receipts",
                "ordering": ["received_on", "pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)),
                        name="recovery_receipt_amount_positive",
                    ),
                    models.UniqueConstraint(
                        fields=("recovery", "reference"), name="recovery_receipt_reference_once"
                    ),
                ],
            },
        ),
        migrations.RunPython(receipts_from_received, received_from_receipts),
        migrations.RemoveField(
            model_name="historicalrecovery",
            name="received_on",
        ),
        migrations.RemoveField(
            model_name="historicalrecovery",
            name="reference",
        ),
        migrations.RemoveField(
            model_name="recovery",
            name="received_on",
        ),
        migrations.RemoveField(
            model_name="recovery",
            name="reference",
        ),
        migrations.AlterField(
            model_name="historicalrecovery",
            name="claim",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="claims.claim",
                verbose_name="claim",
            ),
        ),
        migrations.AlterField(
            model_name="historicalrecovery",
            name="compensation",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="claims.marketplacecompensation",
                verbose_name="compensation",
            ),
        ),
        migrations.AlterField(
            model_name="historicalrecoveryreceipt",
            name="recovery",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="claims.recovery",
                verbose_name="recovery",
            ),
        ),
        migrations.AlterField(
            model_name="recovery",
            name="claim",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="recoveries",
                to="claims.claim",
                verbose_name="claim",
            ),
        ),
        migrations.AlterField(
            model_name="recovery",
            name="compensation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="recoveries",
                to="claims.marketplacecompensation",
                verbose_name="compensation",
            ),
        ),
        migrations.AlterField(
            model_name="recoveryreceipt",
            name="recovery",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="receipts",
                to="claims.recovery",
                verbose_name="recovery",
            ),
        ),
    ]
