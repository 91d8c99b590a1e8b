"""Senior adjusters lift sign-in lockouts: they see the failed attempts and delete them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE = "Senior adjuster"
CODENAMES = ["view_accessattempt", "delete_accessattempt"]


def grant(apps, schema_editor):
    # Permissions are normally made after all migrations; the role needs axes' now.
    axes = apps.get_app_config("axes")
    axes.models_module = True
    create_permissions(axes, apps=apps, verbosity=0)
    axes.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=ROLE)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=ROLE):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0006_history"),
        ("claims", "0003_roles"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
