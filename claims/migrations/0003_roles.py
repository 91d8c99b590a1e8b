"""The insurer's staff roles and what each may do."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    ("policies", m)
    for m in (
        "marketplace",
        "seller",
        "product",
        "productversion",
        "coverterms",
        "policy",
        "policytransition",
        "shipment",
        "shipmentevent",
    )
] + [
    ("claims", m)
    for m in (
        "claim",
        "claimtransition",
        "claimmessage",
        "evidence",
        "marketplacecompensation",
        "reconciliationrun",
        "discrepancy",
        "payout",
        "recovery",
        "document",
    )
]
CLAIM_WORK = [
    ("claims", "review_claim"),
    ("claims", "approve_claim"),
    ("claims", "reject_claim"),
    ("claims", "pay_claim"),
    ("claims", "reopen_claim"),
    ("claims", "change_claim"),
    ("claims", "add_claimmessage"),
    ("claims", "add_marketplacecompensation"),
    ("claims", "add_reconciliationrun"),
    ("claims", "change_recovery"),
]
PRODUCT_WORK = [
    ("policies", f"{action}_{model}")
    for model in ("product", "productversion", "coverterms")
    for action in ("add", "change")
]
ROLES = {
    "Adjuster": [f"view_{m}" for _, m in VIEW_ALL] + [c for _, c in CLAIM_WORK],
    "Senior adjuster": [f"view_{m}" for _, m in VIEW_ALL] + [c for _, c in CLAIM_WORK],
    "Underwriter": [f"view_{m}" for _, m in VIEW_ALL] + [c for _, c in PRODUCT_WORK],
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations; the roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=["policies", "claims"], codename__in=codenames
            )
        )


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0002_initial"),
        ("policies", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
