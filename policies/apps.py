from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoliciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "policies"
    verbose_name = _("Policies")

    def ready(self):
        # Workers mark the outbox's rows finished through Celery's task signals.
        from policies import outbox  # noqa: F401
