"""Payouts carry their claim's policy, filled from the claims, so sums by policy or seller
read one covering index."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('claims', '0019_verbose_names_and_system_notes'),
        ('policies', '0011_verbose_names'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalpayout',
            name='policy',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='policies.policy', verbose_name='policy'),
        ),
        migrations.AddField(
            model_name='payout',
            name='policy',
            field=models.ForeignKey(db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payouts', to='policies.policy', verbose_name='policy'),
        ),
        migrations.RunSQL(
            [
                f"UPDATE claims_{table} SET policy_id ="
                f" (SELECT c.policy_id FROM claims_claim c WHERE c.id = claims_{table}.claim_id)"
                for table in ("payout", "historicalpayout")
            ],
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='payout',
            name='policy',
            field=models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='payouts', to='policies.policy', verbose_name='policy'),
        ),
        migrations.AddIndex(
            model_name='payout',
            index=models.Index(fields=['policy'], include=('amount',), name='payout_policy_amount'),
        ),
    ]
