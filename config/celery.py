import logging.config
import os

from celery import Celery
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
app = Celery("sellercover")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each task's log lines carry the id of the request that queued it (the message's headers).
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _worker_logging(loglevel=None, **_kwargs) -> None:
    """A worker logs as the web does (JSON lines in production), at its --loglevel, instead
    of in Celery's own format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
