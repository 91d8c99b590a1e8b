"""Documents move to policies, which generates them; a claim's or a run's are its owner."""

from django.db import migrations

BATCH = 2000


def copy_documents(apps, schema_editor):
    Old = apps.get_model("claims", "Document")
    New = apps.get_model("policies", "Document")
    ContentType = apps.get_model("contenttypes", "ContentType")
    claim_type, _ = ContentType.objects.get_or_create(app_label="claims", model="claim")
    run_type, _ = ContentType.objects.get_or_create(app_label="claims", model="reconciliationrun")
    rows = []
    for old in Old.objects.order_by("pk").iterator(chunk_size=BATCH):
        owner_type, owner_id = (
            (claim_type, old.claim_id)
            if old.claim_id
            else (run_type, old.run_id)
            if old.run_id
            else (None, None)
        )
        rows.append(
            New(
                pk=old.pk,
                kind=old.kind,
                key=old.key,
                seller_id=old.seller_id,
                policy_id=old.policy_id,
                owner_type=owner_type,
                owner_id=owner_id,
                period=old.period,
                language=old.language,
                file=old.file.name,
                sha256=old.sha256,
                created_at=old.created_at,
            )
        )
        if len(rows) >= BATCH:
            New.objects.bulk_create(rows)
            rows = []
    New.objects.bulk_create(rows)
    if schema_editor.connection.vendor == "postgresql" and New.objects.exists():
        # Rows came with their ids: the sequence must start after them.
        table = New._meta.db_table
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0012_run_chunk"),
        ("policies", "0004_documents_and_outbox"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(copy_documents, migrations.RunPython.noop),
        migrations.DeleteModel(name="Document"),
    ]
