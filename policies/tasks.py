from celery import shared_task
from django.utils import timezone

from policies.services import policies_expire_due


@shared_task(acks_late=True)
def policies_expire_due_task() -> int:
    return policies_expire_due(today=timezone.localdate())
